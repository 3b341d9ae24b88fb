"""The classifier: backbone, preprocessing, training, evaluation, serving and model sources."""
