"""The browser extension, loaded unpacked in real Chromium, against a local MedPic app and the
local test site: badges on exactly the medical images, blur, automatic mode, a stopped backend."""

import importlib.util
import json
import zipfile

import pytest

from medpic.app import MedPicService, build_app
from medpic.sources.browser import CHROMIUM_ARGS, find_chromium
from medpic.model.classifier import Classifier
from medpic.settings import origin_of
from medpic.settings import REPO_ROOT, Settings
from tests.localserver import free_port

pytestmark = pytest.mark.browser
REPORTS = REPO_ROOT / "reports"
DISCOVER_JS = REPO_ROOT / "medpic" / "sources" / "page" / "discover.js"


def build_tool():
    """tools/build_extension.py, which assembles the extension from extension/ and the package."""
    spec = importlib.util.spec_from_file_location("build_extension", REPO_ROOT / "tools" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def backend(site):
    settings = Settings(allowed_origins=frozenset({origin_of(site.url)}))
    service = MedPicService(settings, classifier=Classifier.load(settings))
    demo = build_app(settings, service=service)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", demo
    demo.close()
    service.close()


@pytest.fixture(scope="module")
def extension_dir(tmp_path_factory):
    """The extension as the user has it after saving a local backend in the options: the
    backend's host granted (Chromium's permission prompt cannot be clicked headless)."""
    folder = tmp_path_factory.mktemp("ext") / "medpic"
    build_tool().assemble(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["host_permissions"] = ["http://127.0.0.1/*"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def chromium(extension_dir, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=find_chromium().path, headless=False,
            args=["--headless=new", f"--disable-extensions-except={extension_dir}", f"--load-extension={extension_dir}",
                  *CHROMIUM_ARGS], viewport={"width": 1280, "height": 900})
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        yield context, worker
        context.close()


def configure(worker, **settings):
    worker.evaluate("s => chrome.storage.local.set(s)", settings)


def open_fixture(context, worker, site):
    page = context.new_page()
    page.goto(site.url + "/ext.html")
    page.wait_for_load_state("networkidle")
    tab_id = worker.evaluate("async (u) => (await chrome.tabs.query({url: u}))[0].id", site.url + "/ext.html")
    return page, tab_id


def badged(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('#medpic-overlay .medpic-badge:not(.medpic-note)')]
        .map(b => document.querySelector(`[data-medpic-key="${b.dataset.for}"]`).dataset.expected)""")


def test_badges_on_exactly_the_medical_images_and_blur(chromium, backend, site):
    context, worker = chromium
    configure(worker, backend=backend[0], threshold=0.5, blur=False, autoScan=False, token="")
    page, tab_id = open_fixture(context, worker, site)
    result = worker.evaluate("id => medpicScan(id)", tab_id)
    assert "error" not in result, result
    assert result["checked"] == 8  # the 20 px image is not checked
    page.wait_for_selector("#medpic-overlay .medpic-badge")
    assert sorted(badged(page)) == ["medical"] * 4
    assert result["medical"] == 4
    text = page.locator("#medpic-overlay .medpic-badge").first.inner_text()
    assert text.startswith("Medical ") and text.endswith("%")

    # badges follow their image when the layout moves
    first = page.locator("#medpic-overlay .medpic-badge").first
    before = first.bounding_box()
    page.evaluate("document.querySelector('h1').style.marginTop = '200px'")
    page.wait_for_timeout(200)
    assert first.bounding_box()["y"] == pytest.approx(before["y"] + 200, abs=30)

    # blur on: flagged images only; re-applied when the site rewrites the style; click reveals
    worker.evaluate("([id]) => setBlur(id, true)", [tab_id])
    page.wait_for_timeout(200)
    filters = page.evaluate("() => [...document.querySelectorAll('[data-expected]')].map(e => [e.dataset.expected, getComputedStyle(e).filter])")
    assert all(("blur" in f) == (kind == "medical") for kind, f in filters), filters
    retina = page.locator('img[alt="fundus"]')
    retina.evaluate("e => e.setAttribute('style', '')")
    page.wait_for_timeout(100)
    assert "blur" in retina.evaluate("e => getComputedStyle(e).filter")
    retina.click()
    assert retina.evaluate("e => getComputedStyle(e).filter") == "none"
    worker.evaluate("([id]) => setBlur(id, false)", [tab_id])
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "extension-flagged-page.png"), full_page=True)

    popup = context.new_page()
    popup.set_viewport_size({"width": 340, "height": 520})
    popup.goto(f"{worker.url.rsplit('/', 1)[0]}/popup.html?tab={tab_id}")
    popup.wait_for_selector("#summary")
    assert "8 images checked, 4 look medical" in popup.inner_text("#summary")
    popup.screenshot(path=str(REPORTS / "extension-popup.png"))
    popup.close()
    page.close()


def test_late_images_are_checked_in_automatic_mode(chromium, backend, site):
    context, worker = chromium
    configure(worker, backend=backend[0], threshold=0.5, blur=False, autoScan=True, token="")
    page, tab_id = open_fixture(context, worker, site)
    worker.evaluate("id => medpicScan(id)", tab_id)  # inject; automatic mode is on from now
    page.wait_for_selector("#medpic-overlay .medpic-badge")
    before = len(badged(page))
    page.evaluate("""() => { const i = new Image(); i.src = '/img/pseudo-ct.png?late=1'; i.dataset.expected = 'medical';
        i.style.cssText = 'width: 220px; height: 160px'; document.getElementById('late').append(i);
        const j = new Image(); j.src = '/img/coffee.jpg?late=1'; j.dataset.expected = 'non-medical';
        j.style.cssText = 'width: 220px; height: 160px'; document.getElementById('late').append(j); }""")
    page.wait_for_function(f"document.querySelectorAll('#medpic-overlay .medpic-badge').length > {before}", timeout=30_000)
    page.wait_for_timeout(1500)
    assert sorted(badged(page)) == ["medical"] * (before + 1)
    configure(worker, autoScan=False)
    page.close()


def test_stopped_backend_is_said_plainly_in_the_popup(chromium, site):
    context, worker = chromium
    # a threshold not used before, so no cached verdict can stand in for the backend
    configure(worker, backend=f"http://127.0.0.1:{free_port()}", autoScan=False, threshold=0.55)
    page, tab_id = open_fixture(context, worker, site)
    popup = context.new_page()
    popup.goto(f"{worker.url.rsplit('/', 1)[0]}/popup.html?tab={tab_id}")
    popup.click("#scan")
    popup.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "not reachable" in popup.inner_text("#error")
    assert page.title() == "MedPic extension fixture"  # the page is untouched
    popup.close()
    page.close()


def test_manifest_asks_for_minimal_permissions():
    manifest = json.loads((REPO_ROOT / "extension" / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    assert sorted(manifest["permissions"]) == ["activeTab", "contextMenus", "scripting", "storage"]
    assert "host_permissions" not in manifest
    for path in ["background.js", "content.js", "popup.html", "options.html", *manifest["icons"].values()]:
        assert (REPO_ROOT / "extension" / path).is_file(), path


def test_the_package_ships_the_servers_discovery_rules(tmp_path, monkeypatch):
    """One copy of the rules: the built extension carries discover.js as the package has it, and
    content.js keeps no rules of its own."""
    tool = build_tool()
    monkeypatch.setattr(tool, "UNPACKED", tmp_path / "medpic-extension")
    monkeypatch.setattr(tool, "OUT", tmp_path / "medpic-extension.zip")
    assert tool.main() == 0
    with zipfile.ZipFile(tmp_path / "medpic-extension.zip") as archive:
        assert archive.read("discover.js") == DISCOVER_JS.read_bytes()
        assert archive.read("content.js") == (REPO_ROOT / "extension" / "content.js").read_bytes()
    assert (tmp_path / "medpic-extension" / "discover.js").read_bytes() == DISCOVER_JS.read_bytes()
    assert not (REPO_ROOT / "extension" / "discover.js").exists()  # never a second copy in the source
    content = (REPO_ROOT / "extension" / "content.js").read_text()
    for own_rule in ("data-original", "data-lazy", "largest(", "backgroundImage", "xlink:href", "poster"):
        assert own_rule not in content, own_rule
    assert "__medpicDiscovery.offers" in content

