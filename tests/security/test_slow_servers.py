"""Slow servers cannot hold MedPic past its deadlines: headers dripped a byte at a time included."""

import time

import pytest

from medpic.errors import FetchError
from medpic.net.fetch import Fetcher
from medpic.settings import Settings
from tests.localserver import LocalServer, drip_body, drip_headers


@pytest.fixture(scope="module")
def server():
    with LocalServer({"/headers": drip_headers, "/body": drip_body}) as s:
        yield s


@pytest.mark.parametrize("path", ["/headers", "/body"])
def test_a_dripping_server_is_cut_off_at_the_deadline(server, path):
    settings = Settings(allow_private=True)
    fetcher = Fetcher(settings.net_policy())
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetcher.get(server.url + path, limits=settings.fetch_limits(timeout_s=1.5))
    assert time.monotonic() - started < 4
