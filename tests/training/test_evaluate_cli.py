"""``medpic evaluate`` scores the model users get on a labelled folder: figures recomputable from the
classifier itself, other labels reported apart by name, unreadable files counted as errors, PNGs
written; and the manifest reader that training and evaluation share."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from medpic.cli import main
from medpic.errors import InvalidInput
from medpic.imaging import decode_image
from medpic.model.classifier import Classifier
from medpic.settings import Settings
from medpic.training.data import load_manifest, read_manifest, stratified_subset
from medpic.training.metrics import binary_metrics
from tests.conftest import encode

COLUMNS = ["file", "label", "kind", "modality", "source"]


@pytest.fixture
def labelled(tmp_path, cat, retina, histology, ct_slice):
    """A tiny labelled folder: 4 medical and 3 non-medical images that decode, one borderline row,
    one file that is not an image and one that does not exist."""
    from skimage import data

    root = tmp_path / "labelled"
    pictures = [
        ("medical/fundus.jpg", "medical", "fundus", "ophthalmology", "eyes", retina.resize((300, 300))),
        ("medical/ihc.jpg", "medical", "histology", "microscopy", "slides", histology.resize((256, 256))),
        ("medical/ct.png", "medical", "ct_head", "ct", "scans", ct_slice),
        ("medical/ct-small.png", "medical", "ct_head", "ct", "scans", ct_slice.resize((96, 96))),
        ("non-medical/cat.jpg", "non-medical", "photo", "", "pets", cat.resize((300, 200))),
        ("non-medical/coffee.jpg", "non-medical", "photo", "", "kitchen", Image.fromarray(data.coffee())),
        ("non-medical/rocket.jpg", "non-medical", "photo", "", "space", Image.fromarray(data.rocket())),
        ("borderline/render.jpg", "borderline", "render", "", "renders", retina.convert("L").convert("RGB")),
    ]
    rows = []
    for name, label, kind, modality, source, image in pictures:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(encode(image, "PNG" if name.endswith(".png") else "JPEG", **(
            {} if name.endswith(".png") else {"quality": 90})))
        rows.append([name, label, kind, modality, source])
    (root / "medical" / "notes.jpg").write_bytes(b"this is not a picture at all")
    rows += [["medical/notes.jpg", "medical", "xray_chest", "xray", "scans"],
             ["non-medical/gone.jpg", "non-medical", "photo", "", "pets"]]
    with (root / "manifest.csv").open("w", newline="") as f:
        csv.writer(f).writerows([COLUMNS, *rows])
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_scores_the_served_model_and_keeps_other_labels_apart(labelled, tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["evaluate", "--dataset", str(labelled), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())

    counts = metrics["counts"]
    assert counts == {"manifest_rows": 10, "labelled": 9, "selected": 9, "scored": 7, "medical": 4,
                      "non_medical": 3, "errors": 2, "other_labels": {"borderline": 1}}
    assert {e["file"] for e in metrics["errors"]} == {"medical/notes.jpg", "non-medical/gone.jpg"}
    assert "1 row with other labels kept apart: borderline 1" in printed
    assert "2 rows could not be scored" in printed and "medical/notes.jpg" in printed
    assert metrics["other_labels"][0]["label"] == "borderline" and metrics["other_labels"][0]["scored"] == 1
    assert metrics["ece_bins"] == 15 and 0 <= metrics["ece"] <= 1

    # the same figures, recomputed from Classifier.predict on the same decoded pictures
    good = [r for r in _rows(out / "predictions.csv") if r["status"] == "ok" and r["label"] != "borderline"]
    classifier = Classifier.load(Settings())
    predictions = classifier.predict([decode_image((labelled / r["file"]).read_bytes()).image for r in good])
    p = np.array([x.p_medical for x in predictions])
    y = np.array([r["label"] == "medical" for r in good])
    assert np.allclose(p, [float(r["p_medical"]) for r in good], atol=1e-5)
    assert [x.label for x in predictions] == [r["predicted"] for r in good]
    expected = binary_metrics(p, y, classifier.threshold)
    assert metrics["threshold"] == classifier.threshold
    assert 0 <= metrics["accuracy"] <= 1
    assert metrics["accuracy"] == pytest.approx(np.mean((p >= classifier.threshold) == y), abs=1e-4)
    for key in ("precision", "recall", "f1", "roc_auc", "ece"):
        assert metrics[key] == pytest.approx(getattr(expected, key), abs=1e-4)
    assert metrics["n"] == 7 and metrics["tp"] + metrics["fn"] == 4

    sources = {r["source"] for r in _rows(out / "per_source.csv")}
    assert sources == {"eyes", "slides", "scans", "pets", "kitchen", "space"}
    assert {r["modality"]: int(r["n"]) for r in _rows(out / "per_modality.csv")} == {
        "ophthalmology": 1, "microscopy": 1, "ct": 2}
    assert {r["kind"]: int(r["n"]) for r in _rows(out / "false_positives_by_kind.csv")} == {"photo": 3}
    for png in ("reliability.png", "confusion.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_limit_scores_a_stratified_seeded_subset(labelled, tmp_path):
    runs = []
    for name in ("a", "b"):
        assert main(["evaluate", "--dataset", str(labelled), "--out", str(tmp_path / name), "--limit", "6"]) == 0
        runs.append(json.loads((tmp_path / name / "metrics.json").read_text()))
    assert runs[0]["counts"]["selected"] + sum(a["selected"] for a in runs[0]["other_labels"]) == 6
    assert runs[0]["counts"]["medical"] >= 1 and runs[0]["counts"]["non_medical"] >= 1
    assert runs[0] == runs[1]


def test_stratified_subset_keeps_every_stratum_in_proportion():
    keys = ["a"] * 600 + ["b"] * 300 + ["c"] * 100
    chosen = stratified_subset(keys, 100, seed=3)
    picked = [keys[i] for i in chosen]
    assert len(chosen) == 100 and list(chosen) == sorted(chosen)
    assert abs(picked.count("a") - 60) <= 1 and abs(picked.count("b") - 30) <= 1 and abs(picked.count("c") - 10) <= 1
    assert list(stratified_subset(keys, 100, seed=3)) == list(chosen)
    assert list(stratified_subset(keys, 5000)) == list(range(1000))


def test_manifest_keeps_other_labels_out_of_training_and_reads_modality(labelled):
    manifest = read_manifest(labelled)
    assert len(manifest.examples) == 9 and [a.label for a in manifest.apart] == ["borderline"]
    assert manifest.other_labels == {"borderline": 1}
    assert load_manifest(labelled) == manifest.examples
    fundus = manifest.examples[0]
    assert (fundus.label, fundus.modality, fundus.source) == (1, "ophthalmology", "eyes")


def test_minimal_manifest_needs_only_file_and_label(tmp_path, retina, cat):
    (tmp_path / "a.jpg").write_bytes(encode(retina.resize((200, 200)), "JPEG"))
    (tmp_path / "b.jpg").write_bytes(encode(cat.resize((200, 200)), "JPEG"))
    (tmp_path / "manifest.csv").write_text("file,label\na.jpg,medical\nb.jpg,Non-Medical\nb.jpg,unsure\n")
    manifest = read_manifest(tmp_path)
    assert [(e.label, e.kind, e.source, e.modality) for e in manifest.examples] == [(1, "", "", ""), (0, "", "", "")]
    assert manifest.describe_apart() == "1 row with other labels kept apart: unsure 1"
    out = tmp_path / "reports"
    assert main(["evaluate", "--dataset", str(tmp_path), "--out", str(out)]) == 0
    assert not (out / "false_positives_by_kind.csv").exists()  # no kind column, no table by kind
    assert [r["source"] for r in _rows(out / "per_source.csv")] == ["(none)"]


def test_unusable_manifests_are_refused_with_a_reason(tmp_path, capsys):
    with pytest.raises(InvalidInput, match="no manifest.csv"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,class\na.jpg,medical\n")
    assert main(["evaluate", "--dataset", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "lacks the column(s) file, label" in capsys.readouterr().err
    (tmp_path / "manifest.csv").write_text("file,label\na.jpg,borderline\n")
    assert main(["evaluate", "--dataset", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no row labelled medical or non-medical" in capsys.readouterr().err


def test_a_named_model_folder_that_cannot_load_is_refused_not_replaced(labelled, tmp_path, capsys):
    assert main(["evaluate", "--dataset", str(labelled), "--model", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "r")]) == 1
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_evaluate_never_imports_tensorflow(labelled, tmp_path):
    code = ("import sys; from medpic.cli import main; "
            f"assert main(['evaluate', '--dataset', {str(labelled)!r}, '--out', {str(tmp_path / 'r')!r}]) == 0; "
            "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'torch') if m in sys.modules]; "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_train_check_measures_the_recipe_on_folds_and_writes_no_model(tmp_path, monkeypatch, capsys, retina,
                                                                      histology, ct_slice, cat):
    from skimage import data

    from medpic.settings import BUNDLED_MODEL_DIR
    from tests.training.test_train import make_dataset

    dataset = tmp_path / "data"
    make_dataset(dataset, [
        ("medical", "fundus", retina), ("medical", "ihc", histology), ("medical", "ct", ct_slice),
        ("non-medical", "cat", cat), ("non-medical", "coffee", Image.fromarray(data.coffee())),
        ("non-medical", "rocket", Image.fromarray(data.rocket())),
    ])
    (dataset / "render.jpg").write_bytes(encode(retina, "JPEG"))
    with (dataset / "manifest.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["render.jpg", "borderline", "render", "renders", "test", "test", "v3", ""])
    monkeypatch.setenv("MEDPIC_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MEDPIC_CACHE_DIR", str(tmp_path / "cache"))
    shipped = (BUNDLED_MODEL_DIR / "model.tflite").stat().st_mtime_ns
    from medpic.training import backbone

    built_at = []  # the input size of every backbone the check builds
    real_build = backbone.build_backbone

    def recording_build(variant, **kwargs):
        model = real_build(variant, **kwargs)
        built_at.append(model.input_shape[1])
        return model

    monkeypatch.setattr(backbone, "build_backbone", recording_build)

    assert main(["train", "--check", "--dataset", str(dataset), "--out", str(tmp_path / "m")]) == 2
    assert main(["train", "--check", "--dataset", str(dataset), "--views", "1", "--backbones", "lite0@192"]) == 0
    printed = capsys.readouterr().out
    assert "recipe: lite0@192, 1 view(s)" in printed
    assert built_at == [192]  # the features were computed by a backbone at that size
    out = tmp_path / "reports" / "train-check"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["leave_sources_out"]["n"] == 48 and metrics["random_split"]["n"] == 6
    assert metrics["other_labels_kept_apart"] == {"borderline": 1}
    assert "1 row with other labels kept apart: borderline 1" in printed and "leave-sources-out" in printed
    assert {p.name for p in out.iterdir()} >= {"per_source_leave_sources_out.csv", "confusion_leave_sources_out.png",
                                                "roc_random_split.png", "per_kind_random_split.csv",
                                                "confusion_modality_leave_sources_out.png"}
    modality = metrics["modality_leave_sources_out"]
    assert modality["classes"] == ["ct", "microscopy", "ophthalmology"]
    assert sum(map(sum, modality["confusion"])) == modality["n"] <= 24  # medical rows whose fold could be judged
    assert "modality, held-out" in printed
    assert (BUNDLED_MODEL_DIR / "model.tflite").stat().st_mtime_ns == shipped
    assert not (tmp_path / "m").exists()
