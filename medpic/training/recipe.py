"""The training recipe as one value, light enough for the CLI to read its defaults without
loading any of training's dependencies."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Recipe"]


@dataclass(frozen=True)
class Recipe:
    """What ``train`` and ``train --check`` do, as one value: the same recipe gives the same model."""

    variant: str = "lite0"
    input_size: int | None = None  # None: the variant's own (224, 240, 260); any size runs, a smaller one costs less
    views: int = 1  # clean + augmented views per image
    head: str = "mlp"  # "mlp" or "linear"
    members: int = 5  # MLP heads averaged into one
    hard_negative_weight: float = 2.0  # the MLP's weight on `hard_negative` and `:stockmed` images
    seed: int = 0
    c: float = 0.005  # the linear head's inverse L2 strength
    modality_c: float = 0.01
    quantization: str = "int8-backbone"  # of the exported TFLite file: see export.QUANTIZATIONS
    representative: int = 256  # training images that set int8's activation ranges

    def describe(self) -> str:
        size = f" at {self.input_size} px" if self.input_size else ""
        return f"{self.variant}{size}, {self.views} view(s), {self.head} head, {self.quantization}, seed {self.seed}"

    def as_dict(self) -> dict:
        return dict(self.__dict__)
