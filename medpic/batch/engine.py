"""Ray, in one place: the session (embedded or a cluster), the pipeline, and Ray's errors.

Nothing else in MedPic imports Ray: the app and the other commands never pay for it, and this
module is where its API and its exceptions meet MedPic's.

The pipeline is the pattern Ray documents for batch inference, one operator per kind of work,
each with its own concurrency, run by Ray Data's streaming executor, which keeps only a bounded
number of blocks in flight (memory follows the workers, not the size of the input):

    targets -> extraction (actor pool: fetch, render, read PDFs; a few targets at once per actor,
                           several per call)
            -> decoding (CPU tasks: bytes to pixels at the model's input size)
            -> classification (actor pool: one loaded model each, fed batches)
            -> the driver (assembles targets, commits them)

Where the replicas hold the cores (one machine) the decoding runs inside the replicas' calls
instead (``Settings.batch_decode``): the same code, one process boundary a picture fewer. Ray
Data fuses a task stage into the actor stage after it by itself when both ask for the same
resources, but it cannot here (a task's retry option and an actor's have different names, and
both are needed), so the plan says where.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Iterator, Sequence

from medpic.batch.classify import ClassifyActor
from medpic.batch.decode import decode_rows
from medpic.batch.extract import Extractor
from medpic.errors import InvalidInput, MedPicError
from medpic.settings import BATCH_DECODE_CHOICES, Settings
from medpic.sources.targets import is_local_picture

__all__ = ["Plan", "ray_session", "decode_in_replicas", "build_dataset", "calls_of", "targets_per_call", "stream_rows",
           "quick_scheduler"]

log = logging.getLogger(__name__)

# Rows per table an extraction actor yields: a large document streams on in pieces.
_ROWS_PER_TABLE = 32
# Input blocks: small enough that every worker gets some, few enough to stay cheap for Ray.
_MAX_INPUT_BLOCKS = 2000
# Extraction calls in flight per actor, sharing its ``batch_targets_per_worker`` threads: while one
# call waits on its slowest target, the next one's targets already run.
_CALLS_PER_WORKER = 2
# A call brings at most this many times ``batch_targets_per_worker`` targets...
_TARGETS_PER_CALL = 2
# ...and of local picture files this many times more. Reading a file waits on nothing, so a call
# ends as soon as it starts and its cost in Ray (about 13 ms of CPU in the driver, the actor and
# Ray's daemons) is the whole cost of a small call: on 8,919 one-picture files, calls of 8 spent
# 3.0 ms of CPU a picture outside the model and decoding, calls of 64 spent 1.6.
_LOCAL_PICTURES_FACTOR = 8
# Ray's notices that say nothing to a MedPic user (token auth on for a local Ray, no progress bars).
_QUIET = ("ray._private.authentication.authentication_token_setup", "ray.data._internal.progress")
# An actor that dies (a crash in a native library, the memory monitor) is restarted, and its task
# tried this many more times; after that the task's block is given up, its targets stay unfinished
# (the summary counts them; --resume runs them again) and the job goes on with the others.
_TASK_RETRIES = 2
# Seconds to wait for a cluster's head to accept a connection before calling its address wrong.
_PROBE_S = 5.0
# Ray Data's scheduler launches tasks between calls to ``ray.wait`` on every running task with
# ``num_returns`` all of them and a 0.1 s timeout: with the extraction actors' long calls always
# running, each round lasts the whole timeout, so a stage of short tasks gets ten launches a
# second. Decoding (one ~50 ms task at a time in its CPU budget) then fed the model replicas in
# gaps: on 8,919 single-picture targets the cores were 76-91 % busy and the job took 49-50 s.
# At 0.02 s they are 99 % busy and it takes 43.6-45.1 s; pages, CPU-bound already, are unchanged.
# With no decoding tasks (the replicas decode), Ray's own round serves: the replicas' calls queue
# in the actors, and the driver spends a quarter less CPU (8,919 files, whole jobs, start-up
# included: 0.45 against 0.62 ms a picture, the job 4 % faster).
_SCHEDULER_WAIT_S = 0.02
_SCHEDULER_LOCK = threading.Lock()
_SCHEDULER_USERS = [0, None]  # jobs reading rows now, and Ray's own value to put back after the last


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Everything the stages need, decided once by the driver."""

    settings: Settings
    use_browser: bool
    threshold: float | None
    save_min_confidence: float | None  # None: nothing is saved
    input_size: int  # the model's, so decoding needs no model
    base_dir: str  # relative paths in the input are relative to this
    decode_in_replicas: bool = False  # else a stage of decoding tasks of its own

    @property
    def model_cpus(self) -> float:
        """CPUs Ray reserves for a model replica: the threads it runs (MEDPIC_THREADS), so that Ray
        never packs more replicas on a node than its cores; else the fixed default."""
        return float(self.settings.threads) if self.settings.threads else self.settings.batch_model_cpus

    @property
    def model_threads(self) -> int:
        """Inference threads of a replica: the CPUs Ray reserves for it. Left to the runtime, each
        replica would run a thread per core of the machine, and beside extraction and decoding
        those threads spin waiting for each other on cores that are busy."""
        return max(1, round(self.model_cpus))

    @property
    def pool_cpus(self) -> float:
        """CPUs the two actor pools reserve: the extraction actors and the model replicas."""
        s = self.settings
        return s.batch_extract_workers * s.batch_extract_cpus + s.batch_model_replicas * self.model_cpus

    def logical_cpus(self) -> int:
        """CPUs to give an embedded Ray: the machine's, or enough for every pool to start at once
        (a pool Ray cannot place would wait forever; on one machine the OS shares the cores), with
        room for a decoding task wherever the decoding then runs."""
        return max(os.cpu_count() or 1, math.ceil(self.pool_cpus + self.settings.batch_decode_cpus))


@contextmanager
def ray_session(address: str | None, *, num_cpus: int, verbose: bool) -> Iterator[str]:
    """A Ray to run on: the caller's if Ray is already initialised, else the cluster at ``address``,
    else a local one started in this process (no dashboard, bound to 127.0.0.1) and shut at the end."""
    import ray

    if ray.is_initialized():
        yield "existing"
        return
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.ERROR)
    common: dict[str, Any] = dict(include_dashboard=False, log_to_driver=verbose, configure_logging=False)
    try:
        if address:
            _reachable(address)
            ray.init(address=address, **common)
        else:  # "local": never join a cluster named by RAY_ADDRESS without being asked
            ray.init(address="local", num_cpus=num_cpus, _node_ip_address="127.0.0.1", **common)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        if not address:
            raise MedPicError(f"could not start a local Ray: {type(exc).__name__}: {str(exc)[:300]}") from exc
        raise InvalidInput(f"could not join the Ray cluster at {address!r}: {type(exc).__name__}: {str(exc)[:300]}; "
                           "check --ray-address (host:port of the head node) and the cluster's token") from exc
    try:
        yield address or "local"
    finally:
        ray.shutdown()


def decode_in_replicas(choice: str, *, pool_cpus: float) -> bool:
    """Where the running Ray should decode (``Settings.batch_decode``). "auto": in the replicas when
    the actor pools (``pool_cpus``) leave less than a CPU of the cluster free, as on a machine whose
    cores the replicas hold, where decoding tasks would only queue for the same cores and cost a
    process boundary a picture; else in tasks of their own, which spread over the free CPUs (a big
    machine with one replica, a cluster) instead of waiting on the replicas' one thread each."""
    if choice not in BATCH_DECODE_CHOICES:
        raise InvalidInput(f"batch_decode={choice!r} is not one of {', '.join(BATCH_DECODE_CHOICES)}")
    if choice != "auto":
        return choice == "replicas"
    import ray

    return ray.cluster_resources().get("CPU", 0.0) - pool_cpus < 1.0


def _reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at a ``host:port`` address (Ray itself
    retries its connection for minutes); other forms (``auto``, ``ray://``) are left to Ray."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_S).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or type(exc).__name__})") from None


def build_dataset(pending: Sequence[tuple[int, str]], plan: Plan, *, verbose: bool) -> Any:
    """The lazy Ray Dataset of a job's pending (seq, target) pairs; nothing runs until it is read."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = verbose
    context.max_errored_blocks = -1  # one target crashing its worker never stops the job
    # Ray Data starts a thread per task to poll the worker's memory, for its own stats: with tasks of
    # a few milliseconds that was a tenth of the extraction actors' CPU, and MedPic reads no such stats.
    context.memory_usage_poll_interval_s = None
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose else logging.WARNING)
    with warnings.catch_warnings():  # Ray 2.60 deprecates per-operator retry limits, and has no other way yet
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return _operators(pending, plan)


def _operators(pending: Sequence[tuple[int, str]], plan: Plan) -> Any:
    import ray.data
    from ray.data import ActorPoolStrategy

    s = plan.settings
    workers = max(1, min(s.batch_extract_workers, len(pending)))
    items = [{"targets": [target for _, target in call], "seqs": [seq for seq, _ in call]}
             for call in calls_of(pending, workers=workers, targets_per_worker=s.batch_targets_per_worker)]
    # One call a block, a block being what an actor works on at once, retries and sends on together;
    # beyond _MAX_INPUT_BLOCKS calls a block holds several (about len(pending) / _MAX_INPUT_BLOCKS targets).
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), _MAX_INPUT_BLOCKS)))
    ds = ds.map_batches(
        Extractor, batch_size=None, batch_format="pyarrow", num_cpus=s.batch_extract_cpus,
        max_task_retries=_TASK_RETRIES,
        compute=ActorPoolStrategy(size=workers, max_concurrent_calls_per_actor=_CALLS_PER_WORKER,
                                  max_tasks_in_flight_per_actor=_CALLS_PER_WORKER, enable_true_multi_threading=True),
        fn_constructor_kwargs=dict(settings=s, use_browser=plan.use_browser, base_dir=plan.base_dir,
                                   input_size=plan.input_size, rows_per_table=_ROWS_PER_TABLE))
    if not plan.decode_in_replicas:
        ds = ds.map_batches(decode_rows, batch_size=s.batch_decode_rows, batch_format="pyarrow",
                            num_cpus=s.batch_decode_cpus, max_retries=_TASK_RETRIES,
                            fn_kwargs=dict(max_pixels=s.max_pixels, input_size=plan.input_size))
    return ds.map_batches(
        ClassifyActor, batch_size=s.batch_size, batch_format="pyarrow", num_cpus=plan.model_cpus,
        max_task_retries=_TASK_RETRIES,
        compute=ActorPoolStrategy(size=s.batch_model_replicas),
        fn_constructor_kwargs=dict(settings=replace(s, threads=plan.model_threads), input_size=plan.input_size,
                                   threshold=plan.threshold, save_min_confidence=plan.save_min_confidence,
                                   decode=plan.decode_in_replicas))


def calls_of(pending: Sequence[tuple[int, str]], *, workers: int, targets_per_worker: int
             ) -> list[list[tuple[int, str]]]:
    """The extraction calls of a job, each a list of (seq, target): local picture files in calls
    ``_LOCAL_PICTURES_FACTOR`` times larger than those of URLs and documents, every call in the
    order of its first target."""
    groups: dict[bool, list[tuple[int, tuple[int, str]]]] = {False: [], True: []}  # (position, pair)
    for position, pair in enumerate(pending):
        groups[is_local_picture(pair[1])].append((position, pair))
    calls = []
    for local, group in groups.items():
        per_call = targets_per_call(len(group), workers=workers,
                                    targets_per_worker=targets_per_worker * (_LOCAL_PICTURES_FACTOR if local else 1))
        calls += [group[i:i + per_call] for i in range(0, len(group), per_call)]
    calls.sort(key=lambda call: call[0][0])
    return [[pair for _, pair in call] for call in calls]


def targets_per_call(targets: int, *, workers: int, targets_per_worker: int) -> int:
    """Targets in one extraction call: several per Ray task, whose cost (milliseconds of CPU in
    the driver and Ray's daemons) would otherwise match a one-picture target's whole extraction;
    few enough that every worker gets ``_CALLS_PER_WORKER`` calls of a short input."""
    return max(1, min(_TARGETS_PER_CALL * targets_per_worker, math.ceil(targets / (_CALLS_PER_WORKER * workers))))


@contextmanager
def quick_scheduler() -> Iterator[None]:
    """Ray Data's scheduler rounds shortened to ``_SCHEDULER_WAIT_S`` while any job's rows are read,
    then put back when the last one ends (it is module state of Ray, shared with whatever else this
    process runs on Ray Data). The pinned Ray has the constant; a test says so."""
    from ray.data._internal.execution import streaming_executor_state as state

    if getattr(state, "WAIT_FOR_TASK_COMPLETION_TIMEOUT_S", None) is None:
        yield
        return
    with _SCHEDULER_LOCK:
        if _SCHEDULER_USERS[0] == 0:
            _SCHEDULER_USERS[1] = state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S
            state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S = min(_SCHEDULER_USERS[1], _SCHEDULER_WAIT_S)
        _SCHEDULER_USERS[0] += 1
    try:
        yield
    finally:
        with _SCHEDULER_LOCK:
            _SCHEDULER_USERS[0] -= 1
            if _SCHEDULER_USERS[0] == 0:
                state.WAIT_FOR_TASK_COMPLETION_TIMEOUT_S = _SCHEDULER_USERS[1]


def stream_rows(ds: Any, *, short_rounds: bool = True) -> Iterator[dict[str, Any]]:
    """The pipeline's rows as they come, read with the scheduler's rounds shortened if asked (a
    stage of decoding tasks needs them). A stage that failed for good (Ray wraps what it raised) is
    a ``MedPicError``: ours with its own reason, anything else named by type, with what to do next."""
    try:
        with quick_scheduler() if short_rounds else nullcontext():
            for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                yield from table.to_pylist()
    except Exception as exc:  # noqa: BLE001 - Ray's exceptions, whatever a stage raised inside them
        cause: BaseException | None = exc
        for _ in range(20):  # down the chain of causes, never round a cycle
            if cause is None or isinstance(cause, MedPicError):
                break
            cause = cause.__cause__ or cause.__context__
        reason = cause.reason if isinstance(cause, MedPicError) else f"{type(exc).__name__}"
        raise MedPicError(f"the batch job stopped: {reason}; committed targets are kept: run the same command "
                          "with --resume") from exc
