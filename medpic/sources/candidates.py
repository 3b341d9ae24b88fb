"""What every source hands to the judge: ``ImageCandidate`` (one image found) and ``Extraction``.

A candidate may already carry its pixels (a PDF image decoded by PyMuPDF), encoded bytes (an
image file, a download), or only the reason it could not be had. The judge turns each candidate
into exactly one report row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from PIL import Image

__all__ = ["ImageCandidate", "Extraction", "short_ref", "Status", "watch"]


class Status:
    """A candidate's (and a row's) status: judged, left out on purpose, or failed."""

    OK = "ok"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True)
class ImageCandidate:
    """An image found in a source, with where and how it was found."""

    source: str  # the page URL or the PDF's path / URL
    ref: str  # the image URL, or a stable reference inside a document ("page-3/xref-12")
    found_by: str  # "xobject", "inline", "img", "srcset", "css-background", "file", "upload", ...
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
    status: str = Status.OK  # "skipped" or "error" when extraction already decided
    reason: str = ""

    @classmethod
    def from_bytes(cls, data: bytes, **where) -> "ImageCandidate":
        """A candidate for encoded image bytes, with their hash and true extension."""
        from medpic.imaging import image_extension

        return cls(**where, data=data, extension=image_extension(data), sha256=hashlib.sha256(data).hexdigest())


@dataclass
class Extraction:
    """What a source yielded: its candidates, plus notes on limits hit or repairs made.

    ``candidates`` may be a generator that downloads or decodes as it goes: the judge consumes
    it once, and notes about what was cut on the way are appended to ``notes`` meanwhile, so
    read them after the candidates."""

    source: str
    kind: str  # "pdf", "web", "images" or "urls"
    candidates: Iterable[ImageCandidate]
    notes: list[str] = field(default_factory=list)
    pages: int | None = None
    # images decoded smaller than this on either side are "skipped: too small" (web pages, whose
    # sizes are known only once decoded; PDFs skip small images from their declared size)
    min_side: int = 0
    # refs of other objects with the very same pixels, merged into the candidate with this ref
    duplicates: dict[str, list[str]] = field(default_factory=dict)


def short_ref(url: str) -> str:
    """``data:`` URIs shortened for reports; other URLs as they are."""
    return url if not url.startswith("data:") or len(url) <= 80 else url[:60] + f"...({len(url)} chars)"


def watch(candidates: Iterable[ImageCandidate], on_each: Callable[[int], None],
          on_end: Callable[[int], None] | None = None) -> Iterator[ImageCandidate]:
    """Pass candidates on as the judge pulls them, telling ``on_each`` how many have gone by (and
    ``on_end`` the total): progress bars and progress messages, without holding anything."""
    n = 0
    for n, candidate in enumerate(candidates, start=1):
        on_each(n)
        yield candidate
    if on_end is not None:
        on_end(n)
