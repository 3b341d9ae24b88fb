"""The fetcher's guard, redirect, deadline and byte-cap logic, through the transport seam: no sockets."""

import time

import pytest

from medpic.errors import BlockedURL, FetchError, ResponseTooLarge
from medpic.net.fetch import Fetcher, MockTransport
from medpic.settings import FetchLimits, NetPolicy

PUBLIC = "http://93.184.215.14"  # an IP literal: resolving it needs no network
GUARDED = NetPolicy(allow_private=False, allowed_origins=frozenset())
LIMITS = FetchLimits(timeout_s=5.0, max_bytes=1000, max_redirects=3)


def fetcher(routes: dict) -> tuple[Fetcher, MockTransport]:
    def handler(request):
        return routes.get(request.path, (404, {}, b"nope"))

    transport = MockTransport(handler)
    return Fetcher(GUARDED, transport=transport), transport


def test_the_vetted_address_is_the_one_connected_to_with_the_host_header():
    f, transport = fetcher({"/a.png": (200, {"Content-Type": "image/png"}, b"\x89PNG")})
    response = f.get(PUBLIC + ":8080/a.png", limits=LIMITS)
    assert response.data == b"\x89PNG" and response.content_type == "image/png"
    sent, = transport.requests
    assert sent.target.address == "93.184.215.14" and sent.target.port == 8080
    assert sent.headers["Host"] == "93.184.215.14:8080" and sent.headers["Accept-Encoding"] == "identity"


def test_a_private_address_is_refused_before_any_request():
    f, transport = fetcher({})
    with pytest.raises(BlockedURL, match="private or internal"):
        f.get("http://10.0.0.1/x", limits=LIMITS)
    assert transport.requests == []


def test_every_redirect_hop_is_vetted():
    f, transport = fetcher({"/hop": (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b"")})
    with pytest.raises(BlockedURL):
        f.get(PUBLIC + "/hop", limits=LIMITS)
    assert [r.path for r in transport.requests] == ["/hop"]


def test_redirects_are_followed_and_bounded():
    f, _ = fetcher({"/1": (301, {"Location": "/2"}, b""), "/2": (200, {}, b"done"),
                    "/loop": (302, {"Location": "/loop"}, b"")})
    assert f.get(PUBLIC + "/1", limits=LIMITS).url == PUBLIC + "/2"
    with pytest.raises(FetchError, match="too many redirects"):
        f.get(PUBLIC + "/loop", limits=LIMITS)


def test_byte_cap_from_the_declared_length_and_while_streaming():
    chunks = (b"x" * 400 for _ in range(10))
    f, _ = fetcher({"/declared": (200, {"Content-Length": "5000"}, b""), "/streamed": (200, {}, chunks)})
    with pytest.raises(ResponseTooLarge, match="5,000 bytes is over the limit of 1,000"):
        f.get(PUBLIC + "/declared", limits=LIMITS)
    with pytest.raises(ResponseTooLarge, match="over the limit of 1,000"):
        f.get(PUBLIC + "/streamed", limits=LIMITS)


def test_a_trickle_hits_the_deadline():
    def trickle():
        while True:
            time.sleep(0.1)
            yield b"%"

    f, _ = fetcher({"/slow": (200, {}, trickle())})
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        f.get(PUBLIC + "/slow", limits=FetchLimits(timeout_s=0.5, max_bytes=10**6, max_redirects=0))
    assert time.monotonic() - started < 2


def test_http_errors_raise_unless_accepted():
    f, _ = fetcher({})
    with pytest.raises(FetchError, match="HTTP 404"):
        f.get(PUBLIC + "/missing", limits=LIMITS)
    assert f.get(PUBLIC + "/missing", limits=LIMITS, accept_errors=True).status == 404


def test_peek_then_read_is_one_request():
    f, transport = fetcher({"/doc": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.7 rest of it")})
    with f.open(PUBLIC + "/doc", limits=LIMITS) as stream:
        assert stream.peek(5) == b"%PDF-"
        assert stream.read() == b"%PDF-1.7 rest of it"
    assert len(transport.requests) == 1
