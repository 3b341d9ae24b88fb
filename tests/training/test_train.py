"""``medpic train`` end to end on a tiny dataset made from packaged images: it must export a
model folder that loads, serves, and reproduces the training features' logits."""

import csv

import pytest
from PIL import Image

from medpic.model.classifier import Classifier
from medpic.model.config import ModelConfig
from medpic.training.train import train
from medpic.settings import Settings


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
                         "license": "test", "version": "v1"})
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
    result = train(Settings(dataset_dir=dataset, cache_dir=tmp_path / "cache"), out_dir=out, views=2, variant="lite0")
    config = ModelConfig.read(out)
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.tflite", "model.keras", "README.md"}
    assert config.trained_on["images"] == 48 and config.trained_on["views"] == 2
    assert config.trained_on["export_check_max_logit_diff"] < 1e-2
    assert result.config.metrics["random_split"]["n"] == 6
    assert "leave-sources-out" in (out / "README.md").read_text()

    classifier = Classifier.load(Settings(model_dir=out))
    assert classifier.location.origin == "local"
    preds = classifier.predict([retina, cat])
    assert [p.label for p in preds] == ["medical", "non-medical"]
