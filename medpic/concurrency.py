"""Bounded look-ahead: overlap fetching and decoding with inference without holding everything.

The pool sizes come from ``Settings`` (``download_workers``, ``decode_workers``); this module
only provides the one mechanism every stage uses.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["prefetch"]

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
