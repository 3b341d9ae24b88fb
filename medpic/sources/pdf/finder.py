"""Which pictures a reader of the PDF sees, page by page, before any is decoded.

- A page's resources list images it may never draw, and the soft masks of those it does;
  ``page.get_image_info`` lists what the page's content really draws (forms included), with
  where. So a row is a drawn picture: soft masks are part of their picture, unused resources
  are counted in a note, and stencil masks (paint, like a glyph) are not pictures.
- Inline images (``BI ... ID ... EI``) have no object number: they come from the drawn list
  (object number 0) and their pixels from the page's image blocks, read one clip at a time so a
  damaged image elsewhere on the page cannot hide them.
- Pictures drawn by annotations (a Stamp's appearance stream) are read from the appearance's
  resources and listed with ``found_by="annotation"``.
- A page whose content cannot be bounded (a compression bomb) is not interpreted: its images are
  listed from its resources, and a note says so.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from medpic.settings import PdfLimits
from medpic.sources.pdf.document import MUPDF_LOCK, page_content
from medpic.translate import first_line, mupdf_error_types

__all__ = ["Found", "Finder", "caption_near"]

_CAPTION_START = re.compile(r"^\s*(fig(ure)?|table|plate|image|photo|panel|scheme)\.?\s*[\dA-Z]", re.I)
_BI = re.compile(rb"(?:^|[\s\]>)])BI[\s/]")
_EI = re.compile(rb"\sEI(?:[\s]|$)")
_STENCIL = re.compile(rb"/(?:IM|ImageMask)\s+true")


@dataclass
class Found:
    """A picture while we are still collecting where it appears."""

    key: str
    found_by: str  # "xobject", "inline" or "annotation"
    pages: list[int]
    bbox: tuple[float, float, float, float] | None
    caption: str
    width: int
    height: int
    xref: int = 0
    smask: int = 0
    filter: str = ""
    inline_block: dict | None = field(default=None, repr=False)
    error: str = ""  # known before decoding: a damaged image found while reading its page

    @property
    def ref(self) -> str:
        return self.key if self.found_by == "inline" else f"page-{self.pages[0]}/{self.key}"


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


def _inline_stencils(content: bytes) -> list[bool]:
    """For each inline image of a content stream, in order: is it a stencil mask (``/IM true``)?"""
    out, pos = [], 0
    while m := _BI.search(content, pos):
        start = content.find(b"ID", m.end())
        if start < 0:
            break
        out.append(bool(_STENCIL.search(content[m.end():start])))
        end = _EI.search(content, start + 2)
        pos = end.end() if end else len(content)
    return out


def _rounded(bbox) -> tuple[float, ...]:
    return tuple(round(v, 1) for v in bbox)


class Finder:
    """Finds the pictures of every page within the limits; ``found`` and ``notes`` hold the result."""

    def __init__(self, doc, limits: PdfLimits) -> None:
        self.doc, self.limits = doc, limits
        self.started = time.monotonic()
        self.found: dict[str, Found | None] = {}  # None: seen, but not a picture (stencil, soft mask)
        self.notes: list[str] = []
        self.unused = 0
        self.broken: dict[int, tuple[str, int, int]] = {}  # xref -> (reason, width, height)
        self.damaged = mupdf_error_types()

    def over_budget(self) -> bool:
        return time.monotonic() - self.started > self.limits.time_budget_s

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
                with MUPDF_LOCK:
                    page = self.doc[pno]
                self._page(page, pno)
            except self.damaged as exc:
                self.notes.append(f"page {pno + 1} could not be read: {first_line(exc)}")
        stencils = sum(1 for f in self.found.values() if f is None)
        if stencils:
            self.notes.append(f"{stencils} stencil or soft masks (paint, not pictures) not listed")
        if self.unused:
            self.notes.append(f"{self.unused} images in page resources that no page draws not listed")

    def _page(self, page, pno: int) -> None:
        content = page_content(self.doc, page, self.limits.max_stream_bytes)
        if not content.readable:
            self.notes.append(f"page {pno + 1} was not interpreted: {content.why_not}; its images are listed "
                              "from its resources, without captions")
            self._resources(page, pno, drawn=None, blocks=[])
            return
        infos = self._drawn(page)
        with MUPDF_LOCK:
            try:
                blocks = [(b[0], b[1], b[2], b[3], b[4]) for b in page.get_text("blocks")
                          if b[6] == 0 and b[4].strip()]
            except self.damaged:
                blocks = []
        if infos is None:
            self._resources(page, pno, drawn=None, blocks=blocks)
            return
        drawn: dict[int, tuple] = {}
        for info in infos:
            if info.get("xref"):
                drawn.setdefault(info["xref"], tuple(info["bbox"]))
        self._resources(page, pno, drawn=drawn, blocks=blocks)
        annotation_rects = self._annotations(page, pno, blocks)
        # drawn images without an object number: inline ones, but also images MuPDF cannot name
        # (in Type3 glyphs, patterns, annotations): only as many as the content has BI operators
        stencils = _inline_stencils(content.data)
        loose = [i for i in infos if not i.get("xref")
                 and not any(_inside(i["bbox"], r) for r in annotation_rects)][:len(stencils)]
        if loose:
            self._inline(page, pno, loose, stencils, blocks)

    def _drawn(self, page) -> list[dict] | None:
        """What the page draws. One damaged image makes MuPDF refuse the whole list: that image is
        recorded with its reason and replaced, in this open copy only, by a blank pixel, and the
        page is asked again, so the page's other pictures (inline ones too) are still found."""
        for _attempt in range(2):
            with MUPDF_LOCK:
                try:
                    return page.get_image_info(xrefs=True)
                except self.damaged:
                    entries = page.get_images(full=True)
            if not self._blank_broken_images(entries):
                return None
        return None

    def _blank_broken_images(self, entries: list) -> bool:
        import pymupdf

        blanked = False
        for xref, _smask, width, height, *_ in entries:
            if xref in self.broken:
                continue
            with MUPDF_LOCK:
                try:
                    pymupdf.Pixmap(self.doc, xref)
                    continue
                except self.damaged as exc:
                    self.broken[xref] = (f"undecodable image: {first_line(exc)}", width, height)
                for key, value in (("Filter", "null"), ("DecodeParms", "null"), ("SMask", "null"), ("Mask", "null"),
                                   ("Width", "1"), ("Height", "1"), ("BitsPerComponent", "8"),
                                   ("ColorSpace", "/DeviceGray"), ("Decode", "null")):
                    self.doc.xref_set_key(xref, key, value)
                self.doc.update_stream(xref, b"\xff", compress=False)
                blanked = True
        return blanked

    def _resources(self, page, pno: int, *, drawn: dict[int, tuple] | None, blocks: list) -> None:
        """Image XObjects the page names; with ``drawn``, only those it draws, at their place."""
        with MUPDF_LOCK:
            entries = page.get_images(full=True)
        masks = {entry[1] for entry in entries if entry[1]}
        for xref, smask, width, height, _bpc, colorspace, _alt, _name, filt, _ref in entries:
            key = f"xref-{xref}"
            if key in self.found:
                known = self.found[key]
                if known is not None and pno + 1 not in known.pages and (drawn is None or xref in drawn):
                    known.pages.append(pno + 1)
                continue
            with MUPDF_LOCK:
                stencil = not colorspace and self.doc.xref_get_key(xref, "ImageMask")[1] == "true"
            if xref in masks or stencil:
                self.found[key] = None
                continue
            if drawn is not None and xref not in drawn and xref not in self.broken:
                self.unused += 1
                continue
            bbox = drawn.get(xref) if drawn else None
            reason, width, height = self.broken.get(xref, ("", width, height))
            self.found[key] = Found(key, "xobject", [pno + 1], bbox, caption_near(blocks, bbox), width, height,
                                    xref=xref, smask=smask, filter=filt, error=reason)

    def _annotations(self, page, pno: int, blocks: list) -> list[tuple]:
        """Pictures drawn by annotations' appearance streams; returns the annotations' rectangles."""
        rects = []
        with MUPDF_LOCK:
            for annot in list(page.annots() or []):
                rect = tuple(annot.rect)
                rects.append(rect)
                kind, value = self.doc.xref_get_key(annot.xref, "AP/N")
                if kind != "xref":
                    continue
                for xref in self._form_images(int(value.split()[0])):
                    key = f"xref-{xref}"
                    if key not in self.found:
                        self.found[key] = self._image_found(key, "annotation", pno, rect, blocks, xref)
        return rects

    def _form_images(self, form: int, depth: int = 0, seen: set[int] | None = None) -> list[int]:
        """Image XObjects a form draws, through nested forms (a few levels, each form once)."""
        seen = set() if seen is None else seen
        if depth > 4 or form in seen:
            return []
        seen.add(form)
        kind, names = self.doc.xref_get_key(form, "Resources/XObject")
        if kind != "dict":
            return []
        images = []
        for xref in map(int, re.findall(r"(\d+) 0 R", names)):
            subtype = self.doc.xref_get_key(xref, "Subtype")[1]
            if subtype == "/Image" and self.doc.xref_get_key(xref, "ImageMask")[1] != "true":
                images.append(xref)
            elif subtype == "/Form":
                images += self._form_images(xref, depth + 1, seen)
        return images

    def _image_found(self, key: str, found_by: str, pno: int, bbox: tuple, blocks: list, xref: int) -> Found:
        def number(name: str) -> int:
            value = self.doc.xref_get_key(xref, name)[1]
            return int(value) if value.isdigit() else 0

        smask = self.doc.xref_get_key(xref, "SMask")[1]
        return Found(key, found_by, [pno + 1], bbox, caption_near(blocks, bbox), number("Width"), number("Height"),
                     xref=xref, smask=int(smask.split()[0]) if smask.endswith(" R") else 0,
                     filter=self.doc.xref_get_key(xref, "Filter")[1].lstrip("/"))

    def _inline(self, page, pno: int, infos: list[dict], stencils: list[bool], blocks: list) -> None:
        """Inline images; each one's pixels come from its own clip of the page's image blocks."""
        import pymupdf

        marks = stencils if len(stencils) == len(infos) else [False] * len(infos)
        n = 0
        for info, stencil in zip(infos, marks):
            if stencil:
                self.found[f"page-{pno + 1}/stencil-{len(self.found)}"] = None
                continue
            n += 1
            key = f"page-{pno + 1}/inline-{n}"
            bbox = tuple(info["bbox"])
            item = Found(key, "inline", [pno + 1], bbox, caption_near(blocks, bbox), info["width"], info["height"])
            try:
                with MUPDF_LOCK:
                    found = [b for b in page.get_text("dict", flags=pymupdf.TEXT_PRESERVE_IMAGES, clip=bbox)["blocks"]
                             if b.get("type") == 1]
                item.inline_block = next((b for b in found if _rounded(b["bbox"]) == _rounded(bbox)),
                                         found[0] if len(found) == 1 else None)
            except self.damaged as exc:
                item.error = f"undecodable image: {first_line(exc)}"
            self.found[key] = item


def _inside(inner, outer, slack: float = 1.0) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)
