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
from typing import Iterator
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from medpic.version import __version__
from medpic.app.present import download_stem
from medpic.errors import Busy, InvalidInput
from medpic.model.classifier import Classifier
from medpic.net.fetch import Fetcher
from medpic.report import SCAN_COLUMNS, write_csv
from medpic.save import write_zip
from medpic.scan import JudgeOptions, ScanReport, scan
from medpic.settings import Settings, parse_probability
from medpic.sources.browser import BrowserService
from medpic.sources.candidates import watch
from medpic.sources.files import InputFile
from medpic.sources.targets import open_image_files, open_image_urls, open_pdf_file, open_url

__all__ = ["MedPicService"]

log = logging.getLogger(__name__)


def _counted(candidates, on_stage, every: int = 4):
    """Say how many images have been found so far (a page's images arrive as they download, so the
    total is known only at the end)."""
    def each(n: int) -> None:
        if n % every == 1:
            on_stage(f"found {n} image{'s' if n > 1 else ''} so far, judging them")

    return watch(candidates, each, lambda n: on_stage(f"judging the last of {n} image{'s' if n != 1 else ''}"))


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

    def scan_url(self, url: str, threshold: float | None = None, *, on_stage=lambda s: None) -> ScanReport:
        options = self._options(threshold)
        extraction = open_url(url, settings=self.settings, fetcher=self.fetcher, browser=self.browser,
                              on_stage=on_stage)
        extraction.candidates = _counted(extraction.candidates, on_stage)
        return scan(extraction, self.classifier, options)

    def scan_pdf(self, path: str | Path, threshold: float | None = None, *, name: str | None = None,
                 on_stage=lambda s: None) -> ScanReport:
        options = self._options(threshold)
        extraction = open_pdf_file(path, settings=self.settings, name=name or Path(path).name)
        extraction.candidates = _counted(extraction.candidates, on_stage)
        return scan(extraction, self.classifier, options)

    def classify_images(self, paths: list[str | Path], threshold: float | None = None) -> ScanReport:
        options = self._options(threshold)
        if not paths:
            raise InvalidInput("no images given: upload at least one image file")
        files = [InputFile("upload", str(p), ref=Path(p).name) for p in paths]
        extraction = open_image_files(files, settings=self.settings, source="upload", found_by="upload")
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

    def _out(self, stem: str, suffix: str) -> Path:
        with self._lock:
            self._counter += 1
            n = self._counter
        self._forget_old_outputs()
        folder = self._outputs / f"{n:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{stem}{suffix}"

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

    def zip_file(self, report: ScanReport, min_confidence: float = 0.9) -> tuple[str, int]:
        path = self._out(download_stem(report.source) + "-medical-images", ".zip")
        count = write_zip(report.items, path, min_confidence=min_confidence)
        return str(path), count

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
