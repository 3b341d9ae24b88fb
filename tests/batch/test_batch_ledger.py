"""The ledger: commits that a kill cannot tear, orphans removed, failed targets dropped on resume."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from medpic.batch.ledger import Ledger
from medpic.batch.outputs import TargetRecord, TargetResult, export_csv
from medpic.errors import InvalidInput
from medpic.report import ReportRow


def result(target: str, seq: int, *, status: str = "ok", rows: int = 2) -> TargetResult:
    report = tuple(ReportRow(source=target, image=f"{target}/{i}.png", status="ok", label="medical", p_medical=0.9,
                             confidence=0.9, width=64, height=64, sha256=f"{seq:02d}{i}") for i in range(rows))
    if status == "error":
        report = (ReportRow(source=target, image="", status="error", reason="HTTP 404 from it"),)
    record = TargetRecord(target=target, seq=seq, status=status, reason="" if status == "ok" else "HTTP 404 from it",
                          images=rows if status == "ok" else 0, medical=rows if status == "ok" else 0, skipped=0,
                          errors=0 if status == "ok" else 1, seconds=0.1)
    return TargetResult(record, report)


def test_commits_split_by_status_and_a_job_folder_is_not_overwritten(tmp_path):
    ledger = Ledger.open(tmp_path, resume=False)
    ledger.commit([result("b", 1), result("a", 0), result("c", 2, status="error")])
    assert [p.name.startswith("part-000001") for p in ledger.shards()] == [True, False]
    assert pq.read_table(ledger.shards()[0]).column("target").to_pylist() == ["a", "a", "b", "b"]
    assert ledger.done() == {"a", "b"}
    with pytest.raises(InvalidInput, match="--resume"):
        Ledger.open(tmp_path, resume=False)
    assert export_csv(ledger.shards(), tmp_path / "all.csv") == 5


def test_a_torn_last_line_and_its_orphan_shard_are_forgotten(tmp_path):
    ledger = Ledger.open(tmp_path, resume=False)
    ledger.commit([result("a", 0)])
    ledger.commit([result("b", 1)])
    orphan = ledger.shards()[1]
    text = ledger.path.read_text()
    ledger.path.write_text(text[: len(text) - 20])  # killed while appending the second line
    (tmp_path / "results" / "part-000009-dead.parquet.tmp").write_bytes(b"half")
    again = Ledger.open(tmp_path, resume=True)
    assert again.done() == {"a"} and not orphan.exists()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [again.shards()[0].name]
    assert again.path.read_text().endswith("\n")
    again.commit([result("b", 1)])
    assert Ledger.open(tmp_path, resume=True).done() == {"a", "b"}


def test_resume_drops_the_shards_of_failed_targets_so_they_run_again(tmp_path):
    ledger = Ledger.open(tmp_path, resume=False)
    ledger.commit([result("a", 0), result("b", 1, status="error")])
    failed = ledger.shards()[1]
    resumed = Ledger.open(tmp_path, resume=True)
    assert not failed.exists() and [r.target for r in resumed.records()] == ["a"]
    assert json.loads(resumed.path.read_text().splitlines()[-1]) == {"drop": [failed.name]}
    assert [r.target for r in Ledger.open(tmp_path, resume=True).records()] == ["a"]


def test_files_a_job_did_not_write_are_left_alone(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("mine")
    Ledger.open(tmp_path, resume=False)
    assert (tmp_path / "results" / "notes.txt").read_text() == "mine"
