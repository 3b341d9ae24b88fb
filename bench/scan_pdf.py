"""PDF extraction speed (a benchmark, not a test). Run: .venv/bin/python bench/scan_pdf.py

Builds a 200-page PDF holding 400 images of the shared dataset (two per page, as JPEG and PNG,
some with alpha), then measures:
- extraction alone (medpic.sources.pdf) against poppler's `pdfimages -all` on the same file
  (the issue's goal: ratio <= 1.5);
- extraction plus classification, in images per second.
The PDF is written under .cache/ (never committed).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.sources.pdf import extract_pdf  # noqa: E402
from medpic.model.classifier import Classifier  # noqa: E402
from medpic.training.data import load_manifest  # noqa: E402
from medpic.scan import JudgeOptions, scan  # noqa: E402
from medpic.settings import Settings  # noqa: E402


def build_pdf(settings: Settings, path: Path, pages: int = 200) -> None:
    import pymupdf
    from PIL import Image

    examples = load_manifest(settings.dataset_dir)
    rng = np.random.default_rng(0)
    chosen = [examples[i] for i in rng.choice(len(examples), 2 * pages, replace=False)]
    doc = pymupdf.open()
    for p in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 60), f"Page {p + 1}", fontsize=12)
        for k, example in enumerate(chosen[2 * p : 2 * p + 2]):
            rect = pymupdf.Rect(72, 90 + k * 360, 72 + 320, 90 + k * 360 + 320)
            if k == 0:
                data = example.path.read_bytes()  # the dataset JPEG as it is
            else:
                image = Image.open(example.path).convert("RGBA")
                buf = io.BytesIO()
                image.save(buf, "PNG")
                data = buf.getvalue()
            page.insert_image(rect, stream=data, keep_proportion=True)
            page.insert_text((72, rect.y1 + 14), f"Figure {2 * p + k + 1}. {example.kind}", fontsize=9)
    doc.save(path, garbage=3, deflate=True)


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    settings = Settings.from_env()
    path = settings.cache_dir / "bench" / "bench-200-pages.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        build_pdf(settings, path)
    data = path.read_bytes()
    limits = settings.with_(max_images=10_000).pdf_limits()

    def extract_all():  # candidates are decoded as they are consumed: consume them all
        extraction = extract_pdf(data, source=str(path), limits=limits)
        return extraction, list(extraction.candidates)

    extraction, candidates = extract_all()
    ours = best_of(3, extract_all)
    result = {"pdf_pages": extraction.pages, "images_found": len(candidates),
              "extract_s": round(ours, 3)}
    if shutil.which("pdfimages"):
        with tempfile.TemporaryDirectory() as tmp:
            theirs = best_of(3, lambda: subprocess.run(["pdfimages", "-all", str(path), f"{tmp}/img"], check=True))
        result["pdfimages_all_s"] = round(theirs, 3)
        result["ratio_to_pdfimages"] = round(ours / theirs, 3)

    classifier = Classifier.load(settings)
    t0 = time.perf_counter()
    report = scan(extract_pdf(data, source=str(path), limits=limits), classifier, JudgeOptions.from_settings(settings))
    total = time.perf_counter() - t0
    result["extract_and_classify_s"] = round(total, 3)
    result["extract_and_classify_images_per_s"] = round(len(report.items) / total, 1)
    result["summary"] = report.summary().as_dict()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
