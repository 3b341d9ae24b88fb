"""Calibration and scoring: temperature scaling, threshold choice, ECE and the usual metrics.

Plain NumPy so that training (choosing T and the threshold) and evaluation (reporting them)
compute exactly the same quantities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medpic.model.calibration import sigmoid

__all__ = ["sigmoid", "fit_temperature", "fit_softmax_temperature", "choose_threshold", "expected_calibration_error", "binary_metrics",
           "BinaryMetrics"]


def _nll(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    z = logits / t
    # log(1 + exp(-|z|)) form: stable for large |z|
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def _softmax_nll(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def _minimise_temperature(nll) -> float:
    """One parameter, convex in 1/T: a coarse log-grid then golden-section refinement is exact
    enough and needs no optimiser dependency."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    lo, hi = best / 1.05, best * 1.05
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float((lo + hi) / 2)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the log-loss of ``sigmoid(logits / T)`` (Guo et al., 2017)."""
    logits, y = np.asarray(logits, np.float64), np.asarray(y, np.float64)
    return _minimise_temperature(lambda t: _nll(logits, y, t))


def fit_softmax_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the log-loss of ``softmax(logits / T)``; ``y`` holds class indices."""
    logits, y = np.asarray(logits, np.float64), np.asarray(y, np.int64)
    return _minimise_temperature(lambda t: _softmax_nll(logits, y, t))


def choose_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The cut on validation data: the one nearest 0.5 whose accuracy is within one standard
    error of the best cut's (Breiman's one-standard-error rule).

    With calibrated probabilities 0.5 is the accuracy-optimal cut in expectation; moving away from
    it to gain two or three validation images would fit the validation set's noise. Cuts are kept
    within [0.05, 0.95] so that the label and the calibrated probability never disagree wildly.
    """
    p, y = np.asarray(p, np.float64), np.asarray(y).astype(bool)
    candidates = np.unique(np.clip(np.concatenate([p, [0.5]]), 0.05, 0.95))
    accuracy = np.array([((p >= t) == y).mean() for t in candidates])
    best = accuracy.max()
    standard_error = np.sqrt(best * (1 - best) / max(len(y), 1))
    good = candidates[accuracy >= best - standard_error - 1e-12]
    return float(good[np.argmin(np.abs(good - 0.5))])


def expected_calibration_error(p: np.ndarray, y: np.ndarray, *, bins: int = 15) -> float:
    """ECE of the predicted label's confidence, with equal-width bins over [0.5, 1]."""
    p, y = np.asarray(p, np.float64), np.asarray(y).astype(bool)
    pred = p >= 0.5
    confidence = np.where(pred, p, 1 - p)
    correct = pred == y
    edges = np.linspace(0.5, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi) if lo > 0.5 else (confidence >= lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def roc_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties counted half)."""
    p, y = np.asarray(p, np.float64), np.asarray(y).astype(bool)
    n_pos, n_neg = y.sum(), (~y).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    i = 0
    while i < len(p):
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class BinaryMetrics:
    """The headline figures of one evaluation."""

    n: int
    accuracy: float
    precision: float  # of "medical"
    recall: float  # of "medical"
    f1: float
    roc_auc: float
    ece: float
    tn: int
    fp: int
    fn: int
    tp: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def binary_metrics(p: np.ndarray, y: np.ndarray, threshold: float) -> BinaryMetrics:
    p, y = np.asarray(p, np.float64), np.asarray(y).astype(bool)
    pred = p >= threshold
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BinaryMetrics(len(y), float((pred == y).mean()), precision, recall, f1, roc_auc(p, y),
                         expected_calibration_error(p, y), tn, fp, fn, tp)
