"""Shared fixtures: real sample pictures that ship inside scikit-image and pydicom."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


@pytest.fixture(scope="session")
def cat() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea())


@pytest.fixture(scope="session")
def retina() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.retina())


@pytest.fixture(scope="session")
def histology() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.immunohistochemistry())


@pytest.fixture(scope="session")
def ct_slice() -> Image.Image:
    """pydicom's CT test slice windowed to 8 bits."""
    import pydicom
    from pydicom.data import get_testdata_file

    arr = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    lo, hi = np.percentile(arr, [0.5, 99.5])
    return Image.fromarray((np.clip((arr - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)).convert("RGB")


@pytest.fixture(scope="session")
def site():
    """The local test website (tests/site.py), one server for the whole run."""
    from tests.site import serve_site

    with serve_site() as server:
        yield server


@pytest.fixture(scope="session")
def browser_service():
    """One headless Chromium for the whole run, like the app has."""
    from medpic.sources.browser import BrowserService

    service = BrowserService()
    if not service.available():
        pytest.fail("no Chromium found: `make test` installs Debian's chromium")
    yield service
    service.close()


async def page_title(browser) -> str:
    """A page made and read in the browser: proof that a shared Chromium still works."""
    page = await browser.new_page()
    await page.set_content("<title>ok</title>")
    title = await page.title()
    await page.close()
    return title
