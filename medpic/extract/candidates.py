"""``ImageCandidate``: one image found in a source, before it is judged.

Extractors (PDF, web) produce candidates; the pipeline turns each into exactly one report row.
A candidate may already carry its pixels (a PDF image decoded by PyMuPDF), encoded bytes (an
image file fetched from the web), or only the reason it could not be had.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

__all__ = ["ImageCandidate", "Extraction"]


@dataclass(frozen=True)
class ImageCandidate:
    """An image found in a source, with where and how it was found."""

    source: str  # the page URL or the PDF's path / URL
    ref: str  # the image URL, or a stable reference inside a document ("page-3/xref-12")
    found_by: str  # "xobject", "inline", "img", "srcset", "css-background", ...
    order: int  # position in the source, from 0
    page: int | None = None  # first page it appears on (PDF), from 1
    pages: tuple[int, ...] = ()
    alt: str = ""  # alt text, or the caption next to it
    width: int | None = None  # stored (natural) size in pixels
    height: int | None = None
    bbox: tuple[float, float, float, float] | None = None  # where it is shown, in page units
    image: Image.Image | None = field(default=None, repr=False)  # RGB pixels for the classifier
    data: bytes | None = field(default=None, repr=False)  # bytes to save (original where possible)
    extension: str = ""  # of ``data``: "jpg", "png", ...
    sha256: str = ""
    duplicates: tuple[str, ...] = ()  # refs of other objects with the very same pixels, merged here
    status: str = "ok"  # "skipped" or "error" when extraction already decided
    reason: str = ""


@dataclass(frozen=True)
class Extraction:
    """What an extractor found, plus notes on limits hit or repairs made."""

    source: str
    kind: str  # "pdf" or "web"
    candidates: tuple[ImageCandidate, ...]
    notes: tuple[str, ...] = ()
    pages: int | None = None
