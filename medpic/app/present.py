"""How a verdict is said to a person: honest percentages, words for uncertain ones, captions a
reader recognises, plurals, and download names that say what they came from.

A probability of 0.9996 is not "100%": the model is never certain. A row's alt text, a PDF's
figure caption or the file name tells a person which picture it is far better than
``page-4/xref-29`` does.
"""

from __future__ import annotations

import datetime as _dt
import re
from urllib.parse import unquote, urlsplit

from medpic.report import ReportRow

__all__ = ["percent", "verdict", "modality_name", "caption", "plural", "download_stem", "web_address"]

# Below this confidence a verdict is called uncertain, whatever side of the threshold it falls.
UNCERTAIN_BELOW = 0.65


def percent(p: float) -> str:
    """``0.9996`` -> ``">99%"``, ``0.004`` -> ``"<1%"``, else a whole percentage."""
    if p > 0.99:
        return ">99%"
    if p < 0.01:
        return "<1%"
    return f"{round(100 * p)}%"


# How the modality head's class names are written for people; the extension has the same table.
MODALITY_NAMES = {"xray": "X-ray", "ct": "CT", "mri": "MRI", "ultrasound": "Ultrasound", "nuclear": "Nuclear",
                  "microscopy": "Microscopy", "dermatology": "Dermatology", "clinical_photo": "Clinical photo",
                  "endoscopy": "Endoscopy", "ophthalmology": "Ophthalmology", "trace": "ECG/EEG trace",
                  "other": "Other medical"}


def modality_name(row: ReportRow) -> str:
    """``"CT 94%"`` for a medical row of a two-head model; empty otherwise."""
    if not row.modality:
        return ""
    name = MODALITY_NAMES.get(row.modality, row.modality)
    return f"{name} {percent(row.modality_confidence)}" if row.modality_confidence is not None else name


def verdict(row: ReportRow) -> str:
    """``"Medical >99% · CT 94%"``, ``"Not medical 88%"``, ``"Uncertain (55% medical)"``, or why
    there is none."""
    if row.status != "ok":
        return "Skipped" if row.status == "skipped" else "Could not be read"
    if (row.confidence or 0) < UNCERTAIN_BELOW:
        return f"Uncertain ({percent(row.p_medical or 0)} medical)"
    word = "Medical" if row.label == "medical" else "Not medical"
    modality = modality_name(row)
    return f"{word} {percent(row.confidence or 0)}" + (f" · {modality}" if modality else "")


def caption(row: ReportRow, *, limit: int = 60) -> str:
    """What a reader would call the picture: its alt text or figure caption, else "p. 3", else the
    file's name from its URL."""
    text = " ".join((row.alt or "").split())
    if not text and row.image.startswith("data:"):
        text = "an image embedded in the page"
    if not text:
        name = unquote(urlsplit(row.image).path.rsplit("/", 1)[-1]) if "://" in row.image else ""
        text = name or row.image.rsplit("/", 1)[-1]
    if row.page:
        text = f"p. {row.page}, {text}" if text and not text.startswith("xref-") else f"p. {row.page}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 image``, ``2 images``, ``0 images``."""
    return f"{count} {word if count == 1 else words or word + 's'}"


_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def download_stem(source: str, *, today: _dt.date | None = None) -> str:
    """``medpic-example.org-2026-11-27``: a download says where it came from and when."""
    where = urlsplit(source).hostname if "://" in source else source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    where = _UNSAFE.sub("-", where or "upload").strip("-")[:60] or "upload"
    return f"medpic-{where}-{(today or _dt.date.today()).isoformat()}"


_BARE = re.compile(r"^(?:www\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::\d+)?(?:/\S*)?$", re.I)


_FILE_ENDINGS = {"png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "tif", "tiff", "svg", "pdf", "ico", "heic",
                 "dcm", "txt", "csv", "zip"}


def web_address(text: str) -> str | None:
    """``example.org/page`` -> ``https://example.org/page``; ``None`` when it does not look like one
    (``scan.png`` is a file name, not a host)."""
    token = text.strip()
    if re.match(r"^https?://", token, re.I):
        return token
    if not _BARE.match(token):
        return None
    host = token.split("/", 1)[0].split(":", 1)[0]
    return None if "/" not in token and host.rsplit(".", 1)[-1].lower() in _FILE_ENDINGS else f"https://{token}"
