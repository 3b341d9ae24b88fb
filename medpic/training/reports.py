"""Tables and figures of a measurement, shared by ``medpic evaluate`` and ``medpic train --check``.

Tables are plain CSV (one header even when empty, so scripts can rely on the columns); figures
are PNGs drawn with matplotlib, imported only when a figure is drawn so that reading a table
never pays for it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from medpic.training.metrics import BinaryMetrics

__all__ = ["write_csv", "write_json", "group_table", "count_table", "confusion_png", "modality_confusion_png",
           "roc_png", "reliability_png", "GROUP_COLUMNS"]

GROUP_COLUMNS = ("n", "medical", "non_medical", "accuracy", "precision", "recall", "false_positives",
                 "false_negatives")
DPI = 120


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> Path:
    """Write ``rows`` under ``columns`` (the header is written even when there are no rows)."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _finite(value: object) -> object:
    """JSON has no NaN (ROC AUC is undefined with a single class): null instead, at any depth."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, data: dict) -> Path:
    """Write ``data`` as indented, strictly valid JSON (NaN becomes null)."""
    Path(path).write_text(json.dumps(_finite(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return Path(path)


def _ratio(num: int, den: int) -> float | str:
    """A rounded ratio, or an empty cell where it is undefined (no rows to divide by)."""
    return round(num / den, 4) if den else ""


def _indices(groups: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        out[g or "(none)"].append(i)
    return out


def group_table(groups: Sequence[str], y: np.ndarray, pred: np.ndarray, *, key: str) -> list[dict]:
    """Per group (a source, a kind): counts, accuracy, and medical precision and recall; the
    lowest accuracy first (the larger group first on a tie), because the table is read for where
    the model fails."""
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    rows = []
    for name, idx in _indices(groups).items():
        t, p = y[idx], pred[idx]
        tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
        rows.append({key: name, "n": len(idx), "medical": int(t.sum()), "non_medical": int((~t).sum()),
                     "accuracy": _ratio(int((t == p).sum()), len(idx)), "precision": _ratio(tp, tp + fp),
                     "recall": _ratio(tp, tp + fn), "false_positives": fp, "false_negatives": fn})
    return sorted(rows, key=lambda r: (r["accuracy"], -r["n"], r[key]))


def count_table(groups: Sequence[str], hits: np.ndarray, *, key: str, hit: str, rate: str,
                most_first: bool) -> list[dict]:
    """Per group: rows, how many are ``hit`` (e.g. detected as medical) and the rate; sorted by the
    rate, highest first when ``most_first`` (false alarms) else lowest first (recall)."""
    hits = np.asarray(hits).astype(bool)
    rows = [{key: name, "n": len(idx), hit: int(hits[idx].sum()), rate: _ratio(int(hits[idx].sum()), len(idx))}
            for name, idx in _indices(groups).items()]
    sign = -1 if most_first else 1
    return sorted(rows, key=lambda r: (sign * r[rate], -r["n"], r[key]))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(path: Path, m: BinaryMetrics, title: str) -> Path:
    """The 2x2 confusion matrix as counts and as shares of each true class, side by side."""
    plt = _pyplot()
    counts = np.array([[m.tn, m.fp], [m.fn, m.tp]])
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8))
    panels = ((axes[0], counts, "{:d}", "counts"), (axes[1], shares, "{:.1%}", "share of true class"))
    for ax, values, fmt, name in panels:
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, fmt.format(v), ha="center", va="center", color="white" if shares[i, j] > 0.5 else "black")
        ax.set_xticks([0, 1], ["non-medical", "medical"])
        ax.set_yticks([0, 1], ["non-medical", "medical"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def modality_confusion_png(path: Path, classes: Sequence[str], confusion: Sequence[Sequence[int]], title: str) -> Path:
    """The K x K modality confusion matrix, coloured by share of each true class, counts written in."""
    plt = _pyplot()
    counts = np.asarray(confusion, np.int64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(classes), 0.8 + 0.55 * len(classes)))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(counts):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted modality")
    ax.set_ylabel("true modality")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def roc_png(path: Path, p: np.ndarray, y: np.ndarray, m: BinaryMetrics, title: str) -> Path:
    """The ROC curve with its area."""
    plt = _pyplot()
    y = np.asarray(y).astype(int)
    order = np.argsort(-np.asarray(p))
    tps, fps = np.cumsum(y[order]), np.cumsum(1 - y[order])
    tpr, fpr = np.r_[0, tps / max(tps[-1], 1)], np.r_[0, fps / max(fps[-1], 1)]
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.plot(fpr, tpr, label=f"AUC {m.roc_auc:.4f}")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def reliability_png(path: Path, p: np.ndarray, y: np.ndarray, m: BinaryMetrics, title: str, *,
                    bins: int = 15) -> Path:
    """Reliability diagram: in equal-width bins of the calibrated ``p_medical``, the share of images
    that are medical against the mean predicted probability (on the diagonal when calibrated), with
    the number of images per bin below."""
    plt = _pyplot()
    p, y = np.asarray(p, np.float64), np.asarray(y).astype(bool)
    which = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    filled = count > 0
    mean_p = np.bincount(which, weights=p, minlength=bins)[filled] / count[filled]
    observed = np.bincount(which, weights=y, minlength=bins)[filled] / count[filled]
    centres = (np.arange(bins) + 0.5) / bins
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.6, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    top.bar(centres[filled], observed, width=1 / bins, alpha=0.35, edgecolor="tab:blue", label="share medical")
    top.plot(mean_p, observed, "o-", color="tab:blue", markersize=3)
    top.set_ylabel("share that is medical")
    top.set_title(f"{title}\nECE {m.ece:.4f} ({bins} bins), n={m.n}")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centres, count, width=1 / bins, color="grey")
    bottom.set_yscale("log" if count.max() > 50 else "linear")
    bottom.set_xlabel("predicted p_medical")
    bottom.set_ylabel("images")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)
