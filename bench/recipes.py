"""The recipes tried for the medical head, on the same leave-sources-out folds (a benchmark).

Each row fits its head per fold on cached backbone features (``.cache/features``, computed on
first use: about 2 minutes per backbone and view on 2 cores) and scores the held-out fold's
images at logit 0. An ensemble row averages the held-out logits of the rows it names (each
member's heads saw only the other folds, so the average is as held-out as they are). A backbone
named ``lite2@224`` runs at 224 px instead of its own input size (two backbones at one size can
share one input). ``--compare A B`` also says whether B's gain over A is more than the luck of
which sources were collected: the accuracy difference with a 95% interval from resampling whole
sources. The model card's "What was tried" table comes from this script.

    python bench/recipes.py [--only NAME ...] [--compare A B]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.settings import Settings  # noqa: E402
from medpic.training.backbone import parse_backbone  # noqa: E402
from medpic.training.data import is_hard_negative, read_manifest, source_folds  # noqa: E402
from medpic.training.features import extract_views  # noqa: E402
from medpic.training.head import LinearHead, MlpHead, fit_linear_head, fit_mlp_head  # noqa: E402
from medpic.training.metrics import roc_auc  # noqa: E402
from medpic.training.train import FOLDS  # noqa: E402


@dataclass(frozen=True)
class BlendHead:
    """``logit = (1 - linear_weight) * mlp + linear_weight * linear``: asks whether the linear head's
    errors differ enough from the MLP ensemble's for a fixed (not tuned) blend to help."""

    mlp: MlpHead
    linear: LinearHead
    linear_weight: float = 0.2

    def logits(self, features: np.ndarray) -> np.ndarray:
        w = self.linear_weight
        return (1.0 - w) * self.mlp.logits(features) + w * self.linear.logits(features)


@dataclass(frozen=True)
class Ensemble:
    """The mean held-out logit of other rows of the table."""

    members: tuple[str, ...]


def recipes(kinds: np.ndarray) -> dict[str, tuple | Ensemble]:
    """name -> (backbones whose features are concatenated, views, fit(features, labels, sources, rows)
    [, mirror]), or an ``Ensemble`` of other names. ``mirror``: "train" adds each training image
    flipped left to right; "tta" scores every held-out image as the mean logit of it and its
    mirror image (test-time flip)."""
    hard = np.array([is_hard_negative(k) for k in kinds])

    def linear(x, y, s, rows):
        return fit_linear_head(x, y, s, c=0.005)

    def mlp(members: int, seed: int = 0, emphasis: float = 1.0, hidden: int = 256, epochs: int = 30,
            smoothing: float = 0.0, source_power: float = 0.5):
        return lambda x, y, s, rows: fit_mlp_head(
            x, y, s, members=members, seed=seed, hidden=hidden, epochs=epochs, smoothing=smoothing,
            emphasis=np.where(hard[rows], emphasis, 1.0), source_power=source_power)

    def lite0_plus_linear(x, y, s, rows):
        return BlendHead(mlp(5, emphasis=2.0)(x, y, s, rows), linear(x, y, s, rows), linear_weight=0.2)

    return {
        "lite1 linear": (("lite1",), 1, linear),
        "lite0 linear": (("lite0",), 1, linear),
        "lite0+lite1 linear": (("lite0", "lite1"), 1, linear),
        "lite1 mlp": (("lite1",), 1, mlp(1)),
        "lite0 mlp seed 0": (("lite0",), 1, mlp(1, 0)),
        "lite0 mlp seed 1": (("lite0",), 1, mlp(1, 1)),
        "lite0 mlp hard x2": (("lite0",), 1, mlp(1, emphasis=2.0)),
        "lite0 mlp 2 views": (("lite0",), 2, mlp(1)),
        "lite0+lite1 mlp": (("lite0", "lite1"), 1, mlp(1)),
        "lite0 mlp x5": (("lite0",), 1, mlp(5)),
        "lite0 mlp x5 hard x2": (("lite0",), 1, mlp(5, emphasis=2.0)),
        "lite0 mlp x5 hard x3": (("lite0",), 1, mlp(5, emphasis=3.0)),
        "lite0 mlp x10 128 units hard x2": (("lite0",), 1, mlp(10, emphasis=2.0, hidden=128)),
        "lite0 mlp x5 hard x2 + linear": (("lite0",), 1, lite0_plus_linear),
        "lite0 mlp x5 hard x2 label smoothing 0.1": (("lite0",), 1, mlp(5, emphasis=2.0, smoothing=0.1)),
        "lite0 mlp x5 hard x2 seeds 5-9": (("lite0",), 1, mlp(5, seed=5, emphasis=2.0)),
        "lite0 mlp x5 hard x2 epochs 60": (("lite0",), 1, mlp(5, emphasis=2.0, epochs=60)),
        "lite2 mlp x5 hard x2": (("lite2",), 1, mlp(5, emphasis=2.0)),
        "lite0 mlp x5 hard x2 test-time flip": (("lite0",), 1, mlp(5, emphasis=2.0), "tta"),
        "lite0 mlp x5 hard x2 trained on mirrored copies too": (("lite0",), 1, mlp(5, emphasis=2.0), "train"),
        "lite0 mlp x5 hard x2 source weights 1/size": (("lite0",), 1, mlp(5, emphasis=2.0, source_power=1.0)),
        "lite0 mlp x5 hard x2 source weights 1/size^0.25": (("lite0",), 1, mlp(5, emphasis=2.0, source_power=0.25)),
        "lite1 mlp x5 hard x2": (("lite1",), 1, mlp(5, emphasis=2.0)),
        "lite1@224 mlp x5 hard x2": (("lite1@224",), 1, mlp(5, emphasis=2.0)),
        "lite2@224 mlp x5 hard x2": (("lite2@224",), 1, mlp(5, emphasis=2.0)),
        "lite2@224 mlp x5 hard x2 seeds 5-9": (("lite2@224",), 1, mlp(5, seed=5, emphasis=2.0)),
        "lite2@224 mlp x5 hard x3": (("lite2@224",), 1, mlp(5, emphasis=3.0)),
        "ensemble lite0 + lite1": Ensemble(("lite0 mlp x5 hard x2", "lite1 mlp x5 hard x2")),
        "ensemble lite0 + lite2": Ensemble(("lite0 mlp x5 hard x2", "lite2 mlp x5 hard x2")),
        "ensemble lite1 + lite2": Ensemble(("lite1 mlp x5 hard x2", "lite2 mlp x5 hard x2")),
        "ensemble lite0 + lite1 + lite2": Ensemble(("lite0 mlp x5 hard x2", "lite1 mlp x5 hard x2",
                                                    "lite2 mlp x5 hard x2")),
        "ensemble lite0 + lite1@224": Ensemble(("lite0 mlp x5 hard x2", "lite1@224 mlp x5 hard x2")),
        "ensemble lite0 + lite2@224": Ensemble(("lite0 mlp x5 hard x2", "lite2@224 mlp x5 hard x2")),
        "lite2@192 mlp x5 hard x2": (("lite2@192",), 1, mlp(5, emphasis=2.0)),
        "ensemble lite0 + lite2@192": Ensemble(("lite0 mlp x5 hard x2", "lite2@192 mlp x5 hard x2")),
        "lite0 mlp x5 128 units hard x2": (("lite0",), 1, mlp(5, emphasis=2.0, hidden=128)),
        "lite2@192 mlp x5 128 units hard x2": (("lite2@192",), 1, mlp(5, emphasis=2.0, hidden=128)),
        "ensemble lite0 + lite2@192, 128 units": Ensemble(("lite0 mlp x5 128 units hard x2",
                                                           "lite2@192 mlp x5 128 units hard x2")),
        "lite2@192/224 mlp x5 hard x2": (("lite2@192/224",), 1, mlp(5, emphasis=2.0)),
        "ensemble lite0 + lite2@192/224 (shipped)": Ensemble(("lite0 mlp x5 hard x2", "lite2@192/224 mlp x5 hard x2")),
    }


def backbone_features(examples: list, name: str, *, views: int, cache_dir: Path, mirror: bool) -> list[np.ndarray]:
    """``extract_views`` of backbone ``name``: ``lite1``, ``lite1@224`` for Lite1 at 224 px, or
    ``lite2@192/224`` for Lite2 at 192 px fed 224 px pictures resized inside the network (how a
    second backbone shares the first one's input in a shipped ensemble)."""
    name, _, image = name.partition("/")
    variant, size = parse_backbone(name)
    return extract_views(examples, variant=variant, views=views, cache_dir=cache_dir, mirror=mirror,
                         input_size=size, image_size=int(image) if image else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="recipe names to run (default: all)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="B's accuracy gain over A, with its interval")
    args = parser.parse_args()
    settings = Settings.from_env()
    examples = read_manifest(settings.dataset_dir).examples
    y = np.array([e.label for e in examples])
    sources = np.array([e.source for e in examples])
    kinds = np.array([e.kind for e in examples])
    folds = source_folds(examples, folds=FOLDS, seed=0)
    table = recipes(kinds)
    held_out: dict[str, np.ndarray] = {}

    def logits(name: str) -> np.ndarray:
        """Every image's held-out logit under recipe ``name`` (computed once per run)."""
        if name not in held_out:
            entry = table[name]
            if isinstance(entry, Ensemble):
                held_out[name] = np.mean([logits(m) for m in entry.members], axis=0)
            else:
                held_out[name] = out_of_fold(entry, examples, y, sources, folds, settings.cache_dir)
        return held_out[name]

    results = {}
    if args.compare:
        results["compare"] = source_bootstrap(*(logits(n) > 0 for n in args.compare), y, sources)
        print(f"{args.compare[1]} - {args.compare[0]}: {results['compare']}", flush=True)
    for name in args.only or ([] if args.compare else table):
        oof = logits(name)
        pred = oof > 0
        tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
        results[name] = {"accuracy": round(float((pred == y).mean()), 4), "precision": round(tp / max(tp + fp, 1), 4),
                         "recall": round(tp / max(int(y.sum()), 1), 4), "roc_auc": round(roc_auc(oof, y), 4)}
        print(f"{name:<28} {results[name]}", flush=True)
    print(json.dumps(results, indent=2))


def source_bootstrap(pred_a: np.ndarray, pred_b: np.ndarray, y: np.ndarray, sources: np.ndarray, *,
                     rounds: int = 2000, seed: int = 0) -> dict:
    """Accuracy of B minus A, and its 95% interval when the sources are drawn again with replacement
    (images of one source are not independent: a new dataset would bring new sources)."""
    _, inverse = np.unique(sources, return_inverse=True)
    right_a, right_b = np.bincount(inverse, pred_a == y), np.bincount(inverse, pred_b == y)
    size = np.bincount(inverse)
    draws = np.random.default_rng(seed).integers(0, len(size), (rounds, len(size)))
    diffs = (right_b[draws].sum(1) - right_a[draws].sum(1)) / size[draws].sum(1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"difference": round(float((pred_b == y).mean() - (pred_a == y).mean()), 4),
            "interval_95": [round(float(low), 4), round(float(high), 4)]}


def out_of_fold(entry: tuple, examples: list, y: np.ndarray, sources: np.ndarray, folds: np.ndarray,
                cache_dir: Path) -> np.ndarray:
    """One recipe's heads fitted per fold on the other folds; the held-out fold's logits."""
    backbones, views, fit, *rest = entry
    mirror = rest[0] if rest else ""

    def features(flipped: bool) -> list[np.ndarray]:
        per_backbone = [backbone_features(examples, b, views=views, cache_dir=cache_dir, mirror=flipped)
                        for b in backbones]
        return [np.concatenate([x[v] for x in per_backbone], axis=1) for v in range(views)]

    per_view = features(False)
    mirrored = features(True) if mirror else []
    train_views = per_view + (mirrored if mirror == "train" else [])
    oof = np.zeros(len(y))
    for k in range(FOLDS):
        train = np.flatnonzero(folds != k)
        rows = np.tile(train, len(train_views))
        head = fit(np.concatenate([x[train] for x in train_views]), y[rows], sources[rows], rows)
        held = folds == k
        oof[held] = head.logits(per_view[0][held])
        if mirror == "tta":
            oof[held] = (oof[held] + head.logits(mirrored[0][held])) / 2
    return oof


if __name__ == "__main__":
    main()
