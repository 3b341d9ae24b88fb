"""Guarded HTTP fetching: the network guard on every hop, a deadline, a streamed byte cap.

Used for PDFs given by URL, for images the browser did not capture, and for the app's image URLs.
Redirects are followed by hand so that each hop is vetted by ``netguard`` again, and each
connection goes to the vetted address (with the original host name for TLS and ``Host``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from medpic import __version__
from medpic.errors import FetchError, ResponseTooLarge
from medpic.netguard import Target, check_url

__all__ = ["FetchLimits", "Response", "fetch", "USER_AGENT"]

USER_AGENT = f"MedPic/{__version__} (+https://github.com/medpic/medpic)"
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchLimits:
    """Bounds for one fetch."""

    timeout_s: float = 20.0  # the whole fetch, redirects and body included
    max_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 5


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    content_type: str
    data: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _pool(target: Target, timeout: float):
    import urllib3

    if target.scheme == "https":
        import certifi

        return urllib3.HTTPSConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)


def fetch(url: str, *, allow_private: bool = False, limits: FetchLimits = FetchLimits(),
          headers: dict[str, str] | None = None, peek: int | None = None,
          allowed_origins: frozenset[str] = frozenset(), accept_errors: bool = False) -> Response:
    """GET ``url`` within the limits; raises ``BlockedURL``, ``ResponseTooLarge`` or ``FetchError``.

    With ``peek``, only the first ``peek`` bytes are read (to tell a PDF from a web page) and
    the size cap does not apply. With ``accept_errors``, 4xx/5xx answers are returned, not raised.
    """
    import urllib3

    deadline = time.monotonic() + limits.timeout_s
    current = url
    for _hop in range(limits.max_redirects + 1):
        target = check_url(current, allow_private=allow_private, allowed_origins=allowed_origins)
        parts = urlsplit(current)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        request_headers = {"Host": host_header, "User-Agent": USER_AGENT, "Accept": "*/*",
                           "Accept-Encoding": "identity", **(headers or {})}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"timed out after {limits.timeout_s:g} s fetching {url!r}", url=url)
        pool = _pool(target, remaining)
        try:
            response = pool.urlopen("GET", path, headers=request_headers, redirect=False, retries=False,
                                    preload_content=False, assert_same_host=False,
                                    timeout=urllib3.Timeout(connect=min(remaining, 10), read=remaining))
        except urllib3.exceptions.TimeoutError as exc:
            raise FetchError(f"timed out fetching {current!r}", url=url) from exc
        except urllib3.exceptions.SSLError as exc:
            raise FetchError(f"TLS error for {target.host!r}: {exc}", url=url) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"cannot connect to {target.host!r}: {type(exc).__name__}", url=url) from exc
        try:
            if response.status in _REDIRECTS and response.headers.get("Location"):
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status >= 400 and not accept_errors:
                raise FetchError(f"HTTP {response.status} from {current!r}", url=url)
            declared = response.headers.get("Content-Length")
            if peek is not None:
                head = response.read1(peek) if peek else b""
                return Response(current, response.status, response.headers.get("Content-Type", ""), head)
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise ResponseTooLarge(
                    f"too large: {int(declared):,} bytes is over the limit of {limits.max_bytes:,}", url=url)
            chunks, size = [], 0
            try:
                while chunk := response.read1(64 * 1024):  # whatever arrived: a trickle cannot stall us
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise ResponseTooLarge(f"too large: over the limit of {limits.max_bytes:,} bytes", url=url)
                    if time.monotonic() > deadline:
                        raise FetchError(f"timed out after {limits.timeout_s:g} s reading {current!r}", url=url)
                    chunks.append(chunk)
            except urllib3.exceptions.HTTPError as exc:
                raise FetchError(f"connection broken reading {current!r}: {type(exc).__name__}", url=url) from exc
            return Response(current, response.status, response.headers.get("Content-Type", ""), b"".join(chunks),
                            tuple(response.headers.items()))
        finally:
            response.release_conn()
            pool.close()
    raise FetchError(f"too many redirects (over {limits.max_redirects}) from {url!r}", url=url)
