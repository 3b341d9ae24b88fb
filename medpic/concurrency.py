"""Threads, shared: bounded look-ahead (overlap fetching and decoding with inference without
holding everything), several producers merged as their output comes, and deadlines (one thread
fires every timeout of the process).

The pool sizes come from ``Settings`` (``download_workers``, ``decode_workers``); this module
only provides the mechanisms every stage uses.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["prefetch", "interleave", "Deadline", "at_deadline"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def prefetch(fn: Callable[[T], R], items: Iterable[T], *, depth: int, workers: int) -> Iterator[R]:
    """``map(fn, items)`` computed ``depth`` items ahead on ``workers`` threads, in order.

    Unlike ``ThreadPoolExecutor.map``, which submits every item at once, at most ``depth``
    results wait in memory: decoding thousands of images ahead of a slow model would otherwise
    hold gigabytes of pixels. Items are pulled from ``items`` lazily, so a generator upstream
    (a downloader) keeps streaming. Closing the iterator early cancels what has not started.
    """
    pool = ThreadPoolExecutor(max(1, workers))
    queue: deque[Future[R]] = deque()
    iterator = iter(items)
    try:
        for item in iterator:
            queue.append(pool.submit(fn, item))
            if len(queue) >= depth:
                break
        while queue:
            result = queue.popleft().result()
            for item in iterator:
                queue.append(pool.submit(fn, item))
                break
            yield result
    finally:
        for future in queue:
            future.cancel()
        pool.shutdown(wait=True)


class _Finished:
    """What a producer's thread sends when it has nothing more: ``error`` if it failed."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def _offer(ready: queue.Queue, value: object, stop: threading.Event) -> bool:
    """Put ``value`` once there is room; False, and nothing put, if ``stop`` is set first."""
    while not stop.is_set():
        try:
            ready.put(value, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def interleave(produce: Callable[[T], Iterable[R]], items: Iterable[T], *, pool: ThreadPoolExecutor,
               depth: int) -> Iterator[R]:
    """The outputs of ``produce(item)`` for every item, in the order they come, not item by item.

    Each item's producer runs on ``pool`` (as many at once as it has threads; a pool shared by
    several callers bounds them all together), so a slow item never holds back the others'
    outputs. At most ``depth`` outputs wait: a producer that gets ahead of the reader blocks.
    A producer's exception is raised here; closing the iterator early stops the producers at
    their next output and drops the items not started."""
    ready: queue.Queue = queue.Queue(max(1, depth))
    stop = threading.Event()

    def run(item: T) -> None:
        error: BaseException | None = None
        outputs: Iterator[R] | None = None
        try:
            outputs = iter(produce(item))
            for value in outputs:
                if not _offer(ready, value, stop):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            error = exc
        finally:
            try:
                close = getattr(outputs, "close", None)
                if close is not None:
                    close()
            except BaseException as exc:  # noqa: BLE001 - a producer's clean-up failing is its failure
                error = error or exc
            _offer(ready, _Finished(error), stop)  # once per producer that ran: the reader counts them

    futures: list[Future[None]] = []
    try:
        for item in items:
            futures.append(pool.submit(run, item))
        remaining = len(futures)
        while remaining:
            try:
                value = ready.get(timeout=0.5)
            except queue.Empty:  # a producer that never ran (its future cancelled) never reports
                if all(f.done() for f in futures) and ready.empty():
                    raise CancelledError(f"{remaining} of {len(futures)} items were cancelled before they ran") from None
                continue
            if isinstance(value, _Finished):
                remaining -= 1
                if value.error is not None:
                    raise value.error
                continue
            yield value
    finally:
        stop.set()
        for future in futures:
            future.cancel()


def _nothing() -> None:
    pass


class Deadline:
    """A callback due at a monotonic time, until cancelled; made by ``at_deadline``."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        """Never fire; what the callback holds (a connection, say) is let go now, not when the
        cancelled entry reaches the top of the heap."""
        self.cancelled, self.callback = True, _nothing


class _Deadlines:
    """One daemon thread and a heap of deadlines. A ``threading.Timer`` per request would start
    and stop a thread for every image fetched; a batch job fetches hundreds a second."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, delay_s: float, callback: Callable[[], None]) -> Deadline:
        deadline = Deadline(time.monotonic() + max(0.0, delay_s), callback)
        with self._wake:
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(target=self._run, name="medpic-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:  # sooner than what the thread sleeps towards
                self._wake.notify()
        return deadline

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                due = heapq.heappop(self._heap)[2]
            if not due.cancelled:
                try:
                    due.callback()
                except Exception:  # noqa: BLE001 - one callback's failure never stops the others
                    log.exception("a deadline's callback failed")


_DEADLINES = _Deadlines()


def at_deadline(delay_s: float, callback: Callable[[], None]) -> Deadline:
    """Call ``callback`` on the process's deadline thread in ``delay_s`` seconds, unless the
    returned ``Deadline`` is cancelled first. Callbacks must be quick: they share one thread."""
    return _DEADLINES.add(delay_s, callback)
