"""Extension speed (a benchmark, not a test). Run: .venv/bin/python bench/extension_scan.py

A local page with 50 images from the shared dataset, a local MedPic app (bundled model), and the
unpacked extension in Chromium: the time from the scan request (what the popup's button sends)
to the last badge on the page, cold (nothing cached) and warm (verdicts cached by URL).
Issue 6's goal: <= 5 s with a local backend.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medpic.app import MedPicService, build_app  # noqa: E402
from medpic.sources.browser import CHROMIUM_ARGS, find_chromium  # noqa: E402
from medpic.training.data import load_manifest  # noqa: E402
from medpic.settings import origin_of  # noqa: E402
from tools.build_extension import assemble  # noqa: E402
from medpic.settings import Settings  # noqa: E402
from tests.localserver import LocalServer, free_port  # noqa: E402



def main() -> None:
    from playwright.sync_api import sync_playwright

    settings = Settings.from_env()
    examples = load_manifest(settings.dataset_dir)
    chosen = [examples[i] for i in np.random.default_rng(2).choice(len(examples), 50, replace=False)]
    html = "".join(f'<img src="/img/{i}.jpg" style="width:200px;height:150px;margin:4px">' for i in range(50))
    routes = {"/page.html": (200, {"Content-Type": "text/html"}, f"<!doctype html><body>{html}</body>".encode())}
    routes.update({f"/img/{i}.jpg": (200, {"Content-Type": "image/jpeg"}, e.path.read_bytes())
                   for i, e in enumerate(chosen)})
    expected_medical = sum(e.label for e in chosen)
    with LocalServer(routes) as site, tempfile.TemporaryDirectory() as tmp:
        app_settings = settings.with_(allowed_origins=frozenset({origin_of(site.url)}))
        service = MedPicService(app_settings)
        demo = build_app(app_settings, service=service)
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        ext = Path(tmp) / "ext"
        assemble(ext)  # extension/ plus the discovery rules it shares with the package
        manifest = json.loads((ext / "manifest.json").read_text())
        manifest["host_permissions"] = ["http://127.0.0.1/*"]  # as granted when the user saves a local backend
        (ext / "manifest.json").write_text(json.dumps(manifest))
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(Path(tmp) / "profile"), executable_path=find_chromium(settings.chromium).path, headless=False,
                args=["--headless=new", f"--disable-extensions-except={ext}", f"--load-extension={ext}", *CHROMIUM_ARGS])
            worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
            worker.evaluate("s => chrome.storage.local.set(s)", {"backend": f"http://127.0.0.1:{port}", "threshold": 0.5})
            timings = {}
            for run in ("cold", "warm"):
                page = context.new_page()
                page.goto(site.url + "/page.html")
                page.wait_for_load_state("networkidle")
                tab = worker.evaluate("async u => (await chrome.tabs.query({url: u}))[0].id", site.url + "/page.html")
                t0 = time.perf_counter()
                result = worker.evaluate("id => medpicScan(id)", tab)
                badges = page.locator("#medpic-overlay .medpic-badge").count()
                timings[run] = {"seconds": round(time.perf_counter() - t0, 2), "checked": result.get("checked"),
                                "badges": badges, "error": result.get("error")}
                page.close()
            context.close()
        demo.close()
        service.close()
    print(json.dumps({"images": 50, "medical_by_dataset_label": expected_medical, **timings}, indent=2))


if __name__ == "__main__":
    main()
