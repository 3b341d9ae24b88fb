"""Every image of a web page: rendered in headless Chromium, or parsed statically.

Rendering finds what JavaScript builds and what loads lazily: the page is scrolled in steps
(one big jump skips images half-way down), the network is given a bounded moment to settle,
then ``discover.js`` reads the DOM (img and srcset, data-src and friends, picture, computed CSS
backgrounds including ``::before``/``::after``, SVG image, video posters, og/twitter images,
links to image files) in the page and its same-origin frames. Every image response the page
loaded is kept, so those bytes are not downloaded twice; the rest are fetched through the
guarded fetcher with the context's cookies and the page as referer.

With the network guard on, every request of the rendered page goes through a route handler that
makes it with MedPic's own fetcher: the address checked is the address connected to, each
redirect hop is checked, bodies are capped, and Chromium receives only the vetted answer. Page
POSTs and WebSockets are refused, service workers blocked, downloads refused, popups closed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

from medpic.errors import BlockedURL, ExtractionError, FetchError
from medpic.extract.candidates import Extraction, ImageCandidate
from medpic.extract.urls import fetch_image_bytes, guarded_bytes, image_extension, short_ref
from medpic.fetch import USER_AGENT, FetchLimits, fetch
from medpic.netguard import check_url

__all__ = ["WebLimits", "Found", "PageCapture", "render_page", "build_candidates", "extract_web"]

log = logging.getLogger(__name__)

DISCOVER_JS = resources.files("medpic.extract").joinpath("discover.js").read_text()


@dataclass(frozen=True)
class WebLimits:
    """Bounds on the work one page may cause."""

    navigation_timeout_s: float = 20.0
    budget_s: float = 90.0  # the whole scan of one page
    max_images: int = 2000
    max_image_bytes: int = 20 * 1024 * 1024
    max_total_bytes: int = 300 * 1024 * 1024
    max_scroll_steps: int = 200
    scroll_step_px: int = 700
    settle_s: float = 2.0
    max_elements: int = 30_000
    fetch_workers: int = 6


@dataclass
class Found:
    """One sighting of an image on the page."""

    url: str
    found_by: str
    order: int
    alt: str = ""
    title: str = ""
    caption: str = ""
    rendered_width: int | None = None
    rendered_height: int | None = None
    natural_width: int | None = None
    natural_height: int | None = None
    group: str | None = None  # sightings from one <img> element share a group


@dataclass
class PageCapture:
    """What rendering (or parsing) a page yielded, before fetching and deduplication."""

    url: str  # the page URL after redirects
    found: list[Found]
    bodies: dict[str, bytes] = field(default_factory=dict)  # image bytes the page itself loaded
    notes: list[str] = field(default_factory=list)
    cookies: str = ""
    static: bool = False
    blocked: list[str] = field(default_factory=list)


# -- rendering --------------------------------------------------------------------------------

_FORWARDED_HEADERS = {"accept", "accept-language", "referer", "cookie", "user-agent", "range"}
_HOP_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive",
                "set-cookie"}


def _with_base(html: bytes, url: str) -> bytes:
    """Pin relative links to ``url`` in a document that was redirected there."""
    if re.search(rb"<base\s", html[:4096], re.I):
        return html
    tag = f'<base href="{url}">'.encode()
    m = re.search(rb"<head[^>]*>", html[:4096], re.I)
    return html[: m.end()] + tag + html[m.end():] if m else tag + html


def _strip_fragment(url: str) -> str:
    if url.startswith(("data:", "blob:")):
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


async def render_page(browser, url: str, *, allow_private: bool, limits: WebLimits,
                      allowed_origins: frozenset[str] = frozenset()) -> PageCapture:
    """Render ``url`` in a fresh context and collect every image sighting and image body."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    started = time.monotonic()
    loop = asyncio.get_running_loop()
    context = await browser.new_context(service_workers="block", accept_downloads=False, user_agent=USER_AGENT,
                                        viewport={"width": 1280, "height": 900})
    notes: list[str] = []
    blocked: list[str] = []
    bodies: dict[str, bytes] = {}
    total = [0]
    reads: list[asyncio.Task] = []
    try:
        # WebSockets carry no images and cannot be vetted hop by hop: refused, guard or not.
        await context.route_web_socket("**/*", lambda ws: ws.close(code=1008, reason="blocked by MedPic"))
        if not allow_private:
            fetch_limits = FetchLimits(timeout_s=limits.navigation_timeout_s, max_bytes=limits.max_image_bytes)

            async def guard(route) -> None:
                """Every request of the page, fetched by MedPic's own guarded fetcher: the
                address checked is the address connected to, every redirect hop is checked,
                bodies are capped. Chromium only ever sees the vetted final answer."""
                request = route.request
                if not request.url.startswith(("http:", "https:")):
                    await route.continue_()
                    return
                if request.method not in ("GET", "HEAD"):
                    await route.abort("blockedbyclient")  # a scanner submits nothing
                    return
                sent = await request.all_headers()
                headers = {k: v for k, v in sent.items() if k.lower() in _FORWARDED_HEADERS}
                try:
                    response = await loop.run_in_executor(None, lambda: fetch(
                        request.url, headers=headers, allowed_origins=allowed_origins, limits=fetch_limits,
                        accept_errors=True))
                except BlockedURL as exc:
                    blocked.append(exc.url or request.url)
                    await route.abort("blockedbyclient")
                    return
                except FetchError:
                    await route.abort("failed")
                    return
                body = response.data
                kept = {k: v for k, v in response.headers if k.lower() not in _HOP_HEADERS}
                if request.is_navigation_request() and response.url != request.url and b"<" in body[:2048]:
                    body = _with_base(body, response.url)  # served at the first URL: keep links right
                await route.fulfill(status=response.status, headers=kept, body=body)

            await context.route("**/*", guard)

        page = await context.new_page()
        context.on("page", lambda popup: asyncio.ensure_future(popup.close()) if popup != page else None)

        async def keep_body(response) -> None:
            try:
                declared = int(response.headers.get("content-length", "0") or 0)
                if declared > limits.max_image_bytes or total[0] + declared > limits.max_total_bytes:
                    return
                body = await response.body()
                if len(body) <= limits.max_image_bytes and total[0] + len(body) <= limits.max_total_bytes:
                    total[0] += len(body)
                    bodies.setdefault(_strip_fragment(response.url), body)
            except (PlaywrightError, ValueError):
                pass

        def on_response(response) -> None:
            kind = response.request.resource_type
            ctype = response.headers.get("content-type", "")
            if response.status < 300 and (kind == "image" or ctype.startswith("image/")):
                reads.append(asyncio.ensure_future(keep_body(response)))

        page.on("response", on_response)
        try:
            response = await page.goto(url, wait_until="domcontentloaded", timeout=limits.navigation_timeout_s * 1000)
        except PlaywrightTimeout:
            raise FetchError(f"timed out after {limits.navigation_timeout_s:g} s loading {url!r}", url=url) from None
        except PlaywrightError as exc:
            if blocked:
                raise BlockedURL(f"refused {blocked[0]!r}: a private or internal address "
                                 "(the network guard allows only public addresses)", url=url) from None
            raise FetchError(f"could not load {url!r}: {str(exc).splitlines()[0]}", url=url) from None
        if response is not None and response.status >= 400:
            raise FetchError(f"HTTP {response.status} from {url!r}", url=url)

        budget_end = started + limits.budget_s * 0.6  # leave time for fetching and classifying
        first_height = await page.evaluate("() => document.documentElement.scrollHeight")
        steps = 0
        for steps in range(1, limits.max_scroll_steps + 1):
            at_bottom = await page.evaluate(
                f"() => {{ window.scrollBy(0, {limits.scroll_step_px}); "
                "return window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2; }")
            await page.wait_for_timeout(100)
            if at_bottom:
                await page.wait_for_timeout(250)  # an infinite list appends here; look once more
                if await page.evaluate("() => window.scrollY + window.innerHeight >= "
                                       "document.documentElement.scrollHeight - 2"):
                    break
            if time.monotonic() > budget_end:
                notes.append(f"scrolling stopped at the time budget after {steps} steps")
                break
        else:
            height = await page.evaluate("() => document.documentElement.scrollHeight")
            why = "the page kept growing" if height > first_height + limits.scroll_step_px else "the page is very long"
            notes.append(f"scrolling stopped after {limits.max_scroll_steps} steps: {why}; images further down "
                         "may be missing")
        try:
            remaining = max(0.2, min(limits.settle_s, budget_end + limits.budget_s * 0.1 - time.monotonic()))
            await page.wait_for_load_state("networkidle", timeout=remaining * 1000)
        except PlaywrightTimeout:
            notes.append("the network had not settled when images were collected")

        found: list[Found] = []
        origin = urlsplit(page.url)[:2]
        frames = [f for f in page.frames if f == page.main_frame or urlsplit(f.url)[:2] == origin]
        for n, frame in enumerate(frames):
            try:
                result = await frame.evaluate(DISCOVER_JS, limits.max_elements)
            except PlaywrightError as exc:
                notes.append(f"a frame could not be read: {str(exc).splitlines()[0]}")
                continue
            if result["truncated"]:
                notes.append(f"only the first {limits.max_elements} elements were checked for CSS backgrounds")
            for record in result["images"]:
                raw_group = record.pop("group", None)
                group = f"{n}:{raw_group}" if raw_group else None
                record["order"] = len(found)
                found.append(Found(group=group, **record))

        blobs = [f.url for f in found if f.url.startswith("blob:")]
        for blob in dict.fromkeys(blobs):
            try:
                encoded = await page.evaluate(
                    "async ([u, cap]) => { const b = await (await fetch(u)).blob(); if (b.size > cap) return null;"
                    " const r = new FileReader(); return await new Promise(ok => { r.onload = () => ok(r.result);"
                    " r.readAsDataURL(b); }); }", [blob, limits.max_image_bytes])
                if encoded:
                    bodies[blob] = base64.b64decode(encoded.split(",", 1)[1])
            except PlaywrightError:
                pass

        if reads:
            await asyncio.wait(reads, timeout=max(0.5, started + limits.budget_s * 0.7 - time.monotonic()))
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in await context.cookies(page.url))
        return PageCapture(page.url, found, bodies, notes, cookies, static=False, blocked=blocked)
    finally:
        for task in reads:
            task.cancel()
        await context.close()


async def rasterize_svgs(browser, svgs: dict[str, bytes], *, max_side: int = 1024) -> dict[str, bytes]:
    """PNG renderings of SVG images by Chromium, with all network access refused."""
    out: dict[str, bytes] = {}
    if not svgs:
        return out
    context = await browser.new_context(service_workers="block", accept_downloads=False)
    try:
        await context.route("**/*", lambda route: route.abort("blockedbyclient"))
        page = await context.new_page()
        for key, data in svgs.items():
            uri = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
            await page.set_content(f'<body style="margin:0;background:white"><img id="i" src="{uri}"></body>')
            size = await page.evaluate(
                f"""async () => {{ const i = document.getElementById('i');
                if (!i.complete) await new Promise(ok => {{ i.onload = ok; i.onerror = ok; }});
                let w = i.naturalWidth || 300, h = i.naturalHeight || 150;
                const s = Math.min(1, {max_side} / Math.max(w, h)); i.width = Math.round(w * s); i.height = Math.round(h * s);
                return [i.width, i.height, i.naturalWidth > 0]; }}""")
            if not size[2]:
                continue
            out[key] = await page.locator("#i").screenshot(type="png")
    finally:
        await context.close()
    return out


# -- from sightings to candidates ----------------------------------------------------------------

_SIZE_SUFFIX = re.compile(r"(?:-\d{2,5}x\d{2,5}|@\d(?:\.\d)?x)(?=\.[A-Za-z0-9]{2,5}$)")
# Within one <img>: the largest srcset entry, then what a lazy loader will put in src, then src
# itself (often a 1x1 placeholder before the loader runs).
_PREFERENCE = {"srcset": 0, "data-srcset": 0, "picture": 1, "data-src": 1, "img": 2}


def variant_key(url: str) -> str:
    """URLs of one picture at several sizes share a key: ``a-300x200.jpg``, ``a@2x.jpg`` -> ``a.jpg``."""
    if url.startswith(("data:", "blob:")):
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), _SIZE_SUFFIX.sub("", parts.path), parts.query, ""))


def _suffix_area(url: str) -> int:
    m = re.search(r"-(\d{2,5})x(\d{2,5})\.[A-Za-z0-9]{2,5}$", urlsplit(url).path)
    if m:
        return int(m.group(1)) * int(m.group(2))
    m = re.search(r"@(\d(?:\.\d)?)x\.[A-Za-z0-9]{2,5}$", urlsplit(url).path)
    return int(float(m.group(1)) * 10**6) if m else 10**9  # the unsuffixed original is the largest


def choose(found: list[Found]) -> list[Found]:
    """One sighting per picture: srcset and size variants keep the largest, in page order."""
    by_url: dict[str, Found] = {}
    for f in found:
        f.url = _strip_fragment(f.url)
        if f.url not in by_url:
            by_url[f.url] = f
        else:  # keep the first sighting, but fill in what the later one knows
            first = by_url[f.url]
            first.alt = first.alt or f.alt
            first.caption = first.caption or f.caption
            first.natural_width = first.natural_width or f.natural_width
            first.natural_height = first.natural_height or f.natural_height
    groups: dict[str, list[Found]] = {}
    for f in by_url.values():
        key = f"group:{f.group}" if f.group else variant_key(f.url)
        groups.setdefault(key, []).append(f)
    # merge element groups whose best members are size variants of each other
    merged: dict[str, Found] = {}
    for members in groups.values():
        best = min(members, key=lambda f: (_PREFERENCE.get(f.found_by, 3), -_suffix_area(f.url), f.order))
        best.order = min(m.order for m in members)
        best.alt = best.alt or next((m.alt for m in members if m.alt), "")
        best.caption = best.caption or next((m.caption for m in members if m.caption), "")
        key = variant_key(best.url)
        if key in merged:
            other = merged[key]
            if _suffix_area(best.url) > _suffix_area(other.url):
                best.order = min(best.order, other.order)
                merged[key] = best
        else:
            merged[key] = best
    return sorted(merged.values(), key=lambda f: f.order)


def build_candidates(capture: PageCapture, *, source: str, limits: WebLimits, allow_private: bool,
                     rasterize=None, allowed_origins: frozenset[str] = frozenset(),
                     deadline: float | None = None) -> tuple[list[ImageCandidate], list[str]]:
    """Dedupe sightings, add network-only images, get every image's bytes; one candidate each.

    Downloads stop at ``deadline`` and at the page's total byte cap; images not fetched by then
    are rows that say so."""
    notes = list(capture.notes)
    chosen = choose(list(capture.found))
    seen = {f.url for f in chosen}
    seen_keys = {variant_key(u) for u in seen}
    for url in capture.bodies:
        if url not in seen and not url.startswith("blob:") and variant_key(url) not in seen_keys:
            chosen.append(Found(url=url, found_by="network", order=len(chosen)))
            seen.add(url)
            seen_keys.add(variant_key(url))

    page = urlsplit(capture.url)
    referer = f"{page.scheme}://{page.netloc}/"  # the origin only: the full page URL is the user's business
    spent = [sum(len(b) for b in capture.bodies.values())]
    lock = threading.Lock()
    deadline = deadline or time.monotonic() + limits.budget_s

    def get_bytes(f: Found) -> bytes:
        if f.url in capture.bodies:  # what the page itself loaded: never downloaded twice
            return capture.bodies[f.url]
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            raise FetchError(f"scan time budget of {limits.budget_s:g} s reached before this image was fetched")
        with lock:
            if spent[0] >= limits.max_total_bytes:
                raise FetchError(f"total bytes limit reached ({limits.max_total_bytes:,} per page)")
        same_host = urlsplit(f.url).netloc == page.netloc
        data = fetch_image_bytes(f.url, max_bytes=limits.max_image_bytes,
                                 timeout_s=min(20.0, limits.navigation_timeout_s, remaining),
                                 allow_private=allow_private, allowed_origins=allowed_origins, referer=referer,
                                 cookies=capture.cookies if same_host else "")
        with lock:
            spent[0] += len(data)
        return data

    selected, overflow = chosen[: limits.max_images], chosen[limits.max_images :]
    if overflow:
        notes.append(f"image limit reached: {len(chosen)} found, {limits.max_images} judged")
    with ThreadPoolExecutor(limits.fetch_workers) as pool:
        results = list(pool.map(guarded_bytes(get_bytes), selected))

    candidates: list[ImageCandidate] = []
    by_hash: dict[str, int] = {}
    svgs: dict[int, bytes] = {}
    total = 0
    for f, (data, error) in zip(selected, results):
        base = dict(source=source, ref=short_ref(f.url),
                    found_by=f.found_by, order=len(candidates), alt=f.alt or f.title or f.caption,
                    width=f.natural_width, height=f.natural_height)
        if error:
            candidates.append(ImageCandidate(**base, status="error", reason=error))
            continue
        total += len(data)
        if total > limits.max_total_bytes:
            candidates.append(ImageCandidate(**base, status="skipped",
                                             reason=f"total bytes limit reached ({limits.max_total_bytes:,})"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in by_hash:  # the same bytes under another URL: one image
            i = by_hash[digest]
            candidates[i] = replace(candidates[i], duplicates=(*candidates[i].duplicates, base["ref"]))
            continue
        by_hash[digest] = len(candidates)
        ext = image_extension(data)
        if ext == "svg":
            svgs[len(candidates)] = data
        candidates.append(ImageCandidate(**base, data=data, extension=ext, sha256=digest))
    for f in overflow:
        candidates.append(ImageCandidate(source=source, ref=f.url, found_by=f.found_by, order=len(candidates),
                                         alt=f.alt, status="skipped",
                                         reason=f"image limit reached ({limits.max_images} per page)"))
    if svgs:
        rendered = rasterize({str(k): v for k, v in svgs.items()}) if rasterize else {}
        for k in svgs:
            png = rendered.get(str(k))
            if png is None:
                candidates[k] = replace(candidates[k], data=None, status="error",
                                         reason="unsupported format: SVG (could not be rasterised)")
            else:  # judged on Chromium's rendering; the original SVG is what gets saved
                from medpic.imaging import decode_image

                candidates[k] = replace(candidates[k], image=decode_image(png).image)
    return candidates, notes


def extract_web(url: str, *, browser=None, allow_private: bool = False, limits: WebLimits = WebLimits(),
                static: bool = False, allowed_origins: frozenset[str] = frozenset()) -> Extraction:
    """Render (or, without a browser, parse) a page and return one candidate per image."""
    check_url(url, allow_private=allow_private, allowed_origins=allowed_origins)
    started = time.monotonic()
    if static or browser is None:
        from medpic.extract.static import parse_page

        capture = parse_page(url, allow_private=allow_private, limits=limits, allowed_origins=allowed_origins)
    else:
        from playwright.async_api import Error as PlaywrightError

        try:
            capture = browser.run(lambda b: render_page(b, url, allow_private=allow_private, limits=limits,
                                                        allowed_origins=allowed_origins),
                                  timeout=limits.budget_s)
        except TimeoutError:
            raise FetchError(f"the page took longer than the scan budget of {limits.budget_s:g} s", url=url) from None
        except PlaywrightError as exc:
            first = (str(exc).strip().splitlines() or ["unknown error"])[0]
            raise ExtractionError(f"the browser failed on this page: {first}") from None

    def rasterize(svgs: dict[str, bytes]) -> dict[str, bytes]:
        if browser is None:
            return {}
        try:
            return browser.run(lambda b: rasterize_svgs(b, svgs), timeout=max(5.0, limits.budget_s / 3))
        except (ExtractionError, TimeoutError):
            return {}

    candidates, notes = build_candidates(capture, source=url, limits=limits, allow_private=allow_private,
                                         rasterize=rasterize, allowed_origins=allowed_origins,
                                         deadline=started + limits.budget_s)
    if capture.static:
        notes.insert(0, "static mode: the page was parsed without a browser, so images added by JavaScript "
                        "and CSS from stylesheets were not seen")
    log.info("web: %d candidates from %s in %.1f s", len(candidates), url, time.monotonic() - started)
    return Extraction(url, "web", tuple(candidates), tuple(notes))
