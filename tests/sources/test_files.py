"""Files and uploads become candidates through one function, each keeping its own reason."""

import pytest

from medpic.errors import FileTooLarge
from medpic.settings import Settings
from medpic.sources.files import InputFile, file_candidates, read_file_capped
from medpic.sources.targets import kind_of_file, open_image_files
from tests.conftest import encode


def test_each_unreadable_upload_keeps_its_real_reason(tmp_path, cat):
    good = tmp_path / "cat.png"
    good.write_bytes(encode(cat.resize((40, 40)), "PNG"))
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"0" * 5000)
    uploads = [InputFile("upload", str(p), ref=name) for p, name in
               [(good, "cat.png"), (tmp_path / "gone.png", "gone.png"), (big, "big.png"), (tmp_path, "folder")]]
    extraction = open_image_files(uploads, settings=Settings(max_image_bytes=4000), source="upload", found_by="upload")
    got = list(extraction.candidates)
    assert [c.ref for c in got] == ["cat.png", "gone.png", "big.png", "folder"]
    assert [c.found_by for c in got] == ["upload"] * 4
    assert got[0].status == "ok" and got[0].extension == "png" and len(got[0].sha256) == 64
    assert [c.reason for c in got[1:]] == [
        "no such file", "file too large: 5,004 bytes is over the limit of 4,000", "not a regular file"]


def test_too_large_carries_size_and_limit(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"0" * 10)
    with pytest.raises(FileTooLarge) as caught:
        read_file_capped(f, 5)
    assert (caught.value.size, caught.value.limit) == (10, 5)


def test_candidates_are_read_lazily(tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for p in paths:
        p.write_bytes(b"\x89PNG")
    stream = file_candidates([InputFile("d", str(p)) for p in paths], max_bytes=100)
    first = next(stream)
    paths[2].unlink()  # not read yet: its row says so
    assert first.status == "ok" and [c.reason for c in stream] == ["", "no such file"]


def test_a_pdf_is_known_by_its_bytes_not_its_name(tmp_path):
    disguised = tmp_path / "scan.png"
    disguised.write_bytes(b"%PDF-1.7\n...")
    named = tmp_path / "paper.pdf"
    named.write_bytes(b"<html>")
    assert kind_of_file(disguised) == "pdf"
    assert kind_of_file(named) == "other"
    assert kind_of_file(tmp_path / "photo.JPG") == "image"
