"""One preprocessing function for training, evaluation and serving, held equal on the same file."""

import numpy as np

from medpic.sources.files import InputFile, file_candidates
from medpic.training import data as training_data
from medpic.model.config import ModelConfig
from medpic.training.features import view_image
from medpic.model.preprocess import preprocess
from medpic.scan import prepare
from medpic.settings import BUNDLED_MODEL_DIR
from tests.conftest import encode


def test_training_evaluation_and_serving_feed_identical_arrays(tmp_path, retina):
    path = tmp_path / "img.jpg"
    path.write_bytes(encode(retina.resize((256, 256)), "JPEG", quality=90))
    size = ModelConfig.read(BUNDLED_MODEL_DIR).input_size
    example = training_data.Example(path, 1, "fundus", "test")

    from medpic.model.classifier import Classifier
    from medpic.settings import Settings

    serving_classifier = Classifier.load(Settings())
    training = preprocess(view_image(example, 0, seed=0), size)  # features.extract_views
    candidate = next(file_candidates([InputFile("x", str(path))], max_bytes=10**8))  # evaluate -> judge
    evaluation = serving_classifier.preprocess([prepare(candidate, max_pixels=10**8)[1]])[0]
    serving = serving_classifier.preprocess([training_data.load_example(example)])[0]
    assert training.shape == (size, size, 3) and training.dtype == np.float32
    assert np.array_equal(training, evaluation) and np.array_equal(training, serving)


def test_config_names_the_function_in_use():
    config = ModelConfig.read(BUNDLED_MODEL_DIR)
    assert config.preprocessing["function"] == f"{preprocess.__module__}.{preprocess.__name__}"


def test_scaling_matches_the_backbone_convention(cat):
    arr = preprocess(cat, 224)
    raw = np.asarray(cat.resize((224, 224), resample=2), np.float32)  # 2 = bilinear
    assert np.allclose(arr, (raw - 127) / 128)
    assert arr.min() >= -1.0 and arr.max() <= 1.0


def test_a_batch_is_each_picture_preprocessed_alone_bit_for_bit(cat, retina):
    from medpic.model.preprocess import preprocess_batch, to_input_size

    pictures = [cat, retina.resize((97, 300)), cat.convert("L"), cat.convert("RGBA"), cat.convert("P"),
                cat.resize((224, 224))]
    batch = preprocess_batch(pictures, 224)
    assert batch.shape == (len(pictures), 224, 224, 3) and batch.dtype == np.float32
    for picture, row in zip(pictures, batch):
        assert np.array_equal(row, preprocess(picture, 224))
        plain = (np.asarray(to_input_size(picture, 224), np.float32) - 127.0) / 128.0  # the formula, spelt out
        assert np.array_equal(row, plain)
    assert preprocess_batch([], 224).shape == (0, 224, 224, 3)
