"""Page capture in headless Chromium: render, guard, scroll, discover, keep what loaded.

Rendering finds what JavaScript builds and what loads lazily: the page is scrolled in steps
(one big jump skips images half-way down), the network is given a bounded moment to settle,
then ``discover.js`` (the one set of discovery rules, shared with the browser extension) reads
the DOM of the page and its same-origin frames. Every image response the page loaded is kept,
so those bytes are not downloaded twice.

Every request of the page goes through a route handler that makes it with MedPic's own
``Fetcher``: the address checked is the address connected to, each redirect hop is checked, bodies
are capped, and Chromium receives only the vetted answer. Chromium itself is launched sealed
(``browser.SEALED_ARGS``), so what a route cannot see cannot connect either. The handler's
fetches run on a pool of this capture's own, shut down when the capture ends, so one slow page
cannot occupy another scan's threads. Page POSTs and WebSockets are refused, service workers
blocked, downloads refused, popups closed.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from urllib.parse import urlsplit

from medpic.errors import BlockedURL, FetchError
from medpic.net.fetch import USER_AGENT, Fetcher
from medpic.settings import WebLimits
from medpic.sources.page.sightings import PageCapture, Sighting, strip_fragment
from medpic.translate import first_line, navigation_errors, playwright_error_types

__all__ = ["render_page", "DISCOVER_JS"]

DISCOVER_JS = resources.files("medpic.sources.page").joinpath("discover.js").read_text()

_FORWARDED_HEADERS = {"accept", "accept-language", "referer", "cookie", "user-agent", "range"}
_HOP_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive",
                "set-cookie"}
_AT_BOTTOM = "() => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2"
_READ_BLOB = ("async ([u, cap]) => { const b = await (await fetch(u)).blob(); if (b.size > cap) return null;"
              " const r = new FileReader(); return await new Promise(ok => { r.onload = () => ok(r.result);"
              " r.readAsDataURL(b); }); }")


def _with_base(html: bytes, url: str) -> bytes:
    """Pin relative links to ``url`` in a document that was redirected there."""
    if re.search(rb"<base\s", html[:4096], re.I):
        return html
    tag = f'<base href="{url}">'.encode()
    m = re.search(rb"<head[^>]*>", html[:4096], re.I)
    return html[: m.end()] + tag + html[m.end():] if m else tag + html


class _RouteGuard:
    """Every request of the page, made by MedPic's fetcher on this capture's own pool."""

    def __init__(self, fetcher: Fetcher, limits: WebLimits, pool: ThreadPoolExecutor) -> None:
        self.fetcher, self.limits, self.pool = fetcher, limits, pool
        self.blocked: list[str] = []
        self.loaded = False  # set by the page's own document request: later top-level navigations are refused
        self.document_error: FetchError | None = None  # why the page's own document could not be had

    async def __call__(self, route) -> None:
        error, _ = playwright_error_types()
        try:
            await self._handle(route)
        except (error, RuntimeError):  # the capture ended (pool shut, page closed) while this was in flight
            try:
                await route.abort("aborted")
            except error:
                pass

    async def _handle(self, route) -> None:
        request = route.request
        if not request.url.startswith(("http:", "https:")):
            await route.continue_()
            return
        top_level = _top_level(request)
        if top_level and self.loaded:
            # a scanner follows no page away from itself (meta refresh, location, form submits):
            # "204 No Content" is the answer that makes a browser stay on the page it has
            await route.fulfill(status=204, body=b"")
            return
        if request.method not in ("GET", "HEAD"):
            await route.abort("blockedbyclient")  # a scanner submits nothing
            return
        self.loaded = self.loaded or top_level  # the first top-level request is the page itself
        sent = await request.all_headers()
        headers = {k: v for k, v in sent.items() if k.lower() in _FORWARDED_HEADERS}
        navigation = request.is_navigation_request()
        limits = self.limits.document_fetch() if navigation else self.limits.image_fetch()
        try:
            response = await asyncio.get_running_loop().run_in_executor(self.pool, lambda: self.fetcher.get(
                request.url, headers=headers, limits=limits, accept_errors=True))
        except BlockedURL as exc:
            self.blocked.append(exc.url or request.url)
            await route.abort("blockedbyclient")
            return
        except FetchError as exc:
            if top_level:
                self.document_error = exc  # "too large", "timed out", ...: said as it is, not net::ERR_FAILED
            await route.abort("failed")
            return
        body = response.data
        kept = {k: v for k, v in response.headers if k.lower() not in _HOP_HEADERS}
        if navigation and response.url != request.url and b"<" in body[:2048]:
            body = _with_base(body, response.url)  # served at the first URL: keep links right
        await route.fulfill(status=response.status, headers=kept, body=body)


def _top_level(request) -> bool:
    """A navigation of a page itself, not of one of its frames (a popup's counts too)."""
    if not request.is_navigation_request():
        return False
    error, _ = playwright_error_types()
    try:
        return request.frame.parent_frame is None
    except error:  # issued before its frame exists: a new page's (popup's) first navigation
        return True


class _BodyKeeper:
    """Keeps the image bytes the page loads, within the per-image and per-page byte caps."""

    def __init__(self, limits: WebLimits) -> None:
        self.limits = limits
        self.bodies: dict[str, bytes] = {}
        self.total = 0
        self.reads: list[asyncio.Task] = []

    def on_response(self, response) -> None:
        kind = response.request.resource_type
        ctype = response.headers.get("content-type", "")
        if response.status < 300 and (kind == "image" or ctype.startswith("image/")):
            self.reads.append(asyncio.ensure_future(self._keep(response)))

    async def _keep(self, response) -> None:
        error, _ = playwright_error_types()
        cap, total_cap = self.limits.max_image_bytes, self.limits.max_total_bytes
        try:
            declared = int(response.headers.get("content-length", "0") or 0)
            if declared > cap or self.total + declared > total_cap:
                return
            body = await response.body()
            # an image Chromium would not display (a pixel bomb, HTML served as PNG) can come back
            # empty: then the downloader fetches the real bytes and the judge says what is wrong
            if body and len(body) <= cap and self.total + len(body) <= total_cap:
                self.total += len(body)
                self.bodies.setdefault(strip_fragment(response.url), body)
        except (error, ValueError):
            pass

    async def finish(self, timeout_s: float) -> None:
        if self.reads:
            await asyncio.wait(self.reads, timeout=max(0.5, timeout_s))

    def cancel(self) -> None:
        for task in self.reads:
            task.cancel()


async def _scroll(page, limits: WebLimits, budget_end: float) -> list[str]:
    """Scroll to the bottom in steps so lazy images load; notes say why scrolling stopped early."""
    first_height = await page.evaluate("() => document.documentElement.scrollHeight")
    for steps in range(1, limits.max_scroll_steps + 1):
        at_bottom = await page.evaluate(f"() => {{ window.scrollBy(0, {limits.scroll_step_px}); "
                                        f"return ({_AT_BOTTOM})(); }}")
        await page.wait_for_timeout(100)
        if at_bottom:
            await page.wait_for_timeout(250)  # an infinite list appends here; look once more
            if await page.evaluate(_AT_BOTTOM):
                return []
        if time.monotonic() > budget_end:
            return [f"scrolling stopped at the time budget after {steps} steps"]
    height = await page.evaluate("() => document.documentElement.scrollHeight")
    why = "the page kept growing" if height > first_height + limits.scroll_step_px else "the page is very long"
    return [f"scrolling stopped after {limits.max_scroll_steps} steps: {why}; images further down may be missing"]


async def _frames(cdp) -> list[str]:
    """CDP frame ids of the page's main frame and its same-origin frames, in document order."""
    tree = (await cdp.send("Page.getFrameTree"))["frameTree"]
    origin = urlsplit(tree["frame"]["url"])[:2]
    found, todo = [], [tree]
    while todo:
        node = todo.pop(0)
        if not found or urlsplit(node["frame"]["url"])[:2] == origin:
            found.append(node["frame"]["id"])
        todo.extend(node.get("childFrames", []))
    return found


async def _discover_in(cdp, frame_id: str, max_elements: int) -> dict:
    """The discovery rules run in an isolated world of the frame: the page's DOM, MedPic's own
    JavaScript builtins, so a page that replaces ``Object.assign`` or ``Array.prototype.push``
    cannot blind or steer discovery."""
    world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": "medpic"})
    result = await cdp.send("Runtime.evaluate", {
        "expression": f"({DISCOVER_JS})({int(max_elements)})", "contextId": world["executionContextId"],
        "returnByValue": True, "awaitPromise": True})
    if "exceptionDetails" in result:
        raise ValueError(result["exceptionDetails"].get("text", "discovery failed"))
    return result["result"]["value"]


async def _discover(page, limits: WebLimits) -> tuple[list[Sighting], list[str]]:
    """Run the discovery rules in the page and its same-origin frames (one CDP session for all)."""
    error, _ = playwright_error_types()
    sightings: list[Sighting] = []
    notes: list[str] = []
    cdp = await page.context.new_cdp_session(page)
    try:
        for n, frame_id in enumerate(await _frames(cdp)):
            try:
                result = await _discover_in(cdp, frame_id, limits.max_elements)
            except (error, ValueError, KeyError) as exc:
                notes.append(f"a frame could not be read: {first_line(exc)}")
                continue
            if result["truncated"]:
                notes.append(f"only the first {limits.max_elements} elements were checked for CSS backgrounds")
            for record in result["images"]:
                raw_group = record.pop("group", None)
                record["order"] = len(sightings)
                sightings.append(Sighting(group=f"{n}:{raw_group}" if raw_group else None, **record))
    finally:
        await cdp.detach()
    return sightings, notes


async def _read_blobs(page, sightings: list[Sighting], limits: WebLimits) -> dict[str, bytes]:
    """``blob:`` URLs can only be read by the page that made them: read them there."""
    error, _ = playwright_error_types()
    bodies: dict[str, bytes] = {}
    for blob in dict.fromkeys(s.url for s in sightings if s.url.startswith("blob:")):
        try:
            encoded = await page.evaluate(_READ_BLOB, [blob, limits.max_image_bytes])
            if encoded:
                bodies[blob] = base64.b64decode(encoded.split(",", 1)[1])
        except error:
            pass
    return bodies


async def _open_page(context, url: str, limits: WebLimits, keeper: _BodyKeeper, guard: _RouteGuard):
    page = await context.new_page()
    context.on("page", lambda popup: asyncio.ensure_future(popup.close()) if popup != page else None)
    page.on("response", keeper.on_response)
    try:
        with navigation_errors(url, timeout_s=limits.navigation_timeout_s, blocked=guard.blocked):
            response = await page.goto(url, wait_until="domcontentloaded",
                                       timeout=limits.navigation_timeout_s * 1000)
    except FetchError:
        if guard.document_error is not None and not guard.blocked:
            raise guard.document_error from None
        raise
    if response is not None and response.status >= 400:
        raise FetchError(f"HTTP {response.status} from {url!r}", url=url)
    return page


async def _read_page(page, context, limits: WebLimits, started: float, keeper: _BodyKeeper):
    """Scroll, settle, discover, read blobs: (sightings, notes, cookies)."""
    _, timeout = playwright_error_types()
    budget_end = started + limits.budget_s * 0.6  # leave time for fetching and classifying
    notes = await _scroll(page, limits, budget_end)
    try:
        remaining = max(0.2, min(limits.settle_s, budget_end + limits.budget_s * 0.1 - time.monotonic()))
        await page.wait_for_load_state("networkidle", timeout=remaining * 1000)
    except timeout:
        notes.append("the network had not settled when images were collected")
    sightings, frame_notes = await _discover(page, limits)
    keeper.bodies.update(await _read_blobs(page, sightings, limits))
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in await context.cookies(page.url))
    return sightings, notes + frame_notes, cookies


async def render_page(browser, url: str, *, fetcher: Fetcher, limits: WebLimits) -> PageCapture:
    """Render ``url`` in a fresh context and collect every image sighting and image body.

    Past 80% of the scan budget (a page that stops answering: a busy script, an endless load) the
    page is left as it is and what was found so far is returned, with a note."""
    started = time.monotonic()
    context = await browser.new_context(service_workers="block", accept_downloads=False, user_agent=USER_AGENT,
                                        viewport={"width": 1280, "height": 900})
    pool = ThreadPoolExecutor(max(1, limits.download_workers), thread_name_prefix="medpic-route")
    keeper = _BodyKeeper(limits)
    guard = _RouteGuard(fetcher, limits, pool)  # always: Chromium has no network of its own
    try:
        # WebSockets carry no images and cannot be vetted hop by hop: refused, guard or not.
        await context.route_web_socket("**/*", lambda ws: ws.close(code=1008, reason="blocked by MedPic"))
        await context.route("**/*", guard)
        page = await _open_page(context, url, limits, keeper, guard)
        crashed: list[bool] = []
        page.on("crash", lambda _: crashed.append(True))
        try:
            sightings, notes, cookies = await asyncio.wait_for(
                _read_page(page, context, limits, started, keeper),
                timeout=max(1.0, started + limits.budget_s * 0.8 - time.monotonic()))
        except asyncio.TimeoutError:
            sightings, cookies = [], ""
            notes = ["the page stopped answering before it could be read to the end; the report lists the images "
                     "it had loaded by then"]
        except playwright_error_types()[0]:
            if not crashed:
                raise
            sightings, cookies = [], ""  # the renderer was stopped: over its memory cap, or broken
            notes = [f"the page crashed its renderer (a page may use {limits.renderer_heap_mb} MB of JavaScript "
                     "memory); the report lists the images it had loaded by then"]
        await keeper.finish(started + limits.budget_s * 0.85 - time.monotonic())
        return PageCapture(page.url, sightings, dict(keeper.bodies), notes, cookies, blocked=guard.blocked)
    finally:
        keeper.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        await context.close()
