"""A PDF to candidates: find every picture now, decode them one by one as the judge asks.

One candidate per unique picture, in page order: an image used on several pages is one row
listing its pages, and two objects with the very same pixels are one row too (the later one's
ref goes to ``Extraction.duplicates``). A failing image is that image's ``error`` candidate and the
rest of the document goes on; pages, images, pixels, stream sizes and time are bounded, and hitting
a bound is a note or a ``skipped`` row, never a crash.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

from medpic.concurrency import prefetch
from medpic.errors import CorruptImage, reason_of
from medpic.settings import PdfLimits
from medpic.sources.candidates import Extraction, ImageCandidate, Status
from medpic.sources.pdf.document import MUPDF_LOCK, open_pdf
from medpic.sources.pdf.finder import Finder, Found
from medpic.sources.pdf.pixels import Decoded, decode_inline, decode_xobject
from medpic.translate import mupdf_errors

__all__ = ["extract_pdf"]


def extract_pdf(data: bytes, *, source: str, limits: PdfLimits) -> Extraction:
    """Find every picture of a PDF now; decode them one by one as the candidates are consumed.

    Raises ``NotAPdf``, ``PdfEncrypted`` or ``PdfDamaged`` when the document as a whole cannot
    be read. The document stays open until its candidates have been consumed (or dropped).
    """
    with MUPDF_LOCK:
        doc = open_pdf(data, source)
    try:
        finder = Finder(doc, limits)
        finder.find()
    except BaseException:
        with MUPDF_LOCK:
            doc.close()
        raise
    extraction = Extraction(source, "pdf", (), finder.notes, pages=doc.page_count)
    extraction.candidates = _Decoder(doc, finder, source=source, limits=limits).candidates(extraction.duplicates)
    return extraction


class _Decoder:
    def __init__(self, doc, finder: Finder, *, source: str, limits: PdfLimits) -> None:
        self.doc, self.finder, self.source, self.limits = doc, finder, source, limits

    def _refusal(self, item: Found) -> str:
        """Why an image is skipped before decoding, or ``""``."""
        limits = self.limits
        if item.width * item.height > limits.max_pixels:
            return f"too large: {item.width}x{item.height} pixels is over the limit of {limits.max_pixels:,}"
        if min(item.width, item.height) < limits.min_side:
            return f"too small: {item.width}x{item.height} is under {limits.min_side} px"
        if self.finder.over_budget():
            return f"time budget of {limits.time_budget_s:g} s reached"
        return ""

    def _attempt(self, item: Found) -> tuple[Found, str, Decoded | None, BaseException | None]:
        """(item, refusal, decoded, error): run on a worker thread, one document call at a time."""
        if refusal := self._refusal(item):
            return item, refusal, None, None
        try:
            if item.error:
                raise CorruptImage(item.error)
            if item.found_by == "inline":
                if item.inline_block is None:
                    raise CorruptImage("undecodable image: inline image data not found")
                return item, "", decode_inline(item.inline_block, self.limits.max_pixels), None
            with MUPDF_LOCK, mupdf_errors():
                return item, "", decode_xobject(self.doc, item.xref, item.smask, item.filter), None
        except Exception as exc:  # noqa: BLE001 - one image never aborts a document
            return item, "", None, exc

    def candidates(self, duplicates: dict[str, list[str]]) -> Iterator[ImageCandidate]:
        """One candidate per unique picture, in page order. A worker decodes the next pictures while
        the model works, and a document's pictures are never all in memory at once."""
        first_ref: dict[str, str] = {}
        order = 0
        items = [f for f in self.finder.found.values() if f is not None]
        attempts = prefetch(self._attempt, items, depth=4, workers=1)
        try:
            for item, refusal, decoded, error in attempts:
                base = dict(source=self.source, ref=item.ref, found_by=item.found_by, order=order,
                            page=item.pages[0], pages=tuple(item.pages), alt=item.caption, width=item.width,
                            height=item.height, bbox=item.bbox)
                if order >= self.limits.max_images:
                    refusal = f"image limit reached ({self.limits.max_images} per document)"
                if refusal or error is not None:
                    status, reason = (Status.SKIPPED, refusal) if refusal else \
                        (Status.ERROR, reason_of(error, doing="undecodable image"))
                    candidate = ImageCandidate(**base, status=status, reason=reason)
                elif decoded.digest in first_ref:  # the same picture as another object: one row
                    duplicates.setdefault(first_ref[decoded.digest], []).append(item.ref)
                    continue
                else:
                    first_ref[decoded.digest] = item.ref
                    candidate = ImageCandidate(**base, image=decoded.rgb, data=decoded.data,
                                               extension=decoded.extension,
                                               sha256=hashlib.sha256(decoded.data).hexdigest())
                order += 1
                yield candidate
        finally:
            attempts.close()
            with MUPDF_LOCK:
                self.doc.close()
