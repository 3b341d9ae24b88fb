"""``scan``: a source (web page, PDF, uploads, image URLs) -> candidates -> predictions -> a report.

Every candidate becomes exactly one row: judged (``ok``), ``skipped`` with the limit or size
that excluded it, or ``error`` with the reason. The report keeps the candidates so that the
medical images can be saved with their original bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator

from PIL import Image

from medpic.concurrency import prefetch
from medpic.errors import ImageError
from medpic.extract.candidates import Extraction, ImageCandidate
from medpic.imaging import decode_image
from medpic.model.classifier import Classifier
from medpic.report import ReportRow, Status, summarize

__all__ = ["Judged", "ScanReport", "prepare", "judge", "scan_extraction", "scan_web", "scan_url", "scan_pdf_bytes",
           "classify_uploads", "classify_url_list"]


@dataclass(frozen=True)
class Judged:
    """A candidate and its row: what was found, and what we concluded."""

    candidate: ImageCandidate
    row: ReportRow


@dataclass(frozen=True)
class ScanReport:
    """The result of scanning one source."""

    source: str
    kind: str  # "pdf" or "web"
    items: tuple[Judged, ...]
    notes: tuple[str, ...] = ()
    pages: int | None = None

    @property
    def rows(self) -> list[ReportRow]:
        return [j.row for j in self.items]

    def summary(self) -> dict[str, int]:
        return summarize(self.rows)


def _row(c: ImageCandidate, *, status: str, reason: str = "", width=None, height=None, prediction=None) -> ReportRow:
    return ReportRow(
        source=c.source, image=c.ref, status=status, reason=reason,
        width=width if width is not None else c.width, height=height if height is not None else c.height,
        label=prediction.label if prediction else "", p_medical=prediction.p_medical if prediction else None,
        confidence=prediction.confidence if prediction else None, page=c.page, found_by=c.found_by,
        alt=c.alt, sha256=c.sha256,
    )


def prepare(cand: ImageCandidate, *, max_pixels: int = 50_000_000, min_side: int = 0
            ) -> tuple[ImageCandidate, Image.Image | None, str, str]:
    """A candidate made ready for the model: (candidate, pixels, status, reason).

    Decoding happens here, so any failure is this candidate's ``error``; images smaller than
    ``min_side`` on either side (icons, tracking pixels) become ``skipped`` once their true
    size is known."""
    if cand.status != Status.OK:
        return cand, None, cand.status, cand.reason
    image = cand.image
    if image is None:
        try:
            decoded = decode_image(cand.data or b"", max_pixels=max_pixels)
        except ImageError as exc:
            return cand, None, Status.ERROR, exc.reason
        except Exception as exc:  # noqa: BLE001 - one image never aborts a page or a document
            return cand, None, Status.ERROR, f"could not decode image: {type(exc).__name__}"
        image = decoded.image
        cand = replace(cand, width=decoded.width, height=decoded.height)
    if min_side and min(image.size) < min_side:
        return cand, None, Status.SKIPPED, f"too small: {image.size[0]}x{image.size[1]} is under {min_side} px"
    return cand, image, Status.OK, ""


def judge(candidates: Iterable[ImageCandidate], classifier: Classifier, *, threshold: float | None = None,
          max_pixels: int = 50_000_000, min_side: int = 0) -> Iterator[Judged]:
    """Classify candidates in batches as they arrive; exactly one row each, in candidate order.

    Decoding runs a few batches ahead on worker threads while the model works on the previous
    batch."""
    ready = prefetch(lambda c: prepare(c, max_pixels=max_pixels, min_side=min_side), candidates,
                     depth=2 * classifier.batch_size)
    pending: list[tuple[ImageCandidate, Image.Image | None, str, str]] = []

    def flush() -> Iterator[Judged]:
        images = [image for _, image, status, _ in pending if status == Status.OK]
        predictions = iter(classifier.predict(images, threshold=threshold))
        for cand, _, status, reason in pending:
            if status == Status.OK:
                yield Judged(cand, _row(cand, status=status, prediction=next(predictions)))
            else:
                yield Judged(cand, _row(cand, status=status, reason=reason))
        pending.clear()

    for item in ready:
        pending.append(item)
        if sum(1 for *_, status, _ in pending if status == Status.OK) >= classifier.batch_size:
            yield from flush()
    yield from flush()


def scan_extraction(extraction: Extraction, classifier: Classifier, *, threshold: float | None = None,
                    max_pixels: int = 50_000_000, min_side: int = 0) -> ScanReport:
    items = tuple(judge(extraction.candidates, classifier, threshold=threshold, max_pixels=max_pixels,
                        min_side=min_side))
    return ScanReport(extraction.source, extraction.kind, items, extraction.notes, extraction.pages)


def scan_web(url: str, *, classifier: Classifier, settings, browser=None, static: bool = False,
             threshold: float | None = None) -> ScanReport:
    """Render (or parse) a web page and judge every image on it."""
    from medpic.extract.web import extract_web

    extraction = extract_web(url, browser=browser, allow_private=settings.allow_private, limits=settings.web_limits(),
                             static=static, allowed_origins=settings.allowed_origins)
    return scan_extraction(extraction, classifier, threshold=threshold, max_pixels=settings.max_pixels,
                           min_side=settings.min_image_side)


def scan_url(url: str, *, classifier: Classifier, settings, browser=None, static: bool = False,
             threshold: float | None = None, on_stage=lambda stage: None) -> ScanReport:
    """A URL of a PDF or of a web page: the first bytes decide which, not the name."""
    from medpic.extract.pdf import is_pdf
    from medpic.fetch import fetch

    guard = {"allow_private": settings.allow_private, "allowed_origins": settings.allowed_origins}
    head = fetch(url, limits=settings.fetch_limits(), peek=1024, **guard)
    if is_pdf(head.data) or "application/pdf" in head.content_type.lower():
        on_stage("downloading the PDF")
        data = fetch(url, limits=settings.fetch_limits(), **guard).data
        on_stage("reading the PDF")
        return scan_pdf_bytes(data, source=url, classifier=classifier, threshold=threshold,
                              limits=settings.pdf_limits())
    static = static or browser is None or not browser.available()
    on_stage("parsing the page (static mode)" if static else "rendering the page")
    return scan_web(url, classifier=classifier, settings=settings, browser=None if static else browser,
                    static=static, threshold=threshold)


def classify_uploads(files: list[tuple[str, bytes | None]], *, classifier: Classifier,
                     threshold: float | None = None, max_pixels: int = 50_000_000, max_bytes: int = 0,
                     source: str = "upload") -> ScanReport:
    """Uploaded image files, one row each, in order; ``None`` data means over ``max_bytes``."""
    import hashlib

    from medpic.extract.urls import image_extension

    candidates = [
        ImageCandidate(source=source, ref=name, found_by="upload", order=i, status="error",
                       reason=f"file too large: over the limit of {max_bytes:,} bytes") if data is None else
        ImageCandidate(source=source, ref=name, found_by="upload", order=i, data=data,
                       extension=image_extension(data), sha256=hashlib.sha256(data).hexdigest())
        for i, (name, data) in enumerate(files)]
    return ScanReport(source, "images", tuple(judge(candidates, classifier, threshold=threshold,
                                                    max_pixels=max_pixels)))


def classify_url_list(urls: list[str], *, page_url: str, classifier: Classifier, settings,
                      threshold: float | None = None) -> ScanReport:
    """Image URLs (or ``data:`` URIs), one row each, in order, fetched through the guard."""
    from medpic.extract.urls import candidates_from_urls

    candidates = candidates_from_urls(urls, source=page_url, max_bytes=settings.max_image_bytes,
                                      timeout_s=float(settings.fetch_timeout_s),
                                      allow_private=settings.allow_private,
                                      allowed_origins=settings.allowed_origins)
    return ScanReport(page_url, "urls", tuple(judge(candidates, classifier, threshold=threshold,
                                                    max_pixels=settings.max_pixels)))


def scan_pdf_bytes(data: bytes, *, source: str, classifier: Classifier, threshold: float | None = None,
                   limits=None) -> ScanReport:
    """Extract and judge every image of a PDF given as bytes."""
    from medpic.extract.pdf import PdfLimits, extract_pdf

    extraction = extract_pdf(data, source=source, limits=limits or PdfLimits())
    return scan_extraction(extraction, classifier, threshold=threshold,
                           max_pixels=(limits or PdfLimits()).max_pixels)
