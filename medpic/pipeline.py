"""``medpic classify``: files -> candidates -> the same judging stage as scans -> report rows.

There is one decode/batch/predict mechanism (``medpic.scan.judge``); this module only turns
input files into candidates, one per file, unreadable ones included.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from medpic.errors import InvalidInput
from medpic.extract.candidates import ImageCandidate
from medpic.files import InputFile, read_file_capped
from medpic.model.classifier import Classifier
from medpic.report import ReportRow, Status, summarize
from medpic.scan import judge

__all__ = ["classify_files", "read_file_capped", "summarize"]


def _candidates(files: Iterable[InputFile], max_bytes: int) -> Iterator[ImageCandidate]:
    for order, item in enumerate(files):
        base = dict(source=item.source, ref=item.path, found_by="file", order=order)
        try:
            yield ImageCandidate(**base, data=read_file_capped(item.path, max_bytes))
        except InvalidInput as exc:
            yield ImageCandidate(**base, status=Status.ERROR, reason=exc.reason)


def classify_files(
    files: Iterable[InputFile],
    classifier: Classifier,
    *,
    max_bytes: int = 50 * 1024 * 1024,
    max_pixels: int = 50_000_000,
    threshold: float | None = None,
    on_row: Callable[[ReportRow], None] | None = None,
) -> Iterator[ReportRow]:
    """One report row per input file, in order; unreadable files become ``error`` rows."""
    for judged in judge(_candidates(files, max_bytes), classifier, threshold=threshold, max_pixels=max_pixels):
        if on_row:
            on_row(judged.row)
        yield judged.row
