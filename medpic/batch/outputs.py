"""What a batch job leaves in its folder, written so that a reader never sees half a file.

- ``results/part-*.parquet``: the report rows, exactly ``medpic scan``'s CSV columns plus ``target``;
- ``targets.parquet``: one row per target (status, reason, images found, medical, seconds, notes);
- ``summary.json``: the counts of the whole job;
- ``images/<sha256>.<ext>``: with ``--save-medical``, the confident medical images by content hash,
  so the same picture found twice, or found again by a resumed job, is one file.

Every file is written under a temporary name, flushed to disk and renamed into place: a job
killed at any instant leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, IO, Iterable, Iterator, Sequence

from medpic.report import SCAN_COLUMNS, ReportRow, write_csv

__all__ = ["RESULT_COLUMNS", "TargetRecord", "TargetResult", "atomic_write", "write_shard", "read_shard",
           "write_targets", "write_summary", "export_csv", "save_image"]

RESULT_COLUMNS = SCAN_COLUMNS + ("target",)
_INTS = ("page", "width", "height")
_FLOATS = ("p_medical", "confidence", "modality_confidence")


@dataclass(frozen=True)
class TargetRecord:
    """How one target ended: a line of ``targets.parquet`` and of the ledger."""

    target: str
    seq: int  # its position in the input, which orders the exports
    status: str  # "ok": the source was read (its rows may hold image errors); "error": it was not
    reason: str
    images: int
    medical: int
    skipped: int
    errors: int
    seconds: float  # from the start of its extraction to its last row judged
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetResult:
    """A finished target: its record and its rows, in the source's order."""

    record: TargetRecord
    rows: tuple[ReportRow, ...]


def _result_schema():
    import pyarrow as pa

    def kind(name: str):
        return pa.int64() if name in _INTS else pa.float64() if name in _FLOATS else pa.string()

    return pa.schema([(name, kind(name)) for name in RESULT_COLUMNS])


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)``, then flush it to disk and rename it to ``path`` (and flush the folder)."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_shard(path: Path, results: Sequence[TargetResult]) -> None:
    """One Parquet shard holding the rows of ``results``, target by target."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [dict(row.as_dict(), target=result.record.target) for result in results for row in result.rows]
    table = pa.Table.from_pylist(records, schema=_result_schema())
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_shard(path: Path) -> Iterator[tuple[str, ReportRow]]:
    """(target, row) of a shard, in its order."""
    import pyarrow.parquet as pq

    for record in pq.read_table(path).to_pylist():
        target = record.pop("target")
        yield target, ReportRow(**record)


def write_targets(path: Path, records: Iterable[TargetRecord]) -> None:
    """``targets.parquet``: one row per target, in input order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sorted(records, key=lambda r: r.seq)
    columns = ("target", "status", "reason", "images", "medical", "seconds", "notes")
    table = pa.table({name: [getattr(r, name) for r in ordered] for name in columns},
                     schema=pa.schema([("target", pa.string()), ("status", pa.string()), ("reason", pa.string()),
                                       ("images", pa.int64()), ("medical", pa.int64()), ("seconds", pa.float64()),
                                       ("notes", pa.list_(pa.string()))]))
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8"))


class _WithTarget:
    """A report row with its target, in the shape ``write_csv`` reads (``as_dict``)."""

    def __init__(self, target: str, row: ReportRow) -> None:
        self._target, self._row = target, row

    def as_dict(self) -> dict[str, object]:
        return dict(self._row.as_dict(), target=self._target)


def export_csv(shards: Iterable[Path], out: str | Path | IO[str]) -> int:
    """One CSV of every shard (the scan CSV's columns, then ``target``), shard by shard, so an export
    of millions of rows never holds them all; returns the number of rows written."""
    rows = (_WithTarget(target, row) for shard in shards for target, row in read_shard(shard))
    return write_csv(rows, out, columns=RESULT_COLUMNS)  # type: ignore[arg-type]


def save_image(folder: Path, name: str, data: bytes) -> None:
    """A confident medical image under its content-hash name; already there means already saved."""
    path = folder / name
    if not path.exists():
        atomic_write(path, lambda tmp: tmp.write_bytes(data))

