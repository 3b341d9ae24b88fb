"""PDF extraction: every image, faithful pixels, bad input reported, completeness vs pdfimages."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from medpic.errors import NotAPdf, PdfDamaged, PdfEncrypted
from medpic.settings import Settings
from medpic.sources.pdf import extract_pdf as extract_lazily
from tests.pdf_fixtures import (H, RECT, W, build_fixture_pdf, encrypted_pdf, pdf_with_images, png_predicted_image,
                                raw_image, samples)

LIMITS = Settings().pdf_limits()


def extract_pdf(data, **kw):
    """The extraction with its lazily decoded candidates read into a tuple, as the judge reads them."""
    extraction = extract_lazily(data, **kw)
    extraction.candidates = tuple(extraction.candidates)
    return extraction


def test_pictures_are_decoded_only_when_asked_for(fixture_pdf):
    import inspect

    extraction = extract_lazily(fixture_pdf[0], source="fixture.pdf", limits=LIMITS)
    assert inspect.getgeneratorstate(extraction.candidates) == inspect.GEN_CREATED
    assert extraction.pages == 15  # the document was read through; its pictures wait
    first = next(extraction.candidates)
    assert first.order == 0 and (first.image is not None or first.status != "ok")
    extraction.candidates.close()  # dropped half-way: the document is closed, nothing leaks


@pytest.fixture(scope="module")
def fixture_pdf():
    return build_fixture_pdf()


@pytest.fixture(scope="module")
def extraction(fixture_pdf):
    return extract_pdf(fixture_pdf[0], source="fixture.pdf", limits=LIMITS)


def by_page(extraction):
    return {c.page: c for c in extraction.candidates}


def rendered(pdf: bytes, page: int, bbox, size) -> np.ndarray:
    """What a viewer shows in the image's box, at the image's own resolution."""
    doc = pymupdf.open(stream=pdf)
    rect = pymupdf.Rect(bbox)
    matrix = pymupdf.Matrix(size[0] / rect.width, size[1] / rect.height)
    pix = doc[page - 1].get_pixmap(matrix=matrix, clip=rect, alpha=False, colorspace=pymupdf.csRGB)
    arr = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[..., :3]
    return np.asarray(Image.fromarray(arr).resize(size))


def test_every_image_is_a_row_in_page_order(extraction):
    pages = [c.page for c in extraction.candidates]
    assert pages == [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15]
    assert [c.order for c in extraction.candidates] == list(range(13))
    assert extraction.pages == 15


@pytest.mark.parametrize("page", [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15])
def test_pixels_match_what_the_page_shows(fixture_pdf, extraction, page):
    """CMYK colours, Decode arrays (1-bit), 16-bit, Indexed, JPX, inline, alpha: never inverted."""
    c = by_page(extraction)[page]
    assert c.status == "ok", c.reason
    got = np.asarray(c.image, np.float64)
    want = rendered(fixture_pdf[0], page, c.bbox, c.image.size).astype(np.float64)
    diff = np.abs(got - want).mean()
    inverted = np.abs(got - (255 - want)).mean()
    assert diff < 12, f"page {page}: mean difference {diff:.1f} from the rendered page"
    assert diff < inverted / 4


def test_alpha_is_kept_for_saving_and_flattened_for_the_classifier(extraction):
    c = by_page(extraction)[2]
    saved = Image.open(__import__("io").BytesIO(c.data))
    assert c.extension == "png" and saved.mode == "RGBA"
    alpha = np.asarray(saved)[..., 3]
    assert alpha[:, :90].max() == 0 and alpha[:, 110:].min() == 255
    assert np.asarray(c.image)[:, :90].min() == 255  # transparent -> white, not black


def test_plain_jpeg_keeps_its_original_bytes(fixture_pdf, extraction):
    c = by_page(extraction)[1]
    doc = pymupdf.open(stream=fixture_pdf[0])
    xref = int(c.ref.rsplit("-", 1)[1])
    assert c.extension == "jpg" and c.data == doc.xref_stream_raw(xref)
    assert c.data[:3] == b"\xff\xd8\xff"


def test_png_predicted_rows_are_saved_as_they_are_stored():
    """pdfTeX keeps a PNG's compressed rows: the saved PNG is built around them, not encoded again,
    and shows the same pixels. Where the stored rows are not what the page shows (a Decode array,
    also abbreviated /D, which MuPDF honours; a one-filter array, whose parameters MuPDF pairs by
    place and so ignores here) the picture is encoded from the pixels shown."""
    import io

    s = samples()
    cases = [("rgb", s["coffee"], {}, True), ("gray", s["camera"].convert("L"), {}, True),
             ("decode", s["astronaut"], {"Decode": "[1 0 1 0 1 0]"}, False),
             ("abbreviated", s["rocket"], {"D": "[1 0 1 0 1 0]"}, False),
             ("filter array", s["cat"], {"Filter": "[/FlateDecode]"}, False)]
    doc = pymupdf.open()
    stored = [png_predicted_image(doc, doc.new_page(width=400, height=400), RECT, picture, **keys)[1]
              for _, picture, keys, _ in cases]
    assert doc.xref_get_key(doc[0].get_images()[0][0], "ColorSpace")[0] == "xref"  # ICC-based
    candidates = extract_pdf(doc.tobytes(), source="tex.pdf", limits=LIMITS).candidates
    assert len(candidates) == len(cases)
    for (name, picture, _, copied), stream, c in zip(cases, stored, candidates):
        assert c.status == "ok" and c.extension == "png", name
        assert (stream in c.data) == copied, name
        saved = Image.open(io.BytesIO(c.data))
        assert np.array_equal(np.asarray(saved.convert("RGB")), np.asarray(c.image)), name  # what the page shows
        if copied:
            assert saved.mode == picture.mode and np.array_equal(np.asarray(saved), np.asarray(picture))
    shown = 255 - np.asarray(s["astronaut"])
    assert np.array_equal(np.asarray(candidates[2].image), shown)


def test_a_jpeg_shown_through_an_abbreviated_decode_array_is_not_saved_as_its_original():
    """/D is MuPDF's reading of /Decode too: the page shows the JPEG inverted, so its bytes are not the picture."""
    import io

    picture = samples()["coffee"]
    buf = io.BytesIO()
    picture.save(buf, "JPEG", quality=95)
    doc = pymupdf.open()
    raw_image(doc, doc.new_page(width=400, height=400), RECT, f"/Width {W} /Height {H} /ColorSpace /DeviceRGB "
              "/BitsPerComponent 8 /D [1 0 1 0 1 0]", buf.getvalue(), flate=False, filter="/DCTDecode")
    (c,) = extract_pdf(doc.tobytes(), source="d.pdf", limits=LIMITS).candidates
    assert c.extension == "png" and c.data != buf.getvalue()
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(c.data)).convert("RGB")), np.asarray(c.image))
    assert np.asarray(c.image).mean() > 255 - np.asarray(picture).mean() - 5  # inverted, as shown


def test_sixteen_bit_ct_is_not_crushed(extraction):
    arr = np.asarray(by_page(extraction)[6].image)
    assert arr.std() > 20 and arr.max() > 200


def test_one_image_on_three_pages_is_one_row(extraction):
    c = by_page(extraction)[8]
    assert c.pages == (8, 9, 10)
    assert sum(1 for x in extraction.candidates if 9 in x.pages) == 1


def test_identical_pictures_in_two_objects_are_merged():
    s = samples()
    pdf = pdf_with_images([s["cat"], s["retina"], s["cat"].copy()])
    doc = pymupdf.open(stream=pdf)
    # PyMuPDF shares one xref for identical streams; force a second object for the third page
    assert len({img[0] for p in doc for img in p.get_images()}) >= 2
    extraction = extract_pdf(pdf, source="dup.pdf", limits=LIMITS)
    candidates = extraction.candidates
    assert len(candidates) == 2
    assert candidates[0].pages == (1, 3)


def test_inline_image_is_found(extraction):
    c = by_page(extraction)[11]
    assert c.found_by == "inline" and c.ref == "page-11/inline-1" and (c.width, c.height) == (64, 48)


def test_captions_come_from_the_text_next_to_the_figure(extraction):
    assert by_page(extraction)[1].alt == "Figure 1. Chelsea the cat, for scale."
    assert by_page(extraction)[15].alt == "Fig. 15 Fundus photograph of a retina."
    assert by_page(extraction)[3].alt == ""


def test_tiny_image_is_skipped_with_reason(extraction):
    c = by_page(extraction)[13]
    assert c.status == "skipped" and c.reason == "too small: 8x8 is under 32 px"


def test_corrupt_stream_is_an_error_and_the_document_goes_on(extraction):
    c = by_page(extraction)[14]
    assert c.status == "error" and c.reason.startswith("corrupt image")
    assert c.image is None
    assert by_page(extraction)[15].status == "ok"


def test_limits_are_reported_not_crashes(fixture_pdf):
    few_pages = extract_pdf(fixture_pdf[0], source="f.pdf", limits=Settings(max_pdf_pages=3).pdf_limits())
    assert [c.page for c in few_pages.candidates] == [1, 2, 3]
    assert few_pages.notes == ["page limit reached: read 3 of 15 pages"]
    few_images = extract_pdf(fixture_pdf[0], source="f.pdf", limits=Settings(max_images=2).pdf_limits())
    assert [c.status for c in few_images.candidates[2:4]] == ["skipped", "skipped"]
    assert few_images.candidates[2].reason == "image limit reached (2 per document)"
    small_cap = extract_pdf(fixture_pdf[0], source="f.pdf", limits=Settings(max_pixels=20_000).pdf_limits())
    assert by_page(small_cap)[1].reason == "too large: 200x132 pixels is over the limit of 20,000"


def test_encrypted_pdf_with_a_password_is_refused():
    with pytest.raises(PdfEncrypted, match="encrypted"):
        extract_pdf(encrypted_pdf(samples()["cat"], user_password="secret"), source="locked.pdf", limits=LIMITS)


def test_encrypted_pdf_with_an_empty_password_opens():
    candidates = extract_pdf(encrypted_pdf(samples()["cat"], user_password=""), source="owner-only.pdf", limits=LIMITS).candidates
    assert len(candidates) == 1 and candidates[0].status == "ok"


def test_truncated_pdf_is_repaired_or_refused_clearly(fixture_pdf):
    data = fixture_pdf[0]
    try:
        result = extract_pdf(data[: len(data) // 2], source="cut.pdf", limits=LIMITS)
    except PdfDamaged as exc:
        assert exc.reason.startswith("damaged PDF")
    else:
        assert any("repaired" in n for n in result.notes)
        assert all(c.status in ("ok", "error", "skipped") for c in result.candidates)


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 a zip file", b"<html>not a pdf</html>"])
def test_not_a_pdf_is_refused_by_content(data):
    with pytest.raises(NotAPdf, match="not a PDF"):
        extract_pdf(data, source="renamed.pdf", limits=LIMITS)


# -- completeness against poppler's pdfimages -------------------------------------------------

def pdfimages_rows(path: Path) -> list[tuple[str, str]]:
    """(page, object id) of every picture poppler lists; soft masks and stencils excluded."""
    out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        f = line.split()
        if f[2] == "image":
            rows.append((f[0], "inline" if f[10].startswith("[inline") else f[10]))
    return rows


def our_rows(extraction) -> list[tuple[str, str]]:
    rows = []
    for c in extraction.candidates:
        if c.found_by == "inline":
            rows.append((str(c.page), "inline"))
            continue
        for ref in (c.ref, *extraction.duplicates.get(c.ref, ())):
            rows.extend((str(p), ref.rsplit("xref-", 1)[1]) for p in c.pages)
    return rows


def unique(rows):
    xobjects = {obj for _, obj in rows if obj != "inline"}
    inline = sorted(page for page, obj in rows if obj == "inline")
    return xobjects, inline


needs_poppler = pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler-utils not installed")


@needs_poppler
def test_complete_against_pdfimages_on_the_fixture(fixture_pdf, extraction, tmp_path):
    path = tmp_path / "fixture.pdf"
    path.write_bytes(fixture_pdf[0])
    assert unique(our_rows(extraction)) == unique(pdfimages_rows(path))
    assert sorted(our_rows(extraction)) == sorted(pdfimages_rows(path))


# Real manuals with images from Debian documentation packages (tools/system-deps.sh installs them).
REAL_PDFS = [p for p in (Path("/usr/share/doc/doxygen/doxygen_manual.pdf"), Path("/usr/share/doc/why3-doc-pdf/manual.pdf"),
                         Path("/usr/share/doc/asymptote/asymptote.pdf")) if p.is_file()]


@needs_poppler
@pytest.mark.skipif(not REAL_PDFS, reason="no Debian documentation PDFs installed (make test installs them)")
@pytest.mark.parametrize("path", REAL_PDFS, ids=lambda p: p.name)
def test_complete_against_pdfimages_on_real_pdfs(path):
    extraction = extract_pdf(path.read_bytes(), source=str(path), limits=Settings(max_images=100_000).pdf_limits())
    assert not extraction.notes or all("stencil" in n for n in extraction.notes), extraction.notes
    assert unique(our_rows(extraction)) == unique(pdfimages_rows(path))


def test_soft_mask_of_another_size_is_scaled_not_an_error():
    """Regression: a 64x64 image with a 32x32 SMask (allowed by the spec) was an error row."""
    import zlib

    from tests.pdf_fixtures import raw_image

    doc = pymupdf.open()
    page = doc.new_page(width=300, height=300)
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0] = 200
    mask = np.zeros((32, 32), np.uint8)
    mask[:, 16:] = 255
    smask = doc.get_new_xref()
    body = zlib.compress(mask.tobytes())
    doc.update_object(smask, f"<< /Type /XObject /Subtype /Image /Width 32 /Height 32 /ColorSpace /DeviceGray "
                             f"/BitsPerComponent 8 /Length {len(body)} >>")
    doc.update_stream(smask, body, compress=False)
    doc.xref_set_key(smask, "Filter", "/FlateDecode")
    xref = raw_image(doc, page, pymupdf.Rect(50, 50, 114, 114), "/Width 64 /Height 64 /ColorSpace /DeviceRGB "
                     "/BitsPerComponent 8", rgb.tobytes())
    doc.xref_set_key(xref, "SMask", f"{smask} 0 R")
    c, = extract_pdf(doc.tobytes(), source="mask.pdf", limits=LIMITS).candidates
    assert c.status == "ok", c.reason
    alpha = np.asarray(Image.open(__import__("io").BytesIO(c.data)))[..., 3]
    assert alpha[:, :28].max() == 0 and alpha[:, 36:].min() == 255


def test_unreadable_inline_image_is_noted_not_lost():
    """Regression: a truncated inline image vanished with neither a row nor a note."""
    from tests.pdf_fixtures import append_content

    doc = pymupdf.open()
    page = doc.new_page(width=300, height=300)
    page.insert_text((20, 20), "text")
    data = bytes(range(256)) * 47  # 12,032 of the 12,288 bytes a 64x64 RGB image needs
    append_content(doc, page, b"q 64 0 0 64 50 50 cm BI /W 64 /H 64 /CS /RGB /BPC 8 /F /AHx ID "
                   + data.hex().encode() + b"> EI Q")
    result = extract_pdf(doc.tobytes(), source="inline.pdf", limits=LIMITS)
    if not result.candidates:
        assert any("inline image" in n for n in result.notes), result.notes
    else:
        assert result.candidates[0].found_by == "inline"


def test_a_page_tree_claiming_two_billion_pages_is_a_damaged_pdf_not_a_crash():
    import re

    doc = pymupdf.open()
    doc.new_page()
    lying = re.sub(rb"/Count 1\b", b"/Count 2000000000", doc.tobytes())
    with pytest.raises(PdfDamaged, match="damaged PDF"):
        extract_pdf(lying, source="lying.pdf", limits=LIMITS)
