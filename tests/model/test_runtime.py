"""The runtime runs whole groups of images through one interpreter and the rest one at a time:
the answers must be the same as one at a time throughout. A tiny real TFLite file, run by LiteRT."""

import numpy as np
import pytest

from medpic.model.runtime import TFLiteRuntime

SIZE = 8


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """Pixels -> 16 ReLU units -> 3 outputs, random weights: every image gets its own answer."""
    import keras

    from medpic.training.export import to_tflite

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    return to_tflite(model, tmp_path_factory.mktemp("runtime") / "model.tflite")


@pytest.mark.slow
@pytest.mark.parametrize("count", [0, 1, 3, 4, 7, 9])
def test_groups_and_single_images_give_the_same_answers_in_order(model_file, count):
    batch = np.random.default_rng(count).uniform(-1, 1, (count, SIZE, SIZE, 3)).astype(np.float32)
    one_at_a_time = TFLiteRuntime(model_file, threads=1)
    grouped = TFLiteRuntime(model_file, threads=1, group=4)
    assert (one_at_a_time.group, grouped.group) == (1, 4)
    expected = one_at_a_time(batch)
    assert expected.shape == (count, 3)
    runs = {"grouped": 0, "single": 0}
    for name in runs:  # count the invocations of each of the grouped runtime's interpreters
        interpreter = getattr(grouped, f"_{name}")
        interpreter.invoke = lambda real=interpreter.invoke, name=name: (runs.__setitem__(name, runs[name] + 1), real())
    np.testing.assert_allclose(grouped(batch), expected, atol=1e-5)
    assert runs == {"grouped": count // 4, "single": count % 4}
    if count > 1:
        assert np.abs(expected[0] - expected[-1]).max() > 1e-3  # the images' answers differ: order is tested


@pytest.mark.slow
def test_a_model_with_a_fixed_batch_of_one_runs_one_image_at_a_time(tmp_path):
    import keras

    from medpic.training.export import to_tflite

    inputs = keras.Input((SIZE, SIZE, 3), batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    runtime = TFLiteRuntime(to_tflite(model, tmp_path / "fixed.tflite"), threads=1, group=4)
    assert runtime.group == 1
    batch = np.random.default_rng(0).uniform(-1, 1, (5, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_allclose(runtime(batch), model.predict(batch, batch_size=1, verbose=0), atol=1e-4)
