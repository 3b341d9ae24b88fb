"""Stage 1, extraction: an actor per worker turns targets into image rows and one end row each.

Extraction waits on the network and on Chromium, so it is an actor pool of its own, sized apart
from the model: each actor owns one ``Fetcher`` and, when pages are rendered, one
``BrowserService`` (one Chromium, started on the first page and reused for every later one).
Since a target mostly waits, an actor works on ``batch_targets_per_worker`` targets at once, on
its own threads; the fetcher and the browser owner are thread-safe, and everything else a target
touches is its own. Each call brings several targets (a Ray task costs milliseconds of CPU in the
driver and Ray's daemons, as much as a small target's whole extraction), run at once: a slow page
never holds back the extraction of its call's other targets, though Ray sends a call's rows on
together, when its last target ends. Two calls run at once, so the actor's threads go on with the
next call's targets meanwhile.
Nothing a target does escapes its rows: a refused URL, a 404, a broken PDF or a timeout is that
target's ``error`` row and end row, and the actor goes on with the next target. Pictures the
source decoded itself (PDF images, rasterised SVGs) are shrunk to the model's input size here,
so full-resolution pixels never travel; encoded images travel as bytes, to be decoded in stage 2
(decoding tasks, or the replicas themselves when they hold the cores).
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

from medpic.batch.rows import candidate_row, end_row, ready, tables
from medpic.concurrency import interleave
from medpic.errors import reason_of
from medpic.net.fetch import Fetcher
from medpic.settings import Settings
from medpic.sources.browser import BrowserService
from medpic.sources.candidates import ImageCandidate, Status
from medpic.sources.targets import open_listed_target

__all__ = ["Extractor", "target_rows"]

# A source's kinds whose whole is one picture: when that picture cannot be had, the target failed.
_SINGLE_PICTURE = ("urls", "images")


class Extractor:
    """A Ray Data actor: ``map_batches`` feeds it calls (rows of ``targets`` and their ``seqs``),
    it yields tables of rows."""

    def __init__(self, *, settings: Settings, use_browser: bool, base_dir: str, input_size: int,
                 rows_per_table: int) -> None:
        self._settings, self._base_dir, self._input_size = settings, base_dir, input_size
        self._rows_per_table = rows_per_table
        self._fetcher = Fetcher(settings.net_policy())
        self._browser = BrowserService.from_settings(settings) if use_browser else None
        # Shared by the actor's concurrent calls: it bounds the targets in flight, whatever the calls.
        self._targets = ThreadPoolExecutor(max(1, settings.batch_targets_per_worker), thread_name_prefix="medpic-target")

    def __call__(self, batch: Any) -> Iterator[Any]:
        pairs = [pair for targets, seqs in zip(batch["targets"].to_pylist(), batch["seqs"].to_pylist())
                 for pair in zip(targets, seqs)]
        rows = interleave(lambda pair: target_rows(*pair, settings=self._settings, fetcher=self._fetcher,
                                                   browser=self._browser, base_dir=self._base_dir,
                                                   input_size=self._input_size),
                          pairs, pool=self._targets, depth=2 * self._rows_per_table)
        yield from tables(rows, max_rows=self._rows_per_table)

    def __del__(self) -> None:  # Ray ends idle actors; their Chromium goes with them
        if getattr(self, "_targets", None) is not None:
            self._targets.shutdown(wait=False, cancel_futures=True)
        if getattr(self, "_browser", None) is not None:
            self._browser.close()


def target_rows(target: str, seq: int, *, settings: Settings, fetcher: Fetcher, browser: BrowserService | None,
                base_dir: str, input_size: int) -> Iterator[dict[str, Any]]:
    """Every row of one target, the end row last; never raises for what the target does.

    A source that cannot be read as a whole (or that fails half-way) gets one ``error`` row with
    an empty ``image``, as ``medpic scan`` writes it; a target that is one picture fails with it."""
    started, attempt = time.time(), secrets.token_hex(8)
    count, status, reason, notes, whole_failed = 0, Status.OK, "", [], False
    try:
        extraction = open_listed_target(target, settings=settings, fetcher=fetcher, browser=browser,
                                        base_dir=base_dir)
        first: ImageCandidate | None = None
        try:
            for cand in extraction.candidates:
                first = first or cand
                yield _row(target, seq, attempt, count, cand, min_side=extraction.min_side, settings=settings,
                           input_size=input_size)
                count += 1
        finally:
            notes = list(extraction.notes)
        if extraction.kind in _SINGLE_PICTURE and count == 1 and first is not None and first.status == Status.ERROR:
            status, reason = Status.ERROR, first.reason
    except Exception as exc:  # noqa: BLE001 - one bad target never stops the job
        status, reason, whole_failed = Status.ERROR, reason_of(exc, doing="could not read the source"), True
    if whole_failed:
        failed = ImageCandidate(source=target, ref="", found_by="", order=0, status=Status.ERROR, reason=reason)
        yield candidate_row(target, seq, attempt, count, failed, min_side=0)
        count += 1
    yield end_row(target, seq, attempt, count=count, status=status, reason=reason, notes=notes, started=started)


def _row(target: str, seq: int, attempt: str, order: int, cand: ImageCandidate, *, min_side: int,
         settings: Settings, input_size: int) -> dict[str, Any]:
    """An image row; pictures the source decoded itself are made ready (shrunk) here."""
    pixels = None
    if cand.image is not None:
        cand, pixels = ready(cand, max_pixels=settings.max_pixels, min_side=min_side, input_size=input_size)
    return candidate_row(target, seq, attempt, order, cand, min_side=min_side, pixels=pixels)
