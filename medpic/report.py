"""Report rows and their CSV form: one row per image found, whatever happened to it.

Nothing found is ever dropped: an image that could not be read is a row with ``status=error``
and the reason, an image filtered out is ``status=skipped``. Rows are plain frozen dataclasses
until the edge (CSV here, JSON in the app).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Iterable, Sequence

__all__ = ["ReportRow", "CLASSIFY_COLUMNS", "SCAN_COLUMNS", "write_csv", "format_table", "Status"]


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
