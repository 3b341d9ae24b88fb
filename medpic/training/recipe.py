"""The training recipe as one value, light enough for the CLI to read its defaults without
loading any of training's dependencies."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Recipe"]


@dataclass(frozen=True)
class Recipe:
    """What ``train`` and ``train --check`` do, as one value: the same recipe gives the same model."""

    # One medical head per backbone, their logits averaged. ``lite2@192`` is Lite2 run at 192 px:
    # every backbone after the first is fed the first one's input, resized inside the network.
    backbones: tuple[str, ...] = ("lite0", "lite2@192")
    views: int = 1  # clean + augmented views per image
    head: str = "mlp"  # "mlp" or "linear"
    members: int = 5  # MLP heads averaged into one, per backbone
    hard_negative_weight: float = 2.0  # the MLP's weight on `hard_negative` and `:stockmed` images
    seed: int = 0
    c: float = 0.005  # the linear head's inverse L2 strength
    modality_c: float = 0.01
    quantization: str = "int8-backbone"  # of the exported TFLite file: see export.QUANTIZATIONS
    representative: int = 256  # training images that set int8's activation ranges

    def describe(self) -> str:
        return (f"{' + '.join(self.backbones)}, {self.views} view(s), {self.head} head, {self.quantization}, "
                f"seed {self.seed}")

    def as_dict(self) -> dict:
        return {**self.__dict__, "backbones": list(self.backbones)}
