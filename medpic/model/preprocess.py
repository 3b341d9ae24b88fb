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


def preprocess(image: Image.Image, size: int) -> np.ndarray:
    """An RGB picture to the model's ``(size, size, 3)`` float32 input: ``to_input_size``, then scaled."""
    image = to_input_size(image, size)
    arr = np.asarray(image, dtype=np.float32)
    return (arr - SCALE_OFFSET) / SCALE_DIVISOR


def preprocess_batch(images: list[Image.Image], size: int) -> np.ndarray:
    """Stack ``preprocess`` over a list; an empty list gives an empty batch of the right shape."""
    if not images:
        return np.zeros((0, size, size, 3), np.float32)
    return np.stack([preprocess(im, size) for im in images])
