"""PDFs built in the tests with PyMuPDF, one image per page, every encoding the extractor must
get right. Images come from scikit-image and pydicom samples, so the fixtures exist anywhere.

Raw image XObjects (16-bit, 1-bit with an inverting Decode array, Indexed, corrupt streams) are
written by hand: PyMuPDF's ``insert_image`` would normalise them away.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pymupdf
from PIL import Image

RECT = pymupdf.Rect(72, 72, 272, 204)  # 200 x 132 pt: one image pixel per point
W, H = 200, 132


def _bytes(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def samples() -> dict[str, Image.Image]:
    from skimage import data

    def fit(arr):
        return Image.fromarray(arr).resize((W, H))

    return {
        "cat": fit(data.chelsea()), "retina": fit(data.retina()), "coffee": fit(data.coffee()),
        "ihc": fit(data.immunohistochemistry()), "camera": fit(data.camera()), "astronaut": fit(data.astronaut()),
        "rocket": fit(data.rocket()),
    }


_placeholders: list[int] = []


def ct_pixels() -> np.ndarray:
    """pydicom's CT test slice spread over the full 16-bit range (a viewer maps 65535 to white)."""
    import pydicom
    from pydicom.data import get_testdata_file

    arr = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    return ((arr - arr.min()) / (arr.max() - arr.min()) * 65535).astype(np.uint16)


def raw_image(doc, page, rect, dictionary: str, stream: bytes, *, flate: bool = True, filter: str = "") -> int:
    """Place an image XObject with exactly this dictionary and stream on ``page``.

    ``update_stream`` drops /Filter, so the filter is set afterwards: FlateDecode when
    ``flate``, else ``filter`` (for example /DCTDecode for raw JPEG bytes)."""
    # a placeholder unique per call: PyMuPDF shares one xref between identical images
    _placeholders.append(len(_placeholders) + 1)
    n = len(_placeholders)
    placeholder = _bytes(Image.new("RGB", (2, 2), (n % 256, n // 256 % 256, 7)), "PNG")
    xref = page.insert_image(rect, stream=placeholder)
    body = zlib.compress(stream) if flate else stream
    doc.update_object(xref, f"<< /Type /XObject /Subtype /Image {dictionary} /Length {len(body)} >>")
    doc.update_stream(xref, body, compress=False)
    if flate or filter:
        doc.xref_set_key(xref, "Filter", "/FlateDecode" if flate else filter)
    return xref


def png_idat(png: bytes) -> bytes:
    """A PNG file's compressed rows: its IDAT chunks' bodies, joined."""
    at, parts = 8, []
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        if png[at + 4:at + 8] == b"IDAT":
            parts.append(png[at + 8:at + 8 + length])
        at += 12 + length
    return b"".join(parts)


def png_predicted_image(doc, page, rect, image: Image.Image, **keys: str) -> tuple[int, bytes]:
    """Place ``image`` as pdfTeX stores a PNG: a Flate stream of PNG's own filtered rows (Pillow's
    IDAT, which picks a filter per row), with PNG predictors in DecodeParms, in the colour space
    PyMuPDF gives the picture (ICC-based RGB, DeviceGray). ``keys`` set more dictionary entries.
    Returns (xref, the stream)."""
    idat = png_idat(_bytes(image, "PNG"))
    xref = page.insert_image(rect, stream=_bytes(image, "PNG"))
    doc.update_stream(xref, idat, compress=False)
    doc.xref_set_key(xref, "Filter", "/FlateDecode")
    doc.xref_set_key(xref, "DecodeParms", f"<< /Predictor 15 /Colors {len(image.getbands())} "
                                          f"/Columns {image.width} /BitsPerComponent 8 >>")
    for key, value in keys.items():
        doc.xref_set_key(xref, key, value)
    return xref, idat


def append_content(doc, page, ops: bytes) -> None:
    """Append operators to a page's content (for inline images)."""
    page.clean_contents()
    xref = page.get_contents()[0]
    doc.update_stream(xref, doc.xref_stream(xref) + b"\n" + ops + b"\n")


def build_fixture_pdf() -> tuple[bytes, dict[str, dict]]:
    """The main fixture: (PDF bytes, what is on each page)."""
    s = samples()
    doc = pymupdf.open()
    expect: dict[str, dict] = {}

    def page_with(caption: str | None = None):
        page = doc.new_page(width=400, height=400)
        if caption:
            page.insert_text((72, 222), caption, fontsize=10)
        return page

    # 1. plain JPEG, with a figure caption under it
    page = page_with("Figure 1. Chelsea the cat, for scale.")
    page.insert_image(RECT, stream=_bytes(s["cat"], "JPEG", quality=90))
    expect["jpeg"] = {"page": 1, "caption": "Figure 1. Chelsea the cat, for scale."}

    # 2. PNG with alpha (becomes an SMask): left half transparent
    rgba = np.array(s["retina"].convert("RGBA"))
    rgba[:, : W // 2, 3] = 0
    page = page_with()
    page.insert_image(RECT, stream=_bytes(Image.fromarray(rgba), "PNG"))
    expect["alpha"] = {"page": 2}

    # 3. CMYK JPEG (Adobe, inverted) -- colours must match the rendered page
    page = page_with()
    page.insert_image(RECT, stream=_bytes(s["coffee"].convert("CMYK"), "JPEG", quality=92))
    expect["cmyk"] = {"page": 3}

    # 4. 8-bit grayscale
    page = page_with()
    page.insert_image(RECT, stream=_bytes(s["camera"].convert("L"), "PNG"))
    expect["gray"] = {"page": 4}

    # 5. 1-bit with Decode [1 0]: 1 means black; a naive reader shows it inverted
    bits = np.asarray(s["camera"].convert("L")) > 110
    packed = np.packbits(~bits, axis=1).tobytes()  # sample 1 = black under Decode [1 0]
    page = page_with()
    raw_image(doc, page, RECT, f"/Width {W} /Height {H} /ColorSpace /DeviceGray /BitsPerComponent 1 "
              "/Decode [1 0]", packed)
    expect["bitonal"] = {"page": 5}

    # 6. 16-bit grayscale (a real CT slice), big-endian as PDF stores it
    ct = ct_pixels()
    page = page_with()
    raw_image(doc, page, pymupdf.Rect(72, 72, 72 + ct.shape[1], 72 + ct.shape[0]),
              f"/Width {ct.shape[1]} /Height {ct.shape[0]} /ColorSpace /DeviceGray /BitsPerComponent 16",
              ct.astype(">u2").tobytes())
    expect["gray16"] = {"page": 6}

    # 7. Indexed (palette) image
    pal = s["ihc"].convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette = bytes(pal.getpalette()[: 64 * 3])
    page = page_with()
    raw_image(doc, page, RECT, f"/Width {W} /Height {H} /ColorSpace [/Indexed /DeviceRGB 63 <{palette.hex()}>] "
              "/BitsPerComponent 8", np.asarray(pal).astype(np.uint8).tobytes())
    expect["indexed"] = {"page": 7}

    # 8-10. the same image on three pages (one xref)
    astro = _bytes(s["astronaut"], "JPEG", quality=85)
    for n in (8, 9, 10):
        page_with().insert_image(RECT, stream=astro)
    expect["repeated"] = {"pages": (8, 9, 10)}

    # 11. an inline image (BI ... ID ... EI), ASCIIHex-encoded RGB
    small = s["rocket"].resize((64, 48))
    hexdata = np.asarray(small).tobytes().hex().encode() + b">"
    page = page_with()
    append_content(doc, page, b"q 200 0 0 132 72 196 cm BI /W 64 /H 48 /CS /RGB /BPC 8 /F /AHx ID "
                   + hexdata + b" EI Q")
    expect["inline"] = {"page": 11}

    # 12. JPEG 2000
    page = page_with()
    page.insert_image(RECT, stream=_bytes(s["rocket"], "JPEG2000"))
    expect["jpx"] = {"page": 12}

    # 13. a tiny image (a bullet): found, skipped
    page = page_with()
    page.insert_image(pymupdf.Rect(72, 72, 80, 80), stream=_bytes(Image.new("RGB", (8, 8), (200, 0, 0)), "PNG"))
    expect["tiny"] = {"page": 13}

    # 14. a corrupt image stream: an error row, the document goes on
    page = page_with()
    raw_image(doc, page, RECT, f"/Width {W} /Height {H} /ColorSpace /DeviceRGB /BitsPerComponent 8",
              b"\xff\xd8\xff\xe0 this is not really a JPEG", flate=False, filter="/DCTDecode")
    expect["corrupt"] = {"page": 14}

    # 15. a medical image after the corrupt one (proves the document went on)
    page = page_with("Fig. 15 Fundus photograph of a retina.")
    page.insert_image(RECT, stream=_bytes(s["retina"], "PNG"))
    expect["after_corrupt"] = {"page": 15, "caption": "Fig. 15 Fundus photograph of a retina."}

    data = doc.tobytes(garbage=0)
    doc.close()
    return data, expect


def pdf_with_images(images: list[Image.Image], *, pages_per_image: int = 1) -> bytes:
    doc = pymupdf.open()
    for image in images:
        for _ in range(pages_per_image):
            doc.new_page(width=400, height=400).insert_image(RECT, stream=_bytes(image, "PNG"))
    data = doc.tobytes()
    doc.close()
    return data


def encrypted_pdf(image: Image.Image, *, user_password: str) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_image(RECT, stream=_bytes(image, "JPEG"))
    buf = io.BytesIO()
    doc.save(buf, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner-secret", user_pw=user_password)
    doc.close()
    return buf.getvalue()
