"""An extraction call of several targets, without Ray: they run at once on the actor's threads
(a page that hangs holds back no other target's extraction), and every target ends with an end
row that counts its image rows."""

from __future__ import annotations

import json
import threading
from collections import defaultdict

import pyarrow as pa

from medpic.batch.engine import calls_of, targets_per_call
from medpic.batch.extract import Extractor
from medpic.batch.rows import END, IMAGE
from medpic.settings import Settings, origin_of
from tests.batch.batch_site import build_site


def test_one_call_runs_its_targets_at_once_and_a_hanging_page_holds_back_no_other():
    site = build_site(pages=1, pdfs=1, images=4)
    release = threading.Event()
    page = site.routes[site.pages[0]]

    def held(handler) -> None:  # answers only once the test has seen every other target end
        release.wait(20)
        page(handler)

    site.routes[site.pages[0]] = held
    with site.serve() as server:
        targets = [server.url + p for p in [*site.pages, *site.pdfs, *site.images, "/missing.png"]]
        settings = Settings(allowed_origins=frozenset({origin_of(server.url)}), batch_targets_per_worker=4)
        extractor = Extractor(settings=settings, use_browser=False, base_dir=".", input_size=224, rows_per_table=1)
        rows, ended = [], []
        call = pa.table({"targets": [targets[:3], targets[3:]], "seqs": [[0, 1, 2], list(range(3, len(targets)))]})
        for table in extractor(call):  # a block of two calls is one call of their targets
            for row in table.to_pylist():
                rows.append(row)
                if row["kind"] == END:
                    ended.append(row["target"])
                    if set(ended) == set(targets[1:]):
                        release.set()
    assert ended[-1] == targets[0]  # the held page ends last, though it came first
    assert sorted(ended) == sorted(targets)
    images = defaultdict(int)
    for row in rows:
        images[row["target"]] += row["kind"] == IMAGE
    for row in rows:
        if row["kind"] == END:
            assert json.loads(row["fields"])["count"] == images[row["target"]]
    assert images[targets[0]] == 3 and images[targets[1]] == 2  # the page's 3 pictures, the PDF's 2


def test_calls_carry_several_targets_yet_every_worker_gets_some_of_a_short_input():
    assert 4 < targets_per_call(2000, workers=2, targets_per_worker=4) <= 32  # more than a worker runs at once
    assert targets_per_call(10, workers=2, targets_per_worker=4) == 3  # about 2 calls per worker
    assert targets_per_call(1, workers=1, targets_per_worker=4) == 1


def test_local_pictures_travel_in_larger_calls_than_urls_and_every_call_keeps_its_place():
    urls = [f"https://site{i % 3}.example/page{i}.html" for i in range(300)]
    files = [f"/data/scans/{i}.PNG" for i in range(600)] + ["/data/report.pdf"]
    pending = list(enumerate([target for pair in zip(urls + files[:300], files[300:600] + urls) for target in pair]
                             + files[600:]))
    calls = calls_of(pending, workers=2, targets_per_worker=4)
    assert sorted(pair for call in calls for pair in call) == sorted(pending)  # each target once
    sizes = {kind: {len(c) for c in calls if all(("://" in t) == (kind == "url") for _, t in c)}
             for kind in ("url", "file")}
    assert max(sizes["url"]) == targets_per_call(301, workers=2, targets_per_worker=4) == 8
    assert max(sizes["file"]) == 64 > 8  # a picture file's extraction is a read: it waits on nothing
    assert [call[0][0] for call in calls] == sorted(call[0][0] for call in calls)  # in the order they came
    assert any(t == "/data/report.pdf" for c in calls if len(c) <= 8 for _, t in c)  # a PDF is read, not a picture
    assert calls_of(pending[:3], workers=2, targets_per_worker=4) == [[pending[0]], [pending[1]], [pending[2]]]
