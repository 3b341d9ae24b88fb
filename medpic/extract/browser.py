"""The one owner of headless Chromium's lifetime.

Playwright's sync API is bound to the thread that started it, and the app serves requests from
many threads. So ``BrowserService`` runs Playwright's async API on one event loop in a dedicated
thread; any thread submits work with ``run(coro_fn, timeout)`` and gets the result back. The
browser starts lazily on first use, is shared by all scans (a fresh context per scan), and is
closed on ``close()``, at interpreter exit, or when its launch fails half-way.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import shutil
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from medpic.errors import ExtractionError

__all__ = ["BrowserService", "BrowserUnavailable", "find_chromium", "CHROMIUM_ARGS"]

log = logging.getLogger(__name__)

# Quiet on a closed network, workable as root in containers.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--mute-audio",
]
SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class BrowserUnavailable(ExtractionError):
    """No usable Chromium: not installed, or it would not start."""


@dataclass(frozen=True)
class ChromiumLocation:
    path: str | None  # None: Playwright's own managed browser
    origin: str  # "MEDPIC_CHROMIUM", "playwright", "system"


def find_chromium(configured: str | None = None) -> ChromiumLocation | None:
    """``MEDPIC_CHROMIUM`` -> Playwright's own install -> the system's Chromium."""
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return ChromiumLocation(configured, "MEDPIC_CHROMIUM")
        log.warning("MEDPIC_CHROMIUM=%s is not an executable; looking elsewhere", configured)
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return None
    registry = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright"))
    if any(registry.glob("chromium*/chrome-linux*/chrome")) or any(registry.glob("chromium_headless_shell*/*/*")):
        return ChromiumLocation(None, "playwright")
    for candidate in SYSTEM_CHROMIUMS:
        if Path(candidate).is_file():
            return ChromiumLocation(candidate, "system")
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return ChromiumLocation(found, "system") if found else None


class BrowserService:
    """A shared headless Chromium on its own event-loop thread."""

    def __init__(self, *, executable: str | None = None, extra_args: list[str] | None = None) -> None:
        self._configured = executable
        self._extra_args = extra_args or []
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
            self.location = find_chromium(self._configured)
            if self.location is None:
                raise BrowserUnavailable(
                    "no Chromium found: set MEDPIC_CHROMIUM, run `playwright install chromium`, "
                    "or install your system's chromium package")
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright

            playwright = await async_playwright().start()
            try:
                self._browser = await playwright.chromium.launch(
                    executable_path=self.location.path, headless=True, args=CHROMIUM_ARGS + self._extra_args)
            except (PlaywrightError, OSError) as exc:
                await playwright.stop()  # never leave a half-started Playwright behind
                raise BrowserUnavailable(f"Chromium would not start ({self.location.origin}): {exc}") from exc
            except BaseException:
                await playwright.stop()
                raise
            self._playwright = playwright
            log.info("browser: Chromium %s from %s", self._browser.version, self.location.origin)
            return self._browser

    def available(self) -> bool:
        """Whether a Chromium can be found (without starting it)."""
        return find_chromium(self._configured) is not None

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
