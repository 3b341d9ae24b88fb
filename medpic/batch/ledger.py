"""The job's memory: which targets are committed, in which shard, and how each one ended.

``ledger.jsonl`` is append-only. A commit writes a shard under a temporary name, renames it into
``results/``, then appends one line naming the shard and its targets; the line is what makes the
commit real. A job killed before the line leaves an orphan shard, deleted when the folder is
opened again, and its targets run again; a line torn by the kill is cut off the same way. So
every target's rows are in exactly one live shard, or in none and the target is still to do.

Targets are committed in shards of one status: a shard of failed targets is dropped as a whole
(a ``drop`` line, then the file is deleted) when ``--resume`` runs them again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Sequence

from medpic.batch.outputs import TargetRecord, TargetResult, fsync_dir, write_shard
from medpic.errors import InvalidInput
from medpic.sources.candidates import Status

__all__ = ["Ledger", "LEDGER_NAME"]

LEDGER_NAME = "ledger.jsonl"


class Ledger:
    """The committed state of one output folder; ``open`` it, ``commit`` finished targets to it."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.results_dir = self.out_dir / "results"
        self.path = self.out_dir / LEDGER_NAME
        self._live: dict[str, list[TargetRecord]] = {}  # shard name -> its targets, in commit order
        self._commits = 0

    @classmethod
    def open(cls, out_dir: str | Path, *, resume: bool) -> "Ledger":
        """The folder's ledger, repaired; refuses to write over a job unless ``resume``. Resuming drops
        the shards of failed targets, so that they run again."""
        ledger = cls(Path(out_dir))
        if ledger.path.exists() and not resume:
            raise InvalidInput(f"{str(out_dir)!r} already holds a batch job; pass --resume to finish it, "
                               "or choose another --out folder")
        ledger.results_dir.mkdir(parents=True, exist_ok=True)
        ledger._read()
        ledger._delete_orphans()
        if resume:
            ledger._drop([name for name, records in ledger._live.items()
                          if records and all(r.status == Status.ERROR for r in records)])
        return ledger

    # -- reading ------------------------------------------------------------------------------

    def _read(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):  # a line torn by a kill: it never happened
            with open(self.path, "rb+") as f:
                f.truncate(len(complete))
                os.fsync(f.fileno())
        for number, line in enumerate(complete.decode("utf-8").splitlines(), 1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise InvalidInput(f"{str(self.path)!r} is damaged at line {number}; it cannot be resumed") from None
            if "shard" in entry:
                self._live[entry["shard"]] = [TargetRecord(**dict(t, notes=tuple(t["notes"]))) for t in entry["targets"]]
                self._commits += 1
            for name in entry.get("drop", ()):
                self._live.pop(name, None)

    def _delete_orphans(self) -> None:
        """Shards no line names (written, then the job was killed) and temporary files."""
        for path in self.results_dir.glob("part-*.parquet*"):  # only what a job of ours wrote
            if path.name not in self._live:
                path.unlink()
        images = self.out_dir / "images"
        for path in images.glob("*.tmp") if images.is_dir() else ():
            path.unlink()

    def records(self) -> list[TargetRecord]:
        """How every committed target ended."""
        return [record for records in self._live.values() for record in records]

    def done(self) -> set[str]:
        """Targets whose source was read: a resumed job skips them."""
        return {r.target for r in self.records() if r.status == Status.OK}

    def shards(self) -> list[Path]:
        """The live shards, in commit order."""
        return [self.results_dir / name for name in self._live]

    # -- writing ------------------------------------------------------------------------------

    def commit(self, results: Sequence[TargetResult]) -> None:
        """Make finished targets permanent: one shard per status, each followed by its ledger line."""
        for status in (Status.OK, Status.ERROR):
            group = sorted((r for r in results if r.record.status == status), key=lambda r: r.record.seq)
            if not group:
                continue
            self._commits += 1
            name = f"part-{self._commits:06d}-{secrets.token_hex(4)}.parquet"
            write_shard(self.results_dir / name, group)
            records = [r.record for r in group]
            self._append({"shard": name, "targets": [asdict(r) for r in records]})
            self._live[name] = records

    def _drop(self, names: Iterable[str]) -> None:
        names = list(names)
        if not names:
            return
        self._append({"drop": names})
        for name in names:
            self._live.pop(name, None)
            (self.results_dir / name).unlink(missing_ok=True)
        fsync_dir(self.results_dir)

    def _append(self, entry: dict) -> None:
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_dir(self.out_dir)
