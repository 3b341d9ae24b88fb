"""From logits to calibrated probabilities: the one sigmoid serving, training and evaluation share."""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "softmax"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Clipped so that extreme logits give 0 or 1 instead of an overflow warning."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -60, 60)))


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise, shifted by the row's maximum so that no logit overflows."""
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
