"""What the app does, without Gradio: one classifier and one browser shared by every request.

The UI and the API call the same methods, which call the same pipeline as the command line;
nothing here reimplements extraction or classification.
"""

from __future__ import annotations

import atexit
import logging
import platform
import shutil
import tempfile
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from medpic.version import __version__
from medpic.app.present import download_stem
from medpic.errors import Busy, InvalidInput, MedPicError
from medpic.model.classifier import Classifier
from medpic.net.fetch import Fetcher
from medpic.report import SCAN_COLUMNS, ReportRow, relabel, write_csv
from medpic.save import download_name, write_zip_entries
from medpic.scan import JudgeOptions, ScanReport, scan
from medpic.settings import Settings, parse_probability
from medpic.sources.browser import BrowserService
from medpic.sources.candidates import watch
from medpic.sources.files import InputFile
from medpic.sources.targets import open_image_files, open_image_urls, open_pdf_file, open_url

__all__ = ["MedPicService", "Shown", "ZIP_FLOOR"]

log = logging.getLogger(__name__)


def _counted(candidates, on_stage, every: int = 4):
    """Say how many images have been found so far (a page's images arrive as they download, so the
    total is known only at the end)."""
    def each(n: int) -> None:
        if n % every == 1:
            on_stage(f"found {n} image{'s' if n > 1 else ''} so far, judging them")

    return watch(candidates, each, lambda n: on_stage(f"judging the last of {n} image{'s' if n != 1 else ''}"))


def _until(stop: threading.Event | None, extraction):
    """The extraction's candidates until ``stop`` is set: then the source is closed (its browser
    page or PDF released) and the report keeps the rows judged so far, with a note saying so."""
    candidates = extraction.candidates
    if stop is None:
        return candidates

    def gen():
        for n, cand in enumerate(candidates):
            if stop.is_set():
                extraction.notes.append(f"stopped after {n} image{'' if n == 1 else 's'}: you pressed Stop")
                close = getattr(candidates, "close", None)
                if close is not None:
                    close()
                return
            yield cand

    return gen()


def _mini(thumb, side: int = 64) -> str:
    """A thumbnail as a tiny inline JPEG (a few KB) for a table cell."""
    import base64
    import io

    small = thumb.copy()
    small.thumbnail((side, side))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


# The ZIP slider's lowest value: originals of images under it are never kept for a later ZIP.
ZIP_FLOOR = 0.5
THUMBNAIL_SIDE = 320
MAX_THUMBNAILS = 60


@dataclass(frozen=True)
class Shown:
    """A report as the chat keeps it to show again at another strictness, without the report:
    its rows, a thumbnail of each judged picture (the most medical first, at most
    ``MAX_THUMBNAILS``; a file for the gallery, inline for the table) and the originals that could go in the ZIP (``p_medical >= ZIP_FLOOR``),
    both as files in one output folder that is deleted by age like every download."""

    source: str
    notes: tuple[str, ...]
    rows: tuple[ReportRow, ...]
    thumbs: tuple[str | None, ...]  # per row
    originals: tuple[tuple[str, str] | None, ...]  # per row: (file, name in the ZIP)
    minis: tuple[str | None, ...]  # per row: a 64-px JPEG as a data: URI, for the table


class MedPicService:
    """Loaded once at start-up; thread-safe."""

    def __init__(self, settings: Settings, *, classifier: Classifier | None = None,
                 browser: BrowserService | None = None) -> None:
        self.settings = settings
        self.classifier = classifier or Classifier.load(settings)
        self.browser = browser or BrowserService.from_settings(settings)
        self.fetcher = Fetcher(settings.net_policy())
        # the chat's scans run here, beside the request threads that stream their progress
        self.jobs = ThreadPoolExecutor(settings.app_concurrency, thread_name_prefix="medpic-chat")
        self._outputs = Path(tempfile.mkdtemp(prefix="medpic-"))
        atexit.register(shutil.rmtree, self._outputs, ignore_errors=True)
        self._counter = 0
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self.own_url: str | None = None  # where the app listens, once launched (its example page is there)

    # -- access ----------------------------------------------------------------------------

    @staticmethod
    def threshold(value: float | str | None) -> float | None:
        """An API caller's threshold: empty means the model's own."""
        return None if value is None or value == "" else parse_probability(value)

    @contextmanager
    def client_slot(self, client: str) -> Iterator[None]:
        """Hold one of ``client``'s ``app_per_client`` places while its request runs: one caller
        with slow URLs cannot take every worker of the app."""
        limit = self.settings.app_per_client
        with self._lock:
            if self._in_flight[client] >= limit:
                raise Busy(f"too many requests at once from your address ({limit} already running); "
                           "try again when one has finished")
            self._in_flight[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[client] -= 1
                if not self._in_flight[client]:
                    del self._in_flight[client]

    def client_of(self, headers: dict[str, str], peer: str | None) -> str:
        """The caller's address: the peer, or behind a trusted proxy the first X-Forwarded-For hop."""
        forwarded = headers.get("x-forwarded-for", "")
        if self.settings.trust_proxy and forwarded:
            return forwarded.split(",")[0].strip()
        return peer or "unknown"

    # -- the work --------------------------------------------------------------------------

    def _options(self, threshold: float | str | None) -> JudgeOptions:
        """Checked before any work starts, so a bad threshold costs nothing."""
        return JudgeOptions.from_settings(self.settings, threshold=self.threshold(threshold))

    def scan_url(self, url: str, threshold: float | None = None, *, on_stage=lambda s: None,
                 stop: threading.Event | None = None, trust: str | None = None) -> ScanReport:
        """``trust``: one origin the guard lets through for this scan only, for the app's own example
        page (never a caller's choice: the API and the chat's text never set it)."""
        options = self._options(threshold)
        fetcher = self.fetcher if not trust else Fetcher(
            self.settings.with_(allowed_origins=self.settings.allowed_origins | {trust}).net_policy())
        extraction = open_url(url, settings=self.settings, fetcher=fetcher, browser=self.browser,
                              on_stage=on_stage)
        extraction.candidates = _counted(_until(stop, extraction), on_stage)
        return scan(extraction, self.classifier, options)

    def scan_pdf(self, path: str | Path, threshold: float | None = None, *, name: str | None = None,
                 on_stage=lambda s: None, stop: threading.Event | None = None) -> ScanReport:
        options = self._options(threshold)
        extraction = open_pdf_file(path, settings=self.settings, name=name or Path(path).name)
        extraction.candidates = _counted(_until(stop, extraction), on_stage)
        return scan(extraction, self.classifier, options)

    def classify_images(self, paths: list[str | Path], threshold: float | None = None, *,
                        stop: threading.Event | None = None) -> ScanReport:
        options = self._options(threshold)
        if not paths:
            raise InvalidInput("no images given: upload at least one image file")
        files = [InputFile("upload", str(p), ref=Path(p).name) for p in paths]
        extraction = open_image_files(files, settings=self.settings, source="upload", found_by="upload")
        extraction.candidates = _until(stop, extraction)
        return scan(extraction, self.classifier, options)

    def classify_urls(self, urls: list[str], page_url: str = "", threshold: float | None = None) -> ScanReport:
        options = self._options(threshold)
        if isinstance(urls, str):
            urls = [u for u in urls.split() if u]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise InvalidInput("urls must be a list of image URLs or data: URIs")
        extraction = open_image_urls(urls, settings=self.settings, fetcher=self.fetcher, page_url=page_url or "")
        return scan(extraction, self.classifier, options)

    def health(self) -> dict:
        import gradio
        import pymupdf

        found = (self.browser.location if self.browser.started else None) or self.browser.find()
        model = {k: v for k, v in self.classifier.describe().items() if k not in ("folder", "detail")}
        return {  # what a caller may know: no paths, no configuration values
            "status": "ok",
            "medpic": __version__,
            "model": model,
            "browser": {"available": found is not None, "origin": found.origin if found else None,
                        "started": self.browser.started},
            "network_guard": not self.settings.allow_private,
            "token_required": bool(self.settings.api_token),
            "versions": {"python": platform.python_version(), "gradio": gradio.__version__,
                         "pymupdf": pymupdf.VersionBind},
        }

    # -- outputs ---------------------------------------------------------------------------

    def _folder(self) -> Path:
        with self._lock:
            self._counter += 1
            n = self._counter
        self._forget_old_outputs()
        folder = self._outputs / f"{n:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _out(self, stem: str, suffix: str) -> Path:
        return self._folder() / f"{stem}{suffix}"

    def _forget_old_outputs(self) -> None:
        """Reports are downloads of the moment: folders older than ``output_max_age_s`` are deleted,
        so a public app's disk does not fill up with every caller's CSVs and ZIPs."""
        horizon = time.time() - self.settings.output_max_age_s
        for folder in self._outputs.iterdir():
            try:
                if folder.stat().st_mtime < horizon:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass  # another request removed it first

    def csv_file(self, report: ScanReport) -> str:
        path = self._out(download_stem(report.source), ".csv")
        write_csv(report.rows, path, columns=SCAN_COLUMNS)
        return str(path)

    def keep(self, report: ScanReport) -> Shown:
        """Save what showing ``report`` again needs (see ``Shown``); the report itself can go."""
        folder = self._folder()
        order = sorted((i for i, item in enumerate(report.items) if item.row.status == "ok"),
                       key=lambda i: -(report.items[i].row.p_medical or 0))
        thumbs: list[str | None] = [None] * len(report.items)
        minis: list[str | None] = [None] * len(report.items)
        originals: list[tuple[str, str] | None] = [None] * len(report.items)
        for rank, i in enumerate(order):
            cand = report.items[i].candidate
            if rank < MAX_THUMBNAILS:
                thumbs[i], minis[i] = self._thumbnail(cand, folder / f"thumb-{i:05d}.jpg")
            if (report.items[i].row.p_medical or 0) >= ZIP_FLOOR and cand.data:
                path = folder / f"original-{i:05d}"
                path.write_bytes(cand.data)
                originals[i] = (str(path), download_name(cand.ref, cand.order, cand.extension))
        return Shown(report.source, tuple(report.notes), tuple(report.rows), tuple(thumbs), tuple(originals),
                     tuple(minis))

    def _thumbnail(self, cand, path: Path) -> tuple[str | None, str | None]:
        """The gallery's thumbnail, saved at ``path``, and the table's inline one; none without pixels."""
        from medpic.imaging import decode_image

        image = cand.image
        if image is None and cand.data:
            try:
                image = decode_image(cand.data, max_pixels=self.settings.max_pixels, reduce_to=THUMBNAIL_SIDE).image
            except MedPicError:
                return None, None
        if image is None:
            return None, None
        thumb = image.convert("RGB")
        thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        thumb.save(path, "JPEG", quality=85)
        return str(path), _mini(thumb)

    def csv_of(self, shown: Shown, threshold: float) -> str:
        """The CSV of a kept report, its rows relabelled at ``threshold``."""
        path = self._out(download_stem(shown.source), ".csv")
        write_csv([relabel(r, threshold) for r in shown.rows], path, columns=SCAN_COLUMNS)
        return str(path)

    def zip_of(self, shown: Shown, threshold: float, min_confidence: float) -> tuple[str, int]:
        """The ZIP of a kept report's medical images at ``threshold`` with at least ``min_confidence``."""
        def entries():
            for row, original in zip(shown.rows, shown.originals):
                row = relabel(row, threshold)
                if original and row.label == "medical" and (row.confidence or 0) >= min_confidence:
                    yield original[1], Path(original[0]).read_bytes(), row

        path = self._out(download_stem(shown.source) + "-medical-images", ".zip")
        return str(path), write_zip_entries(entries(), path)

    @staticmethod
    def as_json(report: ScanReport) -> dict:
        """The API's report: source, summary, and one dict per row with the CSV's columns."""
        images = []
        for row in report.rows:
            data = row.as_dict()
            images.append({c: data[c] for c in SCAN_COLUMNS})
        return {"source": report.source, "summary": report.summary().as_dict(), "notes": list(report.notes),
                "images": images}

    def close(self) -> None:
        self.jobs.shutdown(wait=False, cancel_futures=True)
        self.browser.close()
        shutil.rmtree(self._outputs, ignore_errors=True)
