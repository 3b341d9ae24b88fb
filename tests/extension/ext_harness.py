"""The browser extension as the tests and tools/extension_screenshots.py drive it: assembled unpacked
with the host permissions a user grants by saving a local backend, loaded into real Chromium, with
a local MedPic app as its backend and the local test site (plus this folder's pages) to look at."""

from __future__ import annotations

import importlib.util
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from medpic.app import MedPicService, build_app
from medpic.model.classifier import Classifier
from medpic.settings import REPO_ROOT, Settings, origin_of
from medpic.sources.browser import CHROMIUM_ARGS, find_chromium
from tests.extension.ext_pages import private_routes, site_routes
from tests.localserver import LocalServer, free_port

# What saving a local backend in the options grants (Chromium's permission prompt cannot be
# clicked headless): the test site, the backend and the "private" site all live on these hosts.
GRANTED = ["http://127.0.0.1/*", "http://localhost/*"]
VIEWPORT = {"width": 1280, "height": 900}


def build_tool():
    """tools/build_extension.py, which assembles the extension from extension/ and the package."""
    spec = importlib.util.spec_from_file_location("build_extension", REPO_ROOT / "tools" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unpacked(folder: Path) -> Path:
    """The extension in ``folder``, as a user has it after saving a local backend."""
    build_tool().assemble(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["host_permissions"] = GRANTED
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@dataclass
class Backend:
    url: str
    service: MedPicService


@contextmanager
def serve_backend(site_url: str, port: int | None = None) -> Iterator[Backend]:
    """A local MedPic app that may fetch from the test site (and no other private address)."""
    settings = Settings(allowed_origins=frozenset({origin_of(site_url)}))
    service = MedPicService(settings, classifier=Classifier.load(settings))
    demo = build_app(settings, service=service)
    port = port or free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Backend(f"http://127.0.0.1:{port}", service)
    finally:
        demo.close()
        service.close()


@contextmanager
def serve_sites() -> Iterator[tuple[LocalServer, LocalServer]]:
    """The test site with this folder's pages, and a "private" site the backend may not fetch from."""
    with LocalServer(site_routes()) as site, LocalServer(private_routes()) as private:
        yield site, private


@contextmanager
def launch(extension: Path, profile: Path):
    """Chromium with the extension loaded: (context, the extension's service worker)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=find_chromium().path, headless=False, viewport=VIEWPORT,
            args=["--headless=new", f"--disable-extensions-except={extension}", f"--load-extension={extension}",
                  *CHROMIUM_ARGS])
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        try:
            yield context, worker
        finally:
            context.close()


def extension_url(worker, page: str) -> str:
    return f"{worker.url.rsplit('/', 1)[0]}/{page}"


def configure(worker, **settings) -> None:
    """Change settings and wait until automatic mode follows them (the service worker's own
    reaction to the change runs too, in the same queue)."""
    worker.evaluate("async s => { await chrome.storage.local.set(s); await syncAutoScan(); }", settings)


def open_page(context, worker, url: str):
    """A page of a site, loaded, and its tab id."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    tab_id = worker.evaluate("async (u) => (await chrome.tabs.query({url: u}))[0].id", page.url)
    return page, tab_id


def open_popup(context, worker, tab_id: int, size=(320, 560)):
    popup = context.new_page()
    popup.set_viewport_size({"width": size[0], "height": size[1]})
    popup.goto(extension_url(worker, f"popup.html?tab={tab_id}"))
    return popup
