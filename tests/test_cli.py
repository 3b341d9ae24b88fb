"""``medpic classify`` as users run it: rows, columns, errors as rows, exit codes."""

import csv
import io
import subprocess
import sys

import pytest

from medpic.cli import main
from medpic.report import CLASSIFY_COLUMNS
from tests.conftest import encode


@pytest.fixture
def folder(tmp_path, retina, cat):
    (tmp_path / "nested").mkdir()
    (tmp_path / "fundus.jpg").write_bytes(encode(retina.resize((256, 256)), "JPEG"))
    (tmp_path / "nested" / "cat.png").write_bytes(encode(cat.resize((200, 130)), "PNG"))
    full = encode(cat, "JPEG")
    (tmp_path / "broken.jpg").write_bytes(full[: len(full) // 3])
    (tmp_path / "notes.jpg").write_bytes(b"this is not a picture at all")
    (tmp_path / "readme.txt").write_text("ignored when walking folders")
    return tmp_path


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_folder_to_csv_one_row_per_image_errors_included(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "report.csv"
    assert main(["classify", str(folder), "--csv", str(out)]) == 0
    header, *rows = read_csv(out)
    assert tuple(header[: len(CLASSIFY_COLUMNS)]) == CLASSIFY_COLUMNS
    by_name = {r[1].rsplit("/", 1)[-1]: dict(zip(header, r)) for r in rows}
    assert set(by_name) == {"fundus.jpg", "cat.png", "broken.jpg", "notes.jpg"}
    assert by_name["fundus.jpg"]["status"] == "ok" and by_name["fundus.jpg"]["label"] == "medical"
    assert by_name["cat.png"]["label"] == "non-medical" and by_name["cat.png"]["width"] == "200"
    assert by_name["broken.jpg"]["status"] == "error" and by_name["broken.jpg"]["reason"].startswith("corrupt image")
    assert by_name["notes.jpg"]["reason"] == "not an image: unknown format"
    assert by_name["notes.jpg"]["label"] == "" and by_name["notes.jpg"]["p_medical"] == ""
    assert all(r["source"] == str(folder) for r in by_name.values())
    # the bundled model names the modality of medical images only
    assert by_name["fundus.jpg"]["modality"] == "ophthalmology" and 0 < float(by_name["fundus.jpg"]["modality_confidence"]) <= 1
    for name in ("cat.png", "broken.jpg", "notes.jpg"):
        assert by_name[name]["modality"] == by_name[name]["modality_confidence"] == ""


def test_missing_path_is_a_row_not_a_crash(tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["classify", str(tmp_path / "nope.png"), "--csv", str(out)]) == 0
    (_, row), = [read_csv(out)]
    assert row[CLASSIFY_COLUMNS.index("status")] == "error"
    assert row[CLASSIFY_COLUMNS.index("reason")] == "no such file"


def test_paths_from_stdin_and_a_printed_table(folder, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{folder / 'fundus.jpg'}\n\n{folder / 'nested' / 'cat.png'}\n"))
    assert main(["classify", "-"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].split() == list(CLASSIFY_COLUMNS)
    assert len(lines) == 4 and "medical" in lines[2] and "non-medical" in lines[3]
    assert "2 images: 1 medical, 1 non-medical, 0 errors" in out.err


@pytest.mark.parametrize("argv", [
    ["classify"], ["classify", "x.png", "--threshold", "2"], ["classify", "x.png", "--batch", "0"], ["frobnicate"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_bad_environment_exits_2_with_the_variable_named(monkeypatch, capsys, folder):
    monkeypatch.setenv("MEDPIC_BATCH_SIZE", "lots")
    assert main(["classify", str(folder)]) == 2
    assert "MEDPIC_BATCH_SIZE" in capsys.readouterr().err


def test_console_script_runs(folder):
    proc = subprocess.run([sys.executable, "-m", "medpic", "classify", str(folder / "fundus.jpg")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "medical" in proc.stdout


def _damaged_tiffs(folder):
    """Three TIFFs that make the libraries talk: libtiff from C (a Deflate strip that is not
    Deflate), Pillow's logger (65535 samples per pixel) and Python warnings (a tag past the end)."""
    from tests.image_files import png_claiming, tiff

    files = {"deflate.tif": tiff(8, b"\x00garbage" * 10), "samples.tif": tiff(1, samples=65535),
             "truncated.tif": tiff(1, extra=((305, 2, 100, 100_000),)), "bomb.png": png_claiming(60_000, 60_000)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return sorted(str(folder / name) for name in files)


def test_library_messages_stay_off_the_terminal_and_go_to_the_log_with_v(tmp_path):
    paths = _damaged_tiffs(tmp_path)
    out = tmp_path / "report.csv"

    quiet = subprocess.run([sys.executable, "-m", "medpic", "classify", *paths, "--csv", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    lines = [line for line in quiet.stderr.splitlines()
             if line.strip() and not line.startswith("INFO: Created TensorFlow Lite")]  # the model runtime's own
    assert lines == [f"4 images: 0 medical, 0 non-medical, 4 errors; CSV written to {out}"], quiet.stderr
    header, *rows = read_csv(out)
    reasons = {r[1].rsplit("/", 1)[-1]: r[header.index("reason")] for r in rows}
    assert reasons == {
        "bomb.png": "too large: 60000x60000 pixels is over the limit of 50,000,000",
        "deflate.tif": "corrupt image: damaged TIFF data",
        "samples.tif": "corrupt image: unreadable TIFF header",
        "truncated.tif": "corrupt image: Truncated File Read",
    }

    verbose = subprocess.run([sys.executable, "-m", "medpic", "-v", "classify", *paths, "--csv", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert verbose.returncode == 0, verbose.stderr
    assert "INFO medpic.imaging: libtiff: " in verbose.stderr
    assert "ERROR PIL.TiffImagePlugin: " in verbose.stderr
    assert "INFO medpic.imaging: Pillow UserWarning: Truncated File Read" in verbose.stderr
