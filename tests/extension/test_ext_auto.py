"""Automatic mode and watching, in real Chromium against a local MedPic app: with blur on, pictures
are hidden from document_start until judged and medical ones never show unblurred; a scanned page
keeps being watched; images the backend cannot fetch are sent from the page."""

import io

import pytest
from PIL import Image

from tests.extension.ext_checks import (badged, blurred, eventually, marks, overlay_of, stored_result, toolbar_count,
                                         wait_marks)
from tests.extension.ext_harness import configure, open_page

pytestmark = pytest.mark.browser
FIRST = {"fundus": "hidden", "coffee": "clear", "mri": "hidden", "carousel": "clear"}


def test_blur_first_hides_every_picture_until_judged(chromium, ext_site):
    context, worker = chromium
    # the check has teeth: with blur off, the page's sampler sees the medical pictures drawn
    configure(worker, autoScan=True, blur=False)
    page, _ = open_page(context, worker, ext_site.url + "/blur-first.html")
    wait_marks(page, {"fundus": "shown", "coffee": "clear", "mri": "shown", "carousel": "clear"})
    assert sorted(page.evaluate("unblurred")) == ["fundus", "mri"]
    page.close()

    configure(worker, blur=True)
    worker.evaluate("() => verdicts.clear()")
    page, tab_id = open_page(context, worker, ext_site.url + "/blur-first.html")
    wait_marks(page, FIRST)  # judged with no scan asked for
    assert page.evaluate("unblurred") == []  # on no frame was a medical picture drawn unblurred
    assert blurred(page) == {"fundus": True, "coffee": False, "mri": True, "carousel": False}
    assert sorted(badged(page)) == ["medical", "medical"]
    assert toolbar_count(worker, tab_id) == "2"

    # a carousel puts a medical picture in a judged img: hidden before it is drawn
    page.evaluate("swap('carousel', 'src', '/img/slow-ct.png', 'medical')")  # the old picture stays a second
    wait_marks(page, {**FIRST, "carousel": "hidden"})
    assert page.evaluate("unblurred") == []
    page.wait_for_function("() => document.getElementById('carousel').complete")
    assert blurred(page)["carousel"]

    # the blur stays inside the picture's box: the white strip between the fundus and its caption stays white
    box = page.locator("#fundus").bounding_box()
    strip = page.screenshot(clip={"x": box["x"], "y": box["y"] + box["height"] + 3, "width": box["width"], "height": 9})
    darkest, _ = Image.open(io.BytesIO(strip)).convert("L").getextrema()
    assert darkest > 240, darkest
    page.close()


def test_a_scanned_page_is_watched_for_new_lazy_and_changed_pictures(chromium, ext_site):
    context, worker = chromium
    hits_before = len(ext_site.hits)
    page, tab_id = open_page(context, worker, ext_site.url + "/watched.html")
    result = worker.evaluate("id => medpicScan(id)", tab_id)  # the popup's scan, automatic mode off
    assert (result["checked"], result["medical"]) == (2, 1)
    assert marks(page) == {"carousel": "clear", "responsive": "shown", "lazy": ""}
    assert "/img/slow-ct.png" not in ext_site.hits[hits_before:]  # not loaded, not sent: it has no size yet

    page.evaluate("""() => { addImage('late-ct', '/img/pseudo-ct.png', 'medical');
        addImage('late-cat', '/img/js-cat.jpg', 'non-medical');
        swap('carousel', 'src', '/img/mri.png', 'medical');
        swap('responsive', 'srcset', '/img/coffee.jpg 1x', 'non-medical'); }""")
    wait_marks(page, {"carousel": "shown", "responsive": "clear", "late-ct": "shown", "late-cat": "clear"})

    page.evaluate("scrollTo(0, document.body.scrollHeight)")  # the lazy image loads, then is judged
    wait_marks(page, {"lazy": "shown"})
    assert sorted(badged(page)) == ["medical"] * 3
    eventually(lambda: (stored_result(worker, tab_id)["medical"], toolbar_count(worker, tab_id)), (3, "3"))

    # with blur on, a new picture is hidden from the moment it is added until it is judged
    configure(worker, blur=True)
    page.evaluate("addImage('late-fundus', '/img/retina.jpg', 'medical')")
    wait_marks(page, {"late-fundus": "hidden"})
    assert "late-fundus" not in page.evaluate("unblurred")
    page.close()


def test_pictures_the_backend_cannot_fetch_are_sent_from_the_page_in_automatic_mode(chromium, backend, sites):
    context, worker = chromium
    _, private = sites
    # the backend itself may not fetch from the private site (a private address it was not told of)
    report = backend.service.classify_urls([private.url + "/img/retina.jpg"], private.url + "/private.html")
    assert [row.status for row in report.rows] == ["error"]

    configure(worker, autoScan=True)
    page, tab_id = open_page(context, worker, private.url + "/private.html")
    wait_marks(page, {"fundus": "shown", "cat": "clear"})
    assert overlay_of(page, "fundus").count() == 1
    assert toolbar_count(worker, tab_id) == "1"
    page.close()
