"""The forward pass: the only place a model runtime is called at serving time.

LiteRT (``ai-edge-litert``) runs the exported ``.tflite`` file; it imports in a tenth of a
second and costs about 100 MB, against seconds and 650 MB for TensorFlow. TensorFlow's own
interpreter is the fallback when LiteRT is not installed.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from medpic.errors import ModelError

__all__ = ["TFLiteRuntime"]

log = logging.getLogger(__name__)


@contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """LiteRT's C++ runtime writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to file
    descriptor 2 when an interpreter is built, with no switch to turn it off. The model's interpreters
    are built at start-up, before any other work: for that moment fd 2 goes to a file, and what was
    written is logged (``-v`` shows it) instead of landing in the user's terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said = sink.read().decode(errors="replace").strip()
            if said:
                log.info("model runtime: %s", " | ".join(said.splitlines()))


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "litert"
    except ImportError:  # pragma: no cover - exercised only without LiteRT
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow"


def available_cpus() -> int:
    """CPUs this process may run on (LiteRT defaults to one thread, which halves throughput)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class TFLiteRuntime:
    """Runs a single-input, single-output TFLite model on float batches.

    The output is a vector per image: the medical logit, then the modality logits of a two-head
    model (one column for an older, single-head one).

    Whole groups of ``group`` images go through an interpreter sized for a group, the rest one at
    a time through one sized for a single image, so no call computes padding and no tensor is ever
    resized after loading. A group reads the dense heads' weights (20 MB for two backbones) once
    for all its images: 4 at a time ran the two-backbone model at 418-432 images/s against 354-397
    one at a time (raw inference, 2 cores). A model whose batch dimension is fixed runs one at a
    time. A lock makes the runtime safe to share between threads.
    """

    def __init__(self, path: str | Path, *, threads: int = 0, group: int = 1) -> None:
        cls, self.engine = _interpreter_class()
        path = Path(path)
        self._single = _load(cls, path, threads, 1)
        self._grouped = None
        if group > 1:
            try:
                self._grouped = _load(cls, path, threads, group)
            except ModelError as exc:
                log.info("%s runs one image at a time: %s", path.name, exc.reason)
        self.group = group if self._grouped is not None else 1
        inp = self._single.get_input_details()[0]
        out = self._single.get_output_details()[0]
        self._input, self._output = inp["index"], out["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"][1:])
        self.outputs = int(np.prod(out["shape"][1:], dtype=np.int64)) if len(out["shape"]) > 1 else 1
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Raw model outputs (logits), shape ``(N, outputs)``, for a preprocessed ``(N, H, W, 3)`` batch."""
        if batch.ndim != 4 or tuple(batch.shape[1:]) != self.input_shape:
            raise ModelError(f"expected a batch of shape (N, {self.input_shape}), got {batch.shape}")
        out = np.empty((len(batch), self.outputs), np.float32)
        grouped = len(batch) - len(batch) % self.group if self._grouped is not None else 0
        with self._lock:
            for start in [*range(0, grouped, self.group), *range(grouped, len(batch))]:
                grouped_run = start < grouped
                interpreter = self._grouped if grouped_run else self._single
                stop = start + (self.group if grouped_run else 1)
                interpreter.set_tensor(self._input, batch[start:stop].astype(np.float32, copy=False))
                interpreter.invoke()
                out[start:stop] = interpreter.get_tensor(self._output).reshape(stop - start, -1)
        return out


def _load(cls, path: Path, threads: int, images: int):
    """An interpreter for ``images`` at a time, allocated and run once (the delegate is applied
    lazily, on the first run)."""
    try:
        with _native_stderr_to_log():
            interpreter = cls(model_path=str(path), num_threads=threads or available_cpus())
            if images > 1:
                detail = interpreter.get_input_details()[0]
                shape = np.array(detail["shape"])
                shape[0] = images
                interpreter.resize_tensor_input(detail["index"], shape, strict=True)
            interpreter.allocate_tensors()
            interpreter.invoke()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load model file {str(path)!r}: {exc}") from exc
    return interpreter
