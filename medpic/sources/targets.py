"""What the user gave, to an ``Extraction``: the one place that decides what a target is.

The CLI and the app both come here. A path is a PDF file; an ``http(s)`` URL is a PDF or a web
page, decided by its first bytes (not its name) in the same exchange that downloads it, so a
PDF is fetched once; image files, uploads and image URLs each have their own opener, and a batch
list's lines (which may also name pictures) are told apart here too.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Callable, Sequence
from urllib.parse import urlsplit

from medpic.errors import FileTooLarge, InvalidInput
from medpic.net.download import ImageDownloader
from medpic.net.fetch import Fetcher
from medpic.settings import Settings
from medpic.sources.browser import BrowserService
from medpic.sources.candidates import Extraction, ImageCandidate, Status, short_ref
from medpic.sources.files import IMAGE_EXTENSIONS, InputFile, file_candidates, read_file_capped
from medpic.sources.page.extract import extract_page
from medpic.sources.pdf import extract_pdf, is_pdf

__all__ = ["kind_of_file", "is_url", "is_local_picture", "is_image_url", "open_target", "open_listed_target", "open_url", "open_pdf_file",
           "open_image_files", "open_image_urls"]

_PEEK = 1024


def is_url(target: str) -> bool:
    """Whether a target names a web address rather than a file."""
    return "://" in target


def kind_of_file(path: str | Path) -> str:
    """``"pdf"``, ``"image"`` or ``"other"`` for an uploaded or given file: a PDF by its first
    bytes, whatever its name; an image by its extension (the judge then reads its bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_PEEK)
    except OSError:
        head = b""
    if is_pdf(head):
        return "pdf"
    return "image" if Path(path).suffix.lower() in IMAGE_EXTENSIONS else "other"


def is_local_picture(target: str) -> bool:
    """Whether a target names a picture file by its extension: reading it waits on nothing. A
    hint for batching only: what the file is, its first bytes say (``kind_of_file``)."""
    return not is_url(target) and PurePosixPath(target).suffix.lower() in IMAGE_EXTENSIONS


def is_image_url(url: str) -> bool:
    """Whether a URL names a picture by its extension (``.../scan.png?size=2``)."""
    return PurePosixPath(urlsplit(url).path).suffix.lower() in IMAGE_EXTENSIONS


def open_listed_target(target: str, *, settings: Settings, fetcher: Fetcher, browser: BrowserService | None,
                       base_dir: str | Path) -> Extraction:
    """A line of a batch list, which may also name a picture: an image URL is fetched as one image
    (its own row, its own ``HTTP 404``), other URLs are pages or PDFs as for ``open_target``; a local
    file is an image by ``kind_of_file``, else a PDF. Relative paths are resolved against
    ``base_dir``, since batch workers do not share the driver's working directory."""
    if is_url(target):
        if is_image_url(target):
            return open_image_urls([target], settings=settings, fetcher=fetcher, page_url=target)
        return open_url(target, settings=settings, fetcher=fetcher, browser=browser)
    path = Path(base_dir, target)
    if kind_of_file(path) == "image":
        return open_image_files([InputFile(source=target, path=str(path), ref=target)], settings=settings,
                                source=target)
    return open_pdf_file(path, settings=settings, name=target)


def open_target(target: str, *, settings: Settings, fetcher: Fetcher, browser: BrowserService | None,
                on_stage: Callable[[str], None] = lambda stage: None) -> Extraction:
    """A URL (page or PDF) or a PDF file, as ``medpic scan`` and the chat take them."""
    if is_url(target):
        return open_url(target, settings=settings, fetcher=fetcher, browser=browser, on_stage=on_stage)
    on_stage("reading the PDF")
    return open_pdf_file(target, settings=settings)


def open_url(url: str, *, settings: Settings, fetcher: Fetcher, browser: BrowserService | None,
             on_stage: Callable[[str], None] = lambda stage: None) -> Extraction:
    """A URL of a PDF or of a web page. Without a usable browser, pages are parsed statically."""
    url = (url or "").strip()
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInput(f"not a web address: {url!r} (give an http:// or https:// URL)")
    with fetcher.open(url, limits=settings.fetch_limits()) as stream:
        if is_pdf(stream.peek(_PEEK)) or "application/pdf" in stream.content_type.lower():
            on_stage("downloading the PDF")
            data = stream.read()
        else:
            data = None
    if data is not None:
        on_stage("reading the PDF")
        return extract_pdf(data, source=url, limits=settings.pdf_limits())
    if browser is not None and not browser.available():
        browser = None
    on_stage("rendering the page" if browser is not None else "parsing the page (static mode)")
    return extract_page(url, fetcher=fetcher, limits=settings.web_limits(), browser=browser)


def open_pdf_file(path: str | Path, *, settings: Settings, name: str | None = None) -> Extraction:
    """A PDF on disk (or uploaded), named ``name`` in the report."""
    source = name or str(path)
    try:
        data = read_file_capped(path, settings.max_document_bytes)
    except FileTooLarge as exc:
        raise FileTooLarge(exc.size, exc.limit, hint="MEDPIC_MAX_DOCUMENT_BYTES caps documents") from None
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.reason}: {source!r}") from None
    return extract_pdf(data, source=source, limits=settings.pdf_limits())


def open_image_files(files: Sequence[InputFile], *, settings: Settings, source: str = "",
                     found_by: str = "file") -> Extraction:
    """Image files (from the command line) or uploads (from the app), one candidate each, read lazily."""
    if found_by == "upload" and len(files) > settings.max_files_per_call:
        raise InvalidInput(f"{len(files)} images is more than {settings.max_files_per_call} per call")
    return Extraction(source or (files[0].source if files else ""), "images",
                      file_candidates(files, max_bytes=settings.max_image_bytes, found_by=found_by))


def open_image_urls(urls: Sequence[str], *, settings: Settings, fetcher: Fetcher, page_url: str = "") -> Extraction:
    """Image URLs or ``data:`` URIs (the extension's ``classify_urls``), one candidate each, in order."""
    if not urls:
        raise InvalidInput("no image URLs given")
    if len(urls) > settings.max_urls_per_call:
        raise InvalidInput(f"{len(urls)} URLs is more than {settings.max_urls_per_call} per call; send them in batches")
    limits = settings.web_limits()
    downloader = ImageDownloader(fetcher, limits, page_url=page_url)

    def candidates():
        for order, download in enumerate(downloader.download(urls)):
            where = dict(source=page_url, ref=short_ref(download.url), found_by="url", order=order)
            if download.data is None:
                yield ImageCandidate(**where, status=Status.ERROR, reason=download.reason)
            else:
                yield ImageCandidate.from_bytes(download.data, **where)

    return Extraction(page_url, "urls", candidates())
