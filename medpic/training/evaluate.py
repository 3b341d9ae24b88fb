"""``medpic evaluate``: the shipped model, measured on both validation splits, with plots.

The random split is measured through the serving path itself (file bytes -> ``decode_image``
-> ``Classifier``), so what is reported is what users get. The leave-sources-out split needs a
head per fold that never saw the fold's sources; it re-fits the training recipe on the cached
features (``train.cross_validate``) and applies the shipped temperature and threshold.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medpic.errors import TrainingError
from medpic.model.classifier import Classifier
from medpic.training.data import Example, load_manifest, random_split, source_folds
from medpic.training.metrics import BinaryMetrics, binary_metrics, expected_calibration_error, sigmoid
from medpic.settings import Settings

__all__ = ["evaluate", "EvalReport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalReport:
    out_dir: Path
    random_split: BinaryMetrics
    leave_sources_out: BinaryMetrics
    model: dict

    def summary(self) -> str:
        def line(name: str, m: BinaryMetrics) -> str:
            return (f"{name:<22} n={m.n:<6} accuracy {m.accuracy:.4f}  precision {m.precision:.4f}  "
                    f"recall {m.recall:.4f}  ROC AUC {m.roc_auc:.4f}  ECE {m.ece:.4f}")

        return "\n".join([f"model: {self.model['name']} {self.model['version']} ({self.model['origin']})",
                          line("random split (15%)", self.random_split),
                          line("leave-sources-out", self.leave_sources_out),
                          f"reports written to {self.out_dir}/"])


def _group_accuracy(examples: list[Example], y: np.ndarray, pred: np.ndarray, key: str) -> list[dict]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[getattr(ex, key)].append(i)
    rows = []
    for name, idx in sorted(groups.items()):
        rows.append({key: name, "label": "medical" if y[idx[0]] else "non-medical", "n": len(idx),
                     "accuracy": round(float((pred[idx] == y[idx]).mean()), 4)})
    return sorted(rows, key=lambda r: (r["accuracy"], r[key]))


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _plots(out: Path, name: str, y: np.ndarray, p: np.ndarray, m: BinaryMetrics) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    cm = np.array([[m.tn, m.fp], [m.fn, m.tp]])
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks([0, 1], ["non-medical", "medical"])
    ax.set_yticks([0, 1], ["non-medical", "medical"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix: {name}")
    fig.tight_layout()
    fig.savefig(out / f"confusion_{name}.png", dpi=120)
    plt.close(fig)

    order = np.argsort(-p)
    tps, fps = np.cumsum(y[order]), np.cumsum(1 - y[order])
    tpr, fpr = np.r_[0, tps / max(tps[-1], 1)], np.r_[0, fps / max(fps[-1], 1)]
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.plot(fpr, tpr, label=f"AUC {m.roc_auc:.4f}")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC: {name}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / f"roc_{name}.png", dpi=120)
    plt.close(fig)


def _classification_report(y: np.ndarray, pred: np.ndarray) -> str:
    from sklearn.metrics import classification_report

    return classification_report(y, pred, target_names=["non-medical", "medical"], digits=4)


def _random_split_predictions(classifier: Classifier, examples: list[Example], settings: Settings) -> np.ndarray:
    from medpic.scan import JudgeOptions, scan
    from medpic.sources.files import InputFile
    from medpic.sources.targets import open_image_files

    files = [InputFile("dataset", str(e.path)) for e in examples]
    rows = scan(open_image_files(files, settings=settings), classifier, JudgeOptions.from_settings(settings)).rows
    failed = [r for r in rows if r.status != "ok"]
    if failed:
        raise TrainingError(f"{len(failed)} validation images failed to decode, e.g. {failed[0].image}: {failed[0].reason}")
    return np.array([r.p_medical for r in rows])


def evaluate(settings: Settings, *, out_dir: Path, seed: int = 0) -> EvalReport:
    """Measure the resolved model on both splits and write metrics, tables and plots."""
    from medpic.training.features import extract_views
    from medpic.training.train import cross_validate

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    classifier = Classifier.load(settings)
    config = classifier.config
    examples = load_manifest(settings.dataset_dir)
    y = np.array([e.label for e in examples])
    threshold, temperature = classifier.threshold, config.temperature

    val = random_split(examples, seed=seed)
    val_examples = [e for e, v in zip(examples, val) if v]
    p_val = _random_split_predictions(classifier, val_examples, settings)
    m_random = binary_metrics(p_val, y[val], threshold)

    log.info("leave-sources-out: refitting the recipe on cached features")
    sources = np.array([e.source for e in examples])
    views = int(config.trained_on.get("views", 1))
    feats = extract_views(examples, variant=config.backbone, views=views, cache_dir=settings.cache_dir, seed=seed)
    oof = cross_validate(feats, y, sources, source_folds(examples, seed=seed),
                         c=float(config.trained_on.get("head_c", 0.005)))
    p_lso = sigmoid(oof / temperature)
    m_lso = binary_metrics(p_lso, y, threshold)

    for name, exs, yy, pp, m in (("random_split", val_examples, y[val], p_val, m_random),
                                 ("leave_sources_out", examples, y, p_lso, m_lso)):
        pred = (pp >= threshold).astype(int)
        _write_csv(out_dir / f"per_source_{name}.csv", _group_accuracy(exs, yy, pred, "source"))
        _write_csv(out_dir / f"per_kind_{name}.csv", _group_accuracy(exs, yy, pred, "kind"))
        (out_dir / f"classification_report_{name}.txt").write_text(_classification_report(yy, pred))
        _plots(out_dir, name, yy, pp, m)

    uncalibrated = expected_calibration_error(sigmoid(np.log(p_val / (1 - p_val)) * temperature), y[val])
    metrics = {
        "model": classifier.describe(),
        "threshold": threshold,
        "temperature": temperature,
        "random_split": m_random.as_dict(),
        "random_split_ece_before_temperature": round(uncalibrated, 4),
        "leave_sources_out": m_lso.as_dict(),
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return EvalReport(out_dir, m_random, m_lso, classifier.describe())
