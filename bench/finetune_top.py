"""Does fine-tuning the top block beat the frozen backbone on unseen sources? (an experiment)

Issue 2 asks to try fine-tuning the top blocks and to keep it only if it wins on the
leave-sources-out split. This script measures exactly that, on the clean images, with the same
5 source folds as `medpic train`:

  frozen:     logistic head on the frozen 1280-d embedding            (medpic.training.head)
  fine-tuned: the last MBConv block + head conv + dense layer trained end to end from the
              cached input of that block (blocks_14_add), BN statistics frozen, source-balanced
              weights, label smoothing 0.1, Adam 1e-4, 3 epochs.

Caching the block's input makes this affordable on 2 CPU cores (~15 min in all).
Prints out-of-fold accuracy for both; the shipped model uses whichever wins.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.concurrency import prefetch  # noqa: E402
from medpic.training.backbone import build_backbone  # noqa: E402
from medpic.training.data import load_example, load_manifest, source_folds  # noqa: E402
from medpic.training.head import fit_linear_head, source_balanced_weights  # noqa: E402
from medpic.model.preprocess import preprocess  # noqa: E402
from medpic.settings import Settings  # noqa: E402

TAP = "blocks_14_add"


def main() -> None:
    import keras
    import tensorflow as tf

    settings = Settings.from_env()
    examples = load_manifest(settings.dataset_dir)
    y = np.array([e.label for e in examples], np.float32)
    sources = np.array([e.source for e in examples])
    folds = source_folds(examples)
    backbone = build_backbone("lite0")
    cache = settings.cache_dir / "finetune"
    cache.mkdir(parents=True, exist_ok=True)
    tap_file, emb_file = cache / "tap.npy", cache / "emb.npy"
    if not tap_file.exists():
        both = keras.Model(backbone.input, [backbone.get_layer(TAP).output, backbone.output])
        forward = tf.function(lambda x: both(x, training=False))
        taps = np.zeros((len(examples), 7, 7, 192), np.float16)
        embs = np.zeros((len(examples), 1280), np.float32)
        batches = [range(s, min(s + 64, len(examples))) for s in range(0, len(examples), 64)]
        for idx, x in zip(batches, prefetch(lambda b: np.stack([preprocess(load_example(examples[i]), 224) for i in b]),
                                            batches, depth=4, workers=2)):
            t, e = forward(x)
            taps[idx.start:idx.stop], embs[idx.start:idx.stop] = t.numpy(), e.numpy()
        np.save(tap_file, taps)
        np.save(emb_file, embs)
    taps, embs = np.load(tap_file), np.load(emb_file)

    # the trainable top: everything after the tap, with the pretrained weights
    start = [i for i, layer in enumerate(backbone.layers) if layer.name == TAP][0] + 1

    def top_model():
        inp = keras.Input((7, 7, 192))
        x = inp
        for layer in backbone.layers[start:]:
            clone = layer.__class__.from_config(layer.get_config())
            x = clone(x)
            clone.set_weights(layer.get_weights())
            if isinstance(clone, keras.layers.BatchNormalization):
                clone.trainable = False
        x = keras.layers.Dropout(0.2)(x)
        return keras.Model(inp, keras.layers.Dense(1)(x))

    frozen_oof, tuned_oof, tuned_train_acc = np.zeros(len(y)), np.zeros(len(y)), []
    started = time.perf_counter()
    for k in range(5):
        train, test = folds != k, folds == k
        frozen_oof[test] = fit_linear_head(embs[train], y[train], sources[train], c=0.005).logits(embs[test])
        keras.utils.set_random_seed(k)
        model = top_model()
        model.compile(keras.optimizers.Adam(1e-4),
                      keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1))
        model.fit(taps[train].astype(np.float32), y[train], sample_weight=source_balanced_weights(y[train], sources[train]),
                  batch_size=64, epochs=3, verbose=0, shuffle=True)
        tuned_oof[test] = model.predict(taps[test].astype(np.float32), batch_size=256, verbose=0)[:, 0]
        train_pred = model.predict(taps[train].astype(np.float32), batch_size=256, verbose=0)[:, 0]
        tuned_train_acc.append(float(((train_pred > 0) == y[train]).mean()))
        print(f"fold {k}: frozen {((frozen_oof[test] > 0) == y[test]).mean():.4f}  "
              f"fine-tuned {((tuned_oof[test] > 0) == y[test]).mean():.4f}  ({time.perf_counter() - started:.0f} s)",
              flush=True)
    print(json.dumps({
        "leave_sources_out_accuracy": {"frozen_embedding_logistic": round(float(((frozen_oof > 0) == y).mean()), 4),
                                       "fine_tuned_top_block": round(float(((tuned_oof > 0) == y).mean()), 4)},
        "fine_tuned_train_accuracy": round(float(np.mean(tuned_train_acc)), 4),
    }, indent=2))


if __name__ == "__main__":
    main()
