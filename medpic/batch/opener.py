"""One line of a batch input to an ``Extraction``: pages and PDFs as ``medpic scan`` opens them,
image URLs through the downloader, local image files as ``medpic classify`` reads them.

``medpic scan`` takes a page or a PDF; a batch list also names pictures directly. A URL whose path
ends with an image extension is fetched as one image (one row, its own ``HTTP 404`` or refusal),
every other URL goes to ``open_url`` (PDF or page, decided by its first bytes); a local file is a
PDF by its first bytes, an image by its extension, and anything else is refused as ``scan``
refuses it. Relative paths are resolved against the folder the job was started from, since Ray
workers do not share the driver's working directory.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from medpic.net.fetch import Fetcher
from medpic.settings import Settings
from medpic.sources.browser import BrowserService
from medpic.sources.candidates import Extraction
from medpic.sources.files import IMAGE_EXTENSIONS, InputFile
from medpic.sources.targets import is_url, kind_of_file, open_image_files, open_image_urls, open_pdf_file, open_url

__all__ = ["open_batch_target", "is_image_url"]


def is_image_url(url: str) -> bool:
    """Whether a URL names a picture by its extension (``.../scan.png?size=2``)."""
    return PurePosixPath(urlsplit(url).path).suffix.lower() in IMAGE_EXTENSIONS


def open_batch_target(target: str, *, settings: Settings, fetcher: Fetcher, browser: BrowserService | None,
                      base_dir: str) -> Extraction:
    """The extraction of one target; raises what ``open_target`` raises when the whole source is unreadable."""
    if is_url(target):
        if is_image_url(target):
            return open_image_urls([target], settings=settings, fetcher=fetcher, page_url=target)
        return open_url(target, settings=settings, fetcher=fetcher, browser=browser)
    path = Path(base_dir, target)
    if kind_of_file(path) == "image":
        return open_image_files([InputFile(source=target, path=str(path), ref=target)], settings=settings,
                                source=target)
    return open_pdf_file(path, settings=settings, name=target)
