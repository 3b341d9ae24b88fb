"""``config.json`` of a model folder: everything serving needs besides the weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medpic.errors import ModelError, ModelNotFound

__all__ = ["ModelConfig", "CONFIG_FILE"]

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class ModelConfig:
    """Labels, input, calibration and provenance of one trained model."""

    name: str
    version: str
    backbone: str  # "lite0", or several joined by "+" ("lite0+lite2@192"): see training.backbone.parse_backbone
    input_size: int
    labels: tuple[str, ...] = ("non-medical", "medical")
    # The modality head's classes, in the order of the model's outputs 1..K; empty for a model
    # with the medical head only (an older folder), which then reports no modality.
    modalities: tuple[str, ...] = ()
    modality_temperature: float = 1.0
    threshold: float = 0.5  # on the calibrated probability of "medical"
    temperature: float = 1.0  # logits are divided by this before the sigmoid
    model_file: str = "model.tflite"
    keras_file: str | None = "model.keras"
    preprocessing: dict[str, Any] = field(default_factory=dict)
    trained_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def positive_label(self) -> str:
        return self.labels[1]

    @property
    def outputs(self) -> int:
        """Columns of the model's output: the medical logit, then one logit per modality."""
        return 1 + len(self.modalities)

    @classmethod
    def read(cls, folder: str | Path) -> "ModelConfig":
        path = Path(folder) / CONFIG_FILE
        if not path.is_file():
            raise ModelNotFound(f"no {CONFIG_FILE} in model folder {str(folder)!r}")
        try:
            raw = json.loads(path.read_text())
            raw["labels"] = tuple(raw.get("labels", cls.labels))
            raw["modalities"] = tuple(raw.get("modalities", ()))
            known = {f for f in cls.__dataclass_fields__}
            config = cls(**{k: v for k, v in raw.items() if k in known})
        except (ValueError, TypeError) as exc:
            raise ModelError(f"unreadable {CONFIG_FILE} in {str(folder)!r}: {exc}") from exc
        if len(config.labels) != 2 or config.temperature <= 0 or not 0 < config.threshold < 1:
            raise ModelError(f"invalid {CONFIG_FILE} in {str(folder)!r}: labels, temperature or threshold")
        if config.modality_temperature <= 0 or len(set(config.modalities)) != len(config.modalities):
            raise ModelError(f"invalid {CONFIG_FILE} in {str(folder)!r}: modalities or modality_temperature")
        return config

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / CONFIG_FILE
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["modalities"] = list(self.modalities)
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path
