"""Files and uploads to candidates: folders walked, each file read under its cap, one candidate each.

The CLI's paths and the app's uploads take the same road, so an unreadable upload gets the same
real reason (``no such file``, ``file too large: ...``, ``permission denied``) as a file would.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image

from medpic.errors import FileTooLarge, InvalidInput
from medpic.sources.candidates import ImageCandidate, Status

__all__ = ["InputFile", "expand_paths", "skipped_note", "read_file_capped", "file_candidates", "IMAGE_EXTENSIONS"]

# Pillow formats whose extensions are not pictures: video, and stubs for scientific data files.
_NOT_PICTURES = frozenset({"MPEG", "BUFR", "GRIB", "HDF5"})
# The allow-list's extensions, formats refused by name that Pillow has no reader for (SVG, HEIC,
# DICOM, JPEG XL) and extensions Pillow's registry leaves out (.mpo, .psb).
_RECOGNISED = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".webp", ".avif", ".avifs", ".bmp",
    ".dib", ".tif", ".tiff", ".ico", ".mpo", ".svg", ".svgz", ".psd", ".psb", ".heic", ".heif", ".hif",
    ".dcm", ".dicom", ".jp2", ".j2k", ".jpx", ".jxl", ".eps", ".dds",
})


def _pillow_extensions() -> frozenset[str]:
    """Every extension of a format Pillow can open (its registry, loaded in full)."""
    Image.init()
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items()
                     if fmt in Image.OPEN and fmt not in _NOT_PICTURES)


# Extensions collected when walking a folder: every format the decoder can open, including those
# outside the allow-list (PSD, EPS, DDS, PPM, ...), plus the ones refused by name (SVG, HEIC,
# DICOM): the report should say they were found and why they were not judged, and a file that
# decodes (.mpo, .apng, .avifs) is never passed over.
IMAGE_EXTENSIONS = _RECOGNISED | _pillow_extensions()


@dataclass(frozen=True)
class InputFile:
    """One file to judge and the argument it came from (the CSV's ``source``)."""

    source: str
    path: str
    ref: str = ""  # how the report names it; the path unless given (an upload's own file name)


def expand_paths(arguments: Iterable[str], *, skipped: list[str] | None = None) -> Iterator[InputFile]:
    """Files as given, folders walked recursively (image extensions only, sorted, no hidden).

    A path that does not exist is still yielded, so that it gets its own error row instead of
    vanishing from the report. A walked file passed over for its extension is appended to
    ``skipped`` when given (``skipped_note`` words them for the user); hidden files and folders
    are left out on purpose and not counted.
    """
    for arg in arguments:
        path = Path(arg)
        if path.is_dir():
            found, passed = [], []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if name.startswith("."):
                        continue
                    is_image = Path(name).suffix.lower() in IMAGE_EXTENSIONS
                    (found if is_image else passed).append(os.path.join(root, name))
            if skipped is not None:
                skipped.extend(sorted(passed))
            for file in sorted(found):
                yield InputFile(arg, file)
        else:
            yield InputFile(arg, arg)


def skipped_note(paths: Iterable[str]) -> str:
    """One line on the files a folder walk passed over, counted by extension, most common first:
    ``3 files skipped (not images by extension: .txt 2, .json 1)``; empty when there are none."""
    counts = Counter(Path(p).suffix.lower() or "no extension" for p in paths)
    total = sum(counts.values())
    if not total:
        return ""
    detail = ", ".join(f"{ext} {n}" for ext, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return f"{total} file{'s' if total != 1 else ''} skipped (not images by extension: {detail})"


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
