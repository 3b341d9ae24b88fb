"""``medpic train`` end to end on a tiny dataset made from packaged images: it must export a
model folder that loads, serves, and reproduces the training features' logits."""

import csv

import pytest
from PIL import Image

from medpic.model.classifier import Classifier
from medpic.model.config import ModelConfig
from medpic.training.recipe import Recipe
from medpic.training.train import MAX_FOLDER_BYTES, input_size_of, train
from medpic.settings import Settings


MODALITY = {"fundus": "ophthalmology", "ihc": "microscopy", "ct": "ct"}


def make_dataset(root, images):
    rows = []
    for label, source, image in images:
        for i in range(8):
            w, h = image.size
            box = (i * w // 40, i * h // 40, w - i * w // 50, h - i * h // 60)
            crop = image.crop(box).resize((160, 120))
            name = f"{label}/{source}-{i}.jpg"
            (root / label).mkdir(parents=True, exist_ok=True)
            crop.convert("RGB").save(root / name, quality=90)
            rows.append({"file": name, "label": label, "kind": source, "source": source, "origin": "test",
                         "license": "test", "version": "v3", "modality": MODALITY.get(source, "")})
    with (root / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.slow
def test_train_exports_a_model_that_serves(tmp_path, retina, histology, ct_slice, cat):
    from skimage import data

    dataset = tmp_path / "data"
    make_dataset(dataset, [
        ("medical", "fundus", retina), ("medical", "ihc", histology), ("medical", "ct", ct_slice),
        ("non-medical", "cat", cat), ("non-medical", "coffee", Image.fromarray(data.coffee())),
        ("non-medical", "rocket", Image.fromarray(data.rocket())),
    ])
    out = tmp_path / "model"
    result = train(Settings(dataset_dir=dataset, cache_dir=tmp_path / "cache"), out_dir=out,
                   recipe=Recipe(views=2))
    config = ModelConfig.read(out)
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.tflite", "README.md"}
    assert config.keras_file is None  # two backbones' heads alone would take the folder over 30 MB
    assert sum(p.stat().st_size for p in out.iterdir()) <= MAX_FOLDER_BYTES  # models/ stays lean
    assert config.trained_on["images"] == 48 and config.trained_on["recipe"]["views"] == 2
    assert config.trained_on["dataset_version"] == "v3"
    assert config.modalities == ("ct", "microscopy", "ophthalmology")
    assert config.trained_on["quantization"] == "int8-backbone" and config.trained_on["export_check"]["same_verdict"] >= 0.9
    assert result.config.metrics["random_split"]["n"] == 6
    assert "leave-sources-out" in (out / "README.md").read_text()

    classifier = Classifier.load(Settings(model_dir=out))
    assert classifier.location.origin == "local"
    preds = classifier.predict([retina, cat])
    assert [p.label for p in preds] == ["medical", "non-medical"]
    assert preds[0].modality == "ophthalmology" and 0 < preds[0].modality_confidence <= 1
    assert preds[1].modality == "" and preds[1].modality_confidence is None
    assert "ophthalmology" in classifier.describe()["modality"]


def test_a_recipe_runs_at_its_first_backbones_size_unless_told_otherwise():
    assert [input_size_of(Recipe(backbones=(v,))) for v in ("lite0", "lite1", "lite2")] == [224, 240, 260]
    assert input_size_of(Recipe(backbones=("lite2@224",))) == 224
    assert input_size_of(Recipe(backbones=("lite0", "lite2@192"))) == 224  # the second resizes inside the network


@pytest.mark.parametrize("name", ["lite9", "lite2@", "lite2@12", "lite2@-5", "lite2@big", "@224", "lite2@4096"])
def test_a_backbone_name_that_names_no_network_is_refused(name):
    from medpic.training.backbone import parse_backbone

    with pytest.raises(ValueError, match="backbone"):
        parse_backbone(name)


@pytest.mark.parametrize("backbones", [(), ("lite0", "lite0"), ("lite2", "lite2@260"), ("lite0", "lite9")])
def test_a_recipe_naming_no_backbone_or_one_twice_is_refused_before_any_work(tmp_path, backbones):
    from medpic.errors import TrainingError
    from medpic.training.train import fit_recipe

    with pytest.raises(TrainingError, match="backbone"):
        fit_recipe(Settings(dataset_dir=tmp_path / "nowhere", cache_dir=tmp_path), Recipe(backbones=backbones))
