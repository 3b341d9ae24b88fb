"""The app's screenshots in docs/, taken in real Chromium at 1280x900 against a local app (the
bundled model) and the local test site of the tests:

- docs/app-empty.png: the welcome message and its examples;
- docs/app-working.png: a page being scanned, with its progress line;
- docs/app-result.png: the scan's results beside the chat (card, downloads, gallery, table).

Run: .venv/bin/python tools/app_screenshots.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medpic.app import build_app  # noqa: E402
from medpic.settings import Settings, origin_of  # noqa: E402
from medpic.sources.browser import CHROMIUM_ARGS, find_chromium  # noqa: E402
from tests.localserver import free_port  # noqa: E402
from tests.site import serve_site  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with serve_site() as site:
        _shoot(site, args.out)
    print(f"wrote {args.out}/app-empty.png, app-working.png, app-result.png")


def _shoot(site, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    demo = build_app(Settings(allowed_origins=frozenset({origin_of(site.url)})))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium().path, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.locator("#chat-input textarea")
            box.wait_for(timeout=60_000)
            page.screenshot(path=str(out / "app-empty.png"))
            box.fill(f"scan {site.url}/gallery.html")
            box.press("Enter")
            page.get_by_text("Scanning", exact=False).first.wait_for(timeout=30_000)
            time.sleep(1.0)
            page.screenshot(path=str(out / "app-working.png"))
            page.locator("#gallery img").first.wait_for(timeout=120_000)
            time.sleep(2.0)  # thumbnails and the table settle
            page.screenshot(path=str(out / "app-result.png"))
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
