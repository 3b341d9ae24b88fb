"""``run``: one batch job, from a list of targets to a folder of results, resumable.

The driver opens the folder's ledger (repairing what a kill left), runs the pipeline over the
targets not yet done, commits finished targets every ``batch_commit_targets`` targets or
``batch_commit_s`` seconds, and at the end writes ``targets.parquet``, ``summary.json`` and, if
asked, one CSV of every shard. Counts in the summary cover the whole folder, not only this run,
so a resumed job reports the same totals as a clean one.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from medpic.batch.collect import Collector
from medpic.batch.engine import Plan, build_dataset, decode_in_replicas, ray_session, stream_rows
from medpic.batch.inputs import hosts_in_turn, unique_targets
from medpic.batch.ledger import Ledger
from medpic.batch.outputs import TargetRecord, TargetResult, export_csv, write_summary, write_targets
from medpic.settings import Settings
from medpic.sources.candidates import Status

__all__ = ["run"]


def run(targets: Iterable[str], out_dir: str | Path, settings: Settings, ray_address: str | None = None, *,
        resume: bool = False, save_medical: bool = False, min_confidence: float = 0.9,
        threshold: float | None = None, use_browser: bool = True, csv: str | Path | None = None,
        progress: bool = False, verbose: bool = False) -> dict[str, Any]:
    """Judge every image of every target into ``out_dir``; returns the summary (also ``summary.json``).

    ``ray_address`` (else ``settings.ray_address``) names a Ray cluster; without one a local Ray
    runs inside this process. With ``resume``, targets already done are skipped and failed or
    unfinished ones run again; without it, a folder that holds a job is refused."""
    started = time.monotonic()
    targets = unique_targets(targets)
    out_dir = Path(out_dir)
    ledger = Ledger.open(out_dir, resume=resume)
    done = ledger.done()
    pending = hosts_in_turn([(seq, target) for seq, target in enumerate(targets) if target not in done])
    images_dir = out_dir / "images" if save_medical else None
    if images_dir is not None:
        images_dir.mkdir(parents=True, exist_ok=True)
    address = ray_address or settings.ray_address
    committed, where, decoding = 0, "none (nothing to do)", None
    if pending:
        plan = Plan(settings=settings, use_browser=use_browser, threshold=threshold,
                    save_min_confidence=min_confidence if save_medical else None,
                    input_size=_model_input_size(settings), base_dir=os.getcwd())
        with ray_session(address, num_cpus=plan.logical_cpus(), verbose=verbose) as where:
            in_replicas = decode_in_replicas(settings.batch_decode, pool_cpus=plan.pool_cpus)
            plan = replace(plan, decode_in_replicas=in_replicas)
            decoding = "replicas" if plan.decode_in_replicas else "tasks"
            # closed here, whatever happens, before Ray shuts: the pipeline stops and Ray's round comes back
            with closing(stream_rows(build_dataset(pending, plan, verbose=verbose),
                                     short_rounds=not plan.decode_in_replicas)) as rows:
                committed = _drive(rows, ledger, settings, Collector(images_dir=images_dir), total=len(pending),
                                   progress=progress)
    records = _latest(ledger.records(), targets)
    write_targets(out_dir / "targets.parquet", records)
    summary = _summary(records, targets=targets, committed=committed, seconds=time.monotonic() - started,
                       settings=settings, ray=where, decoding=decoding)
    write_summary(out_dir / "summary.json", summary)
    if csv is not None:
        summary["csv_rows"] = export_csv(ledger.shards(), csv)
    return summary


@dataclass
class _Batch:
    """Finished targets waiting for their commit."""

    results: list[TargetResult] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)


def _drive(rows: Iterable[dict[str, Any]], ledger: Ledger, settings: Settings, collector: Collector, *, total: int,
           progress: bool) -> int:
    """Read the pipeline to the end, committing as targets finish; returns how many were committed."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="target", file=sys.stderr, disable=None if progress else True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} targets [{elapsed}<{remaining}{postfix}]")
    waiting, committed, images, errors, started = _Batch(), 0, 0, 0, time.monotonic()

    def commit() -> None:
        nonlocal waiting, committed
        if waiting.results:
            ledger.commit(waiting.results)
            committed += len(waiting.results)
        waiting = _Batch()

    try:
        for row in rows:
            result = collector.add(row)
            if result is not None:
                waiting.results.append(result)
                images += result.record.images
                errors += result.record.status == Status.ERROR
                bar.update()
                bar.set_postfix_str(f"{images / max(1e-6, time.monotonic() - started):.1f} images/s, "
                                    f"{errors} failed", refresh=False)
            if len(waiting.results) >= settings.batch_commit_targets or \
                    (waiting.results and time.monotonic() - waiting.since >= settings.batch_commit_s):
                commit()
        commit()
    finally:
        bar.close()
    return committed


def _latest(records: Sequence[TargetRecord], targets: Sequence[str]) -> list[TargetRecord]:
    """One record per target; targets of this input first, in its order, then any a previous
    input of the same folder had."""
    position = {t: i for i, t in enumerate(targets)}
    by_target = {r.target: r for r in records}
    return sorted(by_target.values(), key=lambda r: (position.get(r.target, len(position) + r.seq), r.seq))


def _summary(records: Sequence[TargetRecord], *, targets: Sequence[str], committed: int, seconds: float,
             settings: Settings, ray: str, decoding: str | None) -> dict[str, Any]:
    """The job's counts over the whole folder, and this run's speed."""
    recorded = {r.target for r in records}  # this input's targets, and any an earlier input of the folder had
    unfinished = [t for t in targets if t not in recorded]  # a worker crashed on them, or the job stopped
    return {
        "targets": len(recorded) + len(unfinished),
        "done": sum(r.status == Status.OK for r in records),
        "failed": sum(r.status == Status.ERROR for r in records),
        "unfinished": len(unfinished),
        "unfinished_targets": unfinished[:20],
        "images": sum(r.images for r in records),
        "medical": sum(r.medical for r in records),
        "skipped": sum(r.skipped for r in records),
        "errors": sum(r.errors for r in records),
        "this_run": {"targets": committed, "seconds": round(seconds, 2),
                     "targets_per_s": round(committed / seconds, 3) if seconds else 0.0,
                     "decoding": decoding},  # "replicas" or "tasks": where pictures were decoded
        "ray": ray,  # "local", the cluster's address, or "existing" (a Ray the caller had started)
        "extract_workers": settings.batch_extract_workers,
        "targets_per_worker": settings.batch_targets_per_worker,
        "model_replicas": settings.batch_model_replicas,
        "batch_size": settings.batch_size,
    }


def _model_input_size(settings: Settings) -> int:
    """The model's input size, read from its folder without loading it: the decoding tasks shrink
    pictures to it. Resolving here also fails early, on the driver, when there is no model."""
    from medpic.model.source import check_folder, resolve_model

    return check_folder(resolve_model(settings).path).input_size
