"""``Classifier``: preprocess -> forward -> postprocess, with labels and calibration from config.

- preprocess: ``medpic.model.preprocess.preprocess`` (the same function training used);
- forward: ``TFLiteRuntime``, the only call into a model runtime;
- postprocess: temperature scaling and the decision threshold from ``config.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from medpic.errors import ModelError
from medpic.model.config import ModelConfig
from medpic.model.calibration import sigmoid, softmax
from medpic.model.preprocess import preprocess_batch
from medpic.model.runtime import TFLiteRuntime
from medpic.model.source import ModelLocation, check_folder, resolve_model
from medpic.settings import Settings, parse_probability

__all__ = ["Classifier", "Prediction"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """The verdict on one image."""

    label: str
    p_medical: float  # calibrated probability that the image is medical
    confidence: float  # calibrated probability of the predicted label
    logit: float  # raw model output, before temperature scaling
    modality: str = ""  # for a medical verdict of a two-head model: "ct", "xray", ...; else empty
    modality_confidence: float | None = None  # calibrated probability of that modality

    @property
    def is_medical(self) -> bool:
        return self.label == "medical"



class Classifier:
    """A loaded medical-image classifier. Thread-safe; load once and share."""

    def __init__(self, location: ModelLocation, config: ModelConfig, runtime: TFLiteRuntime,
                 *, batch_size: int = 32, threshold: float | None = None) -> None:
        self.location = location
        self.config = config
        self._runtime = runtime
        self.batch_size = batch_size
        self.threshold = parse_probability(config.threshold if threshold is None else threshold)
        # The modality head's classes when the file has that head; empty for a single-head model
        # (its reports carry no modality), whatever its config names.
        self.modalities: tuple[str, ...] = config.modalities if runtime.outputs == config.outputs > 1 else ()

    @classmethod
    def load(cls, settings: Settings | None = None) -> "Classifier":
        """Resolve the model folder (local -> Hub -> bundled) and load it."""
        settings = settings or Settings.from_env()
        started = time.perf_counter()
        location = resolve_model(settings)
        config = check_folder(location.path)
        runtime = TFLiteRuntime(location.path / config.model_file, threads=settings.threads,
                                group=min(settings.model_group, settings.batch_size))  # a group fills one batch at most
        if runtime.outputs not in (1, config.outputs):
            raise ModelError(f"{config.model_file} in {str(location.path)!r} has {runtime.outputs} outputs; "
                             f"config.json describes {config.outputs}")
        log.info("loaded %s %s from %s in %.2f s (%s)", config.name, config.version, location.origin,
                 time.perf_counter() - started, runtime.engine)
        return cls(location, config, runtime, batch_size=settings.batch_size, threshold=settings.threshold)

    @property
    def input_size(self) -> int:
        return self.config.input_size

    # -- the three stages ------------------------------------------------------------------

    def preprocess(self, images: Sequence[Image.Image]) -> np.ndarray:
        return preprocess_batch(list(images), self.config.input_size)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self._runtime(batch)

    def postprocess(self, outputs: np.ndarray, *, threshold: float | None = None) -> list[Prediction]:
        """Model outputs ``(N,)`` (medical logit only) or ``(N, 1 + K)`` (then K modality logits)
        -> verdicts. Only a medical verdict gets a modality: the head was trained on medical
        images alone, so its answer for anything else means nothing."""
        threshold = self.threshold if threshold is None else parse_probability(threshold)
        if not len(outputs):
            return []
        outputs = np.asarray(outputs, np.float64).reshape(len(outputs), -1)
        logits = outputs[:, 0]
        probs = sigmoid(logits / self.config.temperature)
        kinds = self.modalities if outputs.shape[1] == 1 + len(self.modalities) else ()
        modality_probs = softmax(outputs[:, 1:] / self.config.modality_temperature) if kinds else None
        negative, positive = self.config.labels
        out = []
        for i, (logit, p) in enumerate(zip(logits, probs)):
            medical = bool(p >= threshold)
            modality, modality_confidence = "", None
            if medical and modality_probs is not None:
                best = int(np.argmax(modality_probs[i]))
                modality, modality_confidence = kinds[best], float(modality_probs[i, best])
            out.append(Prediction(
                label=positive if medical else negative,
                p_medical=float(p),
                confidence=float(p if medical else 1.0 - p),
                logit=float(logit),
                modality=modality,
                modality_confidence=modality_confidence,
            ))
        return out

    # -- public API --------------------------------------------------------------------------

    def predict(self, images: Sequence[Image.Image], *, threshold: float | None = None) -> list[Prediction]:
        """Classify RGB pictures, in order, in batches of ``batch_size``."""
        predictions: list[Prediction] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            predictions.extend(self.postprocess(self.forward(self.preprocess(chunk)), threshold=threshold))
        return predictions

    def describe(self) -> dict[str, object]:
        """What ``health()`` and ``--version``-style output show about the model."""
        return {
            "name": self.config.name,
            "version": self.config.version,
            "origin": self.location.origin,
            "detail": self.location.detail,
            "folder": str(self.location.path),
            "threshold": self.threshold,
            "temperature": self.config.temperature,
            "engine": self._runtime.engine,
            "modalities": list(self.modalities),
            "modality": ("yes: " + ", ".join(self.modalities)) if self.modalities
            else "no (a single-head model: reports carry no modality)",
        }
