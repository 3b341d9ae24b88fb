"""Stage 2, decoding: encoded pictures to RGB pixels at the model's input size, as CPU tasks.

Decoding is the CPU-heavy part of judging a downloaded picture, and it needs no model, so it
runs as plain Ray tasks that scale with the cluster's CPUs, apart from both the I/O-bound
extraction actors and the model replicas. It calls the judge's own ``prepare`` (the pixel cap,
the minimum side, every decoding error as the row's reason) and the model's own resize, so what
reaches the model is exactly what ``medpic scan`` would give it. Rows that already have pixels,
or that are already ``skipped`` or ``error``, and end rows pass through untouched.
"""

from __future__ import annotations

import json
from typing import Any

from medpic.batch.rows import IMAGE, candidate_of, fields_of, ready, stage_schema
from medpic.sources.candidates import Status

__all__ = ["decode_rows"]


def decode_rows(batch: Any, *, max_pixels: int, input_size: int) -> Any:
    """A ``map_batches`` function over an Arrow table of stage rows."""
    import pyarrow as pa

    rows = batch.to_pylist()
    for row in rows:
        if row["kind"] != IMAGE or row["pixels"] is not None:
            continue
        fields = fields_of(row)
        if fields["status"] != Status.OK:
            continue
        cand, pixels = ready(candidate_of(row, input_size=input_size), max_pixels=max_pixels,
                             min_side=fields["min_side"], input_size=input_size)
        fields.update(width=cand.width, height=cand.height, status=cand.status, reason=cand.reason)
        row["fields"], row["pixels"] = json.dumps(fields), pixels
    return pa.Table.from_pylist(rows, schema=stage_schema())
