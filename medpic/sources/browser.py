"""The one owner of headless Chromium's lifetime.

Playwright's sync API is bound to the thread that started it, and the app serves requests from
many threads. So ``BrowserService`` runs Playwright's async API on one event loop in a dedicated
thread; any thread submits work with ``run(coro_fn, timeout)`` and gets the result back. The
browser starts lazily on first use, is shared by all scans (a fresh context per scan), and is
closed on ``close()``, at interpreter exit, or when its launch fails half-way.
"""

from __future__ import annotations

import asyncio
import base64
import atexit
import logging
import os
import shutil
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from medpic.errors import BrowserUnavailable
from medpic.settings import Settings
from medpic.translate import browser_launch_errors, playwright_error_types

__all__ = ["BrowserService", "find_chromium", "CHROMIUM_ARGS", "SEALED_ARGS"]

log = logging.getLogger(__name__)

# Quiet on a closed network, workable as root in containers.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--mute-audio",
]
# MedPic is Chromium's only network: every request a page makes is intercepted and answered by
# MedPic's guarded fetcher (sources/page/capture.py), so Chromium itself never needs to connect.
# What Playwright cannot intercept (speculative prefetch and prerender, some navigations, worker
# sockets, background services) goes to a proxy on a closed local port, with loopback included and
# every host name unresolvable: it fails without a packet leaving.
SEALED_ARGS = [
    "--proxy-server=http://127.0.0.1:1", "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--dns-prefetch-disable", "--no-pings",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--disable-features=Prerender2,NoStatePrefetch,SpeculationRulesPrefetchFuture,NetworkTimeServiceQuerying,"
    "AutofillServerCommunication,OptimizationGuideModelDownloading,DnsOverHttps",
]
SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


@dataclass(frozen=True)
class ChromiumLocation:
    path: str | None  # None: Playwright's own managed browser
    origin: str  # "MEDPIC_CHROMIUM", "playwright", "system"


def find_chromium(configured: str | None = None, *,
                  browsers_path: Path = Settings.playwright_browsers_path) -> ChromiumLocation | None:
    """``MEDPIC_CHROMIUM`` -> Playwright's own install (in ``browsers_path``) -> the system's Chromium."""
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return ChromiumLocation(configured, "MEDPIC_CHROMIUM")
        log.warning("MEDPIC_CHROMIUM=%s is not an executable; looking elsewhere", configured)
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return None
    registry = Path(browsers_path)
    if any(registry.glob("chromium*/chrome-linux*/chrome")) or any(registry.glob("chromium_headless_shell*/*/*")):
        return ChromiumLocation(None, "playwright")
    for candidate in SYSTEM_CHROMIUMS:
        if Path(candidate).is_file():
            return ChromiumLocation(candidate, "system")
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return ChromiumLocation(found, "system") if found else None


class BrowserService:
    """A shared headless Chromium on its own event-loop thread."""

    def __init__(self, *, executable: str | None = None, browsers_path: Path = Settings.playwright_browsers_path,
                 renderer_heap_mb: int = Settings.renderer_heap_mb, extra_args: list[str] | None = None) -> None:
        self._configured = executable
        self._browsers_path = browsers_path
        # a page's JavaScript heap is capped: a page that allocates without end crashes its own renderer
        self._extra_args = [f"--js-flags=--max-old-space-size={renderer_heap_mb}", *(extra_args or [])]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright = None
        self._browser = None
        self._lock = threading.Lock()
        self._start_lock: asyncio.Lock | None = None
        self.location: ChromiumLocation | None = None
        self._closed = False
        atexit.register(self.close)

    # -- the loop thread ------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise BrowserUnavailable("the browser service has been closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def runner() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=runner, name="medpic-browser", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def run(self, work: Callable[[Any], Awaitable[Any]], *, timeout: float) -> Any:
        """Run ``await work(browser)`` on the browser's loop; blocks the calling thread."""
        loop = self._ensure_loop()
        future: Future = asyncio.run_coroutine_threadsafe(self._with_browser(work), loop)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise

    async def _with_browser(self, work):
        return await work(await self._get_browser())

    async def _get_browser(self):
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            self.location = find_chromium(self._configured, browsers_path=self._browsers_path)
            if self.location is None:
                raise BrowserUnavailable(
                    "no Chromium found: set MEDPIC_CHROMIUM, run `playwright install chromium`, "
                    "or install your system's chromium package")
            from playwright.async_api import async_playwright

            playwright = await async_playwright().start()
            try:
                with browser_launch_errors(self.location.origin):
                    self._browser = await playwright.chromium.launch(
                        executable_path=self.location.path, headless=True,
                        args=CHROMIUM_ARGS + SEALED_ARGS + self._extra_args)
            except BaseException:
                await playwright.stop()  # never leave a half-started Playwright behind
                raise
            self._playwright = playwright
            log.info("browser: Chromium %s from %s", self._browser.version, self.location.origin)
            return self._browser

    @classmethod
    def from_settings(cls, settings: Settings) -> "BrowserService":
        return cls(executable=settings.chromium, browsers_path=settings.playwright_browsers_path,
                   renderer_heap_mb=settings.renderer_heap_mb)

    def rasterize_svg(self, data: bytes, *, max_side: int, timeout_s: float) -> bytes | None:
        """A PNG of an SVG image drawn by Chromium with all network access refused, or ``None``
        when Chromium cannot draw it. One image per call, so one bad SVG costs only itself."""
        try:
            return self.run(lambda browser: _rasterize(browser, data, max_side), timeout=timeout_s)
        except (BrowserUnavailable, TimeoutError, *playwright_error_types()):
            return None

    def available(self) -> bool:
        """Whether a Chromium can be found (without starting it)."""
        return self.find() is not None

    def find(self) -> ChromiumLocation | None:
        """Where the Chromium this service would start is (without starting it)."""
        return find_chromium(self._configured, browsers_path=self._browsers_path)

    @property
    def started(self) -> bool:
        return self._browser is not None

    async def _shutdown(self) -> None:
        if self._browser is not None:
            try:
                await self._browser.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = None

    def close(self) -> None:
        """Stop the browser and the loop thread; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop = self._loop
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
        except Exception:  # noqa: BLE001 - best effort at exit
            log.debug("browser shutdown did not finish cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)


async def _rasterize(browser, data: bytes, max_side: int) -> bytes | None:
    context = await browser.new_context(service_workers="block", accept_downloads=False)
    try:
        await context.route("**/*", lambda route: route.abort("blockedbyclient"))
        page = await context.new_page()
        uri = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
        await page.set_content(f'<body style="margin:0;background:white"><img id="i" src="{uri}"></body>')
        drawn = await page.evaluate(
            """async (maxSide) => { const i = document.getElementById('i');
            if (!i.complete) await new Promise(ok => { i.onload = ok; i.onerror = ok; });
            let w = i.naturalWidth || 300, h = i.naturalHeight || 150;
            const s = Math.min(1, maxSide / Math.max(w, h)); i.width = Math.round(w * s); i.height = Math.round(h * s);
            return i.naturalWidth > 0; }""", max_side)
        return await page.locator("#i").screenshot(type="png") if drawn else None
    finally:
        await context.close()
