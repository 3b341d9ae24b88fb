"""The medical heads' arithmetic, on small random arrays (no network, no dataset)."""

import numpy as np
import pytest


def test_an_ensemble_head_averages_one_head_per_backbone_over_its_own_columns():
    from medpic.training.head import EnsembleHead, LinearHead

    rng = np.random.default_rng(0)
    first, second = (LinearHead(rng.normal(size=n).astype(np.float32), float(rng.normal())) for n in (3, 5))
    head = EnsembleHead((first, second), (3, 5))
    x = rng.normal(size=(4, 8))
    np.testing.assert_allclose(head.logits(x), (first.logits(x[:, :3]) + second.logits(x[:, 3:])) / 2)
    with pytest.raises(ValueError, match="columns"):
        head.logits(x[:, :7])  # a feature vector from other backbones
    with pytest.raises(ValueError, match="backbones"):
        EnsembleHead((first,), (3, 5))  # a backbone without its head
