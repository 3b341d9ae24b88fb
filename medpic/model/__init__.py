"""Serving the classifier: where the model comes from, its config, preprocessing and LiteRT.

``Classifier`` runs preprocess -> forward -> postprocess. Training code lives in
``medpic.training`` and is never imported from here.
"""
