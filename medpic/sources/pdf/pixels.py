"""A PDF image's pixels, as the page shows them, or a typed error that says why not.

- ``doc.extract_image`` drops soft masks and returns raw CMYK; a ``Pixmap`` built from the xref
  matches what the page renders (checked against page renders in the tests), Decode arrays, JPX,
  16-bit and 1-bit images included. MuPDF applies the image's soft mask (``/Matte`` too) itself
  when it builds that pixmap; only a mask it did not apply is applied here, once.
- MuPDF does not raise on a damaged image stream: it warns ("padding truncated image", "premature
  end of data") and pads the picture with black. Its own warnings decide damage. Warnings of
  jbig2dec, the JBIG2 decoder under it, are advice, except a feature it has not implemented
  ("(NYI)"), which makes the image unsupported, not corrupt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from PIL import Image

from medpic.errors import CorruptImage, UnsupportedFormat
from medpic.imaging import decode_image
from medpic.imaging.png import encode_png
from medpic.sources.pdf.document import MUPDF_LOCK

__all__ = ["Decoded", "decode_xobject", "decode_inline", "pixel_hash"]

_DAMAGE = re.compile(r"truncat|padding|premature|corrupt|unexpected end|read error|cannot decode|"
                     r"syntax error|invalid", re.I)
_NYI = re.compile(r"unhandled (?:segment type )?'?([^'(]+?)'? \(NYI\)|(\w[\w ]+) not yet implemented", re.I)


@dataclass(frozen=True)
class Decoded:
    """An image's pixels for the classifier, the bytes to save, and a hash of the pixels."""

    rgb: Image.Image
    data: bytes
    extension: str
    digest: str


def pixel_hash(image: Image.Image) -> str:
    return hashlib.sha256(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()


def judge_warnings(warnings: str) -> None:
    """Raise when MuPDF's warnings for one decode say the picture is unsupported or damaged."""
    lines = [w.strip() for w in warnings.splitlines() if w.strip()]
    for line in lines:
        if m := _NYI.search(line):
            feature = (m.group(1) or m.group(2)).strip()
            raise UnsupportedFormat(f"JBIG2 with {feature} (a feature the JBIG2 decoder does not implement)")
    own = [w for w in lines if not w.startswith(("jbig2dec warning", "...")) and "icc" not in w.lower()]
    damage = [w for w in own if _DAMAGE.search(w)]
    if damage:
        raise CorruptImage(f"corrupt image: {damage[-1]}")


def _pixmap(doc, xref: int, smask: int):
    import pymupdf

    with MUPDF_LOCK:
        pymupdf.TOOLS.mupdf_display_errors(False)
        pymupdf.TOOLS.store_shrink(100)  # drop cached decodes, so this decode's warnings are seen
        pymupdf.TOOLS.mupdf_warnings(reset=True)
        try:
            pix = pymupdf.Pixmap(doc, xref)
            if smask and not pix.alpha:  # MuPDF applies most soft masks itself: never twice
                mask = pymupdf.Pixmap(doc, smask)
                if (mask.width, mask.height) != (pix.width, pix.height):  # allowed by the spec
                    mask = pymupdf.Pixmap(mask, pix.width, pix.height, None)
                pix = pymupdf.Pixmap(pix, mask)
        finally:
            warnings = pymupdf.TOOLS.mupdf_warnings(reset=True)
    judge_warnings(warnings)
    return pix


def _pixmap_to_images(pix) -> tuple[Image.Image, Image.Image]:
    """(RGB for the classifier, RGB or RGBA to save) from a PyMuPDF pixmap."""
    import pymupdf

    if pix.colorspace is None:  # an alpha-only pixmap (image mask): ink where alpha is set
        mask = Image.frombytes("L", (pix.width, pix.height), pix.samples)
        rgb = Image.merge("RGB", [mask.point(lambda v: 255 - v)] * 3)
        return rgb, rgb
    if pix.colorspace.n not in (1, 3):
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    mode = {1: "L", 3: "RGB"}[pix.colorspace.n] + ("A" if pix.alpha else "")
    image = Image.frombytes(mode, (pix.width, pix.height), pix.samples, "raw", mode, pix.stride)
    if pix.alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), rgba
    return image.convert("RGB"), image


def decode_xobject(doc, xref: int, smask: int, filter_name: str) -> Decoded:
    """An image XObject; a plain JPEG keeps its original bytes for saving."""
    pix = _pixmap(doc, xref, smask)
    rgb, keep = _pixmap_to_images(pix)
    original_jpeg = (filter_name == "DCTDecode" and not pix.alpha and keep.mode in ("RGB", "L")
                     and doc.xref_get_key(xref, "Decode")[0] == "null")
    if original_jpeg:
        return Decoded(rgb, doc.xref_stream_raw(xref), "jpg", pixel_hash(rgb))
    return Decoded(rgb, encode_png(keep), "png", pixel_hash(rgb))


def decode_inline(block: dict, max_pixels: int) -> Decoded:
    """An inline image, from the image block MuPDF's text extraction gives for it."""
    data = block["image"]
    decoded = decode_image(data, max_pixels=max_pixels)
    ext = {"jpeg": "jpg", "jpx": "jp2"}.get(block.get("ext", "png"), block.get("ext", "png"))
    if ext not in ("jpg", "png"):
        data, ext = encode_png(decoded.image), "png"
    return Decoded(decoded.image, data, ext, pixel_hash(decoded.image))
