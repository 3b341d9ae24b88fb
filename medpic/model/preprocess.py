"""The one preprocessing function: training, evaluation and serving all call ``preprocess``.

A model is only as good as the agreement between the pixels it was trained on and the pixels it
sees in production. Keeping resize and scaling in one function (and a test that holds the three
paths equal) rules out the classic silent skew of a different resize or scale at serving time.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["preprocess", "preprocess_batch", "to_input_size", "RESAMPLE", "SCALE_OFFSET", "SCALE_DIVISOR"]

# The backbone's ImageNet training used (x - 127) / 128 on RGB in [0, 255].
SCALE_OFFSET = 127.0
SCALE_DIVISOR = 128.0
# Antialiased bilinear: web thumbnails and large scans both shrink without aliasing.
RESAMPLE = Image.Resampling.BILINEAR


def to_input_size(image: Image.Image, size: int) -> Image.Image:
    """The first half of ``preprocess``: the whole picture, RGB, resized to a square (no crop).

    A banner-shaped figure or a tall scan keeps all of its content, which matters more for "is
    this medical" than exact aspect ratio. Serving does this half on the decoding threads, so what
    waits for the model is a small 8-bit picture, not a full-resolution one."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), RESAMPLE)
    return image


def preprocess(image: Image.Image, size: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """An RGB picture to the model's ``(size, size, 3)`` float32 input: ``to_input_size``, then scaled.

    With ``out`` (a float32 array of that shape, e.g. a row of a batch) the result is written
    there: a batch is then filled in one pass per picture, with no float temporaries to allocate
    and stack (that cost 0.47 ms a picture, a tenth of the model's own time)."""
    pixels = np.asarray(to_input_size(image, size))
    if out is None:
        out = np.empty(pixels.shape, np.float32)
    np.subtract(pixels, SCALE_OFFSET, out=out, dtype=np.float32)
    out /= SCALE_DIVISOR
    return out


def preprocess_batch(images: list[Image.Image], size: int) -> np.ndarray:
    """``preprocess`` over a list, each picture written into its row of the batch; an empty list
    gives an empty batch of the right shape."""
    batch = np.empty((len(images), size, size, 3), np.float32)
    for image, row in zip(images, batch):
        preprocess(image, size, out=row)
    return batch
