"""What other projects' test PDFs found: soft masks applied once, only drawn pictures, annotation
pictures, bounded content streams, damage decided by MuPDF's own signal. Every PDF is built here."""

import time
import zlib

import pymupdf
import pytest
from PIL import Image

from medpic.errors import NotAPdf
from medpic.settings import Settings
from medpic.sources.pdf import extract_pdf
from medpic.sources.pdf.pixels import judge_warnings
from tests.pdf_fixtures import _bytes, samples

LIMITS = Settings().pdf_limits()
RECT = pymupdf.Rect(20, 20, 220, 220)


def extract(data: bytes, limits=LIMITS):
    extraction = extract_pdf(data, source="t.pdf", limits=limits)
    return extraction, list(extraction.candidates)


def rgba(image: Image.Image) -> Image.Image:
    out = image.convert("RGBA")
    out.putalpha(Image.linear_gradient("L").resize(out.size))
    return out


def test_a_soft_mask_with_matte_is_applied_once():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(RECT, stream=_bytes(rgba(samples()["retina"]), "PNG"))
    (xref, smask, *_), = page.get_images(full=True)
    assert smask
    doc.xref_set_key(smask, "Matte", "[1 1 1]")
    extraction, rows = extract(doc.tobytes())
    assert [(r.status, r.found_by) for r in rows] == [("ok", "xobject")]  # the mask is no row of its own
    assert rows[0].data[:4] == b"\x89PNG"  # saved with its transparency


def test_images_no_page_draws_are_not_rows_but_are_counted():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(RECT, stream=_bytes(samples()["cat"], "PNG"))
    page.insert_image(pymupdf.Rect(240, 20, 440, 220), stream=_bytes(samples()["retina"], "PNG"))
    first, *_ = page.get_contents()
    doc.xref_set_key(page.xref, "Contents", f"{first} 0 R")  # the second picture stays a resource only
    extraction, rows = extract(doc.tobytes())
    assert len(rows) == 1 and rows[0].status == "ok"
    assert any("no page draws" in n for n in extraction.notes)


def test_a_stamp_annotation_picture_is_a_row():
    doc = pymupdf.open()
    page = doc.new_page()
    page.add_stamp_annot(RECT, stamp=_bytes(samples()["retina"], "PNG"))
    _, rows = extract(doc.tobytes())
    assert [(r.found_by, r.status, r.page) for r in rows] == [("annotation", "ok", 1)]


def test_inline_stencil_masks_are_not_pictures():
    doc = pymupdf.open()
    page = doc.new_page()
    bits = bytes([0b10101010] * 8 * 64)
    stencil = b"q 64 0 0 64 50 50 cm BI /IM true /W 64 /H 64 /BPC 1 ID " + bits + b" EI Q\n"
    page.insert_image(RECT, stream=_bytes(samples()["cat"], "PNG"))
    xref = page.get_contents()[0]
    doc.update_stream(xref, doc.xref_stream(xref) + b"\n" + stencil)
    extraction, rows = extract(doc.tobytes())
    assert [r.found_by for r in rows] == ["xobject"]
    assert any("stencil" in n for n in extraction.notes)


@pytest.mark.parametrize("filters", ["/FlateDecode", "/JBIG2Decode"])
def test_a_content_stream_bomb_is_not_inflated(filters):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(RECT, stream=_bytes(samples()["cat"], "PNG"))
    bomb = doc.get_new_xref()
    doc.update_object(bomb, "<<>>")
    doc.update_stream(bomb, zlib.compress(b" " * 5_000_000, 9), new=True, compress=False)
    doc.xref_set_key(bomb, "Filter", filters)
    contents = page.get_contents()
    doc.xref_set_key(page.xref, "Contents", f"[{contents[0]} 0 R {bomb} 0 R]")
    started = time.monotonic()
    extraction, rows = extract(doc.tobytes(), Settings(max_pdf_stream_bytes=1_000_000).pdf_limits())
    assert time.monotonic() - started < 5
    assert any("not interpreted" in n and str(bomb) in n for n in extraction.notes), extraction.notes
    assert [r.status for r in rows] == ["ok"]  # the page's picture is still listed, from its resources


def test_a_damaged_image_is_its_own_row_and_the_page_goes_on():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(RECT, stream=_bytes(samples()["cat"], "PNG"))
    page.insert_image(pymupdf.Rect(240, 20, 440, 220), stream=_bytes(samples()["retina"], "JPEG"))
    xref = [x[0] for x in page.get_images(full=True) if x[8] == "DCTDecode"][0]
    doc.xref_set_key(xref, "Filter", "/JPXDecode")
    doc.update_stream(xref, b"\x00\x00\x00\x0cjP  broken jpx", compress=False)
    extraction, rows = extract(doc.tobytes())
    assert sorted(r.status for r in rows) == ["error", "ok"]
    assert not any("could not be read" in n for n in extraction.notes), extraction.notes


def test_harmless_jbig2_warnings_pass_and_missing_features_are_named():
    judge_warnings("jbig2dec warning: failed to read end of possible terminating marker code, assuming terminating "
                   "marker code (segment 4294967295)\n... repeated 3 times...")
    with pytest.raises(Exception, match="unsupported format: JBIG2 with intermediate generic region"):
        judge_warnings("jbig2dec error: unhandled segment type 'intermediate generic region' (NYI) (segment 1)\n"
                       "padding truncated image")
    with pytest.raises(Exception, match="corrupt image: padding truncated image"):
        judge_warnings("padding truncated image")


def test_a_pdf_with_junk_before_its_header_or_none_at_all_opens():
    doc = pymupdf.open()
    doc.new_page().insert_image(RECT, stream=_bytes(samples()["cat"], "PNG"))
    data = doc.tobytes()
    assert len(extract(b"\x00" * 2000 + data)[1]) == 1  # header past the first KiB
    assert len(extract(data.replace(b"%PDF-", b"%XXX-", 1))[1]) == 1  # no header: objects are enough
    with pytest.raises(NotAPdf):
        extract(b"<html><body>not a pdf</body></html>")
