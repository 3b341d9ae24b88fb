"""How verdicts are said to people: pure functions, no server."""

import datetime as dt

import pytest

from medpic.app.present import caption, download_stem, percent, plural, verdict, web_address
from medpic.report import ReportRow


def row(**kw):
    return ReportRow(**{"source": "https://x.org/a", "image": "https://x.org/img/ct-scan.png", "status": "ok", **kw})


@pytest.mark.parametrize("p,text", [(0.9996, ">99%"), (0.99, "99%"), (0.5, "50%"), (0.004, "<1%"), (0.01, "1%")])
def test_percentages_never_claim_certainty(p, text):
    assert percent(p) == text


def test_verdicts_say_medical_not_medical_uncertain_or_why_not():
    assert verdict(row(label="medical", p_medical=0.9996, confidence=0.9996)) == "Medical >99%"
    assert verdict(row(label="non-medical", p_medical=0.12, confidence=0.88)) == "Not medical 88%"
    assert verdict(row(label="medical", p_medical=0.55, confidence=0.55)) == "Uncertain (55% medical)"
    assert verdict(row(status="error", reason="corrupt")) == "Could not be read"
    assert verdict(row(status="skipped", reason="too small")) == "Skipped"


def test_captions_a_reader_recognises():
    assert caption(row(alt="  Axial CT,\n  contrast ")) == "Axial CT, contrast"
    assert caption(row(alt="Axial CT of the chest")) == "Axial CT of the chest"
    assert caption(row()) == "ct-scan.png"
    assert caption(row(image="page-4/xref-29", page=4, alt="Fig. 2 MRI")) == "p. 4, Fig. 2 MRI"
    assert caption(row(image="page-4/xref-29", page=4)) == "p. 4"
    assert caption(row(image="data:image/png;base64,AAAA")) == "an image embedded in the page"
    assert len(caption(row(alt="x" * 200))) == 60


def test_plurals():
    assert [plural(n, "image") for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]


def test_download_names_carry_the_source_and_the_day():
    day = dt.date(2026, 11, 27)
    assert download_stem("https://www.example.org/page?x=1", today=day) == "medpic-www.example.org-2026-11-27"
    assert download_stem("paper final.pdf", today=day) == "medpic-paper-final-2026-11-27"
    assert download_stem("upload", today=day) == "medpic-upload-2026-11-27"


@pytest.mark.parametrize("text,url", [("example.org/page", "https://example.org/page"),
                                      ("https://x.org", "https://x.org"), ("www.nih.gov", "https://www.nih.gov"),
                                      ("hello there", None), ("scan.png", None)])
def test_addresses_without_a_scheme_get_https(text, url):
    assert web_address(text) == url
