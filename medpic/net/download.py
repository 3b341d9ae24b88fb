"""The one image downloader: image URLs and ``data:`` URIs to bytes, for rendered pages, static
pages and the app's ``classify_urls`` alike.

One Referer and cookie policy: the Referer is the page's origin only (the full page URL is the
user's business), and the page's cookies go only to the page's own host. Downloads run a few at a
time and come back in the order asked, each as soon as it and those before it have arrived, so
the judge works on the first images while later ones are still on the wire. A URL that cannot be
had is a ``Download`` with the reason, in its place; the scan's byte total and deadline are
shared by every download of one scan.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping
from urllib.parse import unquote_to_bytes, urlsplit

from medpic.concurrency import prefetch
from medpic.errors import FetchError, ScanLimitReached, reason_of
from medpic.net.fetch import Fetcher
from medpic.settings import WebLimits

__all__ = ["Download", "ImageDownloader", "decode_data_uri"]

_ACCEPT = "image/avif,image/webp,image/*,*/*;q=0.8"


@dataclass(frozen=True)
class Download:
    """The bytes of one image URL, or why there are none."""

    url: str
    data: bytes | None
    reason: str = ""
    skipped: bool = False  # a scan-wide limit, not a fault of this image


def decode_data_uri(uri: str, cap: int) -> bytes:
    """The bytes of a ``data:`` URI, refusing payloads over ``cap``."""
    header, _, payload = uri.partition(",")
    if len(payload) > cap * 4 // 3 + 16:
        raise FetchError(f"too large: data URI over the limit of {cap:,} bytes")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=False)
        return unquote_to_bytes(payload)
    except ValueError as exc:
        raise FetchError(f"malformed data URI: {exc}") from None


class ImageDownloader:
    """Downloads for one scan: shares its byte total and deadline across every image."""

    def __init__(self, fetcher: Fetcher, limits: WebLimits, *, page_url: str = "", cookies: str = "",
                 known: Mapping[str, bytes] | None = None, deadline: float | None = None) -> None:
        self._fetcher, self._limits = fetcher, limits
        self._known = dict(known or {})  # what the page itself loaded: never downloaded twice
        page = urlsplit(page_url) if page_url.startswith(("http:", "https:")) else None
        self._referer = f"{page.scheme}://{page.netloc}/" if page else ""
        self._host = page.netloc if page else None
        self._cookies = cookies
        self._deadline = deadline if deadline is not None else time.monotonic() + limits.budget_s
        self._spent = sum(len(b) for b in self._known.values())
        self._lock = threading.Lock()

    def get(self, url: str) -> bytes:
        """One image's bytes; raises ``FetchError`` (or ``BlockedURL``) with the reason."""
        if url in self._known:
            return self._known[url]
        if url.startswith("data:"):
            return decode_data_uri(url, self._limits.max_image_bytes)
        if url.startswith("blob:"):
            raise FetchError("blob URL: only the page that made it can read it")
        remaining = self._deadline - time.monotonic()
        if remaining <= 1:
            raise ScanLimitReached(f"scan time budget of {self._limits.budget_s:g} s reached before this image was fetched")
        with self._lock:
            if self._spent >= self._limits.max_total_bytes:
                raise ScanLimitReached(f"total bytes limit reached ({self._limits.max_total_bytes:,} per page)")
        headers = {"Accept": _ACCEPT}
        if self._referer:
            headers["Referer"] = self._referer
        if self._cookies and urlsplit(url).netloc == self._host:
            headers["Cookie"] = self._cookies
        data = self._fetcher.get(url, limits=self._limits.image_fetch(remaining_s=remaining), headers=headers).data
        with self._lock:  # checked again now that the size is known: downloads run side by side
            if self._spent + len(data) > self._limits.max_total_bytes:
                raise ScanLimitReached(f"total bytes limit reached ({self._limits.max_total_bytes:,} per page)")
            self._spent += len(data)
        return data

    def _download(self, url: str) -> Download:
        try:
            return Download(url, self.get(url))
        except ScanLimitReached as exc:
            return Download(url, None, exc.reason, skipped=True)
        except Exception as exc:  # noqa: BLE001 - one image never aborts a page
            return Download(url, None, reason_of(exc, doing="could not fetch image"))

    def download(self, urls: Iterable[str]) -> Iterator[Download]:
        """One ``Download`` per URL, in order, as they arrive."""
        workers = max(1, self._limits.download_workers)
        return prefetch(self._download, urls, depth=2 * workers, workers=workers)
