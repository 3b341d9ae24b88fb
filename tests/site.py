"""The local test website: fixture pages exercising every discovery path, with real images.

Images are made from scikit-image and pydicom samples (medical: fundus, CT, MRI;
everyday: cat, coffee, astronaut, rocket, camera). ``EXPECTED`` says, per page, which image URLs
each mode must report and with which outcome.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
from PIL import Image

from tests.localserver import LocalServer


def _enc(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _images() -> dict[str, Image.Image]:
    from skimage import data

    from tests.pdf_fixtures import ct_pixels

    ct = ct_pixels().astype(np.float64) / 65535 * 255
    import pydicom
    from pydicom.data import get_testdata_file

    mr = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array.astype(np.float64)
    mr = (mr - mr.min()) / (mr.max() - mr.min()) * 255
    return {
        "retina": Image.fromarray(data.retina()).resize((320, 320)),
        "ct": Image.fromarray(ct.astype(np.uint8)).resize((256, 256)).convert("RGB"),
        "mri": Image.fromarray(mr.astype(np.uint8)).resize((256, 256)).convert("RGB"),
        "cat": Image.fromarray(data.chelsea()),
        "coffee": Image.fromarray(data.coffee()),
        "astronaut": Image.fromarray(data.astronaut()).resize((300, 300)),
        "rocket": Image.fromarray(data.rocket()),
        "camera": Image.fromarray(data.camera()).resize((200, 200)).convert("RGB"),
    }


def _bomb() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
       b'<rect width="240" height="160" fill="#f4f4f4"/><rect x="20" y="60" width="40" height="80" fill="#36c"/>'
       b'<rect x="80" y="30" width="40" height="110" fill="#c63"/><rect x="140" y="90" width="40" height="50" '
       b'fill="#3a3"/><text x="20" y="24" font-size="16">Sales by quarter</text></svg>')

GALLERY = """<!doctype html><html><head><title>Gallery</title>
<meta property="og:image" content="/img/og-rocket.jpg">
<link rel="stylesheet" href="/site.css">
<style>.hero { width: 320px; height: 200px; background: url('/img/hero-coffee.jpg') no-repeat; }</style>
</head><body>
<figure><img src="/img/retina.jpg" alt="Fundus photograph"><figcaption>Fig. 1 A fundus photograph.</figcaption></figure>
<img src="/img/coffee-300x200.jpg" srcset="/img/coffee-300x200.jpg 300w, /img/coffee.jpg 600w" sizes="300px" alt="coffee">
<picture><source srcset="/img/astronaut.webp" type="image/webp"><img src="/img/astronaut.webp" alt="astronaut"></picture>
<div class="hero"></div>
<div class="card" style="width: 260px; height: 260px; position: relative"></div>
<svg width="300" height="300"><image href="/img/mri.png" width="256" height="256"/></svg>
<video poster="/img/poster-camera.jpg" width="200" height="200"></video>
<a href="/img/linked-fundus.png">full-size fundus</a>
<img src="data:image/png;base64,{data_uri}" alt="inline camera">
<img src="/img/missing.png" alt="gone">
<img src="/img/fake.png" alt="an HTML page served as image/png">
<img src="/img/bomb.png" alt="bomb">
<img src="/px.gif" width="1" height="1" alt="">
<img src="/img/chelsea-a.jpg" alt="cat"><img src="/img/chelsea-b.jpg" alt="the same cat again">
<img src="/img/chart.svg" alt="a chart">
<iframe src="/frame.html" width="300" height="300"></iframe>
<div style="height: 2600px"></div>
<img loading="lazy" src="/img/lazy-ct.png" alt="lazy CT">
<div style="height: 1800px"></div>
<img class="lazy" data-src="/img/io-mri.jpg" src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==" alt="IO lazy">
<div id="late"></div>
<script>
setTimeout(() => { const i = new Image(); i.src = '/img/js-cat.jpg'; i.alt = 'added by script';
                   document.getElementById('late').append(i); }, 300);
const io = new IntersectionObserver((entries) => entries.forEach(e => {
  if (e.isIntersecting) { e.target.src = e.target.dataset.src; io.unobserve(e.target); } }));
document.querySelectorAll('img.lazy').forEach(i => io.observe(i));
</script>
</body></html>"""

CSS = b".card::before { content: ''; display: block; width: 250px; height: 250px; background-image: url('/img/pseudo-ct.png'); }"

FRAME = b"""<!doctype html><html><body><img src="/img/framed-rocket.jpg" alt="in a frame"></body></html>"""

ENDLESS = b"""<!doctype html><html><body><div id="feed"></div><script>
let n = 0;
function more() { for (let k = 0; k < 4; k++) { n++; const d = document.createElement('div');
  d.style.height = '400px'; d.innerHTML = '<img src="/img/feed.jpg?n=' + n + '" width="200">';
  document.getElementById('feed').append(d); } }
more(); window.addEventListener('scroll', () => {
  if (window.scrollY + window.innerHeight > document.body.scrollHeight - 800) more(); });
</script></body></html>"""

# The extension's fixture: known medical and non-medical pictures, a tiny one, and a slot for late images.
EXTENSION_PAGE = """<!doctype html><html><head><title>MedPic extension fixture</title>
<style>img { width: 220px; height: 160px; margin: 8px; object-fit: cover; } .row { display: flex; flex-wrap: wrap; }
.bg { width: 220px; height: 160px; margin: 8px; background: url('/img/pseudo-ct.png') center / cover; }</style></head>
<body><h1>Images</h1><div class="row">
<img src="/img/retina.jpg" data-expected="medical" alt="fundus">
<img src="/img/coffee.jpg" data-expected="non-medical" alt="coffee">
<img src="/img/mri.png" data-expected="medical" alt="mri">
<img src="/img/og-rocket.jpg" data-expected="non-medical" alt="rocket">
<div class="bg" data-expected="medical" title="a CT slice as a CSS background"></div>
<img src="/img/chelsea-a.jpg" data-expected="non-medical" alt="cat">
<img src="/img/lazy-ct.png" data-expected="medical" alt="ct">
<img src="/img/poster-camera.jpg" data-expected="non-medical" alt="camera">
<img src="/img/retina.jpg" style="width: 20px; height: 20px" data-expected="tiny" alt="tiny fundus">
</div><div id="late" class="row"></div></body></html>"""


# (image URL path, expected status, expected label or reason prefix, modes that must see it)
BOTH, BROWSER = ("browser", "static"), ("browser",)
EXPECTED = {
    "/gallery.html": [
        ("/img/og-rocket.jpg", "ok", "non-medical", BOTH),
        ("/img/hero-coffee.jpg", "ok", "non-medical", BOTH),
        ("/img/retina.jpg", "ok", "medical", BOTH),
        ("/img/coffee.jpg", "ok", "non-medical", BOTH),
        ("/img/astronaut.webp", "ok", "non-medical", BOTH),
        ("/img/pseudo-ct.png", "ok", "medical", BROWSER),
        ("/img/mri.png", "ok", "medical", BOTH),
        ("/img/poster-camera.jpg", "ok", "non-medical", BOTH),
        ("/img/linked-fundus.png", "ok", "medical", BOTH),
        ("data:", "ok", "non-medical", BOTH),
        ("/img/missing.png", "error", "HTTP 404", BOTH),
        ("/img/fake.png", "error", "not an image", BOTH),
        ("/img/bomb.png", "error", "too large", BOTH),
        ("/px.gif", "skipped", "too small", BOTH),
        ("/img/chelsea-a.jpg", "ok", "non-medical", BOTH),
        ("/img/chart.svg", "ok", "non-medical", BROWSER),
        ("/img/chart.svg", "error", "unsupported format: SVG", ("static",)),
        ("/img/framed-rocket.jpg", "ok", "non-medical", BROWSER),
        ("/img/lazy-ct.png", "ok", "medical", BOTH),
        ("/img/io-mri.jpg", "ok", "medical", BOTH),
        ("/img/js-cat.jpg", "ok", "non-medical", BROWSER),
    ],
}
# never reported as rows of their own
ABSENT = ["/img/coffee-300x200.jpg", "/img/chelsea-b.jpg"]


def routes() -> dict:
    im = _images()
    jpg = lambda i: _enc(i, "JPEG", quality=88)  # noqa: E731
    png = lambda i: _enc(i, "PNG")  # noqa: E731
    cat = jpg(im["cat"])
    camera_uri = base64.b64encode(png(im["camera"].resize((96, 96)))).decode()

    def image(body: bytes, ctype: str):
        return (200, {"Content-Type": ctype, "Cache-Control": "no-store"}, body)

    html = lambda body: (200, {"Content-Type": "text/html; charset=utf-8"}, body)  # noqa: E731
    table = {
        "/gallery.html": html(GALLERY.replace("{data_uri}", camera_uri).encode()),
        "/site.css": (200, {"Content-Type": "text/css"}, CSS),
        "/frame.html": html(FRAME),
        "/endless.html": html(ENDLESS),
        "/img/retina.jpg": image(jpg(im["retina"]), "image/jpeg"),
        "/img/coffee-300x200.jpg": image(jpg(im["coffee"].resize((300, 200))), "image/jpeg"),
        "/img/coffee.jpg": image(jpg(im["coffee"]), "image/jpeg"),
        "/img/astronaut.webp": image(_enc(im["astronaut"], "WEBP", quality=85), "image/webp"),
        "/img/hero-coffee.jpg": image(jpg(im["coffee"].resize((320, 200)).rotate(180)), "image/jpeg"),
        "/img/pseudo-ct.png": image(png(im["ct"]), "image/png"),
        "/img/mri.png": image(png(im["mri"]), "image/png"),
        "/img/poster-camera.jpg": image(jpg(im["camera"]), "image/jpeg"),
        "/img/linked-fundus.png": image(png(im["retina"].transpose(Image.Transpose.FLIP_LEFT_RIGHT)), "image/png"),
        "/img/og-rocket.jpg": image(jpg(im["rocket"]), "image/jpeg"),
        "/img/fake.png": image(b"<!doctype html><html><body>Not found</body></html>", "image/png"),
        "/img/bomb.png": image(_bomb(), "image/png"),
        "/px.gif": image(_enc(Image.new("RGB", (1, 1), "white"), "GIF"), "image/gif"),
        "/img/chelsea-a.jpg": image(cat, "image/jpeg"),
        "/img/chelsea-b.jpg": image(cat, "image/jpeg"),
        "/img/chart.svg": image(SVG, "image/svg+xml"),
        "/img/framed-rocket.jpg": image(jpg(im["rocket"].rotate(90, expand=True)), "image/jpeg"),
        "/img/lazy-ct.png": image(png(im["ct"].rotate(90)), "image/png"),
        "/img/io-mri.jpg": image(jpg(im["mri"].rotate(180)), "image/jpeg"),
        "/img/js-cat.jpg": image(jpg(im["cat"].transpose(Image.Transpose.FLIP_LEFT_RIGHT)), "image/jpeg"),
        "/img/feed.jpg": image(jpg(im["astronaut"]), "image/jpeg"),
        "/to-private": (302, {"Location": "http://127.0.0.1:9/secret.png"}, b""),
        "/hop1": (302, {"Location": "/hop2"}, b""),
        "/hop2": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/redirect.html": html(b'<!doctype html><html><body><img src="/to-private" alt="redirected">'
                               b'<img src="/hop1" alt="two hops">'
                               b'<img src="/img/retina.jpg"></body></html>'),
        "/goes-private.html": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/ext.html": html(EXTENSION_PAGE.encode()),
    }
    return table


def serve_site() -> LocalServer:
    return LocalServer(routes())
