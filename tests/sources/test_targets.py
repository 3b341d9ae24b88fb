"""One opener per target kind: a PDF URL is downloaded once, a page goes to page extraction."""

import pytest

from medpic.errors import InvalidInput
from medpic.net.fetch import Fetcher
from medpic.settings import Settings
from medpic.sources.targets import open_target
from tests.localserver import LocalServer
from tests.pdf_fixtures import pdf_with_images, samples


@pytest.fixture(scope="module")
def server():
    pdf = pdf_with_images([samples()["cat"]])
    routes = {"/paper": (200, {"Content-Type": "application/octet-stream"}, pdf),
              "/page.html": (200, {"Content-Type": "text/html"}, b"<html><body><img src='/paper'></body></html>")}
    with LocalServer(routes) as s:
        yield s


def test_a_pdf_url_is_known_by_its_bytes_and_fetched_once(server):
    settings = Settings(allow_private=True)
    server.hits.clear()
    extraction = open_target(server.url + "/paper", settings=settings, fetcher=Fetcher(settings.net_policy()),
                             browser=None)
    assert extraction.kind == "pdf" and len(list(extraction.candidates)) == 1
    assert server.hits == ["/paper"]


def test_a_page_without_a_browser_is_parsed_statically(server):
    settings = Settings(allow_private=True)
    extraction = open_target(server.url + "/page.html", settings=settings, fetcher=Fetcher(settings.net_policy()),
                             browser=None)
    assert extraction.kind == "web" and extraction.notes[0].startswith("static mode")
    assert [c.ref for c in extraction.candidates] == [server.url + "/paper"]


def test_only_web_addresses_are_urls():
    settings = Settings()
    with pytest.raises(InvalidInput, match="not a web address"):
        open_target("ftp://example.org/x.pdf", settings=settings, fetcher=Fetcher(settings.net_policy()), browser=None)
