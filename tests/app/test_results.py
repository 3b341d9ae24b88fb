"""The results pane: kept reports re-rendered at other slider positions and filters, without
scanning again, and the Stop button's effect on a running scan."""

import threading
import zipfile

import pytest

from medpic.app import MedPicService
from medpic.app import results as view
from medpic.settings import Settings
from tests.conftest import encode


@pytest.fixture(scope="module")
def service():
    service = MedPicService(Settings())
    yield service
    service.close()


@pytest.fixture
def kept(service, tmp_path, cat, retina):
    (tmp_path / "cat.jpg").write_bytes(encode(cat, "JPEG"))
    (tmp_path / "fundus.jpg").write_bytes(encode(retina, "JPEG"))
    (tmp_path / "broken.jpg").write_bytes(encode(cat, "JPEG")[:500])
    report = service.classify_images([tmp_path / n for n in ("cat.jpg", "fundus.jpg", "broken.jpg")])
    return service.keep(report)


def test_every_verdict_is_shown_medical_first_with_its_modality(kept):
    captions = [text for _, text in view.gallery([kept], 0.5)]
    assert len(captions) == 2  # the broken file has no picture, but it has a table line
    assert captions[0].startswith("Medical") and "Ophthalmology" in captions[0] and captions[0].endswith("fundus.jpg")
    assert captions[1].startswith("Not medical") and captions[1].endswith("cat.jpg")
    lines = [dict(zip(view.TABLE_HEADERS, line)) for line in view.table([kept], 0.5)]
    assert [line["image"] for line in lines] == ["cat.jpg", "fundus.jpg", "broken.jpg"]  # the source's order
    assert lines[2]["status"] == "error" and lines[2]["reason"].startswith("corrupt image")
    assert lines[2]["p(medical)"] == "" and lines[2]["thumbnail"] == ""  # no picture, no bar
    assert lines[1]["p(medical)"].startswith("█") and lines[1]["p(medical)"].endswith(view.percent(kept.rows[1].p_medical))
    assert lines[1]["thumbnail"].startswith("![](data:image/jpeg;base64,")


def test_probability_bars():
    assert view.bar(0.62) == "██████░░░░ 62%" and view.bar(0.004) == "░░░░░░░░░░ <1%"
    assert view.bar(0.9996) == "██████████ >99%"


def test_the_filter_and_the_strictness_slider_re_render_without_scanning(kept):
    image = view.TABLE_HEADERS.index("image")
    assert [line[image] for line in view.table([kept], 0.5, "Medical")] == ["fundus.jpg"]
    assert [line[image] for line in view.table([kept], 0.5, "Errors")] == ["broken.jpg"]
    cat_p = kept.rows[0].p_medical
    everything_medical = view.table([kept], cat_p, "Medical")  # at the cat's own probability
    assert [line[image] for line in everything_medical] == ["cat.jpg", "fundus.jpg"]
    assert "2 medical" in view.card([kept], cat_p, 0.9, [0])
    assert "1 medical" in view.card([kept], 0.5, 0.9, [0])


def test_the_zip_follows_both_sliders(service, kept):
    fundus_p = kept.rows[1].p_medical
    path, count = service.zip_of(kept, 0.5, min(0.99, fundus_p))
    assert count == 1 and "fundus.jpg" in zipfile.ZipFile(path).namelist()[0]
    assert service.zip_of(kept, 0.5, 0.99)[1] == (1 if fundus_p >= 0.99 else 0)  # the ZIP slider
    assert service.zip_of(kept, 1.0, 0.5)[1] == 0  # strictness above every probability: nothing is medical
    csv_text = open(service.csv_of(kept, 0.5)).read()
    assert "fundus.jpg" in csv_text and "ophthalmology" in csv_text


def test_stop_ends_a_scan_at_the_next_image_and_keeps_what_was_judged(service, tmp_path, cat):
    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.jpg")
        paths[-1].write_bytes(encode(cat, "JPEG"))
    stop = threading.Event()
    stop.set()
    report = service.classify_images(paths, stop=stop)
    assert len(report.rows) == 0
    assert any(n.startswith("stopped after 0 images") for n in report.notes)
    assert len(service.classify_images(paths, stop=threading.Event()).rows) == 6
