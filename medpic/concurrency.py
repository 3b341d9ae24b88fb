"""Bounded look-ahead: overlap decoding with inference without holding everything in memory."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
R = TypeVar("R")


def prefetch(fn: Callable[[T], R], items: Iterable[T], *, depth: int = 4, workers: int = 2) -> Iterator[R]:
    """``map(fn, items)`` computed ``depth`` items ahead on ``workers`` threads, in order.

    Unlike ``ThreadPoolExecutor.map``, which submits every item at once, at most ``depth``
    results wait in memory: decoding thousands of images ahead of a slow model would otherwise
    hold gigabytes of pixels.
    """
    with ThreadPoolExecutor(workers) as pool:
        queue: deque[Future[R]] = deque()
        iterator = iter(items)
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
