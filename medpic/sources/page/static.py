"""Discovery without a browser: fetch the HTML and parse it with the same rules minus JavaScript.

Used with ``--no-browser`` or when no Chromium is installed. The rules are those of
``discover.js`` (the one source of truth, run by the browser and the extension), applied to the
markup: img/srcset/data-src, picture sources, inline ``style`` and ``<style>`` backgrounds, SVG
image, video posters, og/twitter images, ``link rel=image_src`` and links to image files, with
the same found_by names, alt, title and figure captions. It cannot see images built by scripts,
lazy loaders that need scrolling, or backgrounds from external stylesheets; it cannot tell which
``<style>`` rules match an element (it reports every background they name) and it reads
``<noscript>`` markup, which a browser running scripts ignores.
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from urllib.parse import urljoin

from medpic.errors import FetchError
from medpic.net.fetch import Fetcher
from medpic.settings import WebLimits
from medpic.sources.page.sightings import PageCapture, Sighting

__all__ = ["parse_page", "discover_static"]

# The lists of discover.js, under the same names there: change both together
# (tests/sources/page/test_discovery_rules.py fails when the browser and this parser disagree).
LAZY_SRC = ("data-src", "data-original", "data-lazy-src", "data-lazy")
LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
OG_META = (("property", "og:image"), ("name", "og:image"), ("property", "og:image:url"),
           ("property", "og:image:secure_url"))
TWITTER_META = (("name", "twitter:image"), ("property", "twitter:image"), ("name", "twitter:image:src"))
IMAGE_LINK = re.compile(r"\.(jpe?g|png|gif|webp|avif|bmp|tiff?|svg|ico)(\?|#|$)", re.I)
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)")
_KEPT = re.compile(r"^(https?:|data:image/)", re.I)  # discover.js also keeps blob:, which only a live page has

# What the browser does for discover.js: its computed background-image, its innerText, its parseFloat.
_BACKGROUND = re.compile(r"(?:^|;)\s*background(?:-image)?\s*:((?:url\([^)]*\)|[^;])*)", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_PSEUDO = re.compile(r"::?(before|after)\b", re.I)
_LEADING_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TEXT_BREAKS = {"br", "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "td", "th", "table", "pre",
                "blockquote", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}


def _largest(srcset: str) -> str | None:
    """The widest (``w``) or densest (``x``, worth 1000 w) candidate; the first of equals."""
    best, best_score = None, -math.inf
    for part in re.split(r",\s+", srcset):
        bits = part.split()
        if not bits:
            continue
        score = 1.0
        if len(bits) > 1 and (number := _LEADING_NUMBER.match(bits[1])):
            score = float(number.group()) * (1000 if bits[1].endswith("x") else 1)
        if score > best_score:
            best, best_score = bits[0], score
    return best


def _backgrounds(declarations: str) -> list[str]:
    """The image URLs of the ``background`` and ``background-image`` declarations in ``declarations``."""
    return [m.group(2) for d in _BACKGROUND.finditer(declarations) for m in CSS_URL.finditer(d.group(1))]


def _style_block(css: str) -> list[tuple[str, str]]:
    """(url, found_by) of the backgrounds in a ``<style>`` block, found_by from each rule's selector."""
    parts = re.split(r"([{}])", _CSS_COMMENT.sub("", css))  # text, brace, text, brace, ...
    out = []
    for i in range(1, len(parts) - 2, 2):
        if parts[i] == "{" and parts[i + 2] == "}":  # an innermost rule: selector { declarations }
            pseudo = _PSEUDO.search(parts[i - 1])
            found_by = f"css-{pseudo.group(1).lower()}" if pseudo else "css-background"
            out += [(url, found_by) for url in _backgrounds(parts[i + 1])]
    return out


def _text(chunks: list[str], limit: int) -> str:
    return " ".join("".join(chunks).split())[:limit]


class _Collector(HTMLParser):
    """discover.js's rules, in document order; URLs are resolved at the end, like the browser
    resolves every URL against the document's final base."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.base: str | None = None  # the first <base href>, as in a browser
        self.records: list[dict] = []
        self.group = 0
        self._raw_text: str | None = None  # inside <style> or <script>
        self._svg_depth = 0
        self._figures: list[dict] = []  # open <figure>s: their records, their first figcaption's text
        self._caption: list[str] | None = None  # the text of the open <figcaption>
        self._picture: dict | None = None  # the open <picture>: its source records, its img's attributes
        self._link: tuple[dict, list[str]] | None = None  # the open <a> to an image file: record, text

    def add(self, url: str | None, found_by: str, attrs: dict | None, group: str | None = None) -> dict | None:
        """A record of ``url``; ``attrs`` None for what no element shows (meta, link, <style>)."""
        if not url:
            return None
        shown = attrs or {}
        record = {"url": url, "found_by": found_by, "alt": shown.get("alt") or shown.get("aria-label") or "",
                  "title": shown.get("title") or "", "caption": "", "group": group}
        self.records.append(record)
        if self._figures and attrs is not None:
            self._figures[-1]["records"].append(record)
        return record

    def handle_starttag(self, tag: str, attr_list) -> None:
        attrs = {k: v or "" for k, v in attr_list}
        if tag == "image" and not self._svg_depth:
            tag = "img"  # what an HTML parser makes of <image> outside SVG
        if self._caption is not None or self._link is not None:
            self._text_break(tag)
        if tag == "base" and attrs.get("href") and self.base is None:
            self.base = urljoin(self.page_url, attrs["href"])
        elif tag == "img":
            self.img(attrs)
        elif tag == "source" and self._picture is not None and (attrs.get("srcset") or attrs.get("data-srcset")):
            img = self._picture["img"]
            record = self.add(_largest(attrs.get("srcset") or attrs["data-srcset"]), "picture", img or attrs)
            if img is None:  # the record shows the picture's img, once it comes
                self._picture["records"].append(record)
        elif tag == "picture":
            self._picture = {"records": [], "img": None}
        elif tag == "svg":
            self._svg_depth += 1
        elif tag == "image":
            self.add(attrs.get("href") or attrs.get("xlink:href"), "svg-image", attrs)
        elif tag == "video" and attrs.get("poster"):
            self.add(attrs["poster"], "video-poster", attrs)
        elif tag == "link" and "image_src" in attrs.get("rel", "").lower().split():
            self.add(attrs.get("href"), "link-image", None)
        elif tag == "meta":
            if any(attrs.get(k) == v for k, v in OG_META):
                self.add(attrs.get("content"), "og-image", None)
            if any(attrs.get(k) == v for k, v in TWITTER_META):
                self.add(attrs.get("content"), "twitter-image", None)
        elif tag == "a":
            self._end_link()
            if IMAGE_LINK.search(attrs.get("href", "")):
                self._link = (self.add(attrs["href"], "link", attrs), [])
        elif tag in ("style", "script"):
            self._raw_text = tag
        elif tag == "figure":
            self._figures.append({"records": [], "caption": None})
        elif tag == "figcaption" and self._figures and self._caption is None:
            self._caption = []
        if "style" in attrs and tag not in ("html", "body"):  # discover.js reads `body *`
            for url in _backgrounds(attrs["style"]):
                self.add(url, "css-background", attrs)

    def img(self, attrs: dict) -> None:
        self.group += 1
        g = f"s:{self.group}"
        self.add(attrs.get("src"), "img", attrs, g)
        if attrs.get("srcset"):
            self.add(_largest(attrs["srcset"]), "srcset", attrs, g)
        for name in LAZY_SRC:
            self.add(attrs.get(name), "data-src", attrs, g)
        for name in LAZY_SRCSET:
            if attrs.get(name):
                self.add(_largest(attrs[name]), "data-srcset", attrs, g)
        if self._picture is not None and self._picture["img"] is None:
            self._picture["img"] = attrs
            for record in self._picture["records"]:
                record.update(alt=attrs.get("alt") or attrs.get("aria-label") or "", title=attrs.get("title") or "")

    def handle_endtag(self, tag: str) -> None:
        if self._caption is not None or self._link is not None:
            self._text_break(tag)
        if tag == self._raw_text:
            self._raw_text = None
        elif tag == "svg" and self._svg_depth:
            self._svg_depth -= 1
        elif tag == "picture":
            self._picture = None
        elif tag == "a":
            self._end_link()
        elif tag == "figcaption" and self._caption is not None:
            text = _text(self._caption, 300)
            for figure in self._figures:  # each open figure's first figcaption, as querySelector finds it
                if figure["caption"] is None:
                    figure["caption"] = text
            self._caption = None
        elif tag == "figure" and self._figures:
            self._end_figure()

    def handle_data(self, data: str) -> None:
        if self._raw_text == "style":
            for url, found_by in _style_block(data):
                self.add(url, found_by, None)
        elif self._raw_text is None:
            if self._caption is not None:
                self._caption.append(data)
            if self._link is not None:
                self._link[1].append(data)

    def _text_break(self, tag: str) -> None:
        """Block elements and <br> separate words in innerText."""
        if tag in _TEXT_BREAKS:
            self.handle_data(" ")

    def _end_link(self) -> None:
        if self._link is not None:
            record, text = self._link
            if record is not None:
                record["alt"] = _text(text, 200)
            self._link = None

    def _end_figure(self) -> None:
        figure = self._figures.pop()
        for record in figure["records"]:
            record["caption"] = figure["caption"] or ""

    def finish(self) -> list[dict]:
        """The records with absolute URLs, those a browser would not keep dropped, numbered."""
        self._end_link()
        while self._figures:  # figures the markup never closed end with the document
            self._end_figure()
        base = self.base or self.page_url
        out = []
        for record in self.records:
            try:
                url = urljoin(base, record["url"].strip())
            except ValueError:  # not a URL at all (a browser drops it too)
                continue
            if _KEPT.match(url):
                out.append({**record, "url": url, "order": len(out)})
        return out


def discover_static(html: str, base_url: str) -> list[dict]:
    """Image sightings in an HTML document, as plain records in document order."""
    collector = _Collector(base_url)
    collector.feed(html)
    collector.close()
    return collector.finish()


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
