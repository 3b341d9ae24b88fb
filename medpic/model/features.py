"""Frozen-backbone features of the shared set, computed once per view and cached on disk.

Training a head on a frozen backbone is what generalised best to unseen sources here, and on a
2-core CPU the backbone's forward pass is the whole cost. So every view (the clean image plus
seeded augmented copies) goes through the backbone once; heads, calibration and the
leave-sources-out cross-validation then run on the cached arrays in seconds.

Besides the pooled 1280-d embedding we keep the input of the last block (7x7x192 at 224 px) in
float16, so the top block and the head can be fine-tuned without re-running the first 15 blocks.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from medpic.concurrency import prefetch
from medpic.model.data import Example, augment, load_example
from medpic.model.preprocess import preprocess

__all__ = ["ViewFeatures", "extract_views", "split_backbone"]

TAP_LAYER = "blocks_14_add"  # output of the last block before the top block


@dataclass(frozen=True)
class ViewFeatures:
    """Cached features of one view of every example, in manifest order."""

    embedding: np.ndarray  # (N, 1280) float32
    tap: np.ndarray | None  # (N, 7, 7, 192) float16, the top block's input


def split_backbone(backbone):
    """Two Keras models: image -> (tap, embedding), and tap -> embedding (the trainable top)."""
    import keras

    tap = backbone.get_layer(TAP_LAYER).output
    both = keras.Model(backbone.input, [tap, backbone.output])
    return both


def _view_image(example: Example, view: int, seed: int):
    image = load_example(example)
    if view == 0:
        return image
    digest = hashlib.sha256(f"{seed}:{view}:{example.path.name}".encode()).digest()
    return augment(image, random.Random(int.from_bytes(digest[:8], "little")))


def extract_views(
    examples: list[Example],
    *,
    variant: str,
    views: int,
    cache_dir: Path,
    seed: int = 0,
    batch_size: int = 64,
    keep_tap: bool = True,
) -> list[ViewFeatures]:
    """Features for view 0 (clean) and views 1..views-1 (augmented), from cache when present."""
    import tensorflow as tf

    from medpic.model.backbone import SPECS, build_backbone

    size = SPECS[variant].input_size
    key = hashlib.sha256("\n".join(str(e.path) for e in examples).encode()).hexdigest()[:12]
    cache_dir = Path(cache_dir) / f"{variant}-{key}-s{seed}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    model = None
    results = []
    for view in range(views):
        emb_file, tap_file = cache_dir / f"view{view}-emb.npy", cache_dir / f"view{view}-tap.npy"
        if emb_file.exists() and (tap_file.exists() or not keep_tap):
            tap = np.load(tap_file, mmap_mode="r") if keep_tap else None
            results.append(ViewFeatures(np.load(emb_file), tap))
            continue
        if model is None:
            model = split_backbone(build_backbone(variant))
            forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        embs = np.zeros((len(examples), model.outputs[1].shape[-1]), np.float32)
        taps = np.lib.format.open_memmap(
            tap_file.with_suffix(".tmp.npy"), "w+", np.float16, (len(examples), *model.outputs[0].shape[1:])
        ) if keep_tap else None

        def load(i: int) -> np.ndarray:
            return preprocess(_view_image(examples[i], view, seed), size)

        batches = [range(s, min(s + batch_size, len(examples))) for s in range(0, len(examples), batch_size)]
        pending = prefetch(lambda b: np.stack([load(i) for i in b]), batches, depth=4)
        for idx, x in tqdm(zip(batches, pending), total=len(batches), desc=f"{variant} view {view}", unit="batch"):
            tap, emb = forward(tf.constant(x))
            embs[idx.start : idx.stop] = emb.numpy()
            if taps is not None:
                taps[idx.start : idx.stop] = tap.numpy().astype(np.float16)
        np.save(emb_file, embs)
        if taps is not None:
            taps.flush()
            del taps
            tap_file.with_suffix(".tmp.npy").rename(tap_file)
        results.append(ViewFeatures(embs, np.load(tap_file, mmap_mode="r") if keep_tap else None))
    return results
