"""The driver's side of the stream: rows from every replica, in any order, back into targets.

Ray Data delivers rows as the stages finish them, from any node and in any order, and a retried
task may deliver some twice, or deliver a second attempt of a target whose first attempt was
partly delivered. Rows are keyed by (target, attempt, position), so a duplicate replaces its twin
and two attempts never mix; a target is finished when one attempt's end row and all the rows it
announced are in, and from then on anything more for it is ignored. Confident medical images are written as they arrive (under
their content hash, so writing one again changes nothing) and their bytes are dropped, so the
driver holds report rows only, for the targets still in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medpic.batch.outputs import TargetRecord, TargetResult, save_image
from medpic.batch.rows import END, fields_of
from medpic.report import ReportRow, Summary

__all__ = ["Collector"]


@dataclass
class _Partial:
    seq: int
    rows: dict[int, ReportRow] = field(default_factory=dict)
    end: dict[str, Any] | None = None


class Collector:
    """Assembles finished targets from stage rows."""

    def __init__(self, *, images_dir: Path | None) -> None:
        self._images_dir = images_dir
        self._partial: dict[str, dict[str, _Partial]] = {}  # target -> attempt -> rows so far
        self._finished: set[str] = set()

    def add(self, row: dict[str, Any]) -> TargetResult | None:
        """Take one row; the target's result when this row finished it."""
        target = row["target"]
        if target in self._finished:
            return None
        partial = self._partial.setdefault(target, {}).setdefault(row["attempt"], _Partial(row["seq"]))
        fields = fields_of(row)
        if row["kind"] == END:
            partial.end = fields
        else:
            save_as = fields.pop("save_as", None)
            if save_as and row["data"] and self._images_dir is not None:
                save_image(self._images_dir, save_as, row["data"])
            partial.rows[row["order"]] = ReportRow(**fields)
        if partial.end is None or len(partial.rows) < partial.end["count"]:
            return None
        del self._partial[target]
        self._finished.add(target)
        return _result(target, partial)


def _result(target: str, partial: _Partial) -> TargetResult:
    end = partial.end or {}
    rows = tuple(partial.rows[i] for i in sorted(partial.rows))
    summary = Summary.of(rows)  # ``images`` leaves out the row that says a whole source was unreadable
    record = TargetRecord(target=target, seq=partial.seq, status=end["status"], reason=end["reason"],
                          images=sum(bool(r.image) for r in rows), medical=summary.medical, skipped=summary.skipped,
                          errors=summary.errors, seconds=round(max(0.0, time.time() - end["started"]), 3),
                          notes=tuple(end["notes"]))
    return TargetResult(record, rows)
