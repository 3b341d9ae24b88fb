"""An extraction call of several targets, without Ray: they run at once on the actor's threads,
rows leave as they come (a slow page never holds back the others), and every target ends with
an end row that counts its image rows."""

from __future__ import annotations

import json
from collections import defaultdict

import pyarrow as pa

from medpic.batch.engine import targets_per_call
from medpic.batch.extract import Extractor
from medpic.batch.rows import END, IMAGE
from medpic.settings import Settings, origin_of
from tests.batch.batch_site import build_site


def test_one_call_runs_its_targets_at_once_and_a_slow_page_holds_back_no_other():
    slow = build_site(pages=1, pdfs=0, images=0, delay=2.0)
    fast = build_site(pages=0, pdfs=1, images=4)
    slow.routes.update({k: v for k, v in fast.routes.items() if k not in slow.routes})
    with slow.serve() as server:
        targets = [server.url + p for p in [*slow.pages, *fast.pdfs, *fast.images, "/missing.png"]]
        settings = Settings(allowed_origins=frozenset({origin_of(server.url)}), batch_targets_per_worker=4)
        extractor = Extractor(settings=settings, use_browser=False, base_dir=".", input_size=224, rows_per_table=1)
        batch = pa.table({"target": targets, "seq": list(range(len(targets)))})
        rows = [row for table in extractor(batch) for row in table.to_pylist()]
    ends = [row["target"] for row in rows if row["kind"] == END]
    assert ends[-1] == targets[0]  # the slow page ends last, though it came first
    assert sorted(ends) == sorted(targets)
    images = defaultdict(int)
    for row in rows:
        images[row["target"]] += row["kind"] == IMAGE
    for row in rows:
        if row["kind"] == END:
            assert json.loads(row["fields"])["count"] == images[row["target"]]
    assert images[targets[0]] == 3 and images[targets[1]] == 2  # the page's 3 pictures, the PDF's 2


def test_calls_carry_several_targets_yet_every_worker_gets_some_of_a_short_input():
    assert 4 < targets_per_call(2000, workers=2, targets_per_worker=4) <= 32  # more than a worker runs at once
    assert targets_per_call(10, workers=2, targets_per_worker=4) == 3  # 4 calls: 2 per worker
    assert targets_per_call(1, workers=1, targets_per_worker=4) == 1
