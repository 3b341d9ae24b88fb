"""Discovery without a browser: fetch the HTML and parse it with the same rules minus JavaScript.

Used with ``--no-browser`` or when no Chromium is installed. It sees img/srcset/data-src,
picture sources, inline ``style`` and ``<style>`` backgrounds, SVG image, video posters,
og/twitter images, ``link rel=image_src`` and links to image files; it cannot see images built
by scripts, lazy loaders that need scrolling, or backgrounds from external stylesheets.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

from medpic.errors import FetchError
from medpic.net.fetch import Fetcher
from medpic.settings import WebLimits
from medpic.sources.page.sightings import PageCapture, Sighting

__all__ = ["parse_page", "discover_static"]

_URL_IN_CSS = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)")
_IMAGE_LINK = re.compile(r"\.(jpe?g|png|gif|webp|avif|bmp|tiff?|svg|ico)(\?|#|$)", re.I)


def _largest(srcset: str) -> str | None:
    best, best_score = None, -1.0
    for part in re.split(r",\s+", srcset.strip()):
        bits = part.split()
        if not bits:
            continue
        score = 1.0
        if len(bits) > 1:
            try:
                score = float(bits[1][:-1]) * (1000 if bits[1].endswith("x") else 1)
            except ValueError:
                pass
        if score > best_score:
            best, best_score = bits[0], score
    return best


class _Collector(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.records: list[dict] = []
        self.group = 0
        self._in_style = False
        self._figure_depth = 0
        self._caption: list[str] | None = None
        self._figure_records: list[dict] = []

    def add(self, url: str | None, found_by: str, attrs: dict, group: str | None = None) -> None:
        if not url:
            return
        absolute = urljoin(self.base, url.strip())
        if not re.match(r"^(https?:|data:image/)", absolute, re.I):
            return
        record = {"url": absolute, "found_by": found_by, "alt": attrs.get("alt") or attrs.get("aria-label") or "",
                  "title": attrs.get("title") or "", "caption": "", "group": group, "order": len(self.records)}
        self.records.append(record)
        if self._figure_depth:
            self._figure_records.append(record)

    def handle_starttag(self, tag: str, attr_list) -> None:
        attrs = {k: v or "" for k, v in attr_list}
        if tag == "base" and attrs.get("href"):
            self.base = urljoin(self.base, attrs["href"])
        elif tag == "img":
            self.group += 1
            g = f"s:{self.group}"
            self.add(attrs.get("src"), "img", attrs, g)
            if attrs.get("srcset"):
                self.add(_largest(attrs["srcset"]), "srcset", attrs, g)
            for name in ("data-src", "data-original", "data-lazy-src", "data-lazy"):
                self.add(attrs.get(name), "data-src", attrs, g)
            for name in ("data-srcset", "data-lazy-srcset"):
                if attrs.get(name):
                    self.add(_largest(attrs[name]), "data-srcset", attrs, g)
        elif tag == "source" and (attrs.get("srcset") or attrs.get("data-srcset")):
            self.add(_largest(attrs.get("srcset") or attrs["data-srcset"]), "picture", attrs)
        elif tag == "image":
            self.add(attrs.get("href") or attrs.get("xlink:href"), "svg-image", attrs)
        elif tag == "video" and attrs.get("poster"):
            self.add(attrs["poster"], "video-poster", attrs)
        elif tag == "link" and "image_src" in attrs.get("rel", "").split():
            self.add(attrs.get("href"), "link-image", attrs)
        elif tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").lower()
            if key in ("og:image", "og:image:url", "og:image:secure_url"):
                self.add(attrs.get("content"), "og-image", {})
            elif key in ("twitter:image", "twitter:image:src"):
                self.add(attrs.get("content"), "twitter-image", {})
        elif tag == "a" and _IMAGE_LINK.search(attrs.get("href", "")):
            self.add(attrs["href"], "link", attrs)
        elif tag == "style":
            self._in_style = True
        elif tag == "figure":
            self._figure_depth += 1
        elif tag == "figcaption" and self._figure_depth:
            self._caption = []
        if "style" in attrs and "url(" in attrs["style"]:
            for m in _URL_IN_CSS.finditer(attrs["style"]):
                self.add(m.group(2), "css-background", attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        elif tag == "figcaption" and self._caption is not None:
            text = " ".join("".join(self._caption).split())[:300]
            for record in self._figure_records:
                record["caption"] = record["caption"] or text
            self._caption = None
        elif tag == "figure" and self._figure_depth:
            self._figure_depth -= 1
            if not self._figure_depth:
                self._figure_records = []

    def handle_data(self, data: str) -> None:
        if self._in_style:
            for m in _URL_IN_CSS.finditer(data):
                self.add(m.group(2), "css-background", {})
        elif self._caption is not None:
            self._caption.append(data)


def discover_static(html: str, base_url: str) -> list[dict]:
    """Image sightings in an HTML document, as plain records in document order."""
    collector = _Collector(base_url)
    collector.feed(html)
    collector.close()
    return collector.records


def parse_page(url: str, *, fetcher: Fetcher, limits: WebLimits) -> PageCapture:
    """Fetch ``url`` through the guard and parse it: a ``PageCapture`` without network bodies."""
    response = fetcher.get(url, limits=limits.document_fetch())
    ctype = response.content_type.lower()
    if "html" not in ctype and not response.data.lstrip()[:200].lower().startswith((b"<!doctype", b"<html")):
        raise FetchError(f"{url!r} is not an HTML page (Content-Type {response.content_type or 'missing'})", url=url)
    charset = re.search(r"charset=([\w-]+)", ctype)
    try:
        html = response.data.decode(charset.group(1) if charset else "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        html = response.data.decode("utf-8", errors="replace")
    sightings = [Sighting(**r) for r in discover_static(html, response.url)]
    return PageCapture(response.url, sightings, static=True)
