"""What the image libraries say while decoding goes to the log (``medpic -v``), never straight to
the terminal: Python warnings captured per thread, and libtiff's C-level messages through handlers of
its own. A file's report row already says why it was not judged.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator




__all__ = ["PILLOW_WARNINGS", "Libtiff"]

log = logging.getLogger("medpic.imaging")


class PillowWarnings:
    """Warnings raised while a thread decodes, collected for that thread alone.

    Pillow reports a truncated TIFF directory ("Truncated File Read"), a malformed MPO and the like
    through ``warnings``. ``warnings.catch_warnings`` is process-wide state (before Python 3.14),
    and decodes run on worker threads: with one ``catch_warnings`` per decode, one thread's
    warning was recorded by another's decode (a clean MPO came back "corrupt: Truncated File
    Read") or escaped to the terminal when the other decode restored the state first.

    So one shared window is opened by the first decode that starts and closed by the last that
    ends: while it is open, Pillow's warnings are always shown (not once per location) and
    ``showwarning`` hands each one to the list of the thread that raised it. Warnings of threads
    that are not decoding go wherever they went before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: warnings.catch_warnings | None = None
        self._previous = warnings.showwarning
        self._local = threading.local()

    @contextmanager
    def collect(self) -> Iterator[list[warnings.WarningMessage]]:
        mine: list[warnings.WarningMessage] | None = getattr(self._local, "caught", None)
        if mine is not None:  # nested in this thread: share the outer list
            yield mine
            return
        caught: list[warnings.WarningMessage] = []
        with self._lock:
            if self._users == 0:
                self._saved = warnings.catch_warnings()
                self._saved.__enter__()
                warnings.filterwarnings("always", module=r"PIL(\.|$)")
                if warnings.showwarning is not self._show:  # never forward to ourselves
                    self._previous = warnings.showwarning
                warnings.showwarning = self._show
            self._users += 1
        self._local.caught = caught
        try:
            yield caught
        finally:
            self._local.caught = None
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._saved is not None:
                    self._saved.__exit__(None, None, None)
                    self._saved = None

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        caught = getattr(self._local, "caught", None)
        if caught is not None:
            caught.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
        else:
            self._previous(message, category, filename, lineno, file, line)


PILLOW_WARNINGS = PillowWarnings()


class Libtiff:
    """The libtiff inside Pillow, asked what it can decode and told to report to our log.

    libtiff prints its errors and warnings ("WEBP compression support is not configured",
    "TIFFFillStrip: Read error on strip 0") with ``fprintf(stderr)`` from C, below Python: neither
    ``warnings`` nor ``logging`` sees them, and they landed in the middle of the user's table.
    libtiff's own answer is ``TIFFSetErrorHandler``/``TIFFSetWarningHandler``: one process-wide
    function each. The first TIFF decode installs handlers that format the message and log it at
    INFO on this module's logger (``medpic -v`` shows them). They are found through Pillow's
    ``_imaging`` module, so they are the libtiff Pillow actually uses.

    Why not redirect file descriptor 2 around TIFF decodes: that is process-wide too, so it would
    also swallow whatever the main thread and the other decode worker write meanwhile (the
    progress bar, log lines), and it would need a lock serialising every TIFF decode.

    Where the handlers cannot be installed (a libtiff linked in without exported symbols, an ABI
    whose ``va_list`` we do not pass) libtiff keeps printing, which is noise, never a wrong row;
    where messages cannot be formatted they are dropped, never printed.
    """

    _instance: "Libtiff | None | bool" = None
    _lock = threading.Lock()

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.TIFFIsCODECConfigured.argtypes = [ctypes.c_uint16]
        lib.TIFFIsCODECConfigured.restype = ctypes.c_int
        self._handler = None
        handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            getattr(lib, name).restype = ctypes.c_void_p
            getattr(lib, name).argtypes = [handler_type]
        vsnprintf = _vsnprintf()
        if vsnprintf is not None:
            def report(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
                try:
                    buffer = ctypes.create_string_buffer(1024)
                    vsnprintf(buffer, len(buffer), fmt, args)
                    text = buffer.value.decode("utf-8", "replace").strip()
                    where = module.decode("utf-8", "replace") + ": " if module else ""
                    log.info("libtiff: %s%s", where, text)
                except Exception:  # noqa: BLE001 - an exception must never cross back into C
                    pass

            self._handler = handler_type(report)  # kept alive as long as libtiff may call it
        else:
            self._handler = handler_type()  # a NULL handler: libtiff stays silent
        lib.TIFFSetErrorHandler(self._handler)
        lib.TIFFSetWarningHandler(self._handler)

    @classmethod
    def get(cls) -> "Libtiff | None":
        """The bound library (handlers installed on first use), or None where it cannot be had."""
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls._bind() or False
            return cls._instance or None

    @classmethod
    def _bind(cls) -> "Libtiff | None":
        try:
            from PIL import _imaging, features

            if not features.check_codec("libtiff"):
                return None
            # dlsym on _imaging's handle also searches the libraries it was linked with.
            return cls(ctypes.CDLL(_imaging.__file__))
        except (OSError, AttributeError, ImportError, TypeError) as exc:
            log.debug("libtiff messages stay on stderr: %s", exc)
            return None

    def has_codec(self, code: int) -> bool:
        return bool(self._lib.TIFFIsCODECConfigured(code))


def _vsnprintf():  # noqa: ANN202
    """C's ``vsnprintf``, where a ``va_list`` arrives in a callback as one pointer we can pass on
    (x86-64 and 64-bit ARM, Linux and macOS); else None."""
    if platform.machine().lower() not in ("x86_64", "amd64", "aarch64", "arm64"):
        return None
    try:
        function = ctypes.CDLL(None).vsnprintf
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    function.restype = ctypes.c_int
    return function


# -- decoding -------------------------------------------------------------------------------------


