"""The results pane: kept reports (``service.Shown``) shown at any strictness, as a summary card,
a gallery and a table, filtered by what a person is looking for.

Pure functions of the kept rows and the sliders, so moving a slider or the filter re-renders the
results already on screen without scanning again.
"""

from __future__ import annotations

from medpic.app.present import caption, modality_name, percent, plural, verdict
from medpic.app.service import Shown
from medpic.report import ReportRow, Summary, relabel

__all__ = ["FILTERS", "TABLE_HEADERS", "TABLE_TYPES", "bar", "card", "gallery", "table"]

FILTERS = ("All", "Medical", "Not medical", "Skipped", "Errors")
TABLE_HEADERS = ("thumbnail", "verdict", "p(medical)", "modality", "image", "page", "status", "reason")
# The table's cell types: the thumbnail is our own inline JPEG in Markdown; every text a page
# controls (alt text, captions, reasons) stays plain text, never Markdown or HTML.
TABLE_TYPES = ("markdown",) + ("str",) * (len(TABLE_HEADERS) - 1)
_BAR = 10  # cells of the text bar beside each probability


def bar(p: float) -> str:
    """``0.62`` -> ``"██████░░░░ 62%"``: the probability at a glance, in any table or terminal."""
    filled = round(_BAR * p)
    return "█" * filled + "░" * (_BAR - filled) + f" {percent(p)}"


def _matches(row: ReportRow, show: str) -> bool:
    return {"All": True, "Medical": row.status == "ok" and row.label == "medical",
            "Not medical": row.status == "ok" and row.label != "medical", "Skipped": row.status == "skipped",
            "Errors": row.status == "error"}.get(show, True)


def card(results: list[Shown], threshold: float, min_confidence: float, zipped: list[int]) -> str:
    """Per report: what was found at this strictness, how many are in the ZIP, notes, and the
    first errors with their reasons."""
    parts = []
    for shown, count in zip(results, zipped):
        rows = [relabel(r, threshold) for r in shown.rows]
        lines = [f"**{shown.source}**: {Summary.of(rows).line()} (strictness {percent(threshold)})."]
        if count:
            lines.append(f"{plural(count, 'medical image')} at {percent(min_confidence)} confidence or more "
                         f"{'is' if count == 1 else 'are'} in the ZIP.")
        lines += [f"_Note: {n}_" for n in shown.notes]
        errors = [r for r in rows if r.status == "error"][:5]
        if errors:
            lines.append("Some images could not be read: " + "; ".join(f"{caption(r)}: {r.reason}" for r in errors)
                         + ". The CSV lists every image with its reason.")
        parts.append("\n\n".join(lines))
    return "\n\n---\n\n".join(parts) or "Results appear here."


def gallery(results: list[Shown], threshold: float, show: str = "All") -> list[tuple[str, str]]:
    """Every kept thumbnail that passes the filter, medical ones first, captioned with its verdict
    and what it is."""
    items = [(relabel(row, threshold), thumb) for shown in results for row, thumb in zip(shown.rows, shown.thumbs)
             if thumb]
    items = [(row, thumb) for row, thumb in items if _matches(row, show)]
    items.sort(key=lambda it: (it[0].label != "medical", -(it[0].p_medical or 0)))
    return [(thumb, f"{verdict(row)} · {caption(row)}") for row, thumb in items]


def table(results: list[Shown], threshold: float, show: str = "All") -> list[list]:
    """One line per image found (``TABLE_HEADERS``), in the order the source gave them."""
    lines = []
    for shown in results:
        for row, mini in zip((relabel(r, threshold) for r in shown.rows), shown.minis):
            if _matches(row, show):
                probability = bar(row.p_medical) if row.p_medical is not None else ""
                lines.append([f"![]({mini})" if mini else "", verdict(row), probability, modality_name(row),
                              caption(row, limit=80), row.page or "", row.status, row.reason])
    return lines
