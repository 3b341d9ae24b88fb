"""The judge: candidates -> decoded pictures -> predictions -> report rows, one row each.

Every candidate becomes exactly one row: judged (``ok``), ``skipped`` with the limit or size that
excluded it, or ``error`` with the reason. Decoding runs a few batches ahead on worker threads
while the model works on the previous batch; candidates are pulled lazily, so a source that
downloads as it goes overlaps with the model. The report keeps the candidates so that medical
images can be saved with their original bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from medpic.concurrency import prefetch
from medpic.errors import ImageTooLarge, reason_of
from medpic.imaging import decode_image
from medpic.model.classifier import Classifier, Prediction
from medpic.model.preprocess import to_input_size
from medpic.report import ReportRow, Summary
from medpic.settings import Settings
from medpic.sources.candidates import Extraction, ImageCandidate, Status

__all__ = ["Judged", "ScanReport", "JudgeOptions", "prepare", "ready", "judge", "scan"]


@dataclass(frozen=True)
class Judged:
    """A candidate and its row: what was found, and what we concluded."""

    candidate: ImageCandidate
    row: ReportRow


@dataclass(frozen=True, kw_only=True)
class JudgeOptions:
    """How candidates are judged; built from Settings by ``from_settings``."""

    threshold: float | None  # None: the classifier's own (the model's, or MEDPIC_THRESHOLD)
    max_pixels: int
    decode_workers: int
    min_side: int = 0  # smaller images are "skipped: too small"; set per source by its extraction

    @classmethod
    def from_settings(cls, settings: Settings, *, threshold: float | None = None) -> "JudgeOptions":
        return cls(threshold=threshold, max_pixels=settings.max_pixels, decode_workers=settings.decode_workers)


@dataclass(frozen=True)
class ScanReport:
    """The result of scanning one source: its extraction and one judged item per candidate."""

    extraction: Extraction
    items: tuple[Judged, ...]

    @property
    def source(self) -> str:
        return self.extraction.source

    @property
    def kind(self) -> str:
        return self.extraction.kind

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self.extraction.notes)

    @property
    def pages(self) -> int | None:
        return self.extraction.pages

    @property
    def rows(self) -> list[ReportRow]:
        return [j.row for j in self.items]

    def summary(self) -> Summary:
        return Summary.of(self.rows)


def _row(c: ImageCandidate, *, status: str, reason: str = "", prediction: Prediction | None = None) -> ReportRow:
    return ReportRow(
        source=c.source, image=c.ref, status=status, reason=reason, width=c.width, height=c.height,
        label=prediction.label if prediction else "", p_medical=prediction.p_medical if prediction else None,
        confidence=prediction.confidence if prediction else None, page=c.page, found_by=c.found_by,
        alt=c.alt, sha256=c.sha256, modality=prediction.modality if prediction else "",
        modality_confidence=prediction.modality_confidence if prediction else None,
    )


def prepare(cand: ImageCandidate, *, max_pixels: int, min_side: int = 0, reduce_to: int | None = None
            ) -> tuple[ImageCandidate, Image.Image | None, str, str]:
    """A candidate made ready for the model: (candidate, pixels, status, reason).

    Decoding happens here, so any failure is this candidate's ``error``; images smaller than
    ``min_side`` on either side (icons, tracking pixels) become ``skipped`` once their true
    size is known. ``reduce_to`` lets a large JPEG decode at a reduced scale (``decode_image``)."""
    if cand.status != Status.OK:
        return cand, None, cand.status, cand.reason
    image = cand.image
    size = image.size if image is not None else (0, 0)
    if image is None:
        try:
            decoded = decode_image(cand.data or b"", max_pixels=max_pixels, reduce_to=reduce_to)
        except ImageTooLarge as exc:  # a bomb's row still says how large it claimed to be
            return replace(cand, width=exc.width or cand.width, height=exc.height or cand.height), None, \
                Status.ERROR, exc.reason
        except Exception as exc:  # noqa: BLE001 - one image never aborts a page or a document
            return cand, None, Status.ERROR, reason_of(exc, doing="could not decode image")
        image, size = decoded.image, (decoded.width, decoded.height)  # the file's size, not a draft's
        cand = replace(cand, width=decoded.width, height=decoded.height)
    width, height = size
    if min_side and min(width, height) < min_side:
        return cand, None, Status.SKIPPED, f"too small: {width}x{height} is under {min_side} px"
    return cand, image, Status.OK, ""


def ready(cand: ImageCandidate, *, max_pixels: int, min_side: int, input_size: int
          ) -> tuple[ImageCandidate, Image.Image | None, str, str]:
    """``prepare``, then the picture shrunk to the model's input size (``to_input_size``, the first
    half of the one preprocessing), on a worker thread. What waits for the model is that small 8-bit
    picture: the full-resolution one (and the candidate's copy of it) is dropped here, so
    look-ahead costs kilobytes per image, not a decoded scan. The batch job's decoding stage
    calls this too."""
    cand, image, status, reason = prepare(cand, max_pixels=max_pixels, min_side=min_side, reduce_to=input_size)
    return replace(cand, image=None), to_input_size(image, input_size) if image is not None else None, status, reason


def judge(candidates: Iterable[ImageCandidate], classifier: Classifier, options: JudgeOptions) -> Iterator[Judged]:
    """Classify candidates in batches as they arrive; exactly one row each, in candidate order.

    Decoding and preprocessing run a few batches ahead on worker threads while the model works
    on the previous batch."""
    shrunk = prefetch(lambda c: ready(c, max_pixels=options.max_pixels, min_side=options.min_side,
                                      input_size=classifier.input_size), candidates,
                     depth=classifier.batch_size + 4 * options.decode_workers,
                     workers=options.decode_workers)
    pending: list[tuple[ImageCandidate, Image.Image | None, str, str]] = []

    def flush() -> Iterator[Judged]:
        pictures = [x for _, x, status, _ in pending if status == Status.OK]
        logits = classifier.forward(classifier.preprocess(pictures)) if pictures else np.zeros(0, np.float32)
        predictions = iter(classifier.postprocess(logits, threshold=options.threshold))
        for cand, _, status, reason in pending:
            prediction = next(predictions) if status == Status.OK else None
            yield Judged(cand, _row(cand, status=status, reason=reason, prediction=prediction))
        pending.clear()

    waiting = 0
    for item in shrunk:
        pending.append(item)
        waiting += item[2] == Status.OK
        if waiting >= classifier.batch_size:
            yield from flush()
            waiting = 0
    yield from flush()


def scan(extraction: Extraction, classifier: Classifier, options: JudgeOptions) -> ScanReport:
    """Judge every candidate of an extraction."""
    options = replace(options, min_side=extraction.min_side)
    return ScanReport(extraction, tuple(judge(extraction.candidates, classifier, options)))
