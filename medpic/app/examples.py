"""Examples for the chat that work offline: a web page the app serves itself, a PDF made at
start-up, and the bundled example images (made from scikit-image and pydicom samples, see
tools/make_examples.py).

The page is served by ``ExamplePage``, an ASGI layer in front of the app at ``EXAMPLE_ROUTE``: a
fixed set of files read at start-up, nothing else, so it adds no way into the server's disk."""

from __future__ import annotations

import tempfile
from pathlib import Path

from medpic.settings import REPO_ROOT

__all__ = ["build_examples", "example_images", "ExamplePage", "EXAMPLES_DIR", "EXAMPLE_ROUTE"]

EXAMPLES_DIR = REPO_ROOT / "examples"
EXAMPLE_ROUTE = "/medpic-examples/"
_TYPES = {".html": "text/html; charset=utf-8", ".jpg": "image/jpeg", ".png": "image/png"}


def example_images() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix in (".jpg", ".png"))


def _page_html(images: list[Path]) -> str:
    figures = "\n".join(f'<figure><img src="{p.name}" alt="{p.stem.replace("-", " ")}" width="240">'
                         f"<figcaption>Figure {n}. {p.stem.replace('-', ' ')}</figcaption></figure>"
                         for n, p in enumerate(images, start=1))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>MedPic example page</title></head>"
            f"<body><h1>MedPic example page</h1><p>Served by the app itself.</p>{figures}</body></html>")


class ExamplePage:
    """Serves the example page and its images under ``EXAMPLE_ROUTE``; every other request passes."""

    def __init__(self, app) -> None:
        self.app = app
        images = example_images()
        self.files = {"page.html": _page_html(images).encode(), **{p.name: p.read_bytes() for p in images}}

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(EXAMPLE_ROUTE):
            return await self.app(scope, receive, send)
        name = path[len(EXAMPLE_ROUTE):]
        body = self.files.get(name)
        status = 200 if body is not None else 404
        body = body if body is not None else b"not an example file"
        kind = _TYPES.get(Path(name).suffix, "text/plain") if status == 200 else "text/plain"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


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
    """The welcome message's examples (Gradio chat example messages): the app's own example page
    (``page`` names it; the chat builds its address from the request), a PDF and a handful of
    images, each run as soon as it is clicked."""
    images = example_images()
    if not images:
        return []
    folder = Path(tempfile.mkdtemp(prefix="medpic-examples-"))
    pdf = build_pdf(images, folder / "example-article.pdf")
    return [
        {"text": "", "display_text": f"A web page with {len(images)} figures", "files": [], "page": "page.html"},
        {"text": "", "display_text": f"A PDF article with {len(images)} figures", "files": [str(pdf)]},
        {"text": "", "display_text": "Four images: " + ", ".join(p.stem for p in images[:4]),
         "files": [str(p) for p in images[:4]]},
    ]
