"""Examples for the chat that work offline: a PDF made at start-up from the bundled example
images (themselves made from scikit-image and pydicom samples, see tools/make_examples.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from medpic.settings import REPO_ROOT

__all__ = ["build_examples", "EXAMPLES_DIR"]

EXAMPLES_DIR = REPO_ROOT / "examples"


def build_pdf(images: list[Path], out: Path) -> Path:
    import pymupdf

    doc = pymupdf.open()
    for n, image in enumerate(images, start=1):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 72), "MedPic example document", fontsize=14)
        rect = pymupdf.Rect(72, 100, 72 + 400, 100 + 400)
        page.insert_image(rect, filename=str(image), keep_proportion=True)
        page.insert_text((72, 520), f"Figure {n}. {image.stem.replace('-', ' ')}", fontsize=10)
    doc.save(out)
    return out


def build_examples() -> list[dict]:
    """The welcome message's examples (Gradio chat example messages): a PDF and a handful of images,
    each run as soon as it is clicked."""
    images = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix in (".jpg", ".png"))
    if not images:
        return []
    folder = Path(tempfile.mkdtemp(prefix="medpic-examples-"))
    pdf = build_pdf(images, folder / "example-article.pdf")
    return [
        {"text": "", "display_text": f"A PDF article with {len(images)} figures", "files": [str(pdf)]},
        {"text": "", "display_text": "Four images: " + ", ".join(p.stem for p in images[:4]),
         "files": [str(p) for p in images[:4]]},
    ]
