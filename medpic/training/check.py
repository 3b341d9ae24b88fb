"""``medpic train --check``: the training recipe measured on folds of whole sources; nothing exported.

This answers "does the recipe generalise to sources it has never seen?" by re-fitting the head
per fold (``train.cross_validate``) on cached backbone features, with the temperature and
threshold the recipe itself would ship. It measures a recipe, not a model: what users get is
``medpic evaluate``, which scores a finished model through the serving path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medpic.settings import Settings
from medpic.training.metrics import BinaryMetrics
from medpic.training.reports import (GROUP_COLUMNS, confusion_png, group_table, modality_confusion_png, roc_png,
                                     write_csv, write_json)
from medpic.training.train import FOLDS, Recipe, RecipeFit, fit_metrics, fit_recipe

__all__ = ["check_recipe", "CheckReport"]


@dataclass(frozen=True)
class CheckReport:
    """The recipe's figures on both validation splits, and where the tables went."""

    out_dir: Path
    recipe: Recipe
    random_split: BinaryMetrics
    leave_sources_out: BinaryMetrics
    modality_leave_sources_out: dict
    calibration: dict  # temperature, threshold, ECE before temperature scaling
    apart: str

    def summary(self) -> str:
        def line(name: str, m: BinaryMetrics) -> str:
            return (f"{name:<22} n={m.n:<6} accuracy {m.accuracy:.4f}  precision {m.precision:.4f}  "
                    f"recall {m.recall:.4f}  ROC AUC {m.roc_auc:.4f}  ECE {m.ece:.4f}")

        cal, modality = self.calibration, self.modality_leave_sources_out
        return "\n".join([f"recipe: {self.recipe.describe()} (temperature {cal['temperature']:.3f}, "
                          f"threshold {cal['threshold']:.3f})",
                          self.apart,
                          line("random split (15%)", self.random_split),
                          line(f"leave-sources-out ({FOLDS})", self.leave_sources_out),
                          f"{'modality, held-out':<22} n={modality['n']:<6} accuracy {modality['accuracy']:.4f}",
                          f"reports written to {self.out_dir}/ (no model written)"])


def _write_split(out: Path, name: str, fit: RecipeFit, rows: np.ndarray, p: np.ndarray, m: BinaryMetrics) -> None:
    """Per-source and per-kind tables, confusion matrix and ROC curve of one split."""
    examples = [fit.examples[i] for i in rows]
    y, pred = fit.labels[rows], p >= fit.threshold
    write_csv(out / f"per_source_{name}.csv", group_table([e.source for e in examples], y, pred, key="source"),
              ("source", *GROUP_COLUMNS))
    write_csv(out / f"per_kind_{name}.csv", group_table([e.kind for e in examples], y, pred, key="kind"),
              ("kind", *GROUP_COLUMNS))
    confusion_png(out / f"confusion_{name}.png", m, f"recipe check: {name.replace('_', ' ')}")
    roc_png(out / f"roc_{name}.png", p, y, m, f"recipe check: {name.replace('_', ' ')}")


def check_recipe(settings: Settings, *, out_dir: Path, recipe: Recipe = Recipe()) -> CheckReport:
    """Run the recipe on ``settings.dataset_dir`` and write its figures to ``out_dir``."""
    fit = fit_recipe(settings, recipe)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_split(out, "random_split", fit, np.flatnonzero(fit.val), fit.p_val, fit.random_metrics)
    _write_split(out, "leave_sources_out", fit, np.arange(len(fit.labels)), fit.p_lso, fit.lso_metrics)
    figures = fit_metrics(fit)
    modality = figures["modality_leave_sources_out"]
    modality_confusion_png(out / "confusion_modality_leave_sources_out.png", modality["classes"],
                           modality["confusion"], "modality on held-out sources (medical images)")
    calibration = {"temperature": round(fit.temperature, 6), "threshold": round(fit.threshold, 6),
                   "modality_temperature": round(fit.modality_temperature, 6),
                   "ece_before_temperature": fit.uncalibrated_ece}
    metrics = {"dataset": str(settings.dataset_dir), "recipe": recipe.as_dict(), "folds": FOLDS,
               "calibration": calibration, "other_labels_kept_apart": dict(fit.manifest.other_labels.most_common()),
               **figures}
    write_json(out / "metrics.json", metrics)
    return CheckReport(out, recipe, fit.random_metrics, fit.lso_metrics, modality, calibration,
                       fit.manifest.describe_apart())
