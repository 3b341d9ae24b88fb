"""What quantizing the exported model costs on held-out sources and buys in speed (a benchmark).

For each leave-sources-out fold: fit the recipe's heads on the other folds' cached features, build
the serving network, convert it to TFLite as float32, int8 (everything quantized) and
int8-backbone (convolutions in int8; pooling, concatenation and heads in float32), and run each
file through the serving path (decode -> preprocess -> LiteRT) on the fold's images. Prints
accuracy and medical precision per conversion over the folds run, the share of verdicts that
differ from float32, and inference images/s. Issue 16 ships a quantization only if its held-out
accuracy stays within 0.003 of float32's.

    python bench/quantize.py [--folds 0 1 2 3 4] [--limit N] [--quantizations int8-backbone]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.model.preprocess import preprocess  # noqa: E402
from medpic.model.runtime import TFLiteRuntime  # noqa: E402
from medpic.settings import Settings  # noqa: E402
from medpic.training.data import load_example, read_manifest, source_folds, stratified_subset  # noqa: E402
from medpic.training.export import QUANTIZATIONS, to_tflite  # noqa: E402
from medpic.training.recipe import Recipe  # noqa: E402
from medpic.training.train import (FOLDS, build_serving_model, emphasis_of, fit_modality_on, fit_on,  # noqa: E402
                                   input_size_of, recipe_features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    parser.add_argument("--limit", type=int, default=0, help="images per fold (stratified); 0 = all")
    parser.add_argument("--out", type=Path, default=Path("/tmp/medpic-quantize"))
    parser.add_argument("--quantizations", nargs="+", choices=QUANTIZATIONS, default=list(QUANTIZATIONS),
                        help="conversions to compare (float32 is always run: the others are measured against it)")
    args = parser.parse_args()
    quantizations = ["float32", *(q for q in args.quantizations if q != "float32")]
    settings, recipe = Settings.from_env(), Recipe()
    examples = read_manifest(settings.dataset_dir).examples
    labels = np.array([e.label for e in examples])
    sources = np.array([e.source for e in examples])
    modalities = np.array([e.modality if e.label else "" for e in examples], dtype=object)
    folds = source_folds(examples, folds=FOLDS, seed=recipe.seed)
    feats, widths = recipe_features(recipe, examples, settings.cache_dir)
    size = input_size_of(recipe)
    emphasis = emphasis_of(recipe, examples)
    args.out.mkdir(parents=True, exist_ok=True)
    logits = {q: [] for q in quantizations}
    truth, seconds = [], {q: 0.0 for q in quantizations}
    for k in args.folds:
        train_rows, test_rows = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        if args.limit:
            test_rows = test_rows[stratified_subset([(labels[i], sources[i]) for i in test_rows], args.limit)]
        model, _ = build_serving_model(recipe.backbones,
                                       fit_on(recipe, feats, widths, labels, sources, train_rows, emphasis),
                                       fit_modality_on(recipe, feats, modalities, sources, train_rows))
        reps = train_rows[stratified_subset([(labels[i], sources[i]) for i in train_rows], recipe.representative)]
        representative = np.stack([preprocess(load_example(examples[i]), size) for i in reps])
        batch = np.stack([preprocess(load_example(examples[i]), size) for i in test_rows])
        truth.append(labels[test_rows])
        for q in quantizations:
            path = to_tflite(model, args.out / f"fold{k}-{q}.tflite", quantization=q, representative=representative)
            runtime = TFLiteRuntime(path, threads=settings.threads)
            started = time.perf_counter()
            logits[q].append(runtime(batch)[:, 0])
            seconds[q] += time.perf_counter() - started
        print(f"fold {k}: {len(test_rows)} images", flush=True)
    y = np.concatenate(truth)
    base = np.concatenate(logits["float32"]) > 0
    report = {}
    for q in quantizations:
        pred = np.concatenate(logits[q]) > 0
        tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
        report[q] = {"accuracy": round(float((pred == y).mean()), 4), "precision": round(tp / max(tp + fp, 1), 4),
                     "verdicts_changed": round(float((pred != base).mean()), 4),
                     "inference_images_per_s": round(len(y) / seconds[q], 1),
                     "file_mb": round((args.out / f"fold{args.folds[0]}-{q}.tflite").stat().st_size / 1e6, 1)}
    print(json.dumps({"recipe": recipe.as_dict(), "folds": args.folds, "images": int(len(y)), "results": report},
                     indent=2))


if __name__ == "__main__":
    main()
