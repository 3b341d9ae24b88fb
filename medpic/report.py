"""Report rows and their CSV form: one row per image found, whatever happened to it.

Nothing found is ever dropped: an image that could not be read is a row with ``status=error``
and the reason, an image filtered out is ``status=skipped``. Rows are plain frozen dataclasses
until the edge (CSV here, JSON in the app).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Iterable, Sequence

from medpic.sources.candidates import Status

__all__ = ["ReportRow", "Summary", "Status", "relabel", "CLASSIFY_COLUMNS", "SCAN_COLUMNS", "SCAN_TABLE_COLUMNS", "write_csv",
           "format_table", "cell"]


# The modality columns come last so that readers of the earlier, shorter files keep working;
# they are empty for non-medical and error rows and for a single-head model.
CLASSIFY_COLUMNS = ("source", "image", "width", "height", "label", "p_medical", "confidence", "status", "reason",
                    "modality", "modality_confidence")
SCAN_COLUMNS = ("source", "image", "page", "found_by", "alt", "width", "height", "sha256",
                "label", "p_medical", "confidence", "status", "reason", "modality", "modality_confidence")
# What ``medpic scan`` prints on a terminal: the CSV's columns a person reads first.
SCAN_TABLE_COLUMNS = ("image", "page", "found_by", "width", "height", "label", "p_medical", "confidence", "modality",
                      "status", "reason")


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
    modality: str = ""
    modality_confidence: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def relabel(row: ReportRow, threshold: float) -> ReportRow:
    """The row as it would read had the scan used ``threshold``: the calibrated probability does
    not depend on the threshold, so a report can be shown at another strictness without scanning
    again. A row that becomes medical keeps an empty modality (the model names one only for
    images it judged medical at scan time)."""
    if row.status != Status.OK or row.p_medical is None:
        return row
    medical = row.p_medical >= threshold
    return replace(row, label="medical" if medical else "non-medical",
                   confidence=row.p_medical if medical else 1.0 - row.p_medical,
                   modality=row.modality if medical else "",
                   modality_confidence=row.modality_confidence if medical else None)


@dataclass(frozen=True)
class Summary:
    """The counts behind the one summary line the CLI and the chat both print."""

    found: int
    ok: int
    medical: int
    skipped: int
    errors: int

    @classmethod
    def of(cls, rows: Sequence[ReportRow]) -> "Summary":
        return cls(
            found=len(rows),
            ok=sum(r.status == Status.OK for r in rows),
            medical=sum(r.status == Status.OK and r.label == "medical" for r in rows),
            skipped=sum(r.status == Status.SKIPPED for r in rows),
            errors=sum(r.status == Status.ERROR for r in rows),
        )

    @property
    def non_medical(self) -> int:
        return self.ok - self.medical

    def line(self) -> str:
        """``12 images: 3 medical, 8 non-medical, 1 skipped, 0 errors``."""
        def n(count: int, word: str) -> str:
            return f"{count} {word}" + ("" if count == 1 or word.endswith(("medical", "skipped")) else "s")

        parts = [n(self.medical, "medical"), n(self.non_medical, "non-medical")]
        if self.skipped:
            parts.append(n(self.skipped, "skipped"))
        parts.append(n(self.errors, "error"))
        return f"{n(self.found, 'image')}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A value as a CSV cell. Text a page or a PDF controls (alt text, captions, URLs) that starts
    like a spreadsheet formula is prefixed with ``'``, so ``=HYPERLINK(...)`` stays text in Excel
    and LibreOffice instead of running (OWASP's CSV injection advice)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_START) else text


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
            writer.writerow([cell(data[c]) for c in columns])
            count += 1
        return count
    finally:
        if own:
            f.close()


def format_table(rows: Sequence[ReportRow], *, columns: Sequence[str], max_width: int = 60) -> str:
    """A fixed-width text table for the terminal; long cells keep their end (the file name)."""
    def clip(text: str) -> str:
        return text if len(text) <= max_width else "..." + text[-(max_width - 3):]

    table = [list(columns)] + [[clip(cell(r.as_dict()[c])) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    buf = io.StringIO()
    for n, line in enumerate(table):
        buf.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + "\n")
        if n == 0:
            buf.write("  ".join("-" * w for w in widths) + "\n")
    return buf.getvalue()
