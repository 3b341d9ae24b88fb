"""Web pages in real Chromium (and in static mode) against the local test site."""

import csv
import time

import pytest

from medpic.cli import main
from medpic.errors import BlockedURL
from medpic.errors import BrowserUnavailable
from medpic.model.classifier import Classifier
from medpic.net.fetch import Fetcher
from medpic.report import SCAN_COLUMNS
from medpic.scan import JudgeOptions, scan as judge_all
from medpic.settings import Settings, origin_of
from medpic.sources.browser import BrowserService
from medpic.sources.page.extract import extract_page
from tests.conftest import page_title
from tests.site import ABSENT, EXPECTED

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(browser_service):
    return browser_service


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load(Settings())


def extract(url, browser, settings=Settings(allow_private=True)):
    """A page's extraction, its lazy candidates made a list."""
    extraction = extract_page(url, fetcher=Fetcher(settings.net_policy()), limits=settings.web_limits(),
                              browser=browser)
    extraction.candidates = list(extraction.candidates)
    return extraction


def guarded(site):
    """Settings with the guard on and only the test site itself allowed."""
    return Settings(allowed_origins=frozenset({origin_of(site.url)}))


def scan(site, browser, classifier, path, *, static=False):
    extraction = extract(site.url + path, None if static else browser)
    report = judge_all(extraction, classifier, JudgeOptions.from_settings(Settings()))
    return extraction, list(report.items)


def check_expected(site, items, mode):
    rows = {}
    for item in items:
        ref = item.row.image
        rows.setdefault("data:" if ref.startswith("data:image/png") else ref.replace(site.url, ""), item.row)
    for path, status, outcome, modes in EXPECTED["/gallery.html"]:
        if mode not in modes:
            continue
        assert path in rows, f"{mode}: {path} not found; found {sorted(rows)}"
        row = rows[path]
        assert row.status == status, (mode, path, row)
        if status == "ok":
            assert row.label == outcome, (mode, path, row.label, row.p_medical)
        else:
            assert row.reason.startswith(outcome), (mode, path, row.reason)
    for path in ABSENT:
        assert path not in rows, f"{mode}: {path} should have been merged away"
    return rows


def test_browser_finds_every_expected_image_with_the_right_verdict(site, browser, classifier):
    extraction, items = scan(site, browser, classifier, "/gallery.html")
    rows = check_expected(site, items, "browser")
    expected = {p for p, _, _, m in EXPECTED["/gallery.html"] if "browser" in m}
    assert expected <= set(rows)
    by = {r.image.replace(site.url, ""): r for r in (i.row for i in items)}
    assert by["/img/retina.jpg"].alt == "Fundus photograph"
    assert by["/img/pseudo-ct.png"].found_by == "css-before"
    assert by["/img/og-rocket.jpg"].found_by == "og-image"
    assert by["/img/framed-rocket.jpg"].alt == "in a frame"
    cat = next(i for i in items if i.row.image.endswith("/img/chelsea-a.jpg"))
    assert extraction.duplicates[cat.candidate.ref] == [site.url + "/img/chelsea-b.jpg"]


def test_static_mode_finds_its_subset_and_says_so(site, browser, classifier):
    extraction, items = scan(site, browser, classifier, "/gallery.html", static=True)
    rows = check_expected(site, items, "static")
    assert "/img/js-cat.jpg" not in rows and "/img/pseudo-ct.png" not in rows
    assert extraction.notes[0].startswith("static mode")


def test_endless_page_ends_within_its_limits(site, browser):
    settings = Settings(allow_private=True, max_scroll_steps=12, scan_budget_s=30)
    started = time.monotonic()
    extraction = extract(site.url + "/endless.html", browser, settings)
    assert time.monotonic() - started < 30
    assert any("kept growing" in n or "time budget" in n for n in extraction.notes), extraction.notes
    assert len([c for c in extraction.candidates if c.status == "ok"]) == 1  # one picture under many URLs
    assert len(extraction.duplicates[extraction.candidates[0].ref]) >= 8


def test_guard_refuses_a_redirect_to_a_private_address(site, browser, classifier):
    extraction = extract(site.url + "/redirect.html", browser, guarded(site))
    rows = {c.ref.replace(site.url, ""): c for c in extraction.candidates}
    assert rows["/to-private"].status == "error" and "private or internal address" in rows["/to-private"].reason
    assert rows["/hop1"].status == "error" and "private or internal address" in rows["/hop1"].reason
    assert rows["/img/retina.jpg"].status == "ok"


def test_guard_refuses_a_page_that_redirects_to_cloud_metadata(site, browser):
    with pytest.raises(BlockedURL, match="private or internal"):
        extract(site.url + "/goes-private.html", browser, guarded(site))
    with pytest.raises(BlockedURL, match="private or internal"):
        extract(site.url + "/gallery.html", browser, Settings())  # guard on, loopback refused


def test_scan_url_cli_writes_the_contracted_csv(site, tmp_path, capsys):
    out = tmp_path / "page.csv"
    assert main(["scan", site.url + "/gallery.html", "--allow-private", "--csv", str(out),
                 "--zip", str(tmp_path / "m.zip")]) == 0
    with open(out, newline="") as f:
        header, *rows = list(csv.reader(f))
    assert tuple(header[: len(SCAN_COLUMNS)]) == SCAN_COLUMNS
    records = [dict(zip(header, r)) for r in rows]
    assert all(r["source"] == site.url + "/gallery.html" and r["page"] == "" for r in records)
    assert {r["status"] for r in records} == {"ok", "skipped", "error"}
    err = capsys.readouterr().err
    assert "images:" in err and "medical" in err


def test_no_browser_flag_uses_static_mode(site, tmp_path, capsys):
    assert main(["scan", site.url + "/gallery.html", "--allow-private", "--no-browser",
                 "--csv", str(tmp_path / "s.csv")]) == 0
    assert "static mode" in capsys.readouterr().err


def test_browser_is_stopped_when_closed(browser):
    service = BrowserService()
    assert service.run(lambda b: page_title(b), timeout=60) == "ok"
    service.close()
    assert not service.started
    with pytest.raises(Exception):
        service.run(lambda b: page_title(b), timeout=5)



def test_failed_launch_leaves_nothing_running(tmp_path):
    """A Chromium that will not start: a readable error, and Playwright is stopped again."""
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    service = BrowserService(executable=str(fake))
    with pytest.raises(BrowserUnavailable, match="would not start"):
        service.run(lambda b: page_title(b), timeout=60)
    assert service._playwright is None and service._browser is None
    service.close()
