"""Image URLs (and ``data:`` URIs) to candidates: for the app's ``classify_urls`` and for pages.

Every URL goes through the guarded fetcher, a few at a time; a URL that cannot be had becomes
an ``error`` candidate with the reason, in its place.
"""

from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence
from urllib.parse import unquote_to_bytes

from medpic.errors import FetchError, MedPicError
from medpic.extract.candidates import ImageCandidate
from medpic.fetch import FetchLimits, fetch
from medpic.imaging import sniff_format

__all__ = ["fetch_image_bytes", "decode_data_uri", "image_extension", "candidates_from_urls", "short_ref"]

_ACCEPT = "image/avif,image/webp,image/*,*/*;q=0.8"


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


def fetch_image_bytes(url: str, *, max_bytes: int, timeout_s: float, allow_private: bool,
                      allowed_origins: frozenset[str] = frozenset(), referer: str = "", cookies: str = "") -> bytes:
    """One image's bytes: decoded from a ``data:`` URI or fetched through the guard."""
    if url.startswith("data:"):
        return decode_data_uri(url, max_bytes)
    if url.startswith("blob:"):
        raise FetchError("blob URL: only the page that made it can read it")
    headers = {"Accept": _ACCEPT}
    if referer:
        headers["Referer"] = referer
    if cookies:
        headers["Cookie"] = cookies
    return fetch(url, allow_private=allow_private, allowed_origins=allowed_origins, headers=headers,
                 limits=FetchLimits(timeout_s=timeout_s, max_bytes=max_bytes)).data


def image_extension(data: bytes) -> str:
    """A file extension from the bytes themselves (the URL's may lie)."""
    if sniff_format(data) == "SVG":
        return "svg"
    signatures = [(b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"RIFF", "webp"),
                  (b"BM", "bmp"), (b"II*\x00", "tif"), (b"MM\x00*", "tif"), (b"\x00\x00\x01\x00", "ico")]
    for magic, ext in signatures:
        if data.startswith(magic):
            return ext
    return "avif" if data[4:12] in (b"ftypavif", b"ftypavis") else "bin"


def short_ref(url: str) -> str:
    """``data:`` URIs shortened for reports; other URLs as they are."""
    return url if not url.startswith("data:") or len(url) <= 80 else url[:60] + f"...({len(url)} chars)"


def guarded_bytes(fn):
    """Wrap a bytes getter so that failures come back as (None, reason) instead of raising."""
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs), ""
        except MedPicError as exc:
            return None, exc.reason
        except (ValueError, OSError) as exc:
            return None, f"could not read image: {exc}"
    return wrapped


def candidates_from_urls(urls: Sequence[str], *, source: str, max_bytes: int, timeout_s: float,
                         allow_private: bool, allowed_origins: frozenset[str] = frozenset(),
                         workers: int = 6) -> list[ImageCandidate]:
    """One candidate per URL, in order, each with its bytes or the reason it has none."""
    get = guarded_bytes(lambda u: fetch_image_bytes(u, max_bytes=max_bytes, timeout_s=timeout_s,
                                                    allow_private=allow_private, allowed_origins=allowed_origins,
                                                    referer=source if source.startswith("http") else ""))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = list(pool.map(get, urls))
    out = []
    for order, (url, (data, error)) in enumerate(zip(urls, results)):
        base = dict(source=source, ref=short_ref(url), found_by="url", order=order)
        if error:
            out.append(ImageCandidate(**base, status="error", reason=error))
        else:
            out.append(ImageCandidate(**base, data=data, extension=image_extension(data),
                                      sha256=hashlib.sha256(data).hexdigest()))
    return out
