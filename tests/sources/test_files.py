"""Files and uploads become candidates through one function, each keeping its own reason."""

import pytest

from medpic.errors import FileTooLarge
from medpic.settings import Settings
from medpic.imaging import decode_image
from medpic.sources.files import InputFile, expand_paths, file_candidates, read_file_capped, skipped_note
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


def test_folder_walk_lists_every_file_that_decodes_and_says_what_it_passed_over(tmp_path, cat):
    """Regression: .mpo, .apng and .avifs decoded when given by name but vanished from a folder."""
    frames = [cat.resize((64, 48)), cat.resize((64, 48)).rotate(180)]
    (tmp_path / "deep").mkdir()
    frames[0].save(tmp_path / "stereo.mpo", "MPO", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "deep" / "anim.apng", "PNG", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "seq.avifs", "AVIF", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "gray.pgm", "PPM")  # opens, outside the allow-list: a row that says so
    (tmp_path / "layers.psd").write_bytes(b"8BPS" + bytes(40))
    (tmp_path / "phone.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    for name in ("notes.txt", "more.txt", "meta.json", "Makefile"):
        (tmp_path / name).write_text("not a picture")
    (tmp_path / ".hidden.png").write_bytes(b"\x89PNG")

    skipped: list[str] = []
    found = [f.path for f in expand_paths([str(tmp_path)], skipped=skipped)]
    names = [p.rsplit("/", 1)[-1] for p in found]
    assert names == ["anim.apng", "gray.pgm", "layers.psd", "phone.HEIC", "seq.avifs", "stereo.mpo"]
    for path in found:
        if path.endswith((".apng", ".avifs", ".mpo")):
            assert decode_image(open(path, "rb").read()).width == 64
    assert sorted(p.rsplit("/", 1)[-1] for p in skipped) == ["Makefile", "meta.json", "more.txt", "notes.txt"]
    assert skipped_note(skipped) == "4 files skipped (not images by extension: .txt 2, .json 1, no extension 1)"


def test_skipped_note_is_empty_or_one_line():
    assert skipped_note([]) == ""
    assert skipped_note(["a/b.DOCX"]) == "1 file skipped (not images by extension: .docx 1)"


def test_files_given_by_name_are_never_skipped(tmp_path):
    given = tmp_path / "notes.txt"
    given.write_text("x")
    skipped: list[str] = []
    assert [f.path for f in expand_paths([str(given)], skipped=skipped)] == [str(given)]
    assert skipped == []
