"""Setting the extension up, in real Chromium: the options open on install, "Test connection" asks
the backend's health endpoint, an unreachable backend is said on saving, a local address typed
without a scheme gets http://, and the permission prompt is explained before it appears."""

import pytest

from tests.extension.ext_checks import eventually
from tests.extension.ext_harness import extension_url
from tests.localserver import free_port

pytestmark = pytest.mark.browser


def options(context, worker):
    page = context.new_page()
    page.goto(extension_url(worker, "options.html"))
    page.wait_for_function("() => document.getElementById('backend').value !== ''")  # settings loaded
    return page


def test_the_options_open_on_install(chromium):
    context, worker = chromium
    eventually(lambda: any(p.url == extension_url(worker, "options.html") for p in context.pages), True, timeout_s=10)


def test_test_connection_names_the_model_and_a_bare_localhost_gets_http(chromium, backend):
    context, worker = chromium
    page = options(context, worker)
    port = backend.url.rsplit(":", 1)[1]
    page.fill("#backend", f"localhost:{port}")
    page.click("#test")
    page.wait_for_selector("#connection.ok, #connection.bad", timeout=20_000)
    assert page.input_value("#backend") == f"http://localhost:{port}"
    text = page.inner_text("#connection")
    assert text.startswith("Connected:") and backend.service.classifier.describe()["name"] in text, text

    page.click("#save")
    page.wait_for_function("() => document.getElementById('saved').textContent.includes('Connected')", timeout=20_000)
    assert worker.evaluate("chrome.storage.local.get('backend')")["backend"] == f"http://localhost:{port}"
    page.close()


def test_saving_an_unreachable_backend_says_so(chromium):
    context, worker = chromium
    page = options(context, worker)
    port = free_port()
    page.fill("#backend", f"127.0.0.1:{port}")
    page.click("#save")
    page.wait_for_function("() => document.getElementById('problem').textContent !== ''", timeout=20_000)
    assert "not reachable" in page.inner_text("#problem")
    assert page.inner_text("#saved") == ""
    assert worker.evaluate("chrome.storage.local.get('backend')")["backend"] == f"http://127.0.0.1:{port}"
    page.close()


def test_the_permission_prompt_is_explained_before_it_appears(chromium):
    context, worker = chromium
    page = options(context, worker)
    note = page.locator("#permissions")
    page.fill("#backend", "medpic.example.org")  # not granted: saving would make the browser ask
    eventually(lambda: "your browser will ask" in note.inner_text() and "medpic.example.org" in note.inner_text(), True)
    page.check("#autoScan")
    eventually(lambda: "all sites" in note.inner_text(), True)
    page.uncheck("#autoScan")
    page.fill("#backend", "http://127.0.0.1:7860")  # already granted: nothing to explain
    eventually(lambda: note.inner_text(), "")
    page.close()


@pytest.mark.parametrize(("typed", "used"), [
    ("localhost:7860", "http://localhost:7860"),
    ("127.0.0.1:7860/", "http://127.0.0.1:7860"),
    ("medpic-medpic.hf.space", "https://medpic-medpic.hf.space"),
    (" https://example.org/medpic/ ", "https://example.org/medpic"),
    ("ftp://example.org", "error"),
])
def test_backend_addresses_as_people_type_them(chromium, typed, used):
    _, worker = chromium  # common.js, which the service worker loads too
    given = worker.evaluate("t => { try { return medpicBackendUrl(t); } catch (e) { return 'error'; } }", typed)
    assert given == used
