"""Report rows and their CSV form: one row per image found, whatever happened to it.

Nothing found is ever dropped: an image that could not be read is a row with ``status=error``
and the reason, an image filtered out is ``status=skipped``. Rows are plain frozen dataclasses
until the edge (CSV here, JSON in the app).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Iterable, Sequence

__all__ = ["ReportRow", "CLASSIFY_COLUMNS", "SCAN_COLUMNS", "MANIFEST_COLUMNS", "write_csv", "format_table", "Status",
           "save_medical", "write_zip", "download_name", "summarize"]


class Status:
    OK = "ok"
    SKIPPED = "skipped"
    ERROR = "error"


CLASSIFY_COLUMNS = ("source", "image", "width", "height", "label", "p_medical", "confidence", "status", "reason")
SCAN_COLUMNS = ("source", "image", "page", "found_by", "alt", "width", "height", "sha256",
                "label", "p_medical", "confidence", "status", "reason")


@dataclass(frozen=True)
class ReportRow:
    """The verdict on one image, or why there is none."""

    source: str
    image: str
    status: str
    reason: str = ""
    width: int | None = None
    height: int | None = None
    label: str = ""
    p_medical: float | None = None
    confidence: float | None = None
    page: int | None = None
    found_by: str = ""
    alt: str = ""
    sha256: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize(rows: Sequence[ReportRow]) -> dict[str, int]:
    """Counts for a one-line summary: found, ok (classified), medical, skipped, errors."""
    return {
        "found": len(rows),
        "ok": sum(r.status == Status.OK for r in rows),
        "medical": sum(r.status == Status.OK and r.label == "medical" for r in rows),
        "skipped": sum(r.status == Status.SKIPPED for r in rows),
        "errors": sum(r.status == Status.ERROR for r in rows),
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def write_csv(rows: Iterable[ReportRow], out: str | Path | IO[str], *, columns: Sequence[str]) -> int:
    """Write rows with ``columns`` first, in that order; returns the number of rows written."""
    own = isinstance(out, (str, Path))
    f = open(out, "w", newline="", encoding="utf-8") if own else out
    try:
        writer = csv.writer(f)
        writer.writerow(columns)
        count = 0
        for row in rows:
            data = row.as_dict()
            writer.writerow([_cell(data[c]) for c in columns])
            count += 1
        return count
    finally:
        if own:
            f.close()


def format_table(rows: Sequence[ReportRow], *, columns: Sequence[str], max_width: int = 60) -> str:
    """A fixed-width text table for the terminal; long cells keep their end (the file name)."""
    def clip(text: str) -> str:
        return text if len(text) <= max_width else "..." + text[-(max_width - 3):]

    table = [list(columns)] + [[clip(_cell(r.as_dict()[c])) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    buf = io.StringIO()
    for n, line in enumerate(table):
        buf.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + "\n")
        if n == 0:
            buf.write("  ".join("-" * w for w in widths) + "\n")
    return buf.getvalue()


# -- downloads of medical images ------------------------------------------------------------

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


def selected_for_download(items, min_confidence: float):
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
        writer.writerow([name] + [_cell(data[c]) for c in SCAN_COLUMNS])
    return buf.getvalue()


def save_medical(items, folder: str | Path, *, min_confidence: float = 0.9) -> list[Path]:
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


def write_zip(items, out: str | Path, *, min_confidence: float = 0.9) -> int:
    """A ZIP of the confident medical images with ``manifest.csv``; returns the image count."""
    entries = list(selected_for_download(items, min_confidence))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, _ in entries:
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)  # already compressed
        archive.writestr("manifest.csv", _manifest(entries))
    return len(entries)
