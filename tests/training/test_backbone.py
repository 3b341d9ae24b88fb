"""The torch-free converter: checkpoint reading and the rebuilt network's ImageNet sanity."""

import numpy as np
import pytest

from medpic.training.backbone import build_backbone, weights_path
from medpic.model.preprocess import preprocess
from medpic.training.torch_pickle import load_state_dict

# ImageNet classes 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat
CAT_CLASSES = set(range(281, 286))


def test_checkpoint_reads_without_torch():
    import sys

    state = load_state_dict(weights_path("lite0"))
    assert "torch" not in sys.modules
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert np.isfinite(state["_blocks.15._project_conv.weight"]).all()
    # batch-norm variances are positive: the bytes were laid out where we think
    assert (state["_bn1.running_var"] > 0).all()


@pytest.mark.slow
def test_chelsea_is_a_cat_in_the_top3(cat):
    model = build_backbone("lite0", with_imagenet_head=True)
    logits = model.predict(preprocess(cat, 224)[None], verbose=0)[0]
    top3 = set(np.argsort(-logits)[:3].tolist())
    assert top3 <= CAT_CLASSES, top3


def test_feature_taps_end_each_stage():
    from medpic.training.backbone import stage_taps
    from medpic.training.features import FEATURE_TAPS

    assert stage_taps("lite0") == FEATURE_TAPS


@pytest.mark.slow
def test_a_larger_variant_runs_at_a_smaller_input_size(cat):
    """Lite2 (trained for 260 px) can run at 224, as ``bench/recipes.py``'s ``lite2@224`` does:
    the network is fully convolutional, so only the input changes and ImageNet still sees the cat."""
    model = build_backbone("lite2", with_imagenet_head=True, input_size=224)
    assert model.input_shape == (None, 224, 224, 3)
    logits = model.predict(preprocess(cat, 224)[None], verbose=0)[0]
    assert set(np.argsort(-logits)[:3].tolist()) <= CAT_CLASSES
