"""Export: the TFLite file stores the dense heads' weights as float16 and still computes what the
Keras model computes. Tiny real models, converted here and run through LiteRT."""

import numpy as np
import pytest

from medpic.model.runtime import TFLiteRuntime
from medpic.training.export import float16_dense_weights, to_tflite

SIZE = 16


def dense_over_pixels(seed: int = 0):
    """Pixels -> 64 ReLU units -> 1 logit, with random weights: a head-shaped matrix of 768 x 64."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


@pytest.mark.slow
def test_float16_weights_halve_the_heads_and_keep_their_answers(tmp_path):
    model = dense_over_pixels()
    full = to_tflite(model, tmp_path / "float32.tflite")
    half = tmp_path / "float16.tflite"
    half.write_bytes(float16_dense_weights(full.read_bytes()))
    weight_bytes = SIZE * SIZE * 3 * 64 * 4
    assert full.stat().st_size - half.stat().st_size >= 0.45 * weight_bytes

    batch = np.random.default_rng(1).uniform(-1, 1, (6, SIZE, SIZE, 3)).astype(np.float32)
    expected = np.asarray(model.predict(batch, verbose=0))
    got = TFLiteRuntime(half, threads=1)(batch)
    assert np.abs(got - expected).max() <= 1e-2 * max(1.0, np.abs(expected).max())
    assert np.abs(got - TFLiteRuntime(full, threads=1)(batch)).max() > 0  # the weights really changed


@pytest.mark.slow
def test_the_int8_backbone_export_stores_its_heads_as_float16(tmp_path):
    model = dense_over_pixels()
    representative = np.random.default_rng(2).uniform(-1, 1, (8, SIZE, SIZE, 3)).astype(np.float32)
    full = to_tflite(model, tmp_path / "float32.tflite")
    mixed = to_tflite(model, tmp_path / "mixed.tflite", quantization="int8-backbone", representative=representative)
    assert mixed.stat().st_size < full.stat().st_size * 0.7
    batch = representative[:3]
    assert np.abs(TFLiteRuntime(mixed, threads=1)(batch) - model.predict(batch, verbose=0)).max() <= 5e-2


@pytest.mark.slow
def test_the_rewrite_marks_float16_weights_and_leaves_models_without_big_dense_layers_alone(tmp_path):
    import keras
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    full = to_tflite(dense_over_pixels(), tmp_path / "float32.tflite").read_bytes()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(float16_dense_weights(full)))
    graph = model.subgraphs[0]
    halves = [t for t in graph.tensors if t.type == schema.TensorType.FLOAT16]
    assert [list(t.shape) for t in halves] == [[64, SIZE * SIZE * 3]]  # the big matrix, not the 64 x 1 one
    first = model.operatorCodes[graph.operators[0].opcodeIndex]
    assert first.builtinCode == schema.BuiltinOperator.DEQUANTIZE and first.version >= 3

    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    small = to_tflite(keras.Model(inputs, keras.layers.Dense(2)(pooled)), tmp_path / "small.tflite").read_bytes()
    assert float16_dense_weights(small) == small
