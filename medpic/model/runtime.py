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
    descriptor 2 when an interpreter is built, with no switch to turn it off. The model is built
    once, at start-up, before any other work: for that moment fd 2 goes to a file, and what was
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
    """Runs a single-input, single-output TFLite model on float batches, one image at a time.

    The output is a vector per image: the medical logit, then the modality logits of a two-head
    model (one column for an older, single-head one).

    Batch 1 is the fastest TFLite shape on CPU and never needs a tensor resize, so every call
    reuses the same allocated interpreter; a lock makes it safe to share between threads.
    """

    def __init__(self, path: str | Path, *, threads: int = 0) -> None:
        cls, self.engine = _interpreter_class()
        try:
            with _native_stderr_to_log():
                self._interpreter = cls(model_path=str(path), num_threads=threads or available_cpus())
                self._interpreter.allocate_tensors()
                self._interpreter.invoke()  # the delegate is applied lazily, on the first run
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model file {str(path)!r}: {exc}") from exc
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        self._input, self._output = inp["index"], out["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"][1:])
        self.outputs = int(np.prod(out["shape"][1:], dtype=np.int64)) if len(out["shape"]) > 1 else 1
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Raw model outputs (logits), shape ``(N, outputs)``, for a preprocessed ``(N, H, W, 3)`` batch."""
        if batch.ndim != 4 or tuple(batch.shape[1:]) != self.input_shape:
            raise ModelError(f"expected a batch of shape (N, {self.input_shape}), got {batch.shape}")
        out = np.empty((len(batch), self.outputs), np.float32)
        with self._lock:
            for i in range(len(batch)):
                self._interpreter.set_tensor(self._input, batch[i : i + 1].astype(np.float32, copy=False))
                self._interpreter.invoke()
                out[i] = self._interpreter.get_tensor(self._output).reshape(-1)
        return out
