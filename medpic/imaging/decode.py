"""Bytes to an RGB picture, or a typed error that says why not.

The old notebook turned every unreadable file into a black picture and classified that. Here a
decode either yields the real pixels or raises an ``ImageError`` whose ``reason`` ends up in the
report row. The pixel cap is ours (``Settings.max_pixels``), checked against the size the header
declares before any third-party parser runs (``declared_size`` reads it for PNG, GIF, JPEG/MPO,
BMP, WebP, TIFF and AVIF), so a decompression bomb costs nothing and its row says how large it
claimed to be. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) is left on as a second line for
everything else: switching it off would let Pillow allocate before we see the size (a GIF's
disposal buffer is filled inside ``Image.open``: 3.4 GB for a 40-byte file).

Formats we refuse are recognised by their own magic bytes and header fields before any
third-party parser runs (PSD, EPS, DDS with its variant, HEIF by its ``ftyp`` brands, JPEG XL, a
TIFF whose compression the bundled libtiff lacks), so every refusal names the format or the
missing feature instead of an exception's type or a decoder's error code.

What the libraries say while decoding goes to the log (``medpic -v``), never straight to the
terminal: see ``PillowWarnings`` and ``Libtiff``.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps

from medpic.errors import CorruptImage, ImageError, ImageTooLarge, NotAnImage, UnsupportedFormat
from medpic.imaging.formats import declared_size, refused_format, sniff_format
from medpic.imaging.quiet import PILLOW_WARNINGS, Libtiff
from medpic.settings import Settings


__all__ = ["ALLOWED_FORMATS", "DecodedImage", "decode_image"]

log = logging.getLogger("medpic.imaging")

# PIL format names we decode. SVG is rasterised by the browser (web extraction), not here.
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "AVIF", "BMP", "DIB", "TIFF", "ICO", "MPO"})

# Never guess missing data: a truncated file must raise, not come back grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class DecodedImage:
    """An RGB picture ready for the model, with what we learned decoding it."""

    image: Image.Image
    format: str
    width: int
    height: int
    frames: int = 1
    had_alpha: bool = False


def decode_image(data: bytes, *, max_pixels: int = Settings.max_pixels, reduce_to: int | None = None) -> DecodedImage:
    """Decode an image file's bytes to RGB.

    Applies EXIF orientation, takes the first frame of animations, flattens transparency onto
    white, converts palette, CMYK (through its ICC profile when present), 16-bit and float
    images. Raises ``NotAnImage``, ``UnsupportedFormat``, ``ImageTooLarge`` (with the size the
    header declares) or ``CorruptImage``. Safe to call from several threads at once; what Pillow
    and libtiff say while decoding is logged on ``medpic.imaging`` at INFO.

    ``reduce_to``: the caller only needs a ``reduce_to`` x ``reduce_to`` picture (the model's
    input), so a JPEG at least twice that on both sides is decoded at 1/2, 1/4 or 1/8 scale by
    libjpeg itself (Pillow's draft mode), never below ``reduce_to``: a 4000 x 3000 photo costs a
    sixty-fourth of the work. Width and height still report the file's own size.
    """
    if not data:
        raise NotAnImage("not an image: empty file")
    sniffed = sniff_format(data)
    if sniffed in ("SVG", "DICOM"):
        raise UnsupportedFormat(sniffed)
    if sniffed in ("PDF", "HTML"):
        raise NotAnImage(f"not an image: looks like {sniffed}")
    refused = refused_format(data)
    if refused:
        raise UnsupportedFormat(refused)
    declared = declared_size(data)
    if declared and declared[0] * declared[1] > max_pixels:
        raise ImageTooLarge(*declared, max_pixels)
    if data[:2] in (b"II", b"MM"):
        Libtiff.get()  # libtiff's messages to the log before it first speaks
    with PILLOW_WARNINGS.collect() as caught:
        try:
            return _decode(data, max_pixels, caught, reduce_to)
        finally:
            for w in caught:
                log.info("Pillow %s: %s", w.category.__name__, w.message)


def _decode(data: bytes, max_pixels: int, caught: list[warnings.WarningMessage], reduce_to: int | None) -> DecodedImage:
    try:
        image = Image.open(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on damaged headers
        raise _unopenable(data, exc, max_pixels) from exc

    fmt = image.format or "unknown"
    if fmt not in ALLOWED_FORMATS:
        raise UnsupportedFormat(fmt)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"corrupt image: {width}x{height} pixels")
    if width * height > max_pixels:
        raise ImageTooLarge(width, height, max_pixels)
    try:
        frames = getattr(image, "n_frames", 1)
        image.seek(0)
        if image.size[0] * image.size[1] > max_pixels:  # a first frame larger than the canvas
            raise ImageTooLarge(*image.size, max_pixels)
        if reduce_to and fmt in ("JPEG", "MPO"):
            image.draft(image.mode, (reduce_to, reduce_to))  # DCT scaling; keeps both sides >= reduce_to
        try:
            image.load()
        except OSError as exc:
            if getattr(image, "use_load_libtiff", False):  # libtiff failed: Pillow says "decoder error -2"
                raise CorruptImage("corrupt image: damaged TIFF data") from exc
            raise
        image = ImageOps.exif_transpose(image)
        had_alpha = _has_alpha(image)
        rgb = _to_rgb(image)
        truncated = [w for w in caught if "truncat" in str(w.message).lower()]
        if truncated:  # Pillow read on past missing data: the picture cannot be trusted
            raise CorruptImage(f"corrupt image: {truncated[0].message}")
    except Image.DecompressionBombError as exc:  # Pillow's guard, on a later frame's extent
        raise _too_large(*image.size, max_pixels) from exc
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on damaged data
        raise CorruptImage(f"corrupt image: {_short(exc)}") from exc
    return DecodedImage(rgb, fmt, width, height, frames, had_alpha)


def _unopenable(data: bytes, exc: Exception, max_pixels: int) -> ImageError:
    """Why Pillow could not open these bytes, named by the format whose magic they carry.

    A TIFF whose header Pillow rejects is a damaged TIFF, not "not an image"; a format outside
    the allow-list is refused by name however damaged it is."""
    guess, missing_support = _format_by_magic(data)
    if isinstance(exc, Image.DecompressionBombError):
        # Pillow's guard, raised inside Image.open: a format whose header we do not read, or a
        # cap set above Pillow's (then Pillow's limit is the one that held).
        declared = declared_size(data)
        if declared is None and guess is not None and guess not in ALLOWED_FORMATS:
            return UnsupportedFormat(guess)
        return _too_large(*(declared or (0, 0)), max_pixels)
    if guess is None:
        if isinstance(exc, Image.UnidentifiedImageError):
            return NotAnImage("not an image: unknown format")
        return CorruptImage(f"corrupt image: {_short(exc)}")
    if guess not in ALLOWED_FORMATS or missing_support:
        return UnsupportedFormat(guess)
    if isinstance(exc, Image.UnidentifiedImageError):
        return CorruptImage(f"corrupt image: unreadable {guess} header")
    return CorruptImage(f"corrupt image: {_short(exc)}")


def _too_large(width: int, height: int, max_pixels: int) -> ImageTooLarge:
    """Refused by Pillow's guard: the limit named is ours unless the picture is within it."""
    within_ours = width * height <= max_pixels
    return ImageTooLarge(width, height, 2 * (Image.MAX_IMAGE_PIXELS or 0) if within_ours else max_pixels)


def _format_by_magic(data: bytes) -> tuple[str | None, bool]:
    """The first format, in Pillow's order, whose plugin accepts these leading bytes, and whether
    the plugin said its support is missing from this build."""
    prefix = data[:16]
    for fmt in list(Image.ID):
        accept = Image.OPEN.get(fmt, (None, None))[1]
        if accept is None:  # a plugin that tries every file says nothing about this one
            continue
        try:
            result = accept(prefix)
        except Exception:  # noqa: BLE001
            continue
        if result:
            return fmt, isinstance(result, str)
    return None, False


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float images to 8-bit over their actual range.

    Medical 16-bit images often use 10-12 of the 16 bits; dividing by 65535 would make them
    nearly black, so we stretch between the data's own minimum and maximum.
    """
    arr = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        raise ValueError("no finite pixel values")
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    scaled = np.zeros_like(arr) if hi <= lo else (np.nan_to_num(arr, nan=lo) - lo) * (255.0 / (hi - lo))
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def _flatten_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _stretch_to_8bit(image).convert("RGB")
    if _has_alpha(image):
        return _flatten_on_white(image)
    if mode == "CMYK":
        icc = image.info.get("icc_profile")
        if icc:
            try:
                source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            except (ImageCms.PyCMSError, OSError):
                pass
        return image.convert("RGB")
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        return ImageCms.profileToProfile(image, lab, ImageCms.createProfile("sRGB"), outputMode="RGB")
    return image.convert("RGB")
