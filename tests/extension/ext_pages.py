"""The extension's own test pages, served beside the test site's (tests/site.py) with its images.

Pages that test hiding carry SAMPLER: on every frame it notes each medical picture (data-expected)
that is not blurred, loaded or not, so "medical images never show unblurred" is checked frame by
frame, not only once the verdicts are in.
"""

from __future__ import annotations

import time
from functools import cache

from tests.site import routes

SAMPLER = """<script>
window.unblurred = [];
(function sample() {
  for (const img of document.querySelectorAll('img[data-expected="medical"]'))
    if (!getComputedStyle(img).filter.includes('blur') && !unblurred.includes(img.id))
      unblurred.push(img.id);
  requestAnimationFrame(sample);
})();
function swap(id, attr, value, expected) {  // a carousel or an SPA putting another picture in an img
  const img = document.getElementById(id);
  img.dataset.expected = expected;
  img.setAttribute(attr, value);
}
function addImage(id, src, expected) {
  const img = new Image();
  img.id = id; img.src = src; img.dataset.expected = expected;
  document.getElementById('late').append(img);
}
</script>"""

STYLE = """<style>body { margin: 20px; font: 16px/1.4 sans-serif; background: #fff; color: #222; }
img { width: 220px; height: 160px; object-fit: cover; display: block; }
figure { display: inline-block; margin: 0 24px 24px 0; vertical-align: top; }
figcaption { margin-top: 16px; } #late img { display: inline-block; margin: 8px; }</style>"""

# Automatic mode: pictures with captions under them (the blur must not reach a caption).
BLUR_FIRST = f"""<!doctype html><html><head><title>Blur first</title>{SAMPLER}{STYLE}</head><body>
<h1>Case report</h1>
<figure><img id="fundus" src="/img/retina.jpg" data-expected="medical" alt="fundus">
<figcaption>Fig. 1 A fundus photograph.</figcaption></figure>
<figure><img id="coffee" src="/img/coffee.jpg" data-expected="non-medical" alt="coffee">
<figcaption>Fig. 2 The coffee.</figcaption></figure>
<figure><img id="mri" src="/img/mri.png" data-expected="medical" alt="MRI">
<figcaption>Fig. 3 An MRI slice.</figcaption></figure>
<figure><img id="carousel" src="/img/og-rocket.jpg" data-expected="non-medical" alt="carousel">
<figcaption>Fig. 4 A carousel.</figcaption></figure>
<div id="late"></div>
</body></html>"""

# Watched after a scan: a carousel, a srcset, late images and a native lazy image far down, which
# has no size (and is not drawn) until the browser loads it on scrolling, slowly: it is judged
# because it loaded, not because the page scrolled.
WATCHED = f"""<!doctype html><html><head><title>Watched</title>{SAMPLER}{STYLE}
<style>#lazy {{ width: auto; height: auto; }}</style></head><body>
<h1>A page that changes</h1>
<img id="carousel" src="/img/coffee.jpg" data-expected="non-medical" alt="carousel">
<img id="responsive" srcset="/img/mri.png 1x" data-expected="medical" alt="responsive">
<div id="late"></div>
<div style="height: 6000px"></div>
<img id="lazy" loading="lazy" src="/img/slow-ct.png" data-expected="medical" alt="">
</body></html>"""

# The popup's thumbnails lead to their image: one far down the page.
TALL = f"""<!doctype html><html><head><title>Tall</title>{STYLE}</head><body>
<img id="coffee" src="/img/coffee.jpg" data-expected="non-medical" alt="coffee">
<div style="height: 3000px"></div>
<img id="fundus" src="/img/retina.jpg" data-expected="medical" alt="fundus">
<div style="height: 600px"></div>
</body></html>"""

# On a server the backend may not fetch from: the page has to send the pixels.
PRIVATE = f"""<!doctype html><html><head><title>Private</title>{STYLE}</head><body>
<img id="fundus" src="/img/retina.jpg" data-expected="medical" alt="fundus">
<img id="cat" src="/img/chelsea-a.jpg" data-expected="non-medical" alt="cat">
</body></html>"""


@cache
def _site() -> dict:
    return routes()


def _html(body: str) -> tuple[int, dict, bytes]:
    return (200, {"Content-Type": "text/html; charset=utf-8"}, body.encode())


def _slowly(route: tuple[int, dict, bytes], delay_s: float = 1.0):
    """The same response, after a pause."""
    status, headers, body = route

    def send(handler) -> None:
        time.sleep(delay_s)
        handler.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return send


def site_routes() -> dict:
    pages = {"/blur-first.html": BLUR_FIRST, "/watched.html": WATCHED, "/tall.html": TALL}
    return {**_site(), **{path: _html(body) for path, body in pages.items()},
            "/img/slow-ct.png": _slowly(_site()["/img/lazy-ct.png"])}


def private_routes() -> dict:
    return {"/private.html": _html(PRIVATE), **{p: _site()[p] for p in ("/img/retina.jpg", "/img/chelsea-a.jpg")}}
