"""Speed and memory of `medpic classify` (a benchmark, not a test). Run with `make bench`.

Measures on 500 images of the shared set:
- model load time (Classifier.load, bundled model);
- end-to-end throughput of the classify pipeline (read + decode + resize + inference), the
  code path of `medpic classify`;
- raw inference throughput on the same, already preprocessed images, and the ratio of the two;
- peak RSS of the process (LiteRT only; TensorFlow is imported afterwards, for the engine
  comparison, and does not count);
- LiteRT against TensorFlow's own TFLite interpreter on the same file;
- with ``--baseline DIR``: another model folder (e.g. the previous release) end to end on the same
  images in the same run, passes interleaved, and the speed-up of the resolved model over it;
- large JPEGs (the images blown up to 2400 px on the long side): decoding at reduced scale (JPEG
  draft mode, what serving does) against a full decode, each followed by the resize to the input.
Bars from issue 2: >= 100 images/s, ratio >= 0.6, load <= 3 s, peak RSS <= 800 MB; issue 16:
>= 1.5x the previous model's end-to-end images/s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.model.classifier import Classifier  # noqa: E402
from medpic.training.data import load_example, load_manifest  # noqa: E402
from medpic.scan import JudgeOptions, scan  # noqa: E402
from medpic.sources.files import InputFile  # noqa: E402
from medpic.sources.targets import open_image_files  # noqa: E402
from medpic.settings import Settings  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def large_jpegs(examples, size: int) -> dict:
    """Decode-and-resize of 2400-px JPEGs: full decode against reduced-scale decode (draft mode)."""
    import io

    from medpic.imaging import decode_image
    from medpic.model.preprocess import to_input_size

    blobs = []
    for e in examples:
        image = load_example(e)
        scale = 2400 / max(image.size)
        buf = io.BytesIO()
        image.resize((round(image.width * scale), round(image.height * scale))).save(buf, "JPEG", quality=90)
        blobs.append(buf.getvalue())
    rates = {}
    for name, reduce_to in (("full_decode", None), ("reduced_decode", size)):
        t0 = time.perf_counter()
        for data in blobs:
            to_input_size(decode_image(data, reduce_to=reduce_to).image, size)
        rates[name] = round(len(blobs) / (time.perf_counter() - t0), 1)
    return {"images": len(blobs), "decode_and_resize_images_per_s": rates,
            "speed_up": round(rates["reduced_decode"] / rates["full_decode"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    parser.add_argument("--baseline", type=Path, help="another model folder to time on the same images")
    args = parser.parse_args()

    settings = Settings.from_env()
    examples = load_manifest(settings.dataset_dir)
    step = max(1, len(examples) // args.images)
    chosen = examples[::step][: args.images]
    files = [InputFile("bench", str(e.path)) for e in chosen]

    t0 = time.perf_counter()
    classifier = Classifier.load(settings)
    load_s = time.perf_counter() - t0

    options = JudgeOptions.from_settings(settings)

    def classify_files(batch, model=classifier):  # the code path of `medpic classify`
        return scan(open_image_files(batch, settings=settings), model, options).rows

    baseline = Classifier.load(settings.with_(model_dir=args.baseline)) if args.baseline else None
    classify_files(files[:32])  # warm-up: page cache, allocator
    e2e, e2e_baseline = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rows = classify_files(files)
        e2e.append(len(rows) / (time.perf_counter() - t0))
        if baseline is not None:
            t0 = time.perf_counter()
            classify_files(files, baseline)
            e2e_baseline.append(len(rows) / (time.perf_counter() - t0))
    assert all(r.status == "ok" for r in rows), [r for r in rows if r.status != "ok"][:3]
    peak_rss = rss_mb()  # the classify path only; the raw batch below holds 300 MB of floats
    large = large_jpegs(chosen[:100], classifier.input_size)

    batch = classifier.preprocess([load_example(e) for e in chosen])
    raw = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        classifier.forward(batch)
        raw.append(len(batch) / (time.perf_counter() - t0))

    import tensorflow as tf  # only now: its memory must not count above

    interpreter = tf.lite.Interpreter(model_path=str(classifier.location.path / classifier.config.model_file),
                                      num_threads=2)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    t0 = time.perf_counter()
    for x in batch[:200]:
        interpreter.set_tensor(inp, x[None])
        interpreter.invoke()
        interpreter.get_tensor(out)
    tf_rate = 200 / (time.perf_counter() - t0)

    result = {
        "images": len(files),
        "engine": classifier.describe()["engine"],
        "model_load_s": round(load_s, 3),
        "end_to_end_images_per_s": round(max(e2e), 1),
        "raw_inference_images_per_s": round(max(raw), 1),
        "ratio_end_to_end_to_raw": round(max(e2e) / max(raw), 3),
        "peak_rss_mb": round(peak_rss, 1),
        "tensorflow_interpreter_images_per_s": round(tf_rate, 1),
        **({"baseline": {"model": f"{baseline.config.name} ({args.baseline})",
                         "end_to_end_images_per_s": round(max(e2e_baseline), 1),
                         "speed_up": round(max(e2e) / max(e2e_baseline), 2)}} if baseline else {}),
        "large_jpegs": large,
        "bars": {"end_to_end >= 100/s": max(e2e) >= 100, "ratio >= 0.6": max(e2e) / max(raw) >= 0.6,
                 "load <= 3 s": load_s <= 3, "peak RSS <= 800 MB": peak_rss <= 800},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
