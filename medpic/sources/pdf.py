"""Every image in a PDF, with faithful pixels, with PyMuPDF.

Why it is done this way:
- ``page.get_images(full=True)`` lists image XObjects, including those inside form XObjects, but
  lists an image once per use: we dedupe by xref, then by a hash of the decoded pixels (the same
  picture embedded twice as two objects is one image shown on several pages).
- Inline images (``BI ... ID ... EI`` in a content stream) have no xref; they are reachable only
  through the image blocks of ``page.get_text("dict")``.
- ``doc.extract_image`` drops soft masks and returns raw CMYK; a ``Pixmap`` built from the xref,
  combined with its soft mask and converted to RGB, matches what the page renders (checked
  against page renders in the tests), including Decode arrays, JPX, 16-bit and 1-bit images.
- A failing image becomes an ``error`` candidate and the rest of the document goes on; pages,
  images, pixels and time are bounded, and hitting a bound is reported, not a crash.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from PIL import Image

from medpic.concurrency import prefetch
from medpic.errors import CorruptImage, NotAPdf, PdfDamaged, PdfEncrypted, reason_of
from medpic.imaging import decode_image
from medpic.settings import PdfLimits
from medpic.sources.candidates import Extraction, ImageCandidate, Status
from medpic.translate import mupdf_error_types, mupdf_errors

__all__ = ["extract_pdf", "is_pdf"]

_CAPTION_START = re.compile(r"^\s*(fig(ure)?|table|plate|image|photo|panel|scheme)\.?\s*[\dA-Z]", re.I)


def is_pdf(data: bytes) -> bool:
    """PDF magic within the first KiB, as readers tolerate leading junk."""
    return b"%PDF-" in data[:1024]


def _open(data: bytes, source: str):
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # errors reach us as exceptions and warnings instead
    if not data:
        raise NotAPdf(f"not a PDF: {source!r} is empty")
    if not is_pdf(data):
        raise NotAPdf(f"not a PDF: {source!r} does not start with %PDF")
    with mupdf_errors(opening=True):
        doc = pymupdf.open(stream=data, filetype="pdf")
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


@dataclass
class _Found:
    """An image while we are still collecting where it appears."""

    key: str
    found_by: str
    pages: list[int]
    bbox: tuple[float, float, float, float] | None
    caption: str
    width: int
    height: int
    xref: int = 0
    smask: int = 0
    filter: str = ""
    inline_block: dict | None = field(default=None, repr=False)


def _text_blocks(page) -> list[tuple[float, float, float, float, str]]:
    return [(b[0], b[1], b[2], b[3], b[4]) for b in page.get_text("blocks") if b[6] == 0 and b[4].strip()]


def caption_near(blocks: list[tuple[float, float, float, float, str]], bbox) -> str:
    """The caption of a figure: a "Fig. N" text block near it, else the nearest block below
    (then above) that overlaps it horizontally, within a short distance."""
    if bbox is None:
        return ""
    x0, y0, x1, y1 = bbox
    scored = []
    for bx0, by0, bx1, by1, text in blocks:
        overlap = min(x1, bx1) - max(x0, bx0)
        if overlap < 0.3 * min(x1 - x0, bx1 - bx0, 1e9):
            continue
        if by0 >= y1 - 2:
            gap, side = by0 - y1, 0
        elif by1 <= y0 + 2:
            gap, side = y0 - by1, 1
        else:
            continue
        is_caption = bool(_CAPTION_START.match(text))
        if gap <= (150 if is_caption else 40):
            scored.append((not is_caption, side, gap, text))
    if not scored:
        return ""
    text = " ".join(min(scored)[3].split())
    return text if len(text) <= 300 else text[:297] + "..."


def _pixmap_to_images(pix) -> tuple[Image.Image, Image.Image]:
    """(RGB for the classifier, RGB or RGBA to save) from a PyMuPDF pixmap."""
    import pymupdf

    if pix.colorspace is None:  # an alpha-only pixmap (image mask): ink where alpha is set
        mask = Image.frombytes("L", (pix.width, pix.height), pix.samples)
        rgb = Image.merge("RGB", [mask.point(lambda v: 255 - v)] * 3)
        return rgb, rgb
    if pix.colorspace.n not in (1, 3):
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    channels = pix.colorspace.n
    mode = {1: "L", 3: "RGB"}[channels] + ("A" if pix.alpha else "")
    image = Image.frombytes(mode, (pix.width, pix.height), pix.samples, "raw", mode, pix.stride)
    if pix.alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), rgba
    rgb = image.convert("RGB")
    return rgb, image


def _encode_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _pixel_hash(image: Image.Image) -> str:
    return hashlib.sha256(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()


# MuPDF does not raise on a damaged image stream: it warns ("premature end of file in jpeg",
# "padding truncated image") and pads the picture with black. Its warning store is process-wide,
# so decoding holds a lock while it reads the warnings its own call produced.
_MUPDF_LOCK = threading.RLock()  # PyMuPDF is not thread-safe: one document at a time
_DAMAGE = re.compile(r"truncat|padding|premature|corrupt|syntax error|unexpected end|datastream|read error|"
                     r"invalid|bad |cannot|failed|error", re.I)


_INLINE = re.compile(rb"(?:^|[\s\]>)])BI[\s/]")


def _count_inline_images(doc, page) -> int:
    """How many ``BI`` operators the page and its form XObjects hold: a cheap test that spares
    decoding every image of every page just to find the rare inline one."""
    count = len(_INLINE.findall(page.read_contents() or b""))
    for xref, *_ in page.get_xobjects():
        try:
            count += len(_INLINE.findall(doc.xref_stream(xref) or b""))
        except mupdf_error_types():  # a damaged form: its inline images cannot be counted either
            continue
    return count


def _pixmap_checked(doc, xref: int, smask: int):
    import pymupdf

    with _MUPDF_LOCK:
        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.store_shrink(100)  # drop cached decodes, so this decode's warnings are seen
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        try:
            pix = pymupdf.Pixmap(doc, xref)
            if smask:
                mask = pymupdf.Pixmap(doc, smask)
                if (mask.width, mask.height) != (pix.width, pix.height):  # allowed by the spec
                    mask = pymupdf.Pixmap(mask, pix.width, pix.height, None)
                pix = pymupdf.Pixmap(pix, mask)
        finally:
            warnings = pymupdf.TOOLS.mupdf_warnings(reset=True)
    damage = [w for w in warnings.splitlines() if _DAMAGE.search(w) and "icc" not in w.lower()]
    if damage:
        raise CorruptImage(f"corrupt image: {damage[-1].strip()}")
    return pix


def _decode_xobject(doc, found: _Found) -> tuple[Image.Image, bytes, str, str]:
    pix = _pixmap_checked(doc, found.xref, found.smask)
    rgb, keep = _pixmap_to_images(pix)
    original_jpeg = (
        found.filter == "DCTDecode" and not found.smask and keep.mode in ("RGB", "L")
        and doc.xref_get_key(found.xref, "Decode")[0] == "null"
    )
    if original_jpeg:
        data, ext = doc.xref_stream_raw(found.xref), "jpg"
    else:
        data, ext = _encode_png(keep), "png"
    return rgb, data, ext, _pixel_hash(rgb)


def _decode_inline(block: dict, max_pixels: int) -> tuple[Image.Image, bytes, str, str]:
    data = block["image"]
    decoded = decode_image(data, max_pixels=max_pixels)
    ext = {"jpeg": "jpg", "jpx": "jp2"}.get(block.get("ext", "png"), block.get("ext", "png"))
    if ext not in ("jpg", "png"):
        data, ext = _encode_png(decoded.image), "png"
    return decoded.image, data, ext, _pixel_hash(decoded.image)


def _rounded(bbox) -> tuple[float, ...]:
    return tuple(round(v, 1) for v in bbox)


class _Reader:
    """One pass over an open document: find the pictures page by page, then decode them."""

    def __init__(self, doc, *, source: str, limits: PdfLimits) -> None:
        self.doc, self.source, self.limits = doc, source, limits
        self.started = time.monotonic()
        self.notes: list[str] = []
        self.found: dict[str, _Found | None] = {}  # None: a stencil mask, not a picture
        self.damaged = mupdf_error_types()

    def over_budget(self) -> bool:
        return time.monotonic() - self.started > self.limits.time_budget_s

    # -- finding ---------------------------------------------------------------------------

    def find(self) -> None:
        if self.doc.is_repaired:
            self.notes.append("the PDF was damaged and has been repaired; some content may be missing")
        page_count = self.doc.page_count
        if page_count > self.limits.max_pages:
            self.notes.append(f"page limit reached: read {self.limits.max_pages} of {page_count} pages")
        for pno in range(min(page_count, self.limits.max_pages)):
            if self.over_budget():
                self.notes.append(f"time budget of {self.limits.time_budget_s:g} s reached at page {pno + 1}")
                break
            try:
                page = self.doc[pno]
                blocks = self._xobjects(page, pno)
                self._inline(page, pno, blocks)
            except self.damaged as exc:
                self.notes.append(f"page {pno + 1} could not be read: {exc}")
        stencils = sum(1 for f in self.found.values() if f is None)
        if stencils:
            self.notes.append(f"{stencils} stencil masks (paint masks, not pictures) not listed")

    def _xobjects(self, page, pno: int) -> list | None:
        """Image XObjects of a page (also inside its forms); returns the text blocks if it read them."""
        blocks = None
        for xref, smask, width, height, _bpc, colorspace, _alt, _name, filt, _ref in page.get_images(full=True):
            key = f"xref-{xref}"
            if key in self.found:
                known = self.found[key]
                if known is not None and pno + 1 not in known.pages:
                    known.pages.append(pno + 1)
                continue
            if not colorspace and self.doc.xref_get_key(xref, "ImageMask")[1] == "true":
                self.found[key] = None  # a paint mask (like a glyph), not a picture
                continue
            try:
                rects = page.get_image_rects(xref)
            except self.damaged:  # a damaged image must not hide the page's others
                rects = []
            bbox = tuple(rects[0]) if rects else None
            blocks = blocks if blocks is not None else _text_blocks(page)
            self.found[key] = _Found(key, "xobject", [pno + 1], bbox, caption_near(blocks, bbox), width, height,
                                     xref=xref, smask=smask, filter=filt)
        return blocks

    def _inline(self, page, pno: int, blocks: list | None) -> None:
        """Inline images (``BI ... EI``): reachable only through the page's image blocks."""
        import pymupdf

        count = _count_inline_images(self.doc, page)
        if not count:
            return
        infos = [i for i in page.get_image_info(xrefs=True) if i.get("xref", 0) == 0]
        if len(infos) < count:
            self.notes.append(f"page {pno + 1}: {count - len(infos)} inline image(s) could not be read (damaged data)")
        if not infos:
            return
        image_blocks = {_rounded(b["bbox"]): b
                        for b in page.get_text("dict", flags=pymupdf.TEXT_PRESERVE_IMAGES)["blocks"]
                        if b.get("type") == 1}
        blocks = blocks if blocks is not None else _text_blocks(page)
        for n, info in enumerate(infos, start=1):
            key = f"page-{pno + 1}/inline-{n}"
            bbox = tuple(info["bbox"])
            self.found[key] = _Found(key, "inline", [pno + 1], bbox, caption_near(blocks, bbox),
                                     info["width"], info["height"], inline_block=image_blocks.get(_rounded(bbox)))

    # -- decoding ----------------------------------------------------------------------------

    def _refusal(self, item: _Found) -> str:
        """Why an image is skipped before decoding, or ``""``."""
        limits = self.limits
        if item.width * item.height > limits.max_pixels:
            return f"too large: {item.width}x{item.height} pixels is over the limit of {limits.max_pixels:,}"
        if min(item.width, item.height) < limits.min_side:
            return f"too small: {item.width}x{item.height} is under {limits.min_side} px"
        if self.over_budget():
            return f"time budget of {limits.time_budget_s:g} s reached"
        return ""

    def _attempt(self, item: _Found) -> tuple[_Found, str, tuple | None, BaseException | None]:
        """(item, refusal, decoded, error): run on a worker thread, one document call at a time."""
        if refusal := self._refusal(item):
            return item, refusal, None, None
        try:
            with _MUPDF_LOCK:
                if item.found_by == "inline":
                    if item.inline_block is None:
                        raise CorruptImage("undecodable image: inline image data not found")
                    return item, "", _decode_inline(item.inline_block, self.limits.max_pixels), None
                with mupdf_errors():
                    return item, "", _decode_xobject(self.doc, item), None
        except Exception as exc:  # noqa: BLE001 - one image never aborts a document
            return item, "", None, exc

    def candidates(self, duplicates: dict[str, list[str]]) -> Iterator[ImageCandidate]:
        """One candidate per unique picture, in page order, decoded as the judge asks for it: a
        worker decodes the next pictures while the model works, and a document's pictures are
        never all in memory at once. A picture equal pixel for pixel to an earlier one is not
        repeated: its ref is added to ``duplicates``."""
        first_ref: dict[str, str] = {}
        order = 0
        items = [f for f in self.found.values() if f is not None]
        attempts = prefetch(self._attempt, items, depth=4, workers=1)
        try:
            for item, refusal, decoded, error in attempts:
                ref = item.key if item.found_by == "inline" else f"page-{item.pages[0]}/{item.key}"
                base = dict(source=self.source, ref=ref, found_by=item.found_by, order=order, page=item.pages[0],
                            pages=tuple(item.pages), alt=item.caption, width=item.width, height=item.height,
                            bbox=item.bbox)
                if order >= self.limits.max_images:
                    refusal = f"image limit reached ({self.limits.max_images} per document)"
                if refusal or error is not None:
                    status, reason = (Status.SKIPPED, refusal) if refusal else \
                        (Status.ERROR, reason_of(error, doing="undecodable image"))
                    candidate = ImageCandidate(**base, status=status, reason=reason)
                else:
                    rgb, saved, ext, digest = decoded
                    if digest in first_ref:  # the same picture as another object: one row
                        duplicates.setdefault(first_ref[digest], []).append(ref)
                        continue
                    first_ref[digest] = ref
                    candidate = ImageCandidate(**base, image=rgb, data=saved, extension=ext,
                                               sha256=hashlib.sha256(saved).hexdigest())
                order += 1
                yield candidate
        finally:
            attempts.close()
            with _MUPDF_LOCK:
                self.doc.close()


def extract_pdf(data: bytes, *, source: str, limits: PdfLimits) -> Extraction:
    """Find every image of a PDF now; decode them one by one as the candidates are consumed.

    Raises ``NotAPdf``, ``PdfEncrypted`` or ``PdfDamaged`` when the document as a whole cannot
    be read; anything that goes wrong with one image is that image's ``error`` candidate. The
    document stays open until its candidates have been consumed (or dropped).
    """
    with _MUPDF_LOCK:
        doc = _open(data, source)
        try:
            reader = _Reader(doc, source=source, limits=limits)
            reader.find()
        except BaseException:
            doc.close()
            raise
    extraction = Extraction(source, "pdf", (), reader.notes, pages=doc.page_count)
    extraction.candidates = reader.candidates(extraction.duplicates)
    return extraction
