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


def test_the_exported_heads_compute_what_the_fitted_heads_do():
    """The serving model's tail, built from the fitted heads, gives the same medical logit (each
    backbone's head on its own columns, averaged) and modality logits (over every column) as the
    heads' own arithmetic: a swap of the backbones' inputs would give other numbers."""
    from medpic.training.head import EnsembleHead, LinearHead, MlpHead, ModalityHead
    from medpic.training.train import build_head_model

    rng = np.random.default_rng(1)
    f32 = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    first = MlpHead(f32(3, 4), f32(4), f32(4), float(rng.normal()))
    second = LinearHead(f32(5), float(rng.normal()))
    head = EnsembleHead((first, second), (3, 5))
    modality = ModalityHead(("ct", "mri"), f32(8, 2), f32(2))
    model = build_head_model([("features_a", 3), ("features_b", 5)], head, modality)
    x = rng.normal(size=(6, 8)).astype(np.float32)
    out = np.asarray(model([x[:, :3], x[:, 3:]]))
    np.testing.assert_allclose(out[:, 0], head.logits(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[:, 1:], modality.logits(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="widths"):
        build_head_model([("features_b", 5), ("features_a", 3)], head, modality)  # backbones in another order
