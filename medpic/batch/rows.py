"""The one row format that crosses every stage of a batch job, and its conversions.

Ray Data moves Arrow tables between processes and machines. Pictures therefore travel as bytes
(the original encoded image, to decode or save; or RGB pixels already at the model's input size),
never as pickled PIL objects, and a candidate's report fields travel as one JSON text, so the
schema never changes with a field's type (an int column with nulls would come back as floats).

Every target yields its image rows and then one ``end`` row carrying how many image rows it
has and how its extraction ended: rows may reach the driver in any order, from any node, and
the driver knows a target is complete when it holds all of them. Every row also names its
``attempt``: when Ray retries a task, a page rendered twice may not yield the same images, so
the driver never mixes the rows of two attempts.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterable, Iterator

from medpic.scan import ready as judge_ready
from medpic.sources.candidates import ImageCandidate, Status

__all__ = ["IMAGE", "END", "stage_schema", "fields_of", "candidate_row", "end_row", "candidate_of", "ready",
           "decode_row", "tables"]

IMAGE, END = "image", "end"
# The candidate fields a report row is made of (``medpic.scan``'s ``_row``), plus what the
# decoding stage needs: the extension of ``data`` and the source's minimum picture side.
_CANDIDATE_FIELDS = ("source", "ref", "found_by", "order", "page", "alt", "width", "height", "sha256",
                     "extension", "status", "reason")


def stage_schema():
    """``target, seq, attempt, kind, order, fields, data, pixels``: the same at every stage boundary."""
    import pyarrow as pa

    return pa.schema([("target", pa.string()), ("seq", pa.int64()), ("attempt", pa.string()), ("kind", pa.string()),
                      ("order", pa.int64()), ("fields", pa.string()), ("data", pa.large_binary()),
                      ("pixels", pa.large_binary())])


def fields_of(row: dict[str, Any]) -> dict[str, Any]:
    """A row's JSON fields as a dict."""
    return json.loads(row["fields"])


def candidate_row(target: str, seq: int, attempt: str, order: int, cand: ImageCandidate, *, min_side: int,
                  pixels: bytes | None = None) -> dict[str, Any]:
    """An image row: the candidate's fields, its encoded bytes, and its pixels if already made."""
    fields = {name: getattr(cand, name) for name in _CANDIDATE_FIELDS}
    fields["min_side"] = min_side
    return dict(target=target, seq=seq, attempt=attempt, kind=IMAGE, order=order, fields=json.dumps(fields),
                data=cand.data, pixels=pixels)


def end_row(target: str, seq: int, attempt: str, *, count: int, status: str, reason: str, notes: list[str],
            started: float) -> dict[str, Any]:
    """The last row of a target: how many image rows it has, and how its extraction ended."""
    fields = dict(count=count, status=status, reason=reason, notes=list(notes), started=started)
    return dict(target=target, seq=seq, attempt=attempt, kind=END, order=count, fields=json.dumps(fields),
                data=None, pixels=None)


def candidate_of(row: dict[str, Any], *, input_size: int) -> ImageCandidate:
    """The candidate an image row describes; its pixels, when the row has them, as an RGB image."""
    from PIL import Image

    fields = fields_of(row)
    fields.pop("min_side", None)
    image = Image.frombytes("RGB", (input_size, input_size), row["pixels"]) if row.get("pixels") else None
    return ImageCandidate(**fields, data=row.get("data"), image=image)


def ready(cand: ImageCandidate, *, max_pixels: int, min_side: int, input_size: int
          ) -> tuple[ImageCandidate, bytes | None]:
    """A candidate decoded and shrunk by the judge's own ``ready``:
    the candidate with its final size, status and reason, and its pixels as RGB bytes (or None).

    The classify stage rebuilds the candidate with those pixels; ``judge`` then takes them as they
    are (their size is already the input size), so its rows are exactly ``medpic scan``'s."""
    cand, image, status, reason = judge_ready(cand, max_pixels=max_pixels, min_side=min_side, input_size=input_size)
    return replace(cand, status=status, reason=reason), image.tobytes() if image is not None else None


def decode_row(row: dict[str, Any], *, max_pixels: int, input_size: int) -> None:
    """Give an image row its pixels (or its reason for having none), in place; rows that have
    pixels already, rows already ``skipped`` or ``error``, and end rows are left as they are."""
    if row["kind"] != IMAGE or row["pixels"] is not None:
        return
    fields = fields_of(row)
    if fields["status"] != Status.OK:
        return
    cand, pixels = ready(candidate_of(row, input_size=input_size), max_pixels=max_pixels,
                         min_side=fields["min_side"], input_size=input_size)
    fields.update(width=cand.width, height=cand.height, status=cand.status, reason=cand.reason)
    row["fields"], row["pixels"] = json.dumps(fields), pixels


def tables(rows: Iterable[dict[str, Any]], *, max_rows: int, max_bytes: int = 64 << 20) -> Iterator[Any]:
    """Rows gathered into Arrow tables of at most ``max_rows`` rows (or about ``max_bytes``), so a
    document of 2,000 images streams on in pieces instead of sitting in one block."""
    import pyarrow as pa

    schema = stage_schema()
    pending: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        pending.append(row)
        size += len(row["data"] or b"") + len(row["pixels"] or b"")
        if len(pending) >= max_rows or size >= max_bytes:
            yield pa.Table.from_pylist(pending, schema=schema)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_pylist(pending, schema=schema)

