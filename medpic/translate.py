"""Foreign exceptions into MedPic's error tree: one table per library, nowhere else.

httpx wraps every call into the library below it in one context manager holding a table from
their exception types to its own; MedPic does the same for urllib3 (fetching), Playwright
(rendering) and PyMuPDF (PDFs). A table is read top to bottom, so subclasses come before their
parents, and the most specific match is raised ``from`` the original. Nothing guesses an error's
kind from its message text. The libraries are imported only when a table is used, so that
importing MedPic never starts a browser driver or a PDF engine.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from medpic.errors import (
    BlockedURL,
    BrowserUnavailable,
    CorruptImage,
    ExtractionError,
    FetchError,
    MedPicError,
    PdfDamaged,
)

__all__ = ["first_line", "urllib3_errors", "playwright_error_types", "navigation_errors", "page_errors",
           "browser_launch_errors", "mupdf_error_types", "mupdf_errors"]

Table = Sequence[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable[[BaseException], MedPicError]]]


def first_line(exc: BaseException) -> str:
    """A library message cut to its first line: Playwright appends call logs, MuPDF stack notes."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def _translating(table: Table) -> Iterator[None]:
    try:
        yield
    except MedPicError:
        raise
    except Exception as exc:  # noqa: BLE001 - matched against the table, re-raised when unknown
        for kinds, make in table:
            if isinstance(exc, kinds):
                raise make(exc) from exc
        raise


# -- urllib3: the guarded fetcher's transport ---------------------------------------------------


def urllib3_errors(url: str, host: str) -> "contextmanager[None]":
    """Connection, TLS, timeout and protocol errors of one exchange with ``host``."""
    import urllib3.exceptions as u3

    return _translating([
        (u3.TimeoutError, lambda exc: FetchError(f"timed out fetching {url!r}", url=url)),
        (u3.SSLError, lambda exc: FetchError(f"TLS error for {host!r}: {first_line(exc)}", url=url)),
        ((u3.ProtocolError, u3.DecodeError, u3.ResponseError),
         lambda exc: FetchError(f"connection broken reading {url!r}: {type(exc).__name__}", url=url)),
        (u3.HTTPError, lambda exc: FetchError(f"cannot connect to {host!r}: {type(exc).__name__}", url=url)),
        (OSError, lambda exc: FetchError(f"cannot connect to {host!r}: {type(exc).__name__}", url=url)),
    ])


# -- Playwright: rendering pages -------------------------------------------------------------------


def playwright_error_types() -> tuple[type[BaseException], type[BaseException]]:
    """(Error, TimeoutError) of Playwright's async API, for code that records a note and goes on."""
    from playwright.async_api import Error, TimeoutError

    return Error, TimeoutError


def navigation_errors(url: str, *, timeout_s: float, blocked: Sequence[str]) -> "contextmanager[None]":
    """``page.goto`` failing: too slow, refused by the route guard, or not loadable at all."""
    error, timeout = playwright_error_types()

    def failed(exc: BaseException) -> MedPicError:
        if blocked:
            return BlockedURL(f"refused {blocked[0]!r}: a private or internal address "
                              "(the network guard allows only public addresses)", url=url)
        return FetchError(f"could not load {url!r}: {first_line(exc)}", url=url)

    return _translating([
        (timeout, lambda exc: FetchError(f"timed out after {timeout_s:g} s loading {url!r}", url=url)),
        (error, failed),
    ])


def page_errors(url: str, *, budget_s: float) -> "contextmanager[None]":
    """A whole page capture failing: over the scan budget is the page's fault, anything else the browser's."""
    error, _ = playwright_error_types()
    return _translating([
        (TimeoutError, lambda exc: FetchError(f"the page took longer than the scan budget of {budget_s:g} s",
                                              url=url)),
        (error, lambda exc: ExtractionError(f"the browser failed on this page: {first_line(exc)}")),
    ])


def browser_launch_errors(origin: str) -> "contextmanager[None]":
    """Chromium that will not start: missing libraries, a bad executable, no permission."""
    error, _ = playwright_error_types()
    return _translating([
        ((error, OSError), lambda exc: BrowserUnavailable(f"Chromium would not start ({origin}): {first_line(exc)}")),
    ])


# -- PyMuPDF: reading PDFs ---------------------------------------------------------------------------


def mupdf_error_types() -> tuple[type[BaseException], ...]:
    """What MuPDF raises on damaged data, for code that records a note and goes on."""
    import pymupdf

    # PyMuPDF asserts when MuPDF hands back no object (a page it cannot load): damage, not a bug of ours
    return (pymupdf.FileDataError, pymupdf.mupdf.FzErrorBase, RuntimeError, ValueError, AssertionError)


def mupdf_errors(*, opening: bool = False) -> "contextmanager[None]":
    """A document that cannot be opened is damaged; an image that cannot be decoded is corrupt."""
    if opening:
        return _translating([(mupdf_error_types(),
                               lambda exc: PdfDamaged(f"damaged PDF that could not be repaired: {first_line(exc)}"))])
    return _translating([(mupdf_error_types(), lambda exc: CorruptImage(f"undecodable image: {first_line(exc)}"))])
