"""From a trained head to the files of a model folder: TFLite for serving, Keras for research.

The exported TFLite file is checked against the Keras model it came from before anything is
written, so a conversion bug cannot ship silently.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from medpic.errors import TrainingError

__all__ = ["to_tflite", "tflite_matches"]


def to_tflite(model, path: Path) -> Path:
    """Convert a Keras model to a float32 TFLite file (exact, and the fastest on CPU here)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    data = converter.convert()
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(data)
    Path(f.name).chmod(0o644)
    Path(f.name).replace(path)  # overwrite in place, atomically
    return path


def tflite_matches(model, tflite_path: Path, batch: np.ndarray, *, atol: float = 1e-3) -> float:
    """Max absolute logit difference between Keras and TFLite; raises if over ``atol``."""
    from medpic.model.runtime import TFLiteRuntime

    expected = np.asarray(model.predict(batch, verbose=0)).reshape(-1)
    got = TFLiteRuntime(tflite_path, threads=2)(batch)
    diff = float(np.max(np.abs(expected - got)))
    if diff > atol:
        raise TrainingError(f"TFLite export differs from Keras by {diff:.2e} (> {atol})")
    return diff
