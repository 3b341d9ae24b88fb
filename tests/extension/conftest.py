"""Fixtures of the extension tests: one Chromium with the extension, one local MedPic app and the
test sites for the whole folder; every test starts from the same settings."""

from __future__ import annotations

import pytest

from tests.extension.ext_harness import configure, launch, serve_backend, serve_sites, unpacked


@pytest.fixture(scope="session")
def sites():
    """(the test site with the extension's pages, a site the backend may not fetch from)"""
    with serve_sites() as both:
        yield both


@pytest.fixture(scope="session")
def ext_site(sites):
    return sites[0]


@pytest.fixture(scope="session")
def backend(ext_site):
    with serve_backend(ext_site.url) as b:
        yield b


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """(context, service worker). The options page the extension opens on install is left open."""
    extension = unpacked(tmp_path_factory.mktemp("ext") / "medpic")
    with launch(extension, tmp_path_factory.mktemp("profile")) as both:
        yield both


@pytest.fixture(autouse=True)
def fresh(request):
    """Browser tests start from the same settings, with no verdict cached from an earlier test."""
    if "chromium" not in request.fixturenames:
        yield
        return
    backend, (_, worker) = request.getfixturevalue("backend"), request.getfixturevalue("chromium")
    configure(worker, backend=backend.url, token="", threshold=0.5, blur=False, autoScan=False, neverSites=[])
    worker.evaluate("() => verdicts.clear()")
    yield
