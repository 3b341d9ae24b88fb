"""Pages that try to hide their images or break the scan: what was found is kept, what failed is said."""

import pytest

from medpic.errors import ResponseTooLarge
from medpic.net.fetch import Fetcher
from medpic.settings import Settings, origin_of
from medpic.sources.page.extract import extract_page
from tests.conftest import page_title
from tests.localserver import LocalServer
from tests.site import _enc, _images

pytestmark = pytest.mark.browser

LEAVES = b"""<!doctype html><html><head><meta http-equiv="refresh" content="0;url=/elsewhere.html"></head><body>
<img src="/img/retina.jpg" alt="fundus"><img id="late" alt="added later">
<form id="f" action="/elsewhere.html"></form>
<script>document.getElementById("late").src = "/img/cat.jpg";
setTimeout(() => { location.href = "/elsewhere.html"; }, 50);
setTimeout(() => document.getElementById("f").submit(), 100);</script></body></html>"""
SABOTAGE = b"""<!doctype html><html><body><img src="/img/retina.jpg" alt="fundus">
<div style="width:300px;height:300px;background-image:url('/img/cat.jpg')"></div>
<script>Object.assign = () => ({}); Array.prototype.push = function () { return 0; };
window.getComputedStyle = () => ({ backgroundImage: "none" }); document.querySelectorAll = () => [];
JSON.stringify = () => "{}"; Math.min = () => 0;</script></body></html>"""
ELSEWHERE = b"<!doctype html><html><body><p>nothing here</p></body></html>"


@pytest.fixture(scope="module")
def site():
    images = _images()
    routes = {"/leaves.html": (200, {"Content-Type": "text/html"}, LEAVES),
              "/elsewhere.html": (200, {"Content-Type": "text/html"}, ELSEWHERE),
              "/sabotage.html": (200, {"Content-Type": "text/html"}, SABOTAGE),
              "/huge.html": (200, {"Content-Type": "text/html"}, b"<html><body>" + b"x" * 300_000 + b"</body></html>"),
              "/img/retina.jpg": (200, {"Content-Type": "image/jpeg"}, _enc(images["retina"], "JPEG")),
              "/img/cat.jpg": (200, {"Content-Type": "image/jpeg"}, _enc(images["cat"], "JPEG"))}
    with LocalServer(routes) as server:
        yield server


def extract(site, path, browser, **settings):
    s = Settings(allowed_origins=frozenset({origin_of(site.url)}), **{"scan_budget_s": 30, **settings})
    extraction = extract_page(site.url + path, fetcher=Fetcher(s.net_policy()), limits=s.web_limits(), browser=browser)
    return extraction, list(extraction.candidates)


def test_a_page_that_navigates_away_keeps_its_images(site, browser_service):
    _, candidates = extract(site, "/leaves.html", browser_service)
    found = {c.ref.replace(site.url, ""): c for c in candidates}
    assert found["/img/retina.jpg"].status == "ok" and found["/img/cat.jpg"].status == "ok"


def test_a_page_over_the_document_limit_is_called_too_large(site, browser_service):
    with pytest.raises(ResponseTooLarge, match="over the limit of 100,000"):
        extract(site, "/huge.html", browser_service, max_document_bytes=100_000)


def test_a_page_replacing_javascript_builtins_cannot_blind_discovery(site, browser_service):
    _, candidates = extract(site, "/sabotage.html", browser_service)
    found = {c.ref.replace(site.url, ""): (c.found_by, c.status) for c in candidates}
    assert found["/img/retina.jpg"] == ("img", "ok") and found["/img/cat.jpg"] == ("css-background", "ok")


def test_a_page_that_stops_answering_still_reports_what_it_loaded(browser_service):
    images = _images()
    busy = b"""<!doctype html><html><body><img src="/img/retina.jpg" alt="fundus">
<script>setTimeout(() => { while (true) {} }, 300);</script></body></html>"""
    routes = {"/busy.html": (200, {"Content-Type": "text/html"}, busy),
              "/img/retina.jpg": (200, {"Content-Type": "image/jpeg"}, _enc(images["retina"], "JPEG"))}
    with LocalServer(routes) as server:
        extraction, candidates = extract(server, "/busy.html", browser_service, scan_budget_s=8)
    assert any("stopped answering" in n for n in extraction.notes), extraction.notes
    assert [c.status for c in candidates if c.ref.endswith("/img/retina.jpg")] == ["ok"]


def test_a_page_that_allocates_without_end_crashes_only_its_renderer(browser_service):
    greedy = b"""<!doctype html><html><body><script>const keep = [];
setTimeout(() => { while (true) keep.push(new Array(1e6).fill(1.5)); }, 200);</script></body></html>"""
    with LocalServer({"/greedy.html": (200, {"Content-Type": "text/html"}, greedy)}) as server:
        extraction, candidates = extract(server, "/greedy.html", browser_service, scan_budget_s=20)
    assert any("crashed its renderer" in n for n in extraction.notes), extraction.notes
    assert browser_service.run(lambda b: page_title(b), timeout=30) == "ok"  # the browser itself lives on

