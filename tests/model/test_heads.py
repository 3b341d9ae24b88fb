"""Model folders of both shapes: one output (an older, single-head model) and 1 + K outputs (the
medical logit and the modality logits). Tiny real TFLite files, converted here, run through LiteRT."""

import json

import numpy as np
import pytest
from PIL import Image

from medpic.errors import ModelError
from medpic.model.classifier import Classifier
from medpic.report import CLASSIFY_COLUMNS, SCAN_COLUMNS
from medpic.scan import JudgeOptions, scan
from medpic.settings import Settings
from medpic.sources.files import InputFile
from medpic.sources.targets import open_image_files

SIZE = 32
MODALITIES = ["ct", "mri", "xray"]


def tiny_model_folder(folder, outputs: int, *, modalities=None):
    """A network whose medical logit is 8 x (mean brightness, scaled to [-1, 1]): white pictures are
    medical, black ones are not; modality k's logit is k times the same, so the last one wins."""
    import keras

    from medpic.training.export import to_tflite

    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(outputs)
    model = keras.Model(inputs, dense(pooled))
    kernel = np.zeros((3, outputs), np.float32)
    kernel[:, 0] = 8 / 3
    for k in range(1, outputs):
        kernel[:, k] = k / 3
    dense.set_weights([kernel, np.zeros(outputs, np.float32)])
    folder.mkdir()
    to_tflite(model, folder / "model.tflite")
    config = {"name": "tiny", "version": "0", "backbone": "lite0", "input_size": SIZE, "threshold": 0.5,
              "temperature": 1.0, "model_file": "model.tflite", "keras_file": None}
    if modalities is not None:
        config["modalities"] = modalities
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def pictures():
    return [Image.new("RGB", (40, 40), "white"), Image.new("RGB", (40, 40), "black")]


@pytest.mark.slow
def test_an_older_single_head_folder_loads_and_reports_no_modality(tmp_path, pictures):
    classifier = Classifier.load(Settings(model_dir=tiny_model_folder(tmp_path / "old", 1)))
    medical, plain = classifier.predict(pictures)
    assert (medical.label, plain.label) == ("medical", "non-medical")
    assert medical.modality == "" and medical.modality_confidence is None
    assert classifier.describe()["modality"].startswith("no")


@pytest.mark.slow
def test_a_two_head_model_names_the_modality_of_medical_verdicts_only(tmp_path, pictures):
    folder = tiny_model_folder(tmp_path / "new", 1 + len(MODALITIES), modalities=MODALITIES)
    classifier = Classifier.load(Settings(model_dir=folder))
    medical, plain = classifier.predict(pictures)
    assert medical.label == "medical" and medical.modality == "xray"
    logits = np.array([1.0, 2.0, 3.0])  # brightness 1 x k
    assert medical.modality_confidence == pytest.approx(np.exp(3) / np.exp(logits).sum(), abs=1e-4)
    assert plain.label == "non-medical" and plain.modality == "" and plain.modality_confidence is None
    assert "xray" in classifier.describe()["modality"]

    for i, im in enumerate(pictures):
        im.save(tmp_path / f"{i}.png")
    missing = tmp_path / "gone.png"
    files = [InputFile(f"{i}.png", str(tmp_path / f"{i}.png")) for i in range(2)] + [InputFile("gone.png", str(missing))]
    rows = scan(open_image_files(files, settings=Settings()), classifier, JudgeOptions.from_settings(Settings())).rows
    assert [(r.status, r.modality) for r in rows] == [("ok", "xray"), ("ok", ""), ("error", "")]
    assert rows[0].modality_confidence is not None and rows[1].modality_confidence is None
    for columns in (CLASSIFY_COLUMNS, SCAN_COLUMNS):
        assert columns[-2:] == ("modality", "modality_confidence")  # after the existing ones


@pytest.mark.slow
def test_a_model_file_that_disagrees_with_its_config_is_refused(tmp_path):
    folder = tiny_model_folder(tmp_path / "odd", 3, modalities=MODALITIES)  # 3 outputs, config says 4
    with pytest.raises(ModelError, match="3 outputs"):
        Classifier.load(Settings(model_dir=folder))
