"""Stage 2, decoding: encoded pictures to RGB pixels at the model's input size.

Decoding is the CPU-heavy part of judging a downloaded picture, and it needs no model. On a
cluster it runs as plain Ray tasks (``decode_rows``) that scale with the cluster's CPUs, apart
from both the I/O-bound extraction actors and the model replicas, whose time (a GPU's, say) is
too dear to spend on it. On one machine that separation buys nothing and costs a process
boundary a picture, so the replicas decode their own rows (``rows.decode_row``) before judging them:
where the work runs changes, not what it does. Either way it calls the judge's own ``prepare``
(the pixel cap, the minimum side, every decoding error as the row's reason) and the model's own
resize, so what reaches the model is exactly what ``medpic scan`` would give it. Rows that
already have pixels, or that are already ``skipped`` or ``error``, and end rows pass through
untouched.
"""

from __future__ import annotations

from typing import Any

from medpic.batch.rows import decode_row, stage_schema

__all__ = ["decode_rows"]


def decode_rows(batch: Any, *, max_pixels: int, input_size: int) -> Any:
    """A ``map_batches`` function over an Arrow table of stage rows."""
    import pyarrow as pa

    rows = batch.to_pylist()
    for row in rows:
        decode_row(row, max_pixels=max_pixels, input_size=input_size)
    return pa.Table.from_pylist(rows, schema=stage_schema())
