"""The network guard and the guarded fetcher, against a real local server."""

import pytest

from medpic.errors import BlockedURL, FetchError, ResponseTooLarge
from medpic.net.fetch import Fetcher
from medpic.settings import NetPolicy, Settings
from medpic.net.guard import address_allowed, check_url
from tests.localserver import LocalServer, endless, trickle


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "100.100.100.200",
    "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::127.0.0.1", "64:ff9b::a00:1",
])
def test_internal_addresses_are_refused(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)


@pytest.mark.parametrize("url,reason", [
    ("file:///etc/passwd", "only http and https"),
    ("ftp://example.org/x.pdf", "only http and https"),
    ("http://127.0.0.1/", "private or internal address"),
    ("http://localhost:8080/", "private or internal address"),
    ("http://[::ffff:169.254.169.254]/latest/meta-data", "private or internal address"),
    ("http://0x7f000001/", "private or internal address"),
    ("http:///nohost", "no host"),
])
def test_guard_refuses_with_a_reason(url, reason):
    with pytest.raises(BlockedURL, match=reason):
        check_url(url, Settings().net_policy())


def fetch(url, *, allow_private=False, **limits):
    """A whole GET with the documented limits, some changed."""
    fetcher = Fetcher(NetPolicy(allow_private=allow_private, allowed_origins=frozenset()))
    return fetcher.get(url, limits=Settings().fetch_limits().__class__(**{**vars(Settings().fetch_limits()), **limits}))


def _client_port(handler):
    if "slow" in handler.path:  # long enough that the requests of one wave overlap
        import time

        time.sleep(0.2)
    body = str(handler.client_address[1]).encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    routes = {
        "/doc.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.7 tiny"),
        "/hop": (302, {"Location": "/doc.pdf"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/big": (200, {}, b"x" * 5000),
        "/missing": (404, {}, b"nope"),
        "/endless": endless,
        "/trickle": trickle,
        "/port": _client_port,
    }
    with LocalServer(routes) as s:
        yield s


def test_local_fetch_needs_allow_private(server):
    with pytest.raises(BlockedURL):
        fetch(f"{server.url}/doc.pdf")
    response = fetch(f"{server.url}/doc.pdf", allow_private=True)
    assert response.data == b"%PDF-1.7 tiny" and response.status == 200


def test_redirects_are_followed_and_each_hop_is_checked(server):
    assert fetch(f"{server.url}/hop", allow_private=True).url.endswith("/doc.pdf")
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(f"{server.url}/loop", allow_private=True)


def test_redirect_to_cloud_metadata_is_refused_even_when_private_is_allowed_for_the_first_hop(server):
    # allow_private lets tests reach 127.0.0.1; the guard is the thing under test here, so use it on
    with pytest.raises(BlockedURL):
        fetch(f"{server.url}/to-metadata", allow_private=False)


def test_size_cap_stops_reading(server):
    with pytest.raises(ResponseTooLarge, match="over the limit of 1,000"):
        fetch(f"{server.url}/big", allow_private=True, max_bytes=1000)
    with pytest.raises(ResponseTooLarge):
        fetch(f"{server.url}/endless", allow_private=True, max_bytes=1_000_000)


def test_endless_slow_response_hits_the_deadline(server):
    with pytest.raises(FetchError, match="timed out"):
        fetch(f"{server.url}/trickle", allow_private=True, timeout_s=1.5)


def test_http_errors_are_reported(server):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(f"{server.url}/missing", allow_private=True)


def test_connections_to_one_host_are_reused(server):
    from medpic.net.fetch import PooledTransport

    settings = Settings(allow_private=True)
    transport = PooledTransport()
    fetcher = Fetcher(settings.net_policy(), transport=transport)
    ports = {fetcher.get(f"{server.url}/port", limits=settings.fetch_limits()).data for _ in range(3)}
    transport.close()
    assert len(ports) == 1  # one TCP connection served all three requests


def test_concurrent_downloads_keep_their_connections():
    """A scan's downloads run side by side (and a batch actor runs several scans): the pool keeps a
    connection for each request that ran at once, so later waves open none."""
    from concurrent.futures import ThreadPoolExecutor

    from medpic.net.fetch import PooledTransport

    settings = Settings(allow_private=True)
    transport = PooledTransport()
    fetcher = Fetcher(settings.net_policy(), transport=transport)
    with LocalServer({"/port": _client_port}) as server, ThreadPoolExecutor(12) as pool:
        waves = [set(pool.map(lambda _: fetcher.get(f"{server.url}/port?slow", limits=settings.fetch_limits()).data,
                              range(12))) for _ in range(3)]
    transport.close()
    assert len(waves[0]) > 4  # the requests did run at once, on connections of their own
    assert waves[1] <= waves[0] and waves[2] <= waves[0]  # and every later one reused one of them


def _answers_once(handler):
    """Each connection answers its first request; the next finds it closed (an idle close on the
    server that crossed the client's request)."""
    if getattr(handler, "answered", False):
        handler.close_connection = True
        return
    handler.answered = True
    _client_port(handler)


def _never_answers(handler):
    handler.close_connection = True


def test_a_kept_alive_connection_the_server_dropped_is_tried_once_more_on_a_new_one():
    from medpic.net.fetch import PooledTransport

    settings = Settings(allow_private=True)
    transport = PooledTransport()
    fetcher = Fetcher(settings.net_policy(), transport=transport)
    with LocalServer({"/once": _answers_once, "/never": _never_answers}) as server:
        ports = [fetcher.get(f"{server.url}/once", limits=settings.fetch_limits()).data for _ in range(3)]
        assert len(set(ports)) == 3 and server.hits.count("/once") == 5  # 3 answered, 2 dropped and sent again
        with pytest.raises(FetchError, match="connection broken"):
            fetcher.get(f"{server.url}/never", limits=settings.fetch_limits())
        assert server.hits.count("/never") == 2  # once more, not until the deadline
    transport.close()


def test_pools_are_kept_for_the_most_recent_hosts_only():
    """A long batch meets thousands of hosts: the least recently used one's connections close."""
    from medpic.net.fetch import PooledTransport

    settings = Settings(allow_private=True)
    transport = PooledTransport(kept_hosts=2)
    fetcher = Fetcher(settings.net_policy(), transport=transport)
    with LocalServer({"/port": _client_port}) as a, LocalServer({"/port": _client_port}) as b, \
            LocalServer({"/port": _client_port}) as c:
        def port(server):
            return fetcher.get(f"{server.url}/port", limits=settings.fetch_limits()).data

        first_a, first_b = port(a), port(b)
        assert port(a) == first_a  # two hosts: both kept
        port(c)  # a third: b, the least recently used, is let go
        assert port(a) == first_a and port(b) != first_b
    transport.close()


def test_a_closed_transport_opens_new_pools_when_used_again():
    from medpic.net.fetch import PooledTransport

    settings = Settings(allow_private=True)
    transport = PooledTransport(kept_hosts=0)  # taken as 1
    fetcher = Fetcher(settings.net_policy(), transport=transport)
    with LocalServer({"/port": _client_port}) as server:
        first = fetcher.get(f"{server.url}/port", limits=settings.fetch_limits()).data
        transport.close()
        assert fetcher.get(f"{server.url}/port", limits=settings.fetch_limits()).data != first
    transport.close()
