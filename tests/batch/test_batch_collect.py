"""The driver's reassembly: rows in any order, duplicates, and a retried attempt never mixed in."""

from __future__ import annotations

import hashlib
import json

from medpic.batch.collect import Collector
from medpic.batch.rows import END, IMAGE
from medpic.report import ReportRow


def image(target: str, attempt: str, order: int, *, label: str = "non-medical", data: bytes | None = None) -> dict:
    row = ReportRow(source=target, image=f"{target}/{attempt}/{order}.png", status="ok", label=label,
                    p_medical=0.95 if label == "medical" else 0.05, confidence=0.95, width=64, height=64,
                    sha256=hashlib.sha256(data).hexdigest() if data else "")
    fields = dict(row.as_dict(), **({"save_as": f"{row.sha256}.png"} if data else {}))
    return dict(target=target, seq=0, attempt=attempt, kind=IMAGE, order=order, fields=json.dumps(fields), data=data,
                pixels=None)


def end(target: str, attempt: str, count: int) -> dict:
    fields = dict(count=count, status="ok", reason="", notes=["a note"], started=0.0)
    return dict(target=target, seq=0, attempt=attempt, kind=END, order=count, fields=json.dumps(fields), data=None,
                pixels=None)


def test_a_target_is_finished_by_its_last_row_whatever_the_order_and_duplicates(tmp_path):
    collector = Collector(images_dir=tmp_path)
    picture = b"\x89PNG fake bytes"
    rows = [image("t", "a", 1, label="medical", data=picture), end("t", "a", 3), image("t", "a", 1), image("t", "a", 0)]
    assert [collector.add(r) for r in rows] == [None, None, None, None]
    result = collector.add(image("t", "a", 2))
    assert [r.image for r in result.rows] == ["t/a/0.png", "t/a/1.png", "t/a/2.png"]
    assert result.record.images == 3 and result.record.notes == ("a note",)
    assert (tmp_path / f"{hashlib.sha256(picture).hexdigest()}.png").read_bytes() == picture
    assert collector.add(image("t", "a", 2)) is None  # late duplicates of a finished target are ignored


def test_two_attempts_of_a_target_are_never_mixed(tmp_path):
    collector = Collector(images_dir=None)
    for row in [image("t", "first", 0), end("t", "first", 2), image("t", "second", 0)]:
        assert collector.add(row) is None
    result = collector.add(end("t", "second", 1))  # the retry found one image: it is complete on its own
    assert [r.image for r in result.rows] == ["t/second/0.png"]
    assert collector.add(image("t", "first", 1)) is None
