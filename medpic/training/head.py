"""The decision head on frozen backbone features: a source-balanced logistic regression.

Measured on the leave-sources-out split (5 folds of whole sources), a linear head on frozen,
multi-scale features reached 0.883 accuracy against 0.865 for the final embedding alone. Two
choices mattered besides the features:

- sample weights of ``1/sqrt(images in the source)``, normalised per class, so a 450-image
  source does not outvote a 40-image one and both classes weigh the same (the 1.6:1 imbalance);
- standardised inputs with a strong L2 penalty; the scaling is folded into the weights so that
  serving is a single dense layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearHead", "source_balanced_weights", "fit_linear_head"]


@dataclass(frozen=True)
class LinearHead:
    """``logit = features @ weight + bias``, standardisation already folded in."""

    weight: np.ndarray  # (D,) float32
    bias: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float64) @ self.weight.astype(np.float64) + self.bias


def source_balanced_weights(labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Per-sample weights: 1/sqrt(source size), each class summing to half the total."""
    labels, sources = np.asarray(labels), np.asarray(sources)
    names, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    w = 1.0 / np.sqrt(counts[inverse].astype(np.float64))
    for label in np.unique(labels):
        mask = labels == label
        w[mask] *= 0.5 / w[mask].sum()
    return w * (len(w) / w.sum())


def fit_linear_head(features: np.ndarray, labels: np.ndarray, sources: np.ndarray, *, c: float = 0.003,
                    max_iter: int = 3000) -> LinearHead:
    """Fit the head; deterministic for the same inputs (L-BFGS, no sampling)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit((x - mean) / std, labels, sample_weight=source_balanced_weights(labels, sources))
    coef = model.coef_[0] / std
    bias = float(model.intercept_[0] - (coef * mean).sum())
    return LinearHead(coef.astype(np.float32), bias)
