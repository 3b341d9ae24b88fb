"""The shared training set: manifest, the two validation splits, and web-like augmentation.

Splits are deterministic functions of the manifest and a seed, so ``medpic train`` and
``medpic evaluate`` agree on which images are held out without passing files around.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from medpic.imaging import decode_image

__all__ = [
    "Example",
    "load_manifest",
    "random_split",
    "source_folds",
    "augment",
    "load_example",
]

LABELS = ("non-medical", "medical")


@dataclass(frozen=True)
class Example:
    """One labelled image of the shared set."""

    path: Path
    label: int  # 1 = medical
    kind: str
    source: str


def load_manifest(root: str | Path) -> list[Example]:
    """Read ``manifest.csv`` under ``root``; rows keep the manifest's order."""
    root = Path(root)
    with (root / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [Example(root / r["file"], LABELS.index(r["label"]), r["kind"], r["source"]) for r in rows]


def random_split(examples: list[Example], *, fraction: float = 0.15, seed: int = 0) -> np.ndarray:
    """Boolean mask of validation rows: ``fraction`` of every source, chosen at random.

    Stratifying by source keeps every scanner and style on both sides, so this split measures
    how well we learned the sources we have (the easy question).
    """
    rng = random.Random(seed)
    by_source: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        by_source.setdefault(ex.source, []).append(i)
    mask = np.zeros(len(examples), bool)
    for source in sorted(by_source):
        idx = by_source[source]
        rng.shuffle(idx)
        mask[idx[: max(1, round(len(idx) * fraction))]] = True
    return mask


def source_folds(examples: list[Example], *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number per row with whole sources held out together (leave-sources-out).

    Sources are dealt to folds per label, largest first onto the lightest fold, so each fold
    holds both classes and similar image counts. This measures the hard question: images
    from a scanner, site or style the model has never seen.
    """
    rng = random.Random(seed)
    sizes: dict[tuple[int, str], int] = {}
    for ex in examples:
        sizes[(ex.label, ex.source)] = sizes.get((ex.label, ex.source), 0) + 1
    assignment: dict[str, int] = {}
    for label in (0, 1):
        sources = [(n, rng.random(), s) for (lab, s), n in sizes.items() if lab == label]
        load = [0] * folds
        for n, _, source in sorted(sources, reverse=True):
            fold = min(range(folds), key=lambda k: (load[k], rng.random()))
            assignment[source] = fold
            load[fold] += n
    return np.array([assignment[ex.source] for ex in examples])


def load_example(example: Example) -> Image.Image:
    """Decode one dataset image with the same decoder the product uses."""
    return decode_image(example.path.read_bytes()).image


def augment(image: Image.Image, rng: random.Random) -> Image.Image:
    """A random web-like variant: how the same picture turns up on pages and in PDFs.

    Crops and zoom, flips, small rotations, colour jitter, grayscale, thumbnail down- and
    up-scaling and JPEG re-compression, each with its own probability.
    """
    w, h = image.size
    if rng.random() < 0.8:  # random resized crop, keeping most of the content
        scale = rng.uniform(0.55, 1.0)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = min(w, max(8, int(round(w * np.sqrt(scale * aspect)))))
        ch = min(h, max(8, int(round(h * np.sqrt(scale / aspect)))))
        x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
        image = image.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    if rng.random() < 0.1:
        image = ImageOps.flip(image)
    if rng.random() < 0.3:
        image = image.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, expand=False,
                             fillcolor=(255, 255, 255) if rng.random() < 0.5 else (0, 0, 0))
    if rng.random() < 0.8:
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
        image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.3))
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.15:
        image = ImageOps.grayscale(image).convert("RGB")
    if rng.random() < 0.3:  # a thumbnail blown up again
        side = rng.randint(40, 140)
        small = image.copy()
        small.thumbnail((side, side), Image.Resampling.BILINEAR)
        image = small.resize(image.size, Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=rng.randint(30, 90))
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return image
