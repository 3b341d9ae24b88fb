"""Stage 3, classification: model replicas, each loading the model once, fed in batches.

Each actor rebuilds the candidates of a batch from their rows (pixels at the model's input size,
made by the decoding tasks or, when the plan puts decoding here, by the actor itself first) and
hands them to ``judge``, the one function that turns candidates into report rows,
so a batch row is exactly the row ``medpic scan`` writes for the same image. The pixels are
dropped here; the original bytes go on only for the images ``--save-medical`` keeps.
"""

from __future__ import annotations

import json
from typing import Any

from medpic.batch.rows import IMAGE, candidate_of, decode_row, stage_schema
from medpic.errors import ModelError
from medpic.model.classifier import Classifier
from medpic.save import selected_for_download
from medpic.scan import JudgeOptions, judge
from medpic.settings import Settings

__all__ = ["ClassifyActor"]


class ClassifyActor:
    """A Ray Data actor holding one loaded ``Classifier``; with ``decode``, it decodes its rows
    first (the plan's choice where the replicas hold the cores: ``engine.decode_in_replicas``)."""

    def __init__(self, *, settings: Settings, input_size: int, threshold: float | None,
                 save_min_confidence: float | None, decode: bool = False) -> None:
        self._classifier = Classifier.load(settings)
        if self._classifier.input_size != input_size:
            raise ModelError(f"the model's input size is {self._classifier.input_size} px, not the "
                             f"{input_size} px the job prepared pictures for (did the model change?)")
        self._input_size = input_size
        self._options = JudgeOptions.from_settings(settings, threshold=threshold)
        self._save_min_confidence = save_min_confidence
        self._max_pixels = settings.max_pixels if decode else None  # None: rows come decoded

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.to_pylist()
        images = [row for row in rows if row["kind"] == IMAGE]
        if self._max_pixels is not None:
            for row in images:
                decode_row(row, max_pixels=self._max_pixels, input_size=self._input_size)
        candidates = [candidate_of(row, input_size=self._input_size) for row in images]
        for row, judged in zip(images, judge(candidates, self._classifier, self._options)):
            fields = judged.row.as_dict()
            keep = None
            if self._save_min_confidence is not None:
                keep = next(selected_for_download([judged], self._save_min_confidence), None)
            if keep is not None:  # saved under its content hash, with the extension it really has
                fields["save_as"] = f"{judged.row.sha256}.{keep[0].rsplit('.', 1)[-1]}"
            row.update(fields=json.dumps(fields), data=keep[1] if keep else None, pixels=None)
        return pa.Table.from_pylist(rows, schema=stage_schema())
