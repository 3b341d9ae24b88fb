"""Web page scan speed (a benchmark, not a test). Run: .venv/bin/python bench/scan_web.py

A local page with 100 images from the shared dataset, half of them lazy-loaded (every other one
`loading=lazy`, every fourth behind a data-src + IntersectionObserver loader), measures:
- time to the full report (`extract_page` + judging, browser mode);
- Chromium merely loading and scrolling the same page to the bottom, its requests made by Playwright
  (MedPic's Chromium has no network of its own) (the floor), and the ratio
  (issue goal <= 1.5);
- how many of the 100 a plain `requests` + `<img src>` scraper finds (what the old notebook did).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.sources.browser import BrowserService  # noqa: E402
from medpic.net.fetch import Fetcher  # noqa: E402
from medpic.sources.page.extract import extract_page  # noqa: E402
from medpic.model.classifier import Classifier  # noqa: E402
from medpic.training.data import load_manifest  # noqa: E402
from medpic.scan import JudgeOptions, scan  # noqa: E402
from medpic.settings import Settings  # noqa: E402
from tests.localserver import LocalServer  # noqa: E402

PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="


def page(n: int) -> str:
    parts = ["<!doctype html><html><body><h1>100 images</h1>"]
    for i in range(n):
        if i % 4 == 1:
            tag = f'<img class="lazy" data-src="/img/{i}.jpg" src="{PLACEHOLDER}" width="256" height="256">'
        elif i % 2 == 1:
            tag = f'<img loading="lazy" src="/img/{i}.jpg" width="256" height="256">'
        else:
            tag = f'<img src="/img/{i}.jpg" width="256" height="256">'
        parts.append(f'<div style="margin-bottom: 400px">{tag}</div>')
    parts.append("""<script>const io = new IntersectionObserver(es => es.forEach(e => { if (e.isIntersecting) {
      e.target.src = e.target.dataset.src; io.unobserve(e.target); } }));
      document.querySelectorAll('img.lazy').forEach(i => io.observe(i));</script></body></html>""")
    return "".join(parts)


def naive_scraper(url: str) -> set[str]:
    """requests + <img src>: the old notebook's approach."""
    settings = Settings(allow_private=True)
    html = Fetcher(settings.net_policy()).get(url, limits=settings.fetch_limits()).data.decode()
    return {urljoin(url, m) for m in re.findall(r'<img[^>]*?\ssrc="([^"]+)"', html) if not m.startswith("data:")}


async def _through_playwright(route) -> None:
    # MedPic's Chromium has no network of its own: the floor's requests are made by Playwright
    await route.fulfill(response=await route.fetch())


async def load_and_scroll(browser, url: str) -> None:
    context = await browser.new_context()
    await context.route("**/*", _through_playwright)
    page_ = await context.new_page()
    await page_.goto(url, wait_until="domcontentloaded")
    while not await page_.evaluate("() => { window.scrollBy(0, 700); return window.scrollY + innerHeight >= "
                                   "document.documentElement.scrollHeight - 2; }"):
        await page_.wait_for_timeout(100)
    await page_.wait_for_load_state("networkidle")
    await context.close()


def main() -> None:
    settings = Settings.from_env().with_(allow_private=True)
    examples = load_manifest(settings.dataset_dir)
    rng = np.random.default_rng(1)
    chosen = [examples[i] for i in rng.choice(len(examples), 100, replace=False)]
    routes = {"/page.html": (200, {"Content-Type": "text/html"}, page(100).encode())}
    for i, e in enumerate(chosen):
        routes[f"/img/{i}.jpg"] = (200, {"Content-Type": "image/jpeg", "Cache-Control": "no-store"},
                                   e.path.read_bytes())
    classifier = Classifier.load(settings)
    browser = BrowserService.from_settings(settings)
    with LocalServer(routes) as server:
        url = server.url + "/page.html"
        browser.run(lambda b: load_and_scroll(b, url), timeout=120)  # warm-up: start Chromium
        t0 = time.perf_counter()
        browser.run(lambda b: load_and_scroll(b, url), timeout=120)
        floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        extraction = extract_page(url, fetcher=Fetcher(settings.net_policy()), limits=settings.web_limits(),
                                  browser=browser)
        report = scan(extraction, classifier, JudgeOptions.from_settings(settings))
        full = time.perf_counter() - t0
        found = {r.image for r in report.rows if r.image.startswith(server.url + "/img/")}
        naive = naive_scraper(url)
    browser.close()
    print(json.dumps({
        "images_on_page": 100,
        "medpic_found": len(found),
        "medpic_rows_ok": report.summary().ok,
        "full_report_s": round(full, 2),
        "chromium_load_and_scroll_s": round(floor, 2),
        "ratio_to_load_and_scroll": round(full / floor, 2),
        "naive_requests_img_src_found": len(naive),
        "notes": list(extraction.notes),
    }, indent=2))


if __name__ == "__main__":
    main()
