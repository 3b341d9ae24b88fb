"""Bytes to an RGB picture, or a typed error that says why not.

The old notebook turned every unreadable file into a black picture and classified that. Here a
decode either yields the real pixels or raises an ``ImageError`` whose ``reason`` ends up in the
report row. The pixel cap is checked from the header, before any pixel is decoded, so a
decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from medpic.errors import CorruptImage, ImageTooLarge, NotAnImage, UnsupportedFormat
from medpic.settings import Settings

__all__ = ["ALLOWED_FORMATS", "DecodedImage", "decode_image", "sniff_format", "image_extension"]

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


def sniff_format(data: bytes) -> str | None:
    """Name non-image payloads that are often served where an image was expected."""
    if data[128:132] == b"DICM":
        return "DICOM"
    head = data[:512].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "PDF"
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:4096].lower()):
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "HTML"
    return None


def image_extension(data: bytes) -> str:
    """A file extension from the bytes themselves (a URL's or a file name's may lie)."""
    if sniff_format(data) == "SVG":
        return "svg"
    signatures = [(b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"RIFF", "webp"),
                  (b"BM", "bmp"), (b"II*\x00", "tif"), (b"MM\x00*", "tif"), (b"\x00\x00\x01\x00", "ico")]
    for magic, ext in signatures:
        if data.startswith(magic):
            return ext
    return "avif" if data[4:12] in (b"ftypavif", b"ftypavis") else "bin"


def decode_image(data: bytes, *, max_pixels: int = Settings.max_pixels) -> DecodedImage:
    """Decode an image file's bytes to RGB.

    Applies EXIF orientation, takes the first frame of animations, flattens transparency onto
    white, converts palette, CMYK (through its ICC profile when present), 16-bit and float
    images. Raises ``NotAnImage``, ``UnsupportedFormat``, ``ImageTooLarge`` or ``CorruptImage``.
    """
    if not data:
        raise NotAnImage("not an image: empty file")
    sniffed = sniff_format(data)
    if sniffed in ("SVG", "DICOM"):
        raise UnsupportedFormat(sniffed)
    if sniffed in ("PDF", "HTML"):
        raise NotAnImage(f"not an image: looks like {sniffed}")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(0, 0, max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise NotAnImage("not an image: unknown format") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImage(f"corrupt image: {exc}") from exc

    fmt = image.format or "unknown"
    if fmt not in ALLOWED_FORMATS:
        raise UnsupportedFormat(fmt)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"corrupt image: {width}x{height} pixels")
    if width * height > max_pixels:
        raise ImageTooLarge(width, height, max_pixels)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frames = getattr(image, "n_frames", 1)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            had_alpha = _has_alpha(image)
            rgb = _to_rgb(image)
        truncated = [w for w in caught if "truncat" in str(w.message).lower()]
        if truncated:  # Pillow read on past missing data: the picture cannot be trusted
            raise CorruptImage(f"corrupt image: {truncated[0].message}")
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(width, height, max_pixels) from exc
    except CorruptImage:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on damaged data
        raise CorruptImage(f"corrupt image: {_short(exc)}") from exc
    return DecodedImage(rgb, fmt, width, height, frames, had_alpha)


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
