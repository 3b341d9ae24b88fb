"""A local site for batch jobs: many small pages, PDFs and image URLs, plus the usual failures.

Pictures are small crops of scikit-image's samples (fundus and histology among everyday photos),
each one distinct, so that jobs are quick and every row has its own hash. ``delay`` slows pages
and PDFs down, for the test that must kill a job while it is working. Also: reading a job's CSV.
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from tests.localserver import LocalServer
from tests.pdf_fixtures import pdf_with_images

_SAMPLES = ("retina", "chelsea", "immunohistochemistry", "coffee", "astronaut", "rocket")


def pictures(count: int, *, side: int = 64) -> list[Image.Image]:
    """``count`` distinct small RGB pictures cut from the samples."""
    from skimage import data

    bases = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in _SAMPLES]
    out = []
    for i in range(count):
        base = bases[i % len(bases)]
        w, h = base.size
        crop = min(w, h) * (90 - (i // len(bases)) % 30) // 100
        out.append(base.crop((0, 0, crop, crop)).resize((side, side)).rotate(90 * ((i // 7) % 4)))
    return out


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _slow(status: int, ctype: str, body: bytes, delay: float) -> Callable:
    def handler(h) -> None:
        time.sleep(delay)
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


@dataclass
class BatchSite:
    """Routes and the targets (paths) of each kind."""

    routes: dict = field(default_factory=dict)
    pages: list[str] = field(default_factory=list)
    pdfs: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # path -> what must be said about it

    def serve(self) -> LocalServer:
        return LocalServer(self.routes)


def build_site(*, pages: int, pdfs: int, images: int, per_page: int = 3, per_pdf: int = 2, delay: float = 0.0,
               side: int = 64) -> BatchSite:
    """A site with that many pages (``per_page`` images each), PDFs and image URLs, and failures:
    a missing page, a missing image, a corrupt PDF. (A private address is refused by the guard
    and needs no route.)"""
    site = BatchSite()
    pics = iter(pictures(pages * per_page + pdfs * per_pdf + images, side=side))
    for p in range(pages):
        tags = []
        for i in range(per_page):
            path = f"/img/p{p}-{i}.jpg"
            site.routes[path] = (200, {"Content-Type": "image/jpeg"}, _encode(next(pics), "JPEG"))
            tags.append(f'<img src="{path}" alt="figure {i}">')
        html = f"<!doctype html><html><body><h1>Page {p}</h1>{''.join(tags)}</body></html>".encode()
        site.routes[f"/page{p}.html"] = _slow(200, "text/html; charset=utf-8", html, delay)
        site.pages.append(f"/page{p}.html")
    for d in range(pdfs):
        body = pdf_with_images([next(pics) for _ in range(per_pdf)])
        site.routes[f"/doc{d}.pdf"] = _slow(200, "application/pdf", body, delay)
        site.pdfs.append(f"/doc{d}.pdf")
    for i in range(images):
        site.routes[f"/pic{i}.png"] = (200, {"Content-Type": "image/png"}, _encode(next(pics), "PNG"))
        site.images.append(f"/pic{i}.png")
    site.routes["/corrupt.pdf"] = (200, {"Content-Type": "application/pdf"}, b"%PDF-1.7\n1 0 obj <<")
    site.failures = {"/missing.html": "HTTP 404", "/missing.png": "HTTP 404", "/corrupt.pdf": "PDF"}
    return site


def csv_by_target(path: Path) -> dict[str, list[dict[str, str]]]:
    """A batch CSV export's rows, grouped by target, ``target`` column removed."""
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            grouped[row.pop("target")].append(row)
    return grouped


def same_rows(a: list[dict[str, str]], b: list[dict[str, str]]) -> bool:
    """CSV rows equal, probabilities within the last printed digit (a batch of other images may
    move a logit in its last float bits)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for key in x:
            if key in ("p_medical", "confidence") and x[key] and y[key]:
                if abs(float(x[key]) - float(y[key])) > 1.5e-4:
                    return False
            elif x[key] != y[key]:
                return False
    return True
