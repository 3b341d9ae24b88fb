"""From logits to calibrated probabilities: the one sigmoid serving, training and evaluation share."""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Clipped so that extreme logits give 0 or 1 instead of an overflow warning."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -60, 60)))
