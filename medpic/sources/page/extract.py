"""A web page to candidates: capture (or parse) -> choose sightings -> download -> rasterise SVG.

Each step is its own function of another module: ``capture.render_page`` or
``static.parse_page`` sees the page, ``sightings`` chooses one sighting per picture, the one
``ImageDownloader`` gets the bytes, and the browser owner rasterises SVGs. Candidates are
produced lazily, in page order, as their bytes arrive, so the judge overlaps with the network.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from typing import Iterator

from medpic.imaging import decode_image
from medpic.net.download import ImageDownloader
from medpic.net.fetch import Fetcher
from medpic.net.guard import check_url
from medpic.settings import WebLimits
from medpic.sources.browser import BrowserService
from medpic.sources.candidates import Extraction, ImageCandidate, Status, short_ref
from medpic.sources.page.capture import render_page
from medpic.sources.page.sightings import PageCapture, Sighting, add_network_only, choose, split_at_limit
from medpic.sources.page.static import parse_page
from medpic.translate import page_errors

__all__ = ["extract_page", "STATIC_NOTE"]

log = logging.getLogger(__name__)

STATIC_NOTE = ("static mode: the page was parsed without a browser, so images added by JavaScript and CSS from "
               "stylesheets were not seen")


def capture_page(url: str, *, fetcher: Fetcher, limits: WebLimits, browser: BrowserService | None) -> PageCapture:
    """Render ``url`` in the browser, or parse it without one."""
    if browser is None:
        return parse_page(url, fetcher=fetcher, limits=limits)
    with page_errors(url, budget_s=limits.budget_s):
        return browser.run(lambda b: render_page(b, url, fetcher=fetcher, limits=limits), timeout=limits.budget_s)


def extract_page(url: str, *, fetcher: Fetcher, limits: WebLimits, browser: BrowserService | None = None
                 ) -> Extraction:
    """Every image of the page at ``url``: rendered when a browser is given, else parsed statically."""
    check_url(url, fetcher.policy)
    started = time.monotonic()
    capture = capture_page(url, fetcher=fetcher, limits=limits, browser=browser)
    notes = ([STATIC_NOTE] if capture.static else []) + list(capture.notes)
    chosen = add_network_only(choose(capture.sightings), capture.bodies)
    selected, overflow = split_at_limit(chosen, limits.max_images)
    if overflow:
        notes.append(f"image limit reached: {len(chosen)} found, {limits.max_images} judged")
    downloader = ImageDownloader(fetcher, limits, page_url=capture.url, cookies=capture.cookies,
                                 known=capture.bodies, deadline=started + limits.budget_s)
    extraction = Extraction(url, "web", (), notes, min_side=limits.min_side)
    extraction.candidates = _candidates(extraction, selected, overflow, downloader, browser, limits)
    log.info("web: %d sightings on %s in %.1f s", len(chosen), url, time.monotonic() - started)
    return extraction


def _candidates(extraction: Extraction, selected: list[Sighting], overflow: list[Sighting],
                downloader: ImageDownloader, browser: BrowserService | None, limits: WebLimits
                ) -> Iterator[ImageCandidate]:
    """One candidate per chosen sighting, in page order; the same bytes under two URLs are one image."""
    first_ref: dict[str, str] = {}
    order = 0
    for sighting, download in zip(selected, downloader.download(s.url for s in selected)):
        where = dict(source=extraction.source, ref=short_ref(sighting.url), found_by=sighting.found_by, order=order,
                     alt=sighting.label, width=sighting.natural_width, height=sighting.natural_height)
        if download.data is None:
            status = Status.SKIPPED if download.skipped else Status.ERROR
            candidate = ImageCandidate(**where, status=status, reason=download.reason)
        else:
            digest = hashlib.sha256(download.data).hexdigest()
            if digest in first_ref and download.data:  # the same bytes under another URL: one image
                extraction.duplicates.setdefault(first_ref[digest], []).append(where["ref"])
                continue
            first_ref[digest] = where["ref"]
            candidate = _rasterised(ImageCandidate.from_bytes(download.data, **where), browser, limits)
        order += 1
        yield candidate
    for sighting in overflow:
        yield ImageCandidate(source=extraction.source, ref=short_ref(sighting.url), found_by=sighting.found_by,
                             order=order, alt=sighting.label, status=Status.SKIPPED,
                             reason=f"image limit reached ({limits.max_images} per page)")
        order += 1


def _rasterised(candidate: ImageCandidate, browser: BrowserService | None, limits: WebLimits) -> ImageCandidate:
    """SVGs are judged on Chromium's rendering; the original SVG is what gets saved."""
    if candidate.extension != "svg":
        return candidate
    png = browser.rasterize_svg(candidate.data, max_side=limits.svg_max_side,
                                timeout_s=max(5.0, limits.budget_s / 10)) if browser is not None else None
    if png is None:
        return replace(candidate, data=None, status=Status.ERROR,
                       reason="unsupported format: SVG (could not be rasterised)")
    return replace(candidate, image=decode_image(png).image)
