"""Ray Data's scheduler rounds, shortened while a job's rows are read and put back after."""

from __future__ import annotations

import pyarrow as pa
import pytest
from ray.data._internal.execution import streaming_executor_state as state

from medpic.batch import engine
from medpic.errors import MedPicError


class _Rows:
    """What ``stream_rows`` reads: tables, one at a time; it notes the scheduler's round as it goes."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[float] = []
        self.fail = fail

    def iter_batches(self, **_):
        for n in range(2):
            self.seen.append(state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S)
            if self.fail:
                raise RuntimeError("a stage died")
            yield pa.table({"n": [n]})


def test_the_pinned_ray_has_the_round_medpic_shortens():
    assert state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S > engine._SCHEDULER_WAIT_S  # else the tweak does nothing


def test_rows_are_read_with_short_rounds_and_rays_own_comes_back_after():
    before = state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S
    rows = _Rows()
    assert [r["n"] for r in engine.stream_rows(rows)] == [0, 1]
    assert rows.seen == [engine._SCHEDULER_WAIT_S] * 2
    assert state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S == before
    failing = _Rows(fail=True)
    with pytest.raises(MedPicError, match="the batch job stopped"):
        list(engine.stream_rows(failing))
    assert failing.seen == [engine._SCHEDULER_WAIT_S] and state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S == before


def test_overlapping_jobs_and_an_abandoned_one_leave_rays_round_as_it_was():
    before = state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S
    first, second = engine.stream_rows(_Rows()), engine.stream_rows(_Rows())
    next(first), next(second)
    first.close()  # abandoned after one row, while the other job still reads
    assert state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S == engine._SCHEDULER_WAIT_S
    assert [r["n"] for r in second] == [1]
    assert state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S == before


def test_without_decoding_tasks_rows_are_read_with_rays_own_round():
    before = state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S
    rows = _Rows()
    assert [r["n"] for r in engine.stream_rows(rows, short_rounds=False)] == [0, 1]
    assert rows.seen == [before] * 2 and before != engine._SCHEDULER_WAIT_S
