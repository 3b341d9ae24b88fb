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

__all__ = ["to_tflite", "tflite_matches", "float16_dense_weights", "QUANTIZATIONS"]


QUANTIZATIONS = ("float32", "int8", "int8-backbone")
# What "int8-backbone" keeps in float32: the feature vector mixes ranges (a mean near 1 beside a
# max near 40) that one int8 scale cannot hold, and the heads' logits need more than 256 levels.
# The heads' weight matrices are stored as float16 (``float16_dense_weights``) and computed in float32.
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
    if quantization == "int8-backbone":
        data = float16_dense_weights(data)
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(data)
    Path(f.name).chmod(0o644)
    Path(f.name).replace(path)  # overwrite in place, atomically
    return path


def float16_dense_weights(data: bytes, *, min_elements: int = 4096) -> bytes:
    """The same TFLite model with the float32 weight matrices of its dense layers stored as float16,
    each behind a DEQUANTIZE op: the pattern TFLite's own float16 quantization writes, which LiteRT
    expands back to float32 once, at load. The heads are most of the file (a 5 x 256-unit MLP over
    Lite0's 2,176 features is 11 MB in float32): this halves them, so two backbones' heads fit the
    30 MB the model folder may use, while the arithmetic stays float32 (logits move by about 1e-3).
    Matrices under ``min_elements`` are left as they are."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    converted = False
    for graph in model.subgraphs:
        weights = {op.inputs[1] for op in graph.operators
                   if codes[op.opcodeIndex] == schema.BuiltinOperator.FULLY_CONNECTED and len(op.inputs) > 1}
        expand = []
        for index in sorted(weights):
            weight = graph.tensors[index]
            data32 = model.buffers[weight.buffer].data
            if weight.type != schema.TensorType.FLOAT32 or data32 is None or len(data32) < 4 * min_elements:
                continue
            half = schema.BufferT()
            half.data = np.frombuffer(bytes(data32), np.float32).astype(np.float16).view(np.uint8)
            model.buffers.append(half)
            stored = schema.TensorT()
            stored.name, stored.shape, stored.type = weight.name + b"_float16", weight.shape, schema.TensorType.FLOAT16
            stored.buffer = len(model.buffers) - 1
            graph.tensors.append(stored)
            model.buffers.append(schema.BufferT())  # the float32 tensor becomes DEQUANTIZE's output: no data
            weight.buffer = len(model.buffers) - 1
            op = schema.OperatorT()
            op.opcodeIndex = _dequantize_code(model, codes, schema)
            op.inputs, op.outputs = [len(graph.tensors) - 1], [index]
            expand.append(op)
        graph.operators = expand + list(graph.operators)  # first, before any op reads the weights
        converted = converted or bool(expand)
    if not converted:
        return data
    used = {t.buffer for g in model.subgraphs for t in g.tensors}
    for i, buffer in enumerate(model.buffers):
        if i not in used:
            buffer.data = None  # a float32 matrix no tensor reads any more
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _dequantize_code(model, codes: list[int], schema) -> int:
    """The index of a DEQUANTIZE operator code at version 3 or above (float16 input), added if missing."""
    if schema.BuiltinOperator.DEQUANTIZE not in codes:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
        code.version = 3
        model.operatorCodes.append(code)
        codes.append(schema.BuiltinOperator.DEQUANTIZE)
    index = codes.index(schema.BuiltinOperator.DEQUANTIZE)
    model.operatorCodes[index].version = max(model.operatorCodes[index].version, 3)
    return index


def tflite_matches(model, tflite_path: Path, batch: np.ndarray, *, atol: float = 1e-3) -> float:
    """Max absolute logit difference between Keras and TFLite; raises if over ``atol``."""
    from medpic.model.runtime import TFLiteRuntime

    expected = np.asarray(model.predict(batch, verbose=0)).reshape(len(batch), -1)
    got = TFLiteRuntime(tflite_path, threads=2)(batch)
    diff = float(np.max(np.abs(expected - got)))
    if diff > atol:
        raise TrainingError(f"TFLite export differs from Keras by {diff:.2e} (> {atol})")
    return diff
