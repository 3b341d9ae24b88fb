"""Multi-scale features of the frozen backbone, and their per-view cache for training.

The feature vector is the final 1280-d pooled embedding followed by the average- and max-pooled
activations of the last block of each earlier stage. On the leave-sources-out split these
intermediate textures lifted a linear head from 0.865 to 0.883 accuracy: "is this a scan" is
as much about grain, noise and intensity statistics as about high-level objects.

``feature_network`` is used both to compute the training cache and inside the exported serving
model, so the two can never disagree on what a feature is. On a 2-core CPU the backbone's
forward pass is the whole cost of training, so each view (view 0 clean, views 1.. augmented with
seeded randomness) is computed once and cached as ``(N, D)`` float32 arrays.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
from tqdm import tqdm

from medpic.concurrency import prefetch
from medpic.training.data import Example, augment, load_example
from medpic.model.preprocess import preprocess

__all__ = ["FEATURE_TAPS", "feature_network", "extract_views", "view_image"]

# The last block of stages 2-6 of EfficientNet-Lite0 (blocks are numbered from 0); other
# variants get theirs from ``backbone.stage_taps``.
FEATURE_TAPS = ("blocks_2_add", "blocks_4_add", "blocks_7_add", "blocks_10_add", "blocks_14_add")


def feature_network(backbone, taps: tuple[str, ...], *, image_size: int | None = None,
                    name: str = "medpic_features"):
    """Image -> concatenated ``[embedding, avg(tap_1), max(tap_1), ...]`` as one Keras model.

    With ``image_size`` other than the backbone's own, the model takes ``image_size`` pictures and
    resizes them (bilinear) inside the network: several backbones of one model share one
    preprocessed input, and training computes their features through the very same resize."""
    import keras
    from keras import layers

    parts = [backbone.output]
    for tap in taps:
        out = backbone.get_layer(tap).output
        parts.append(layers.GlobalAveragePooling2D(name=f"{tap}_avg")(out))
        parts.append(layers.GlobalMaxPooling2D(name=f"{tap}_max")(out))
    features = layers.Concatenate(name="features")(parts)
    size = backbone.input.shape[1]
    if image_size is None or image_size == size:
        return keras.Model(backbone.input, features, name=name)
    inner = keras.Model(backbone.input, features, name=f"{name}_at_{size}")
    image = keras.Input((image_size, image_size, 3), name=f"{name}_image")
    resized = layers.Resizing(size, size, interpolation="bilinear", name=f"{name}_resize")(image)
    return keras.Model(image, inner(resized), name=name)


def view_image(example: Example, view: int, seed: int):
    """View 0 is the image as it is; view k > 0 a seeded augmentation, the same on every run."""
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
    taps: tuple[str, ...] | None = None,
    mirror: bool = False,
    input_size: int | None = None,
    image_size: int | None = None,
) -> list[np.ndarray]:
    """Feature arrays for views ``0..views-1`` in manifest order, computed or read from cache;
    with ``mirror``, of each view flipped left to right (the test-time-flip experiment); at the
    variant's own input size unless ``input_size`` is given, from pictures preprocessed at
    ``image_size`` (default: the network's size) and resized inside the network as serving does."""
    from medpic.training.backbone import network_size, stage_taps

    taps = taps or stage_taps(variant)
    size = network_size(variant, input_size)
    image_size = image_size or size
    key = [variant, size, list(taps), seed, [str(e.path) for e in examples]]
    fingerprint = json.dumps(key if image_size == size else [*key, image_size])
    folder = Path(cache_dir) / "features" / f"{variant}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    network = forward = None
    results = []
    for view in range(views):
        name = f"view{view}-mirror" if mirror else f"view{view}"
        path = folder / f"{name}.npy"
        if path.exists():
            results.append(np.load(path))
            continue
        if network is None:
            import tensorflow as tf

            from medpic.training.backbone import build_backbone

            network = feature_network(build_backbone(variant, input_size=size), taps, image_size=image_size)
            forward = tf.function(lambda x: network(x, training=False), reduce_retracing=True)
        out = np.zeros((len(examples), network.output.shape[-1]), np.float32)
        batches = [range(s, min(s + batch_size, len(examples))) for s in range(0, len(examples), batch_size)]
        flip = slice(None, None, -1 if mirror else 1)
        loaded = prefetch(lambda b, v=view: np.stack([preprocess(view_image(examples[i], v, seed), image_size)[:, flip]
                                                      for i in b]), batches, depth=4, workers=2)
        for idx, x in tqdm(zip(batches, loaded), total=len(batches), desc=f"features {name}", unit="batch"):
            out[idx.start : idx.stop] = forward(x).numpy()
        np.save(folder / f"{name}.tmp.npy", out)
        (folder / f"{name}.tmp.npy").replace(path)
        results.append(out)
    return results
