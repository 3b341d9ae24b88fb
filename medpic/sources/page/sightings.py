"""Sighting rules: from everything seen on a page to one sighting per picture. Pure functions.

A page shows one picture many ways: an ``<img>`` with a placeholder ``src``, a ``srcset`` and a
``data-src``; the same file at ``-300x200`` and ``@2x`` sizes; the same URL twice; bytes the
browser loaded that no element names any more. These rules choose the best sighting of each
picture (the largest variant, what a lazy loader will show), keep page order, and add
network-only images. They need no browser and no network, and are tested as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Sighting", "PageCapture", "variant_key", "strip_fragment", "choose", "add_network_only", "split_at_limit"]


@dataclass(frozen=True)
class Sighting:
    """One place an image was seen on the page."""

    url: str  # absolute http(s), or a data:/blob: URI
    found_by: str  # which discovery rule saw it: "img", "srcset", "css-background", ...
    order: int  # page order, from 0
    # what the page says about it: the alt text, the title, and the caption of its <figure>
    alt: str = ""
    title: str = ""
    caption: str = ""
    rendered_width: int | None = None
    rendered_height: int | None = None
    natural_width: int | None = None
    natural_height: int | None = None
    group: str | None = None  # sightings from one <img> element share a group

    @property
    def label(self) -> str:
        """What the page says about the picture: alt text, else title, else its figure caption."""
        return self.alt or self.title or self.caption


@dataclass
class PageCapture:
    """What rendering (or parsing) a page yielded, before choosing and downloading."""

    url: str  # the page URL after redirects
    sightings: list[Sighting]
    bodies: dict[str, bytes] = field(default_factory=dict)  # image bytes the page itself loaded
    notes: list[str] = field(default_factory=list)
    cookies: str = ""
    static: bool = False
    blocked: list[str] = field(default_factory=list)


_SIZE_SUFFIX = re.compile(r"(?:-\d{2,5}x\d{2,5}|@\d(?:\.\d)?x)(?=\.[A-Za-z0-9]{2,5}$)")
# Within one <img>: the largest srcset entry, then what a lazy loader will put in src, then src
# itself (often a 1x1 placeholder before the loader runs).
_PREFERENCE = {"srcset": 0, "data-srcset": 0, "picture": 1, "data-src": 1, "img": 2}


def strip_fragment(url: str) -> str:
    """The URL without ``#fragment``: one resource, however it is linked."""
    if url.startswith(("data:", "blob:")):
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def variant_key(url: str) -> str:
    """URLs of one picture at several sizes share a key: ``a-300x200.jpg``, ``a@2x.jpg`` -> ``a.jpg``."""
    if url.startswith(("data:", "blob:")):
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), _SIZE_SUFFIX.sub("", parts.path), parts.query, ""))


def _suffix_area(url: str) -> int:
    m = re.search(r"-(\d{2,5})x(\d{2,5})\.[A-Za-z0-9]{2,5}$", urlsplit(url).path)
    if m:
        return int(m.group(1)) * int(m.group(2))
    m = re.search(r"@(\d(?:\.\d)?)x\.[A-Za-z0-9]{2,5}$", urlsplit(url).path)
    return int(float(m.group(1)) * 10**6) if m else 10**9  # the unsuffixed original is the largest


def _fill(first: Sighting, other: Sighting) -> Sighting:
    """``first`` with what ``other`` knows and ``first`` does not."""
    return replace(first, alt=first.alt or other.alt, caption=first.caption or other.caption,
                   natural_width=first.natural_width or other.natural_width,
                   natural_height=first.natural_height or other.natural_height)


def _by_url(sightings: Iterable[Sighting]) -> list[Sighting]:
    """One sighting per URL: the first, filled in by later ones. A ``data:`` URI inside an element
    group stays in each group that has it, so a placeholder shared by many elements never merges
    their pictures into one."""
    by_url: dict[tuple, Sighting] = {}
    for s in sightings:
        s = replace(s, url=strip_fragment(s.url))
        key = (s.url, s.group) if s.url.startswith("data:") and s.group else (s.url,)
        by_url[key] = _fill(by_url[key], s) if key in by_url else s
    return list(by_url.values())


def _best_of(members: list[Sighting]) -> Sighting:
    """The element's picture. An inline ``data:`` URI loses to any real URL of the same element: it
    is the lazy loader's placeholder, even when the browser reports it as the srcset's choice."""
    best = min(members, key=lambda s: (s.url.startswith("data:"), _PREFERENCE.get(s.found_by, 3),
                                       -_suffix_area(s.url), s.order))
    return replace(best, order=min(m.order for m in members),
                   alt=best.alt or next((m.alt for m in members if m.alt), ""),
                   caption=best.caption or next((m.caption for m in members if m.caption), ""))


def choose(sightings: Iterable[Sighting]) -> list[Sighting]:
    """One sighting per picture, in page order: within an element the preferred attribute, and
    among size variants of one file the largest."""
    groups: dict[str, list[Sighting]] = {}
    for s in _by_url(sightings):
        groups.setdefault(f"group:{s.group}" if s.group else variant_key(s.url), []).append(s)
    merged: dict[str, Sighting] = {}
    for members in groups.values():
        best = _best_of(members)
        key = variant_key(best.url)
        other = merged.get(key)
        if other is None:
            merged[key] = best
        elif _suffix_area(best.url) > _suffix_area(other.url):  # element groups showing one file
            merged[key] = replace(best, order=min(best.order, other.order))
    return sorted(merged.values(), key=lambda s: s.order)


def add_network_only(chosen: list[Sighting], loaded: Iterable[str]) -> list[Sighting]:
    """Append images the page loaded that no element names (any more): ``found_by="network"``."""
    out = list(chosen)
    seen = {s.url for s in out}
    seen_keys = {variant_key(u) for u in seen}
    for url in loaded:
        key = variant_key(url)
        if url not in seen and not url.startswith("blob:") and key not in seen_keys:
            out.append(Sighting(url=url, found_by="network", order=len(out)))
            seen.add(url)
            seen_keys.add(key)
    return out


def split_at_limit(sightings: list[Sighting], max_images: int) -> tuple[list[Sighting], list[Sighting]]:
    """(judged, left over) at the image limit."""
    return sightings[:max_images], sightings[max_images:]
