"""The Gradio app in-process on 127.0.0.1, called three ways: gradio_client, plain HTTP as the
extension does, and the chat UI in real Chromium."""

import base64
import json
import urllib.error
import urllib.request

import pytest
from gradio_client import Client, handle_file

from medpic.app import MedPicService, build_app
from medpic.model.classifier import Classifier
from medpic.settings import origin_of
from medpic.settings import Settings
from tests.conftest import encode
from tests.pdf_fixtures import build_fixture_pdf
from tests.localserver import free_port

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def shared(browser_service):
    """One classifier and one browser for every app in this module."""
    return Classifier.load(Settings()), browser_service


def launch(settings, shared):
    classifier, browser = shared
    demo = build_app(settings, service=MedPicService(settings, classifier=classifier, browser=browser))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_error=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def app(site, shared):
    # The guard stays ON; only the local test site's origin is exempt.
    settings = Settings(allowed_origins=frozenset({origin_of(site.url)}))
    demo, url = launch(settings, shared)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(app):
    return Client(app, verbose=False)


@pytest.fixture
def files(tmp_path, retina, cat):
    paths = {"retina": tmp_path / "retina.jpg", "cat": tmp_path / "cat.png", "broken": tmp_path / "broken.jpg",
             "pdf": tmp_path / "paper.pdf", "fake_pdf": tmp_path / "fake.pdf"}
    paths["retina"].write_bytes(encode(retina.resize((300, 300)), "JPEG"))
    paths["cat"].write_bytes(encode(cat, "PNG"))
    paths["broken"].write_bytes(encode(cat, "JPEG")[:2000])
    paths["pdf"].write_bytes(build_fixture_pdf()[0])
    paths["fake_pdf"].write_bytes(b"<html>not a pdf</html>")
    return paths


def test_api_lists_the_named_endpoints(app):
    info = json.loads(urllib.request.urlopen(app + "gradio_api/info").read())
    assert {"/scan_url", "/scan_pdf", "/classify_images", "/classify_urls", "/health"} <= set(info["named_endpoints"])


def test_classify_images_keeps_order_and_reports_errors(client, files):
    report, csv_path = client.predict([handle_file(str(files[k])) for k in ("retina", "broken", "cat")], None,
                                      api_name="/classify_images")
    rows = report["images"]
    assert [r["image"] for r in rows] == ["retina.jpg", "broken.jpg", "cat.png"]
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[0]["label"] == "medical" and rows[2]["label"] == "non-medical"
    assert rows[1]["reason"].startswith("corrupt image")
    assert report["summary"] == {"found": 3, "ok": 2, "medical": 1, "skipped": 0, "errors": 1}
    assert open(csv_path).readline().startswith("source,image,page,found_by,alt,width,height,sha256,label")


def test_scan_pdf_upload(client, files):
    report, _ = client.predict(handle_file(str(files["pdf"])), 0.5, api_name="/scan_pdf")
    assert report["source"] == "paper.pdf" and report["summary"]["found"] == 13
    assert any(r["page"] == 15 and r["label"] == "medical" for r in report["images"])


def test_scan_url_on_the_local_site(client, site):
    report, _ = client.predict(site.url + "/gallery.html", None, api_name="/scan_url")
    by = {r["image"].replace(site.url, ""): r for r in report["images"]}
    assert by["/img/retina.jpg"]["label"] == "medical" and by["/img/js-cat.jpg"]["label"] == "non-medical"


def test_classify_urls_in_order_with_data_uris_and_guard(client, site, retina):
    data_uri = "data:image/png;base64," + base64.b64encode(encode(retina.resize((128, 128)), "PNG")).decode()
    urls = [site.url + "/img/js-cat.jpg", data_uri, site.url + "/img/missing.png", "http://10.0.0.1/x.png"]
    report, _ = client.predict(urls, site.url + "/gallery.html", None, api_name="/classify_urls")
    rows = report["images"]
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error"]
    assert rows[0]["label"] == "non-medical" and rows[1]["label"] == "medical"
    assert rows[2]["reason"].startswith("HTTP 404") and "private or internal address" in rows[3]["reason"]
    assert all(r["source"] == site.url + "/gallery.html" for r in rows)


def call_http(app: str, name: str, data: list, headers: dict | None = None) -> tuple[str, object]:
    """What the extension does: POST the call, then read the event stream."""
    request = urllib.request.Request(f"{app}gradio_api/call/{name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    event_id = json.loads(urllib.request.urlopen(request).read())["event_id"]
    stream = urllib.request.urlopen(urllib.request.Request(f"{app}gradio_api/call/{name}/{event_id}",
                                                           headers=headers or {})).read().decode()
    event = data_line = None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data_line = line.split(":", 1)[1].strip()
    return event, json.loads(data_line) if data_line else None


def test_plain_http_as_the_extension_calls_it(app, site):
    event, payload = call_http(app, "classify_urls", [[site.url + "/img/retina.jpg"], site.url, None])
    assert event == "complete"
    assert payload[0]["images"][0]["label"] == "medical"


@pytest.mark.parametrize("name,data,message", [
    ("scan_url", ["not a url", None], "not a web address"),
    ("scan_url", ["http://127.0.0.1:9/", None], "private or internal address"),
    ("classify_urls", [[], "", None], "no image URLs"),
    ("classify_images", [[], None], "no images given"),
    ("scan_url", ["https://example.org/", 7], "threshold"),
])
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(app, name, data, message):
    event, payload = call_http(app, name, data)
    assert event == "error"
    assert message in json.dumps(payload)
    assert call_http(app, "health", [])[0] == "complete"


def test_non_pdf_upload_is_refused(client, files):
    with pytest.raises(Exception, match="not a PDF"):
        client.predict(handle_file(str(files["fake_pdf"])), None, api_name="/scan_pdf")


def test_the_example_page_is_served_but_not_scannable_by_strangers(app, client):
    page = urllib.request.urlopen(app + "medpic-examples/page.html", timeout=10).read().decode()
    assert "<img" in page and "Figure 1" in page
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(app + "medpic-examples/../../etc/passwd", timeout=10)
    assert missing.value.code in (400, 404)
    with pytest.raises(Exception, match="private|refused|not allowed"):  # the API's guard is unchanged
        client.predict(app + "medpic-examples/page.html", None, api_name="/scan_url")


def test_health_says_where_the_model_came_from(client):
    health = client.predict(api_name="/health")
    assert health["model"]["origin"] == "bundled" and health["browser"]["available"] is True
    assert health["network_guard"] is True


def test_token_is_required_when_configured(site, shared):
    demo, url = launch(Settings(api_token="s3cret", allowed_origins=frozenset({origin_of(site.url)})), shared)
    try:
        for headers in ({}, {"X-MedPic-Token": "wrong"}):
            with pytest.raises(urllib.error.HTTPError) as refused:
                call_http(url, "health", [], headers)
            assert refused.value.code == 401 and "X-MedPic-Token" in refused.value.read().decode()
        assert call_http(url, "health", [], {"X-MedPic-Token": "s3cret"})[0] == "complete"
        assert Client(url, headers={"X-MedPic-Token": "s3cret"}, verbose=False).predict(api_name="/health")["status"] == "ok"
    finally:
        demo.close()


_ROWS = "Number(document.querySelector('#results-table [role=grid]').getAttribute('aria-rowcount')) - 1"


def _table_rows(page) -> int:
    """Lines of the results table (the grid counts them, whether or not they are scrolled into view)."""
    return page.evaluate(_ROWS)


def test_chat_ui_in_chromium(app, site):
    """As a person uses it at 1280x900: results beside the chat and above the fold, every image in
    the table, the filter and the strictness slider re-rendering what is on screen, names that say
    the source, and a welcome example that runs when clicked."""
    from playwright.sync_api import sync_playwright

    from medpic.sources.browser import CHROMIUM_ARGS, find_chromium

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium().path, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(app)
        box = page.locator("#chat-input textarea")
        box.wait_for(timeout=30_000)
        box.fill(f"scan {site.url}/gallery.html")
        box.press("Enter")
        page.locator("#gallery img").first.wait_for(timeout=90_000)
        page.locator("#downloads a").first.wait_for(timeout=30_000)
        assert page.locator("#gallery img").count() >= 5
        assert "medical" in page.locator("#chat").inner_text()
        links = [a.get_attribute("href") for a in page.locator("#downloads a").all()]
        assert any(h and h.endswith(".csv") and "medpic-127.0.0.1-" in h for h in links)  # names say the source
        for part in ("#result-card", "#downloads", "#gallery", "#results-table", "#chat"):  # side by side, in view
            box_of = page.locator(part).bounding_box()
            assert box_of and box_of["y"] < 900, (part, box_of)
        assert page.locator("#gallery").bounding_box()["x"] > page.locator("#chat").bounding_box()["x"] + 300

        page.wait_for_function(f"{_ROWS} >= 5")
        everything = _table_rows(page)
        assert page.locator("#results-table img").count() >= 1  # thumbnails in the table too
        page.locator("#filter").get_by_text("Medical", exact=True).click()
        page.wait_for_function(f"{_ROWS} < {everything}")
        medical = _table_rows(page)
        assert 0 < medical < everything and "Not medical" not in page.locator("#results-table").inner_text()

        strictness = page.locator("#strictness input[type=number]")
        strictness.fill("0.95")
        strictness.press("Enter")  # stricter: fewer medical, re-rendered without scanning again
        page.wait_for_function(f"{_ROWS} < {medical}", timeout=30_000)
        assert "strictness 95%" in page.locator("#result-card").inner_text()

        page.goto(app)  # a fresh session: the welcome message and its examples
        page.get_by_text("Four images", exact=False).first.click()
        page.locator("#gallery img").first.wait_for(timeout=90_000)
        assert page.locator("#gallery img").count() == 4

        page.goto(app)  # the app's own example page, on 127.0.0.1, which the guard refuses to anyone else
        page.get_by_text("A web page with", exact=False).first.click()
        page.locator("#gallery img").first.wait_for(timeout=90_000)
        assert "/medpic-examples/page.html" in page.locator("#result-card").inner_text()
        assert page.locator("#gallery img").count() == 7 and "mri slice" in page.locator("#results-table").inner_text()

        phone = browser.new_page(viewport={"width": 390, "height": 844})  # a phone: the panes stack
        phone.goto(app)
        phone.locator("#chat-input textarea").wait_for(timeout=30_000)
        chat, card = phone.locator("#chat").bounding_box(), phone.locator("#result-card").bounding_box()
        assert chat["x"] + chat["width"] <= 390 and card["y"] > chat["y"] + chat["height"]
        browser.close()
