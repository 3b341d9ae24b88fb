"""The process's one deadline thread: what is due fires, in time order; what is cancelled never does."""

from __future__ import annotations

import threading
import time

from medpic.concurrency import at_deadline, prefetch


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
