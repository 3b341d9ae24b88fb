"""A scan on request (what the popup's button sends), in real Chromium against a local MedPic app:
badges on exactly the medical images, the blur and its overlay, the popup, the toolbar count, the
result kept for the tab, a stopped backend."""

import re

import pytest

from tests.extension.ext_checks import FLAGGED, badged, blurred, overlay_of, stored_result, toolbar_count, wait_marks
from tests.extension.ext_harness import configure, open_page, open_popup
from tests.localserver import free_port

pytestmark = pytest.mark.browser
LABEL = re.compile(r"Medical (\d+%|>99%)( · [A-Za-z/ -]+( (\d+%|>99%|<1%))?)?")  # badgeText


def kinds(page, what: str) -> dict[str, set]:
    """On the fixture page of tests/site.py: data-expected -> ``what`` (a JS expression of e) of its elements."""
    pairs = page.evaluate(f"() => [...document.querySelectorAll('[data-expected]')]"
                          f".map(e => [e.dataset.expected, {what}])")
    out: dict[str, set] = {}
    for kind, value in pairs:
        out.setdefault(kind, set()).add(value)
    return out


MARK, BLURRED = "e.dataset.medpic || ''", "getComputedStyle(e).filter.includes('blur')"


def scanned_with_blur(chromium, url: str):
    """Blur on, ``url`` open in a tab and scanned as the popup's button does: (context, worker, page, tab id)."""
    context, worker = chromium
    configure(worker, blur=True)
    page, tab_id = open_page(context, worker, url)
    worker.evaluate("id => medpicScan(id)", tab_id)
    return context, worker, page, tab_id


def test_badges_on_exactly_the_medical_images(chromium, ext_site):
    context, worker = chromium
    page, tab_id = open_page(context, worker, ext_site.url + "/ext.html")
    result = worker.evaluate("id => medpicScan(id)", tab_id)
    assert not result["error"], result
    assert result["checked"] == 8  # the 20 px image is not checked
    assert sorted(badged(page)) == ["medical"] * 4
    assert result["medical"] == 4
    assert kinds(page, MARK) == {"medical": {"shown"}, "non-medical": {"clear"}, "tiny": {"clear"}}
    label = page.locator(f"{FLAGGED} .medpic-label").first.inner_text()
    assert LABEL.fullmatch(label), label
    assert page.locator(f"{FLAGGED} .medpic-toggle").first.inner_text() == "hide"
    assert toolbar_count(worker, tab_id) == "4"

    # badges follow their image when the layout moves
    first = page.locator(FLAGGED).first
    before = first.bounding_box()
    page.evaluate("document.querySelector('h1').style.marginTop = '200px'")
    page.wait_for_timeout(200)
    assert first.bounding_box()["y"] == pytest.approx(before["y"] + 200, abs=30)
    page.close()


def test_blurred_images_sit_under_a_veil_that_shows_them_and_can_hide_them_again(chromium, ext_site):
    _, _, page, _ = scanned_with_blur(chromium, ext_site.url + "/ext.html")
    assert kinds(page, BLURRED) == {"medical": {True}, "non-medical": {False}, "tiny": {False}}

    # a site rewriting the image's style does not undo the blur
    page.evaluate("() => { const e = document.querySelector('img[alt=fundus]'); e.id = 'fundus';"
                  " e.style.filter = 'none'; }")
    assert blurred(page)["fundus"]

    veil = overlay_of(page, "fundus")
    assert "medpic-veil" in veil.get_attribute("class")
    assert LABEL.fullmatch(veil.locator(".medpic-label").inner_text())
    assert veil.locator(".medpic-toggle").inner_text() == "show"
    box, image = veil.bounding_box(), page.locator("#fundus").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == pytest.approx(
        (image["x"], image["y"], image["width"], image["height"]), abs=2)  # the veil covers the picture, no more

    veil.click(position={"x": 10, "y": 10})  # anywhere on the veil
    assert not blurred(page)["fundus"]
    assert page.get_attribute("#fundus", "data-medpic") == "shown"
    badge = overlay_of(page, "fundus")
    assert "medpic-veil" not in badge.get_attribute("class")
    assert badge.bounding_box()["height"] < image["height"] / 2  # a badge in the corner now

    badge.locator(".medpic-toggle").click()  # "hide"
    assert blurred(page)["fundus"]
    assert "medpic-veil" in overlay_of(page, "fundus").get_attribute("class")
    page.close()


def test_popup_keeps_the_result_blurs_thumbnails_and_leads_to_the_image(chromium, ext_site):
    context, worker, page, tab_id = scanned_with_blur(chromium, ext_site.url + "/tall.html")
    assert stored_result(worker, tab_id)["medical"] == 1  # kept in chrome.storage.session

    popup = open_popup(context, worker, tab_id)  # opened after the scan: shows the kept result
    popup.wait_for_selector("#result:not([hidden])")
    assert popup.inner_text("#summary") == "2 images checked, 1 look medical."
    thumb = popup.locator("#thumbs button").first
    assert LABEL.fullmatch(thumb.inner_text().strip())
    assert "blur" in popup.locator("#thumbs img").first.evaluate("e => getComputedStyle(e).filter")

    assert page.evaluate("scrollY") == 0
    thumb.click()
    page.wait_for_function("() => { const r = document.getElementById('fundus').getBoundingClientRect();"
                           " return r.top >= 0 && r.bottom <= innerHeight; }", timeout=5000)

    popup.click("#revealAll")
    wait_marks(page, {"fundus": "shown", "coffee": "clear"})
    assert not blurred(page)["fundus"]
    popup.click("#hideAll")
    wait_marks(page, {"fundus": "hidden", "coffee": "clear"})

    popup.uncheck("#blur")  # the setting: thumbnails and the page follow
    assert popup.locator("#thumbs img").first.evaluate("e => getComputedStyle(e).filter") == "none"
    wait_marks(page, {"fundus": "shown", "coffee": "clear"})
    popup.close()

    # a reloaded page is another page: Chromium clears the count, the popup shows no stale result
    page.reload()
    page.wait_for_load_state("networkidle")
    assert toolbar_count(worker, tab_id) == ""
    again = open_popup(context, worker, tab_id)
    again.wait_for_timeout(500)
    assert again.locator("#result").is_hidden()
    again.close()
    page.close()


def test_stopped_backend_is_said_plainly_in_the_popup_and_on_the_toolbar(chromium, ext_site):
    context, worker = chromium
    configure(worker, backend=f"http://127.0.0.1:{free_port()}")
    page, tab_id = open_page(context, worker, ext_site.url + "/ext.html")
    popup = open_popup(context, worker, tab_id)
    popup.click("#scan")
    popup.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "not reachable" in popup.inner_text("#error")
    assert toolbar_count(worker, tab_id) == "!"
    assert "not reachable" in worker.evaluate("id => chrome.action.getTitle({tabId: id})", tab_id)
    assert not page.locator("#medpic-overlay .medpic-badge").count()  # blur is off: nothing on the page changes
    popup.close()
    page.close()
