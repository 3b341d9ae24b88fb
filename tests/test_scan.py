"""The judge: exactly one row per candidate, in order, whatever happened to it."""

import pytest

from medpic.model.classifier import Classifier
from medpic.report import Summary
from medpic.scan import JudgeOptions, judge, scan
from medpic.settings import Settings
from medpic.sources.candidates import Extraction, ImageCandidate, Status
from tests.conftest import encode


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load(Settings(batch_size=2))  # small batches: rows must cross batch borders in order


def test_one_row_per_candidate_in_order_across_batches(classifier, cat, retina):
    png, jpeg = encode(retina, "PNG"), encode(cat, "JPEG")
    where = lambda i: dict(source="s", ref=f"r{i}", found_by="file", order=i)  # noqa: E731
    candidates = [
        ImageCandidate.from_bytes(png, **where(0)),
        ImageCandidate(**where(1), status=Status.ERROR, reason="HTTP 404 from 'x'"),
        ImageCandidate.from_bytes(b"<html>not an image</html>", **where(2)),
        ImageCandidate.from_bytes(jpeg, **where(3)),
        ImageCandidate(**where(4), status=Status.SKIPPED, reason="image limit reached (1 per page)"),
        ImageCandidate.from_bytes(encode(cat.resize((10, 10)), "PNG"), **where(5)),
        ImageCandidate.from_bytes(png, **where(6)),
    ]
    options = JudgeOptions(threshold=None, max_pixels=10**8, decode_workers=2, min_side=32)
    rows = [j.row for j in judge(iter(candidates), classifier, options)]
    assert [r.image for r in rows] == [f"r{i}" for i in range(7)]
    assert [r.status for r in rows] == ["ok", "error", "error", "ok", "skipped", "skipped", "ok"]
    assert rows[1].reason == "HTTP 404 from 'x'" and "looks like HTML" in rows[2].reason
    assert rows[5].reason == "too small: 10x10 is under 32 px"
    assert [rows[i].label for i in (0, 3, 6)] == ["medical", "non-medical", "medical"]
    assert rows[0].width == retina.width and rows[0].p_medical == rows[6].p_medical


def test_scan_takes_the_small_image_rule_from_its_extraction(classifier, cat):
    tiny = ImageCandidate.from_bytes(encode(cat.resize((10, 10)), "PNG"), source="s", ref="t", found_by="img", order=0)
    options = JudgeOptions.from_settings(Settings())
    files = scan(Extraction("s", "images", [tiny]), classifier, options)
    page = scan(Extraction("s", "web", [tiny], min_side=32), classifier, options)
    assert files.rows[0].status == "ok" and page.rows[0].status == "skipped"
    assert page.summary() == Summary(found=1, ok=0, medical=0, skipped=1, errors=0)


def test_summary_line_has_the_counts_and_plurals():
    assert Summary(found=1, ok=1, medical=1, skipped=0, errors=0).line() == \
        "1 image: 1 medical, 0 non-medical, 0 errors"
    assert Summary(found=5, ok=3, medical=1, skipped=1, errors=1).line() == \
        "5 images: 1 medical, 2 non-medical, 1 skipped, 1 error"


def test_a_bomb_row_carries_the_size_it_declared(classifier):
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    bomb = b"\x89PNG\r\n\x1a\n" + chunk
    candidate = ImageCandidate.from_bytes(bomb, source="s", ref="bomb.png", found_by="file", order=0)
    row, = [j.row for j in judge([candidate], classifier, JudgeOptions.from_settings(Settings()))]
    assert (row.status, row.width, row.height) == ("error", 60000, 60000)
    assert row.reason.startswith("too large: 60000x60000 pixels")
