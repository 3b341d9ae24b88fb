"""The extension's screenshots in docs/, taken in real Chromium with the extension loaded unpacked,
against a local MedPic app (the bundled model) and the local test site of the tests:

- docs/extension-blurred.png: a page in automatic mode with blur on (1280x900): medical images
  hidden under their veil, one shown again with its badge and "hide";
- docs/extension-popup.png: the popup on that page, at its natural size;
- docs/extension-options.png: the options after "Test connection" (1280x900).

Run: .venv/bin/python tools/extension_screenshots.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.extension.ext_checks import overlay_of, wait_marks  # noqa: E402
from tests.extension.ext_harness import (configure, extension_url, launch, open_page, open_popup,  # noqa: E402
                                         serve_backend, serve_sites, unpacked)
from tests.localserver import free_port  # noqa: E402

POPUP_WIDTH = 320  # popup.css sets the body's width; the height follows the content


def backend_port() -> int:
    """7860, what `make run` uses and the README names, when it is free: the options page shows it."""
    with socket.socket() as s:
        return 7860 if s.connect_ex(("127.0.0.1", 7860)) else free_port()


def blurred_page(context, worker, site_url: str, out: Path):
    page, tab_id = open_page(context, worker, site_url + "/blur-first.html")
    wait_marks(page, {"fundus": "hidden", "coffee": "clear", "mri": "hidden", "carousel": "clear"})
    overlay_of(page, "mri").click()  # one shown again: its badge and "hide"
    page.mouse.move(0, 0)
    page.screenshot(path=str(out / "extension-blurred.png"))
    return page, tab_id


def popup(context, worker, tab_id: int, out: Path) -> None:
    shown = open_popup(context, worker, tab_id, size=(POPUP_WIDTH, 600))
    shown.wait_for_selector("#result:not([hidden])")
    shown.wait_for_function("() => [...document.querySelectorAll('#thumbs img')].every(i => i.complete)")
    height = shown.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
    shown.set_viewport_size({"width": POPUP_WIDTH, "height": height})
    shown.screenshot(path=str(out / "extension-popup.png"))
    shown.close()


def options(context, worker, backend_url: str, out: Path) -> None:
    page = context.new_page()
    page.goto(extension_url(worker, "options.html"))
    page.fill("#backend", backend_url.replace("http://", ""))  # typed as people do: http:// is added
    page.click("#test")
    page.wait_for_selector("#connection.ok", timeout=20_000)
    page.screenshot(path=str(out / "extension-options.png"))
    page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with serve_sites() as (site, _), serve_backend(site.url, port=backend_port()) as backend, \
            tempfile.TemporaryDirectory() as tmp:
        with launch(unpacked(Path(tmp) / "extension"), Path(tmp) / "profile") as (context, worker):
            configure(worker, backend=backend.url, blur=True, autoScan=True)
            page, tab_id = blurred_page(context, worker, site.url, out)
            popup(context, worker, tab_id, out)
            page.close()
            options(context, worker, backend.url, out)
    for name in ("extension-blurred.png", "extension-popup.png", "extension-options.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
