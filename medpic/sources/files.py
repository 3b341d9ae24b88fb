"""Files and uploads to candidates: folders walked, each file read under its cap, one candidate each.

The CLI's paths and the app's uploads take the same road, so an unreadable upload gets the same
real reason (``no such file``, ``file too large: ...``, ``permission denied``) as a file would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from medpic.errors import FileTooLarge, InvalidInput
from medpic.sources.candidates import ImageCandidate, Status

__all__ = ["InputFile", "expand_paths", "read_file_capped", "file_candidates", "IMAGE_EXTENSIONS"]

# Extensions collected when walking a folder. Refused formats (SVG, PSD, HEIC, DICOM) are
# included on purpose: the report should say they were found and why they were not judged.
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".avif", ".bmp", ".dib", ".tif",
    ".tiff", ".ico", ".svg", ".psd", ".heic", ".heif", ".dcm", ".jp2",
})


@dataclass(frozen=True)
class InputFile:
    """One file to judge and the argument it came from (the CSV's ``source``)."""

    source: str
    path: str
    ref: str = ""  # how the report names it; the path unless given (an upload's own file name)


def expand_paths(arguments: Iterable[str]) -> Iterator[InputFile]:
    """Files as given, folders walked recursively (image extensions only, sorted, no hidden).

    A path that does not exist is still yielded, so that it gets its own error row instead of
    vanishing from the report.
    """
    for arg in arguments:
        path = Path(arg)
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                        found.append(os.path.join(root, name))
            for file in sorted(found):
                yield InputFile(arg, file)
        else:
            yield InputFile(arg, arg)


def read_file_capped(path: str | os.PathLike, max_bytes: int) -> bytes:
    """Read a file, refusing anything larger than ``max_bytes`` or not a regular file.

    Raises ``InvalidInput`` with a short reason (``no such file``, ``file too large: ...``)."""
    try:
        size = os.stat(path).st_size
        if not os.path.isfile(path):
            raise InvalidInput("not a regular file")
        if size > max_bytes:
            raise FileTooLarge(size, max_bytes)
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except FileNotFoundError:
        raise InvalidInput("no such file") from None
    except PermissionError:
        raise InvalidInput("permission denied") from None
    except IsADirectoryError:
        raise InvalidInput("is a directory") from None
    except OSError as exc:
        raise InvalidInput(f"could not read file: {exc.strerror or exc}") from None


def file_candidates(files: Iterable[InputFile], *, max_bytes: int, found_by: str = "file") -> Iterator[ImageCandidate]:
    """One candidate per file, in order, read lazily; a file that cannot be read is an ``error``
    candidate with its own reason."""
    for order, item in enumerate(files):
        where = dict(source=item.source, ref=item.ref or item.path, found_by=found_by, order=order)
        try:
            yield ImageCandidate.from_bytes(read_file_capped(item.path, max_bytes), **where)
        except InvalidInput as exc:
            yield ImageCandidate(**where, status=Status.ERROR, reason=exc.reason)
