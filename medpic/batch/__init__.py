"""``medpic batch``: thousands of pages, PDFs and images in one resumable job, on Ray Data.

    inputs.py    the list of targets (text, CSV or Parquet with a ``target`` column, or stdin)
    rows.py      the row format every stage passes on (bytes and JSON fields, never PIL objects)
    extract.py   stage 1: extraction actors (one Fetcher and one Chromium each)
    decode.py    stage 2: decoding tasks (bytes to pixels at the model's input size); where the
                 replicas hold the cores they decode their own rows instead (rows.decode_row)
    classify.py  stage 3: model replicas (``judge`` on batches)
    engine.py    Ray itself: the session, the pipeline, Ray's errors (the only module importing Ray)
    collect.py   the driver: rows back into finished targets, medical images saved
    ledger.py    atomic commits and the record of what is done, for --resume
    outputs.py   results/ shards, targets.parquet, summary.json, the CSV export
    job.py       ``run``: all of the above for one job

Ray is imported only when a job runs, never by ``import medpic``.
"""

from __future__ import annotations

from medpic.batch.inputs import read_targets
from medpic.batch.job import run

__all__ = ["run", "read_targets"]
