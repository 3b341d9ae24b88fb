"""Lazy-loading placeholders in real Chromium: a shared 1x1 `src` never hides the real pictures."""

import pytest

from medpic.net.fetch import Fetcher
from medpic.settings import Settings
from medpic.sources.page.extract import extract_page
from tests.localserver import LocalServer
from tests.site import _enc, _images

pytestmark = pytest.mark.browser

PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
PAGE = f"""<!doctype html><html><body>
<img src="{PLACEHOLDER}" srcset="/img/cat.jpg 2x" alt="cat" width="200" height="200">
<img src="{PLACEHOLDER}" srcset="/img/retina.jpg 2x" alt="fundus" width="200" height="200">
<img src="{PLACEHOLDER}" alt="only a placeholder" width="200" height="200">
</body></html>""".encode()


def test_pictures_behind_a_shared_placeholder_each_get_their_row(browser_service):
    images = _images()
    routes = {"/lazy.html": (200, {"Content-Type": "text/html"}, PAGE),
              "/img/cat.jpg": (200, {"Content-Type": "image/jpeg"}, _enc(images["cat"], "JPEG")),
              "/img/retina.jpg": (200, {"Content-Type": "image/jpeg"}, _enc(images["retina"], "JPEG"))}
    with LocalServer(routes) as site:
        settings = Settings(allow_private=True)
        extraction = extract_page(site.url + "/lazy.html", fetcher=Fetcher(settings.net_policy()),
                                  limits=settings.web_limits(), browser=browser_service)
        rows = list(extraction.candidates)
    by_ref = {r.ref.replace(site.url, ""): r for r in rows}
    assert by_ref["/img/cat.jpg"].status == "ok" and by_ref["/img/retina.jpg"].status == "ok"
    assert by_ref["/img/cat.jpg"].alt == "cat" and by_ref["/img/retina.jpg"].alt == "fundus"
    assert not any(r.status == "error" for r in rows)
