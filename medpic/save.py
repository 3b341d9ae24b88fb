"""Saving the confident medical images: a folder or a ZIP, each with a ``manifest.csv``.

The saved bytes are the originals where possible (the image file as the page served it, a PDF's
own JPEG stream), named safely and stably, and listed with their report rows.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

from medpic.report import SCAN_COLUMNS, ReportRow, cell
from medpic.scan import Judged
from medpic.sources.candidates import Status

__all__ = ["MANIFEST_COLUMNS", "download_name", "selected_for_download", "save_medical", "write_zip",
           "write_zip_entries"]


MANIFEST_COLUMNS = ("file",) + SCAN_COLUMNS
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(ref: str, order: int, extension: str) -> str:
    """A safe, stable file name: ``page-3_xref-12.jpg`` for documents, ``0007-name.png`` for URLs."""
    if ref.startswith("page-"):
        stem = _UNSAFE.sub("_", ref)
    else:
        last = ref.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "image"
        stem = f"{order + 1:04d}-{_UNSAFE.sub('_', last.rsplit('.', 1)[0])[:60]}"
    return f"{stem}.{extension or 'bin'}"


def selected_for_download(items: Iterable[Judged], min_confidence: float) -> Iterator[tuple[str, bytes, ReportRow]]:
    """(name, bytes, row) of the images judged medical with at least ``min_confidence``."""
    for item in items:
        row, cand = item.row, item.candidate
        if row.status == Status.OK and row.label == "medical" and (row.confidence or 0) >= min_confidence and cand.data:
            yield download_name(cand.ref, cand.order, cand.extension), cand.data, row


def _manifest(entries) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(MANIFEST_COLUMNS)
    for name, _, row in entries:
        data = row.as_dict()
        writer.writerow([name] + [cell(data[c]) for c in SCAN_COLUMNS])
    return buf.getvalue()


def save_medical(items: Iterable[Judged], folder: str | Path, *, min_confidence: float = 0.9) -> list[Path]:
    """Write the confident medical images and a ``manifest.csv`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = list(selected_for_download(items, min_confidence))
    paths = []
    for name, data, _ in entries:
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    (folder / "manifest.csv").write_text(_manifest(entries), encoding="utf-8")
    return paths


def write_zip(items: Iterable[Judged], out: str | Path, *, min_confidence: float = 0.9) -> int:
    """A ZIP of the confident medical images with ``manifest.csv``; returns the image count."""
    return write_zip_entries(selected_for_download(items, min_confidence), out)


def write_zip_entries(entries: Iterable[tuple[str, bytes, ReportRow]], out: str | Path) -> int:
    """A ZIP of ``(name, bytes, row)`` entries with ``manifest.csv``; returns the image count."""
    entries = list(entries)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, _ in entries:
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)  # already compressed
        archive.writestr("manifest.csv", _manifest(entries))
    return len(entries)
