"""The shared training set: manifest, the two validation splits, subsets, and web-like augmentation.

Splits are deterministic functions of the manifest and a seed, so ``medpic train`` and
``medpic train --check`` agree on which images are held out without passing files around.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from medpic.errors import InvalidInput
from medpic.imaging import decode_image

__all__ = [
    "Example",
    "Apart",
    "Manifest",
    "read_manifest",
    "load_manifest",
    "random_split",
    "source_folds",
    "stratified_subset",
    "augment",
    "load_example",
    "is_hard_negative",
]

LABELS = ("non-medical", "medical")
REQUIRED_COLUMNS = ("file", "label")


@dataclass(frozen=True)
class Example:
    """One labelled image of the shared set (medical or non-medical)."""

    path: Path
    label: int  # 1 = medical
    kind: str
    source: str
    modality: str = ""  # for medical rows of dataset v3 and later; empty otherwise


@dataclass(frozen=True)
class Apart:
    """A row labelled anything but medical / non-medical (the dataset README names ``borderline``).

    Such rows are never trained on as either class; evaluation scores and reports them apart."""

    path: Path
    label: str
    kind: str
    source: str


@dataclass(frozen=True)
class Manifest:
    """A labelled folder's ``manifest.csv``: the binary examples, and the rows kept apart."""

    root: Path
    columns: tuple[str, ...]
    examples: list[Example]
    apart: list[Apart]

    @property
    def other_labels(self) -> Counter[str]:
        """How many rows each label outside medical / non-medical has, most common first."""
        return Counter(a.label for a in self.apart)

    def describe_apart(self) -> str:
        """The one line training and evaluation print: "12 rows with other labels kept apart: ..."."""
        counts = self.other_labels
        if not counts:
            return "no rows with other labels"
        named = ", ".join(f"{label} {n}" for label, n in counts.most_common())
        total = sum(counts.values())
        return f"{total} row{'' if total == 1 else 's'} with other labels kept apart: {named}"


def _row_label(row: dict[str, str]) -> str:
    """The label as written by hand or by a spreadsheet: case and spaces do not matter."""
    return (row.get("label") or "").strip().lower()


def read_manifest(root: str | Path) -> Manifest:
    """Read ``manifest.csv`` under ``root`` (columns ``file,label`` and optionally ``kind``,
    ``modality``, ``source``); rows keep the manifest's order.

    Rows labelled anything but medical / non-medical go to ``apart`` instead of failing the
    whole read, because later dataset versions add such labels on purpose."""
    root = Path(root)
    path = root / "manifest.csv"
    if not path.is_file():
        raise InvalidInput(f"no manifest.csv in {root}")
    with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's BOM is not a column name
        reader = csv.DictReader(f)
        columns = tuple(c.strip() for c in reader.fieldnames or ())
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InvalidInput(f"{path} lacks the column(s) {', '.join(missing)} (has: {', '.join(columns)})")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    examples: list[Example] = []
    apart: list[Apart] = []
    for line, r in enumerate(rows, start=2):
        if not r.get("file"):
            raise InvalidInput(f"{path}, line {line}: no file name")
        label, kind, source = _row_label(r), r.get("kind", ""), r.get("source", "")
        if label in LABELS:
            examples.append(Example(root / r["file"], LABELS.index(label), kind, source, r.get("modality", "")))
        else:
            apart.append(Apart(root / r["file"], label or "(empty)", kind, source))
    return Manifest(root, columns, examples, apart)


def load_manifest(root: str | Path) -> list[Example]:
    """The medical / non-medical examples of ``manifest.csv`` (what training uses); see ``read_manifest``."""
    return read_manifest(root).examples


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


def stratified_subset(keys: Sequence[Hashable], limit: int, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``limit`` rows drawn so that every stratum (``keys[i]``, e.g. label and
    source) keeps its share to within one row.

    Each stratum is shuffled and its i-th row gets the rank ``(i + u) / n`` (u uniform in [0, 1)):
    taking the lowest ranks overall is systematic sampling, so a quick ``--limit`` run still sees
    every large source and both classes in proportion, and the same seed draws the same rows."""
    if limit >= len(keys):
        return np.arange(len(keys))
    rng = random.Random(seed)
    strata: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        strata.setdefault(key, []).append(i)
    rank = np.zeros(len(keys))
    for key in sorted(strata, key=repr):
        idx = strata[key]
        rng.shuffle(idx)
        for i, row in enumerate(idx):
            rank[row] = (i + rng.random()) / len(idx)
    return np.sort(np.argsort(rank, kind="stable")[:limit])


def is_hard_negative(kind: str) -> bool:
    """The dataset's two kinds that most often fool a classifier (its README): look-alikes
    (``hard_negative``) and medical-themed pictures that are not clinical imagery (``:stockmed``)."""
    return "hard_negative" in kind or ":stockmed" in kind


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
