"""A PDF image's pixels, as the page shows them, or a typed error that says why not.

- ``doc.extract_image`` drops soft masks and returns raw CMYK; a ``Pixmap`` built from the xref
  matches what the page renders (checked against page renders in the tests), Decode arrays, JPX,
  16-bit and 1-bit images included. MuPDF applies the image's soft mask (``/Matte`` too) itself
  when it builds that pixmap; only a mask it did not apply is applied here, once.
- MuPDF does not raise on a damaged image stream: it warns ("padding truncated image", "premature
  end of data") and pads the picture with black. Its own warnings decide damage. Warnings of
  jbig2dec, the JBIG2 decoder under it, are advice, except a feature it has not implemented
  ("(NYI)"), which makes the image unsupported, not corrupt.
- The bytes saved: a plain JPEG's own; for a Flate stream of PNG-predicted rows (how pdfTeX and
  most writers store a PNG) a PNG around those very rows, once the dictionary says the samples
  are shown as stored and the stream checks out; anything else encoded from the pixels.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from PIL import Image

from medpic.errors import CorruptImage, UnsupportedFormat
from medpic.imaging import decode_image
from medpic.imaging.png import encode_png, png_around_rows
from medpic.sources.pdf.document import MUPDF_LOCK

__all__ = ["Decoded", "decode_xobject", "decode_inline", "pixel_hash"]

_DAMAGE = re.compile(r"truncat|padding|premature|corrupt|unexpected end|read error|cannot decode|"
                     r"syntax error|invalid", re.I)
# Colour spaces whose samples are the picture's as they are, by name, and the ICC-based kind
_DIRECT = {"/DeviceGray": 1, "/DeviceRGB": 3}
_ICC = re.compile(r"\[\s*/ICCBased\s+(\d+)\s+0\s+R\s*\]")
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
    """An image XObject. A plain JPEG keeps its original bytes for saving, and a Flate stream of
    PNG-predicted rows becomes a PNG around those very rows; anything else is encoded. The
    caller holds ``MUPDF_LOCK``."""
    pix = _pixmap(doc, xref, smask)
    rgb, keep = _pixmap_to_images(pix)
    plain = not pix.alpha and keep.mode in ("RGB", "L") \
        and doc.xref_get_key(xref, "Decode")[0] == doc.xref_get_key(xref, "D")[0] == "null"  # MuPDF reads /D too
    if plain and filter_name == "DCTDecode":
        return Decoded(rgb, doc.xref_stream_raw(xref), "jpg", pixel_hash(rgb))
    copied = None
    if plain and not smask and _png_rows(doc, xref, len(keep.getbands())):
        copied = png_around_rows(keep, doc.xref_stream_raw(xref))
    return Decoded(rgb, copied or encode_png(keep), "png", pixel_hash(rgb))


def _png_rows(doc, xref: int, colours: int) -> bool:
    """Whether the image's dictionary makes its inflated stream PNG's own rows for a picture of
    ``colours`` samples a pixel: PNG predictors (10-15) on 8-bit samples, lines as wide as the
    image, no mask, and a colour space whose samples are shown as they are (``png_around_rows``
    checks the stream itself)."""
    def value(key: str, default: str = "null") -> str:  # what PDF says an absent key means
        found = doc.xref_get_key(xref, key)[1]
        return default if found == "null" else found

    if doc.xref_get_key(xref, "Filter") != ("name", "/FlateDecode"):  # in an array, parameters pair by place
        return False
    predictor = value("DecodeParms/Predictor", "1")
    if not predictor.isdigit() or not 10 <= int(predictor) <= 15:
        return False
    if value("BitsPerComponent") != "8" or value("DecodeParms/BitsPerComponent", "8") != "8":
        return False
    if value("Mask") != "null" or value("ImageMask", "false") == "true":
        return False
    if value("DecodeParms/Colors", "1") != str(colours) or value("DecodeParms/Columns", "1") != value("Width"):
        return False
    return _components(doc, xref) == colours


def _components(doc, xref: int) -> int | None:
    """Samples a pixel of the image's colour space when that space shows them as they are
    (DeviceGray, DeviceRGB, ICC-based); None for any other."""
    kind, space = doc.xref_get_key(xref, "ColorSpace")
    if kind == "xref":
        space = doc.xref_object(int(space.split()[0]), compressed=True)
    if space in _DIRECT:
        return _DIRECT[space]
    if m := _ICC.fullmatch(space.strip()):
        try:
            n = doc.xref_get_key(int(m.group(1)), "N")[1]
        except ValueError:  # no such object: the picture is encoded from its pixels instead
            return None
        return int(n) if n in ("1", "3") else None
    return None


def decode_inline(block: dict, max_pixels: int) -> Decoded:
    """An inline image, from the image block MuPDF's text extraction gives for it."""
    data = block["image"]
    decoded = decode_image(data, max_pixels=max_pixels)
    ext = {"jpeg": "jpg", "jpx": "jp2"}.get(block.get("ext", "png"), block.get("ext", "png"))
    if ext not in ("jpg", "png"):
        data, ext = encode_png(decoded.image), "png"
    return Decoded(decoded.image, data, ext, pixel_hash(decoded.image))
