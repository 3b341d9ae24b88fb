"""Rebuild examples/: small demo images made from pictures that ship inside packages.

scikit-image's sample images (BSD/CC0/public domain, see skimage's data README) and pydicom's
test DICOMs give real medical and non-medical pictures without touching the training set.
Run with `make examples`; the output is committed so `make run` works without these packages.
"""

from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "examples"
SIDE = 320


def save(name: str, array: np.ndarray) -> None:
    image = Image.fromarray(array)
    image.thumbnail((SIDE, SIDE))
    path = OUT / name
    image.convert("RGB").save(path, quality=85) if path.suffix == ".jpg" else image.save(path)
    print(path.relative_to(OUT.parent), image.size)


def dicom_to_8bit(name: str) -> np.ndarray:
    import pydicom
    from pydicom.data import get_testdata_file

    arr = pydicom.dcmread(get_testdata_file(name)).pixel_array.astype(np.float64)
    arr = arr[0] if arr.ndim == 3 and arr.shape[-1] not in (3, 4) else arr
    lo, hi = np.percentile(arr, [0.5, 99.5])
    return (np.clip((arr - lo) / max(hi - lo, 1), 0, 1) * 255).astype(np.uint8)


def main() -> None:
    from skimage import data

    OUT.mkdir(exist_ok=True)
    save("fundus-retina.jpg", data.retina())
    save("histology-ihc.jpg", data.immunohistochemistry())
    save("ct-slice.png", dicom_to_8bit("CT_small.dcm"))
    save("mri-slice.png", dicom_to_8bit("MR_small.dcm"))
    save("cat.jpg", data.chelsea())
    save("coffee.jpg", data.coffee())
    save("rocket.jpg", data.rocket())


if __name__ == "__main__":
    main()
