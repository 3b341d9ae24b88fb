"""Every error MedPic raises on purpose, in one tree.

    MedPicError
    ├── InvalidInput (also ValueError)       the caller gave us something we cannot use
    ├── ImageError                           one image could not become pixels
    │   ├── NotAnImage                       the bytes are not an image at all
    │   ├── UnsupportedFormat                an image format outside the allow-list
    │   ├── ImageTooLarge                    over the pixel cap (decompression bombs)
    │   └── CorruptImage                     truncated or damaged data
    ├── ModelError                           the classifier could not be loaded or run
    │   └── ModelNotFound (also FileNotFoundError)
    ├── ExtractionError                      a whole source could not be read
    │   ├── NotAPdf (also InvalidInput)      not a PDF, whatever its name says
    │   ├── PdfEncrypted                     needs a password
    │   └── PdfDamaged                       beyond repair
    └── FetchError                           a URL could not be fetched
        ├── BlockedURL (also InvalidInput)   refused by the network guard
        └── ResponseTooLarge                 over the byte cap

Each error carries a short ``reason`` meant for a report row or a chat message, so interfaces
never have to parse exception text.
"""

from __future__ import annotations

__all__ = [
    "MedPicError",
    "InvalidInput",
    "ImageError",
    "NotAnImage",
    "UnsupportedFormat",
    "ImageTooLarge",
    "CorruptImage",
    "ModelError",
    "ModelNotFound",
    "ExtractionError",
    "NotAPdf",
    "PdfEncrypted",
    "PdfDamaged",
    "FetchError",
    "BlockedURL",
    "ResponseTooLarge",
]


class MedPicError(Exception):
    """Base class of MedPic's own errors; ``reason`` is the short, user-readable cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(MedPicError, ValueError):
    """The caller's input (a path, an option, a URL) cannot be used as given."""


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


# -- extraction -------------------------------------------------------------------------------


class ExtractionError(MedPicError):
    """A whole source (a PDF, a page) could not be read; single images fail as report rows."""


class NotAPdf(ExtractionError, InvalidInput):
    """The input is not a PDF (checked by magic bytes, not by name)."""


class PdfEncrypted(ExtractionError):
    """The PDF needs a password we do not have."""


class PdfDamaged(ExtractionError):
    """The PDF is damaged beyond what PyMuPDF can repair."""


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
