"""Every error MedPic raises on purpose, in one tree.

    MedPicError
    ├── InvalidInput (also ValueError)       the caller gave us something we cannot use
    │   └── FileTooLarge                     a file over the byte cap (carries size and limit)
    ├── Busy                                 this caller already has as many requests running as allowed
    ├── ImageError                           one image could not become pixels
    │   ├── NotAnImage                       the bytes are not an image at all
    │   ├── UnsupportedFormat                an image format outside the allow-list
    │   ├── ImageTooLarge                    over the pixel cap (decompression bombs)
    │   └── CorruptImage                     truncated or damaged data
    ├── ModelError                           the classifier could not be loaded or run
    │   ├── ModelNotFound (also FileNotFoundError)
    │   └── TrainingError                    training or export produced no usable model
    ├── ExtractionError                      a whole source could not be read
    │   ├── NotAPdf (also InvalidInput)      not a PDF, whatever its name says
    │   ├── PdfEncrypted                     needs a password
    │   ├── PdfDamaged                       beyond repair
    │   └── BrowserUnavailable               no Chromium, or it would not start
    └── FetchError                           a URL could not be fetched
        ├── BlockedURL (also InvalidInput)   refused by the network guard
        ├── ResponseTooLarge                 over the byte cap
        └── ScanLimitReached                 the scan's time or byte budget ran out first

Each error carries a short ``reason`` meant for a report row or a chat message, so interfaces
never have to parse exception text. Exceptions of the libraries below (urllib3, Playwright,
PyMuPDF) are translated into this tree in one table per library, in ``medpic.translate``;
``reason_of`` is the one way any exception becomes a report row's reason.
"""

from __future__ import annotations

__all__ = [
    "MedPicError",
    "InvalidInput",
    "FileTooLarge",
    "Busy",
    "ImageError",
    "NotAnImage",
    "UnsupportedFormat",
    "ImageTooLarge",
    "CorruptImage",
    "ModelError",
    "ModelNotFound",
    "TrainingError",
    "ExtractionError",
    "NotAPdf",
    "PdfEncrypted",
    "PdfDamaged",
    "BrowserUnavailable",
    "FetchError",
    "BlockedURL",
    "ResponseTooLarge",
    "ScanLimitReached",
]


class MedPicError(Exception):
    """Base class of MedPic's own errors; ``reason`` is the short, user-readable cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(MedPicError, ValueError):
    """The caller's input (a path, an option, a URL) cannot be used as given."""


class FileTooLarge(InvalidInput):
    """A file (image, PDF, upload) over its byte cap, refused before it is read."""

    def __init__(self, size: int, limit: int, *, hint: str = "") -> None:
        super().__init__(f"file too large: {size:,} bytes is over the limit of {limit:,}" + (f" ({hint})" if hint else ""))
        self.size, self.limit = size, limit


class Busy(MedPicError):
    """One caller has as many requests running as the app allows: the next waits for one to end."""


# -- images ---------------------------------------------------------------------------------


class ImageError(MedPicError):
    """One image could not be turned into pixels; the report row says why."""


class NotAnImage(ImageError):
    """The bytes are not an image in any format we know (HTML, text, empty, ...)."""


class UnsupportedFormat(ImageError):
    """A real image format that is outside the allow-list (PSD, EPS, SVG, ...)."""

    def __init__(self, format_name: str) -> None:
        super().__init__(f"unsupported format: {format_name}")
        self.format_name = format_name


class ImageTooLarge(ImageError):
    """More pixels than the cap: refused before decoding, so a bomb never expands."""

    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        super().__init__(f"too large: {width}x{height} pixels is over the limit of {max_pixels:,}")
        self.width, self.height, self.max_pixels = width, height, max_pixels


class CorruptImage(ImageError):
    """The header parsed but the pixel data is truncated or damaged."""


# -- model ----------------------------------------------------------------------------------


class ModelError(MedPicError):
    """The classifier could not be loaded or run."""


class ModelNotFound(ModelError, FileNotFoundError):
    """A model folder lacks a file it needs."""


class TrainingError(ModelError):
    """Training, export or its checks produced no model worth shipping."""


# -- extraction -------------------------------------------------------------------------------


class ExtractionError(MedPicError):
    """A whole source (a PDF, a page) could not be read; single images fail as report rows."""


class NotAPdf(ExtractionError, InvalidInput):
    """The input is not a PDF (checked by magic bytes, not by name)."""


class PdfEncrypted(ExtractionError):
    """The PDF needs a password we do not have."""


class PdfDamaged(ExtractionError):
    """The PDF is damaged beyond what PyMuPDF can repair."""


class BrowserUnavailable(ExtractionError):
    """No usable Chromium: not installed, or it would not start."""


# -- fetching ---------------------------------------------------------------------------------


class FetchError(MedPicError):
    """A URL could not be fetched (timeout, HTTP error, too large, refused)."""

    def __init__(self, reason: str, *, url: str = "") -> None:
        super().__init__(reason)
        self.url = url


class BlockedURL(FetchError, InvalidInput):
    """The network guard refused a URL: not http(s), or a private or internal address."""


class ResponseTooLarge(FetchError):
    """The response was larger than the byte cap; reading stopped at the cap."""


class ScanLimitReached(FetchError):
    """A scan-wide budget (time, total bytes) ran out before this image: skipped, not broken."""


# -- turning any exception into words for a person ---------------------------------------------


def reason_of(exc: BaseException, *, doing: str = "could not read image") -> str:
    """The report-row reason for any exception: ours carry one; anything else is named by type
    only (a library's message may hold paths and internals a stranger should not see)."""
    if isinstance(exc, MedPicError):
        return exc.reason
    return f"{doing}: {type(exc).__name__}"
