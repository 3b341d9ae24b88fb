"""Stages glued together: inputs -> decoded images -> predictions -> report rows.

Decoding runs a few items ahead on worker threads while the model works on the previous batch;
rows come out in input order, one per input, errors included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from medpic.concurrency import prefetch
from medpic.errors import ImageError, InvalidInput
from medpic.files import InputFile
from medpic.imaging import DecodedImage, decode_image
from medpic.model.classifier import Classifier
from medpic.report import ReportRow, Status, summarize

__all__ = ["classify_files", "read_file_capped", "Decoded", "summarize"]


@dataclass(frozen=True)
class Decoded:
    """An input after decoding: pixels, or the reason there are none."""

    item: InputFile
    image: DecodedImage | None = None
    error: str = ""


def read_file_capped(path: str, max_bytes: int) -> bytes:
    """Read a file, refusing anything larger than ``max_bytes`` or not a regular file."""
    try:
        size = os.stat(path).st_size
        if not os.path.isfile(path):
            raise InvalidInput("not a regular file")
        if size > max_bytes:
            raise InvalidInput(f"file too large: {size:,} bytes is over the limit of {max_bytes:,}")
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except FileNotFoundError:
        raise InvalidInput("no such file") from None
    except PermissionError:
        raise InvalidInput("permission denied") from None
    except IsADirectoryError:
        raise InvalidInput("is a directory") from None


def _decode(item: InputFile, *, max_bytes: int, max_pixels: int) -> Decoded:
    try:
        data = read_file_capped(item.path, max_bytes)
        return Decoded(item, decode_image(data, max_pixels=max_pixels))
    except (ImageError, InvalidInput) as exc:
        return Decoded(item, error=exc.reason)
    except OSError as exc:  # unreadable file (I/O error): that file's row, not the whole run
        return Decoded(item, error=f"could not read file: {exc.strerror or exc}")


def _batches(items: Iterator[Decoded], size: int) -> Iterator[list[Decoded]]:
    batch: list[Decoded] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
    decoded = prefetch(lambda f: _decode(f, max_bytes=max_bytes, max_pixels=max_pixels), files,
                       depth=classifier.batch_size * 2)
    for batch in _batches(decoded, classifier.batch_size):
        good = [d for d in batch if d.image is not None]
        predictions = iter(classifier.predict([d.image.image for d in good], threshold=threshold))
        for d in batch:
            if d.image is None:
                row = ReportRow(d.item.source, d.item.path, Status.ERROR, d.error)
            else:
                p = next(predictions)
                row = ReportRow(d.item.source, d.item.path, Status.OK, width=d.image.width,
                                height=d.image.height, label=p.label, p_medical=p.p_medical,
                                confidence=p.confidence)
            if on_row:
                on_row(row)
            yield row
