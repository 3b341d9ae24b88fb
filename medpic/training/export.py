"""From a trained head to the files of a model folder: TFLite for serving, Keras for research.

The exported TFLite file is checked against the Keras model it came from before anything is
written, so a conversion bug cannot ship silently.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

from medpic.errors import TrainingError

__all__ = ["to_tflite", "tflite_matches", "QUANTIZATIONS"]


QUANTIZATIONS = ("float32", "int8", "int8-backbone")
# What "int8-backbone" keeps in float32: the feature vector mixes ranges (a mean near 1 beside a
# max near 40) that one int8 scale cannot hold, and the heads' logits need more than 256 levels.
FLOAT_OPS = ("MEAN", "REDUCE_MAX", "CONCATENATION", "FULLY_CONNECTED")


def to_tflite(model, path: Path, *, quantization: str = "float32", representative: np.ndarray | None = None) -> Path:
    """Convert a Keras model to a TFLite file, written atomically over ``path``.

    ``int8``: full-integer post-training quantization (weights and activations), with the
    activation ranges measured on ``representative``, preprocessed training images. Input and
    output stay float32, so serving code does not change. XNNPACK runs it 2-4x faster than
    float32 on a CPU with VNNI; ``bench/quantize.py`` measures what it costs on held-out sources.
    Dynamic-range quantization (int8 weights, float activations) was slower than float32 here."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization not in QUANTIZATIONS:
        raise TrainingError(f"unknown quantization {quantization!r} (one of {', '.join(QUANTIZATIONS)})")
    if quantization == "float32":
        data = converter.convert()
    else:
        if representative is None or not len(representative):
            raise TrainingError(f"{quantization} quantization needs representative images")
        samples = np.asarray(representative, np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([samples[i : i + 1]] for i in range(len(samples)))
        if quantization == "int8":
            data = converter.convert()
        else:  # the convolutions in int8; pooling, concatenation and the dense heads stay float32
            options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_OPS))
            with warnings.catch_warnings():  # the debugger builds TF's deprecated interpreter; serving uses LiteRT
                warnings.simplefilter("ignore", UserWarning)
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=converter.representative_dataset, debug_options=options)
                data = debugger.get_nondebug_quantized_model()
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(data)
    Path(f.name).chmod(0o644)
    Path(f.name).replace(path)  # overwrite in place, atomically
    return path


def tflite_matches(model, tflite_path: Path, batch: np.ndarray, *, atol: float = 1e-3) -> float:
    """Max absolute logit difference between Keras and TFLite; raises if over ``atol``."""
    from medpic.model.runtime import TFLiteRuntime

    expected = np.asarray(model.predict(batch, verbose=0)).reshape(len(batch), -1)
    got = TFLiteRuntime(tflite_path, threads=2)(batch)
    diff = float(np.max(np.abs(expected - got)))
    if diff > atol:
        raise TrainingError(f"TFLite export differs from Keras by {diff:.2e} (> {atol})")
    return diff
