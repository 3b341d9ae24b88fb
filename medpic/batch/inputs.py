"""A batch job's list of targets: a text file, a CSV or Parquet with a ``target`` column, or ``-``.

A text list is one target a line; blank lines and lines starting with ``#`` are skipped (a ``#``
later in a line is part of a URL). A target listed twice is judged once: the ledger keys work by
target, so a duplicate would otherwise be "done" and "to do" at the same time. Work is handed out
host by host in turn, so a list sorted by site does not send every worker to one site at once.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import defaultdict, deque
from pathlib import Path
from typing import Iterable, Sequence, TextIO, TypeVar
from urllib.parse import urlsplit

from medpic.errors import InvalidInput

__all__ = ["read_targets", "unique_targets", "hosts_in_turn"]

T = TypeVar("T")

_PARQUET_MAGIC = b"PAR1"


def read_targets(source: str | Path, *, stdin: TextIO | None = None) -> list[str]:
    """The targets named by ``source``, in order, without duplicates."""
    if str(source) == "-":
        return unique_targets(_text_lines((stdin or sys.stdin).read()))
    path = Path(source)
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {str(source)!r} (give a list of targets, or - to read them from stdin)") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {str(source)!r}: {exc.strerror}") from None
    if head == _PARQUET_MAGIC:
        return unique_targets(_parquet_column(path))
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if path.suffix.lower() == ".csv":
        return unique_targets(_csv_column(text, path))
    return unique_targets(_text_lines(text))


def unique_targets(targets: Iterable[str]) -> list[str]:
    """Stripped, non-empty targets, each once, in the order first seen."""
    seen: dict[str, None] = {}
    for target in targets:
        target = (target or "").strip()
        if target:
            seen.setdefault(target, None)
    return list(seen)


def hosts_in_turn(work: Sequence[tuple[T, str]]) -> list[tuple[T, str]]:
    """``(key, target)`` pairs reordered to take one target of each host in turn, each host's in
    their own order (local paths count as one host). Workers take targets in this order, so
    listing 5,000 pages of one site before another's spreads over both from the start; what it
    cannot do is spread a list that is mostly one site (keep the timeouts short for those)."""
    queues: dict[str, deque[tuple[T, str]]] = defaultdict(deque)
    for pair in work:
        queues[_host(pair[1])].append(pair)
    ordered: list[tuple[T, str]] = []
    while queues:
        for host in list(queues):
            ordered.append(queues[host].popleft())
            if not queues[host]:
                del queues[host]
    return ordered


def _host(target: str) -> str:
    """A URL's host; "" for a local path, and for a URL too broken to say (it fails as a target)."""
    if "://" not in target:
        return ""
    try:
        return urlsplit(target).hostname or ""
    except ValueError:
        return ""


def _text_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def _csv_column(text: str, path: Path) -> list[str]:
    reader = csv.DictReader(io.StringIO(text))
    if "target" not in (reader.fieldnames or ()):
        raise InvalidInput(f"{str(path)!r} has no 'target' column (columns: {', '.join(reader.fieldnames or ())})")
    return [row["target"] or "" for row in reader]


def _parquet_column(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if "target" not in names:
        raise InvalidInput(f"{str(path)!r} has no 'target' column (columns: {', '.join(names)})")
    return [str(t) for t in pq.read_table(path, columns=["target"]).column("target").to_pylist() if t is not None]
