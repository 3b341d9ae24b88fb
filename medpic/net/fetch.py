"""Guarded HTTP fetching: the network guard on every hop, a deadline, a streamed byte cap.

``Fetcher`` owns the policy (vet every hop, follow redirects by hand, one deadline for the whole
exchange, stop reading at the byte cap); a ``Transport`` owns the sockets. The split is httpx's:
the real ``PooledTransport`` keeps one urllib3 connection pool per vetted address and reuses it
across requests to the same host, while ``MockTransport`` answers from a function, so the guard,
redirect, deadline and cap logic are tested without a socket.

Each connection goes to the address the guard checked (with the original host name for TLS and
``Host``), so a DNS answer cannot change between the check and the connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol
from urllib.parse import urljoin, urlsplit

from medpic.version import __version__
from medpic.concurrency import Deadline, at_deadline
from medpic.errors import FetchError, ResponseTooLarge
from medpic.net.guard import Target, check_url
from medpic.settings import FetchLimits, NetPolicy
from medpic.translate import urllib3_errors

__all__ = ["Request", "RawResponse", "Transport", "PooledTransport", "MockTransport", "Response", "Stream",
           "Fetcher", "USER_AGENT"]

USER_AGENT = f"MedPic/{__version__} (+https://github.com/medpic/medpic)"
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


# -- the transport seam ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One GET to a vetted address."""

    target: Target
    path: str
    headers: dict[str, str]
    timeout_s: float  # what is left of the exchange's deadline


class RawResponse(Protocol):
    """What a transport hands back: status and headers read, body still on the wire."""

    status: int
    headers: list[tuple[str, str]]

    def read1(self, n: int) -> bytes:
        """Whatever has arrived, up to ``n`` bytes; ``b""`` at the end."""

    def close(self, *, complete: bool) -> None:
        """Release the connection: back to the pool when the body was read to its end."""


class Transport(Protocol):
    def send(self, request: Request) -> RawResponse: ...

    def close(self) -> None: ...


class _Watchdog:
    """A wall-clock deadline for one exchange that closes its socket when it passes.

    urllib3's read timeout bounds each ``recv()``, so a server sending one header byte a second
    is never timed out by it. The watchdog shuts the connection down at the deadline whatever the
    server does; the blocked read then fails and is reported as a timeout."""

    _local = threading.local()

    def __init__(self, timeout_s: float) -> None:
        self.connections: list = []
        self.fired = False
        self._timeout_s = timeout_s
        self._deadline: Deadline | None = None

    def __enter__(self) -> "_Watchdog":
        _Watchdog._local.current = self
        self._deadline = at_deadline(self._timeout_s, self._fire)
        return self

    def __exit__(self, *exc) -> None:
        _Watchdog._local.current = None

    @classmethod
    def watch(cls, connection) -> None:
        """Called by a connection as it sends: the watchdog of this thread's exchange takes it."""
        current = getattr(cls._local, "current", None)
        if current is not None:
            current.connections.append(connection)

    def _fire(self) -> None:
        self.fired = True
        for connection in self.connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()


class _Urllib3Response:
    def __init__(self, response, url: str, host: str, watchdog: _Watchdog) -> None:
        self._response, self._url, self._host, self._watchdog = response, url, host, watchdog
        self.status = response.status
        self.headers = list(response.headers.items())

    def read1(self, n: int) -> bytes:
        try:
            with urllib3_errors(self._url, self._host):
                return self._response.read1(n)
        except FetchError:
            if self._watchdog.fired:
                raise FetchError(f"timed out reading {self._url!r}", url=self._url) from None
            raise

    def close(self, *, complete: bool) -> None:
        self._watchdog.cancel()
        if not complete or self._watchdog.fired:  # a half-read body must never be reused
            self._response.close()
        self._response.release_conn()


def _watched(connection_class):
    """A urllib3 connection class that hands itself to the current exchange's watchdog."""
    class Watched(connection_class):
        def request(self, *args, **kwargs):
            _Watchdog.watch(self)
            return super().request(*args, **kwargs)

    return Watched


# Idle connections kept per host. It bounds nothing (a pool never blocks): it should cover the
# requests that run at once to one host, a scan's download workers times the scans at once (a
# batch extraction actor runs several), or every request past it opens a connection (a TLS
# handshake on HTTPS) only to close it. Measured on a local site with 8 pages at once: 4 kept
# cost the client 0.57 ms of CPU an image and the server 0.13; 32 kept, 0.39 and 0.07.
_KEPT_PER_HOST = 32
# Hosts whose pools are kept. A batch actor meets thousands of hosts in a day; past this many the
# least recently used host's idle connections are closed, so idle sockets stay bounded (16 x 32
# is half of the usual 1,024 descriptors a process may hold); those in use close when released.
_KEPT_HOSTS = 16


def _dropped_by_peer(exc: BaseException) -> bool:
    """A connection the server closed before answering: on a kept-alive connection, the race
    between its idle close and our request, which HTTP clients settle by sending the GET again.
    (urllib3 does not say whether the connection was reused, so a fresh one that is reset is
    tried once more too: one extra GET, within the same deadline.)"""
    cause = exc.args[-1] if exc.args else None
    return isinstance(cause, (ConnectionResetError, BrokenPipeError))


class PooledTransport:
    """urllib3 connection pools keyed by (scheme, address, port, host name), reused across requests."""

    def __init__(self, *, kept_per_host: int = _KEPT_PER_HOST, kept_hosts: int = _KEPT_HOSTS) -> None:
        self._pools: OrderedDict[tuple[str, str, int, str], object] = OrderedDict()
        self._lock = threading.Lock()
        self._per_host = kept_per_host
        self._hosts = max(1, kept_hosts)

    def _pool(self, target: Target):
        import urllib3

        key = (target.scheme, target.address, target.port, target.host)
        evicted = None
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                if target.scheme == "https":
                    import certifi

                    pool = urllib3.HTTPSConnectionPool(
                        target.address, target.port, retries=False, maxsize=self._per_host, block=False,
                        server_hostname=target.host, assert_hostname=target.host,
                        cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
                else:
                    pool = urllib3.HTTPConnectionPool(target.address, target.port, retries=False,
                                                      maxsize=self._per_host, block=False)
                pool.ConnectionCls = _watched(pool.ConnectionCls)
                self._pools[key] = pool
                if len(self._pools) > self._hosts:
                    evicted = self._pools.popitem(last=False)[1]
            self._pools.move_to_end(key)
        if evicted is not None:  # its idle sockets close now; one in use closes when released
            evicted.close()
        return pool

    def send(self, request: Request) -> RawResponse:
        import urllib3

        target = request.target
        watchdog = _Watchdog(request.timeout_s)
        deadline = time.monotonic() + request.timeout_s

        def get():
            left = max(0.001, deadline - time.monotonic())
            return self._pool(target).urlopen(
                "GET", request.path, headers=request.headers, redirect=False, retries=False,
                preload_content=False, assert_same_host=False,
                timeout=urllib3.Timeout(connect=min(left, 10), read=left))

        try:
            with watchdog, urllib3_errors(target.url, target.host):
                try:
                    response = get()
                except urllib3.exceptions.ClosedPoolError:  # evicted by another thread: nothing was sent
                    response = get()
                except urllib3.exceptions.ProtocolError as exc:
                    if watchdog.fired or not _dropped_by_peer(exc) or time.monotonic() >= deadline:
                        raise
                    response = get()  # once: a GET is safe to send again
        except FetchError:
            watchdog.cancel()
            if watchdog.fired:
                raise FetchError(f"timed out after {request.timeout_s:g} s waiting for {target.url!r}",
                                 url=target.url) from None
            raise
        return _Urllib3Response(response, target.url, target.host, watchdog)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()


@dataclass
class _MockResponse:
    status: int
    headers: list[tuple[str, str]]
    chunks: Iterator[bytes]
    closed: bool = False

    def read1(self, n: int) -> bytes:
        return next(self.chunks, b"")

    def close(self, *, complete: bool) -> None:
        self.closed = True


@dataclass
class MockTransport:
    """Answers every request from ``handler(request) -> (status, headers, body)``; ``body`` is bytes
    or an iterable of chunks (a generator can sleep between them). ``requests`` records what was sent."""

    handler: Callable[[Request], tuple[int, dict[str, str], bytes | Iterable[bytes]]]
    requests: list[Request] = field(default_factory=list)

    def send(self, request: Request) -> RawResponse:
        self.requests.append(request)
        status, headers, body = self.handler(request)
        chunks = iter([body[i:i + _CHUNK] for i in range(0, len(body), _CHUNK)] if isinstance(body, bytes) else body)
        return _MockResponse(status, list(headers.items()), chunks)

    def close(self) -> None:
        pass


# -- the fetcher ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """A whole response, body read within the limits."""

    url: str  # after redirects
    status: int
    content_type: str
    data: bytes
    headers: tuple[tuple[str, str], ...] = ()


class Stream:
    """A response whose body is still arriving: ``peek`` the first bytes, then ``read`` the rest
    (a URL is sniffed and, when it is a PDF, downloaded in the same exchange, not twice)."""

    def __init__(self, raw: RawResponse, *, url: str, requested: str, limits: FetchLimits, deadline: float) -> None:
        self.url, self.status = url, raw.status
        self.headers = tuple(raw.headers)
        self._raw, self._requested, self._limits, self._deadline = raw, requested, limits, deadline
        self._buffer = b""
        self.complete = False

    @property
    def content_type(self) -> str:
        return self.header("content-type")

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name), "")

    def _more(self) -> bytes:
        if time.monotonic() > self._deadline:
            raise FetchError(f"timed out after {self._limits.timeout_s:g} s reading {self.url!r}", url=self._requested)
        chunk = self._raw.read1(_CHUNK)
        if not chunk:
            self.complete = True
        return chunk

    def peek(self, n: int) -> bytes:
        """The first ``n`` bytes (fewer if the body is shorter), kept for ``read``."""
        while len(self._buffer) < n and not self.complete:
            self._buffer += self._more()
        return self._buffer[:n]

    def read(self) -> bytes:
        """The whole body, refused past the byte cap or the deadline."""
        declared = self.header("content-length")
        cap = self._limits.max_bytes
        if declared.isdigit() and int(declared) > cap:
            raise ResponseTooLarge(f"too large: {int(declared):,} bytes is over the limit of {cap:,}",
                                   url=self._requested)
        chunks, size = [self._buffer], len(self._buffer)
        while not self.complete:
            chunk = self._more()  # whatever arrived: a trickle cannot stall us past the deadline
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(f"too large: over the limit of {cap:,} bytes", url=self._requested)
            chunks.append(chunk)
        return b"".join(chunks)


class Fetcher:
    """GETs through the network guard: every hop vetted, one deadline, a byte cap."""

    def __init__(self, policy: NetPolicy, *, transport: Transport | None = None) -> None:
        self.policy = policy
        self.transport = transport or _shared_transport()

    @contextmanager
    def open(self, url: str, *, limits: FetchLimits, headers: dict[str, str] | None = None,
             accept_errors: bool = False) -> Iterator[Stream]:
        """The final response of ``url`` after vetted redirects, body not yet read.

        Raises ``BlockedURL``, ``FetchError`` (HTTP errors too, unless ``accept_errors``)."""
        deadline = time.monotonic() + limits.timeout_s
        current = url
        for _hop in range(limits.max_redirects + 1):
            target = check_url(current, self.policy)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"timed out after {limits.timeout_s:g} s fetching {url!r}", url=url)
            raw = self.transport.send(Request(target, _path(current), _headers(target, headers), remaining))
            stream = Stream(raw, url=current, requested=url, limits=limits, deadline=deadline)
            try:
                location = stream.header("location")
                if raw.status in _REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if raw.status >= 400 and not accept_errors:
                    raise FetchError(f"HTTP {raw.status} from {current!r}", url=url)
                yield stream
                return
            finally:
                raw.close(complete=stream.complete)
        raise FetchError(f"too many redirects (over {limits.max_redirects}) from {url!r}", url=url)

    def get(self, url: str, *, limits: FetchLimits, headers: dict[str, str] | None = None,
            accept_errors: bool = False) -> Response:
        """The whole response of ``url`` within ``limits``."""
        with self.open(url, limits=limits, headers=headers, accept_errors=accept_errors) as stream:
            data = stream.read()
            return Response(stream.url, stream.status, stream.content_type, data, stream.headers)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _headers(target: Target, extra: dict[str, str] | None) -> dict[str, str]:
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if target.port == default_port else f"{target.host}:{target.port}"
    return {"Host": host, "User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity", **(extra or {})}


_SHARED: PooledTransport | None = None
_SHARED_LOCK = threading.Lock()


def _shared_transport() -> PooledTransport:
    """One pool set per process: connections to a host are reused by every scan."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = PooledTransport()
        return _SHARED
