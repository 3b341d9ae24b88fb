"""What the app does, without Gradio: one classifier and one browser shared by every request.

The UI and the API call the same methods, which call the same pipeline as the command line;
nothing here reimplements extraction or classification.
"""

from __future__ import annotations

import hmac
import logging
import platform
import tempfile
import threading
from pathlib import Path

from medpic import __version__
from medpic.errors import InvalidInput
from medpic.extract.browser import BrowserService
from medpic.files import read_file_capped
from medpic.model.classifier import Classifier
from medpic.report import SCAN_COLUMNS, write_csv, write_zip
from medpic.scan import ScanReport, classify_uploads, classify_url_list, scan_pdf_bytes, scan_url
from medpic.settings import Settings

__all__ = ["MedPicService", "MAX_URLS", "MAX_FILES"]

log = logging.getLogger(__name__)

MAX_URLS = 200  # per classify_urls call
MAX_FILES = 100  # per classify_images call


class MedPicService:
    """Loaded once at start-up; thread-safe."""

    def __init__(self, settings: Settings, *, classifier: Classifier | None = None,
                 browser: BrowserService | None = None) -> None:
        self.settings = settings
        self.classifier = classifier or Classifier.load(settings)
        self.browser = browser or BrowserService(executable=settings.chromium)
        self._outputs = Path(tempfile.mkdtemp(prefix="medpic-"))
        self._counter = 0
        self._lock = threading.Lock()

    # -- access ----------------------------------------------------------------------------

    def check_token(self, provided: str | None) -> None:
        """Refuse the call unless it carries the configured token (when one is configured)."""
        expected = self.settings.api_token
        if expected and not hmac.compare_digest((provided or "").encode(), expected.encode()):
            raise InvalidInput("missing or wrong X-MedPic-Token header: this server requires an API token")

    @staticmethod
    def threshold(value: float | None) -> float | None:
        if value is None or value == "":
            return None
        value = float(value)
        if not 0.0 < value < 1.0:
            raise InvalidInput(f"threshold {value!r} must be between 0 and 1 (exclusive), or empty for the default")
        return value

    # -- the work --------------------------------------------------------------------------

    def scan_url(self, url: str, threshold: float | None = None, *, on_stage=lambda s: None) -> ScanReport:
        url = (url or "").strip()
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInput(f"not a web address: {url!r} (give an http:// or https:// URL)")
        return scan_url(url, classifier=self.classifier, settings=self.settings, browser=self.browser,
                        threshold=self.threshold(threshold), on_stage=on_stage)

    def scan_pdf(self, path: str | Path, threshold: float | None = None, *, name: str | None = None) -> ScanReport:
        path = Path(path)
        data = read_file_capped(path, self.settings.max_document_bytes)
        return scan_pdf_bytes(data, source=name or path.name, classifier=self.classifier,
                              threshold=self.threshold(threshold), limits=self.settings.pdf_limits())

    def classify_images(self, paths: list[str | Path], threshold: float | None = None) -> ScanReport:
        if not paths:
            raise InvalidInput("no images given: upload at least one image file")
        if len(paths) > MAX_FILES:
            raise InvalidInput(f"{len(paths)} images is more than {MAX_FILES} per call")
        files = []
        for p in map(Path, paths):
            try:
                files.append((p.name, read_file_capped(p, self.settings.max_image_bytes)))
            except InvalidInput:  # too large: that image's error row
                files.append((p.name, None))
        return classify_uploads(files, classifier=self.classifier, threshold=self.threshold(threshold),
                                max_pixels=self.settings.max_pixels, max_bytes=self.settings.max_image_bytes)

    def classify_urls(self, urls: list[str], page_url: str = "", threshold: float | None = None) -> ScanReport:
        if isinstance(urls, str):
            urls = [u for u in urls.split() if u]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise InvalidInput("urls must be a list of image URLs or data: URIs")
        if not urls:
            raise InvalidInput("no image URLs given")
        if len(urls) > MAX_URLS:
            raise InvalidInput(f"{len(urls)} URLs is more than {MAX_URLS} per call; send them in batches")
        return classify_url_list(urls, page_url=page_url or "", classifier=self.classifier, settings=self.settings,
                                 threshold=self.threshold(threshold))

    def health(self) -> dict:
        import gradio
        import pymupdf

        location = self.browser.location if self.browser.started else None
        from medpic.extract.browser import find_chromium

        found = location or find_chromium(self.settings.chromium)
        return {
            "status": "ok",
            "medpic": __version__,
            "model": self.classifier.describe(),
            "browser": {"available": found is not None, "origin": found.origin if found else None,
                        "executable": found.path if found else None, "started": self.browser.started},
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
        folder = self._outputs / f"{n:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{stem}{suffix}"

    def csv_file(self, report: ScanReport) -> str:
        path = self._out("medpic-report", ".csv")
        write_csv(report.rows, path, columns=SCAN_COLUMNS)
        return str(path)

    def zip_file(self, report: ScanReport, min_confidence: float = 0.9) -> tuple[str, int]:
        path = self._out("medpic-medical-images", ".zip")
        count = write_zip(report.items, path, min_confidence=min_confidence)
        return str(path), count

    @staticmethod
    def as_json(report: ScanReport) -> dict:
        """The API's report: source, summary, and one dict per row with the CSV's columns."""
        images = []
        for row in report.rows:
            data = row.as_dict()
            images.append({c: data[c] for c in SCAN_COLUMNS})
        return {"source": report.source, "summary": report.summary(), "notes": list(report.notes), "images": images}

    def close(self) -> None:
        self.browser.close()
