"""``medpic scan`` on PDFs: the CSV contract, downloads of medical images, URLs through the guard."""

import csv
import zipfile

import pytest

from medpic.cli import main
from medpic.report import SCAN_COLUMNS
from medpic.save import MANIFEST_COLUMNS
from tests.localserver import LocalServer
from tests.pdf_fixtures import build_fixture_pdf


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "paper.pdf"
    path.write_bytes(build_fixture_pdf()[0])
    return path


def rows_of(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [dict(zip(header, r)) for r in reader]


def test_csv_has_the_contracted_columns_and_one_row_per_image(pdf_path, tmp_path):
    out = tmp_path / "report.csv"
    assert main(["scan", str(pdf_path), "--csv", str(out)]) == 0
    header, rows = rows_of(out)
    assert tuple(header[: len(SCAN_COLUMNS)]) == SCAN_COLUMNS
    assert len(rows) == 13
    first = rows[0]
    assert first["source"] == str(pdf_path) and first["image"] == "page-1/xref-7" and first["page"] == "1"
    assert first["found_by"] == "xobject" and first["alt"].startswith("Figure 1.")
    assert first["label"] == "non-medical" and len(first["sha256"]) == 64
    statuses = [(r["page"], r["status"]) for r in rows if r["status"] != "ok"]
    assert statuses == [("13", "skipped"), ("14", "error")]
    retina = [r for r in rows if r["page"] == "15"][0]
    assert retina["label"] == "medical" and float(retina["confidence"]) > 0.9


def test_medical_images_are_saved_and_zipped_with_a_manifest(pdf_path, tmp_path, capsys):
    folder, archive = tmp_path / "medical", tmp_path / "medical.zip"
    assert main(["scan", str(pdf_path), "--save-medical", str(folder), "--zip", str(archive),
                 "--min-confidence", "0.9"]) == 0
    saved = sorted(p.name for p in folder.iterdir())
    assert "page-15_xref-68.png" in saved and "manifest.csv" in saved
    assert not any(name.startswith("page-1_") for name in saved)  # the cat stays out
    header, manifest = rows_of(folder / "manifest.csv")
    assert tuple(header) == MANIFEST_COLUMNS
    assert all(float(r["confidence"]) >= 0.9 and r["label"] == "medical" for r in manifest)
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == saved
        assert z.read("page-15_xref-68.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "saved" in capsys.readouterr().err


def test_a_pdf_url_is_fetched_through_the_guard(pdf_path, tmp_path, capsys):
    with LocalServer({"/paper.pdf": (200, {"Content-Type": "application/pdf"}, pdf_path.read_bytes())}) as server:
        url = f"{server.url}/paper.pdf"
        assert main(["scan", url]) == 3  # guard on: loopback refused, the source cannot be read
        assert "private or internal address" in capsys.readouterr().err
        out = tmp_path / "r.csv"
        assert main(["scan", url, "--allow-private", "--csv", str(out)]) == 0
        _, rows = rows_of(out)
        assert len(rows) == 13 and rows[0]["source"] == url


@pytest.mark.parametrize("content,message", [
    (b"just text, named .pdf", "not a PDF"),
    (b"", "not a PDF"),
])
def test_non_pdf_with_a_pdf_name_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "fake.pdf"
    path.write_bytes(content)
    out = tmp_path / "r.csv"
    assert main(["scan", str(path), "--csv", str(out)]) == 3
    assert message in capsys.readouterr().err
    _, rows = rows_of(out)
    assert [(r["source"], r["status"]) for r in rows] == [(str(path), "error")] and message in rows[0]["reason"]


def test_encrypted_pdf_exits_with_a_reason(tmp_path, capsys):
    from tests.pdf_fixtures import encrypted_pdf, samples

    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(samples()["cat"], user_password="pw"))
    assert main(["scan", str(path)]) == 3
    assert "encrypted PDF" in capsys.readouterr().err


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "nope.pdf")]) == 2
    assert "no such file" in capsys.readouterr().err
