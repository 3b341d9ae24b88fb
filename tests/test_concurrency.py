"""The process's one deadline thread: what is due fires, in time order; what is cancelled never does."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor

import pytest

from medpic.concurrency import at_deadline, interleave, prefetch


def test_deadlines_fire_in_time_order_and_cancelled_ones_never_fire():
    fired: list[str] = []
    done = threading.Event()
    at_deadline(0.6, lambda: (fired.append("late"), done.set()))
    cancelled = at_deadline(0.2, lambda: fired.append("cancelled"))
    at_deadline(0.3, lambda: fired.append("soon"))  # sooner than the thread sleeps towards: it wakes
    cancelled.cancel()
    started = time.monotonic()
    assert done.wait(5)
    assert fired == ["soon", "late"]
    assert time.monotonic() - started >= 0.5


def test_a_failing_callback_does_not_stop_the_deadline_thread():
    ran = threading.Event()
    at_deadline(0.0, lambda: 1 / 0)
    at_deadline(0.05, ran.set)
    assert ran.wait(5)


def test_prefetch_keeps_order_and_holds_at_most_depth_items():
    pulled: list[int] = []

    def items():
        for i in range(50):
            pulled.append(i)
            yield i

    results = prefetch(lambda i: i * i, items(), depth=4, workers=2)
    assert next(results) == 0
    assert len(pulled) <= 5
    assert list(results) == [i * i for i in range(1, 50)]


def test_interleave_yields_outputs_as_they_come_not_item_by_item():
    release = threading.Event()

    def produce(name: str):
        if name == "slow":
            yield "slow-1"
            assert release.wait(5)
            yield "slow-2"
        else:
            yield from (f"{name}-{i}" for i in range(3))

    with ThreadPoolExecutor(2) as pool:
        outputs = interleave(produce, ["slow", "fast"], pool=pool, depth=8)
        seen = [next(outputs) for _ in range(4)]  # the fast item finishes while the slow one waits
        assert sorted(seen) == ["fast-0", "fast-1", "fast-2", "slow-1"]
        release.set()
        assert list(outputs) == ["slow-2"]


def test_interleave_raises_a_producers_error_and_stops_the_others():
    stopped = threading.Event()

    def endless(_):
        try:
            while True:
                yield 1
        finally:
            stopped.set()

    def failing(_):
        yield 2
        raise ValueError("broken source")

    pool = ThreadPoolExecutor(2)
    outputs = interleave(lambda item: failing(item) if item == "bad" else endless(item), ["good", "bad"],
                         pool=pool, depth=2)
    with pytest.raises(ValueError, match="broken source"):
        list(outputs)
    assert stopped.wait(5)  # the endless producer was stopped, and its thread freed
    pool.shutdown(wait=False)


def test_interleave_raises_when_a_producer_fails_before_its_first_output():
    def produce(item: str):
        if item == "bad":
            raise OSError("cannot open the source")  # a plain function: no generator to run
        return iter([item])

    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(OSError, match="cannot open"):
            list(interleave(produce, ["good", "bad", "also good"], pool=pool, depth=4))


def test_interleave_reports_items_cancelled_before_they_ran_instead_of_waiting_for_them():
    release = threading.Event()

    def produce(item: str):
        yield item
        if item == "first":
            assert release.wait(5)

    pool = ThreadPoolExecutor(1)  # "second" waits for the only thread
    outputs = interleave(produce, ["first", "second"], pool=pool, depth=4)
    assert next(outputs) == "first"
    pool.shutdown(wait=False, cancel_futures=True)  # what an actor's teardown does
    release.set()
    with pytest.raises(CancelledError):
        list(outputs)


def test_interleave_bounds_waiting_outputs_and_shares_the_pools_threads():
    produced: list[int] = []

    def produce(item: int):
        for i in range(100):
            produced.append(i)
            yield (item, i)

    with ThreadPoolExecutor(1) as pool:  # one thread: the second item starts when the first ends
        outputs = interleave(produce, [0, 1], pool=pool, depth=3)
        assert next(outputs) == (0, 0)
        time.sleep(0.3)
        assert len(produced) <= 5  # blocked on the full queue, not 100 ahead
        rest = list(outputs)
    assert rest == [(0, i) for i in range(1, 100)] + [(1, i) for i in range(100)]
