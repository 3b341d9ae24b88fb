"""Opening a PDF with PyMuPDF, and reading its content streams within bounds.

MuPDF is not thread-safe and keeps its warnings in one process-wide store, so every call into it
holds ``MUPDF_LOCK``. A content stream is inflated by MuPDF in one go when a page is interpreted;
a compression bomb of a few kilobytes can expand to gigabytes there. So before a page is
interpreted, its content streams are inflated here with a cap (``PdfLimits.max_stream_bytes``),
and a page that exceeds it, or whose streams use a filter that cannot be bounded, is not
interpreted at all.
"""

from __future__ import annotations

import re
import threading
import zlib
from dataclasses import dataclass

from medpic.errors import NotAPdf, PdfDamaged, PdfEncrypted
from medpic.translate import mupdf_error_types, mupdf_errors

__all__ = ["MUPDF_LOCK", "is_pdf", "open_pdf", "PageContent", "page_content"]

MUPDF_LOCK = threading.RLock()
# "12 0 obj": what a PDF without its header still has, and HTML, ZIPs and images do not
_OBJECTS = re.compile(rb"\d+\s+\d+\s+obj\b")


def is_pdf(data: bytes) -> bool:
    """PDF magic within the first KiB, as readers tolerate leading junk."""
    return b"%PDF-" in data[:1024]


def open_pdf(data: bytes, source: str):
    """An open ``pymupdf.Document``, or ``NotAPdf``, ``PdfEncrypted``, ``PdfDamaged``.

    A file without the ``%PDF`` header is still tried: MuPDF (like poppler and pdf.js) opens many
    such files by their cross-reference table. Only what MuPDF cannot open is "not a PDF"."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # errors reach us as exceptions and warnings instead
    if not data:
        raise NotAPdf(f"not a PDF: {source!r} is empty")
    if not is_pdf(data) and not _OBJECTS.search(data[:1 << 20]):
        raise NotAPdf(f"not a PDF: {source!r} has neither a %PDF header nor PDF objects")
    try:
        with mupdf_errors(opening=True):
            doc = pymupdf.open(stream=data, filetype="pdf")
    except PdfDamaged:
        if not is_pdf(data):
            raise NotAPdf(f"not a PDF: {source!r} has no %PDF header and MuPDF cannot read it") from None
        raise
    try:
        with mupdf_errors(opening=True):  # a page tree claiming 2,000,000,000 pages raises here
            if doc.needs_pass and not doc.authenticate(""):
                raise PdfEncrypted("encrypted PDF: a password is needed to read it")
            if doc.page_count == 0:
                raise PdfDamaged("damaged PDF: no readable pages")
    except BaseException:
        doc.close()
        raise
    return doc


@dataclass(frozen=True)
class PageContent:
    """A page's own content, inflated within the cap; ``why_not`` says why it was not."""

    data: bytes = b""
    why_not: str = ""

    @property
    def readable(self) -> bool:
        return not self.why_not


_BOUNDABLE = {"", "/FlateDecode", "/Fl"}


def _filters(doc, xref: int) -> list[str]:
    kind, value = doc.xref_get_key(xref, "Filter")
    if kind == "null":
        return []
    if kind == "array":
        return re.findall(r"/\w+", value)
    return [value]


def _inflate(doc, xref: int, cap: int) -> bytes | None:
    """The decoded stream, or ``None`` if it would exceed ``cap`` or uses a filter we cannot bound."""
    filters = _filters(doc, xref)
    if any(f not in _BOUNDABLE for f in filters) or len(filters) > 1:
        return None
    raw = doc.xref_stream_raw(xref) or b""
    if not filters:
        return raw if len(raw) <= cap else None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw, cap + 1)
    except zlib.error:
        return b""  # damaged: MuPDF will read what it can, which is little
    return data if len(data) <= cap else None


def page_content(doc, page, cap: int) -> PageContent:
    """The page's content streams and its form XObjects' streams, each inflated under ``cap``
    (together: the code that may hold the page's inline images)."""
    chunks = []
    with MUPDF_LOCK:
        streams = [("content", x) for x in page.get_contents()]
        streams += [("form", x[0]) for x in page.get_xobjects()]
        for kind, xref in streams:
            try:
                data = _inflate(doc, xref, cap)
            except mupdf_error_types():
                continue
            if data is None:
                filters = " ".join(_filters(doc, xref)) or "none"
                return PageContent(why_not=f"its {kind} stream {xref} would inflate past {cap:,} bytes or uses a "
                                           f"filter that cannot be bounded ({filters})")
            chunks.append(data)
    return PageContent(b"\n".join(chunks))
