"""``medpic batch`` on a local site: the same rows as ``medpic scan``, failures as rows, saving,
resuming (after a failure, and after SIGKILL), the CLI. One local Ray serves the module."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medpic.batch import run
from medpic.cli import main
from medpic.errors import InvalidInput
from medpic.model.classifier import Classifier
from medpic.net.fetch import Fetcher
from medpic.sources.targets import is_image_url
from medpic.report import SCAN_COLUMNS, write_csv
from medpic.scan import JudgeOptions, scan
from medpic.settings import Settings, origin_of
from medpic.sources.targets import open_image_urls
from tests.batch.batch_site import build_site, csv_by_target, pictures, same_rows
from tests.site import routes as gallery_routes

REPO = Path(__file__).resolve().parents[2]
# Ray Data's own settings warn about their renames when a job starts: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning:ray.data.context")
REFUSED = "http://127.0.0.1:9/private.html"  # loopback, outside the allowed origin: the guard says no


@pytest.fixture(scope="module")
def mixed():
    """Pages, PDFs, image URLs, the gallery of the scan tests, a 404 page and image, a corrupt PDF."""
    site = build_site(pages=3, pdfs=2, images=2)
    site.routes.update(gallery_routes())
    with site.serve() as server:
        paths = ["/gallery.html", *site.pages, *site.pdfs, *site.images, *site.failures]
        server.targets = [server.url + p for p in paths] + [REFUSED]
        server.site = site
        yield server


def settings_for(server, **changes) -> Settings:
    return Settings(allowed_origins=frozenset({origin_of(server.url)}), **changes)


def scan_csv(target: str, tmp_path: Path, monkeypatch, server) -> list[dict[str, str]]:
    """``medpic scan TARGET --csv --no-browser`` with the site's origin allowed."""
    monkeypatch.setenv("MEDPIC_ALLOWED_ORIGINS", server.url)
    out = tmp_path / "scan.csv"
    assert main(["scan", target, "--csv", str(out), "--no-browser"]) in (0, 3)
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def image_csv(url: str, tmp_path: Path, server) -> list[dict[str, str]]:
    """An image URL as the app's ``classify_urls`` judges it (``medpic scan`` takes pages and PDFs)."""
    s = settings_for(server)
    report = scan(open_image_urls([url], settings=s, fetcher=Fetcher(s.net_policy()), page_url=url),
                  Classifier.load(s), JudgeOptions.from_settings(s))
    write_csv(report.rows, tmp_path / "image.csv", columns=SCAN_COLUMNS)
    with open(tmp_path / "image.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_mixed_job_has_the_rows_medpic_scan_has_target_by_target(local_ray, mixed, tmp_path, monkeypatch):
    out, export = tmp_path / "job", tmp_path / "all.csv"
    summary = run(mixed.targets, out, settings_for(mixed), use_browser=False, csv=export)
    batch = csv_by_target(export)
    assert set(batch) == set(mixed.targets)
    for target in mixed.targets:
        expected = image_csv(target, tmp_path, mixed) if is_image_url(target) else \
            scan_csv(target, tmp_path, monkeypatch, mixed)
        assert same_rows(expected, batch[target]), target
    shards = sorted((out / "results").glob("*.parquet"))
    assert shards and all(tuple(pq.read_schema(p).names) == SCAN_COLUMNS + ("target",) for p in shards)
    assert summary["csv_rows"] == sum(len(rows) for rows in batch.values())

    targets = {r["target"]: r for r in pq.read_table(out / "targets.parquet").to_pylist()}
    assert list(targets) == mixed.targets
    failed = {t: r["reason"] for t, r in targets.items() if r["status"] == "error"}
    assert set(failed) == {mixed.url + p for p in mixed.site.failures} | {REFUSED}
    assert "HTTP 404" in failed[mixed.url + "/missing.html"] and "HTTP 404" in failed[mixed.url + "/missing.png"]
    assert "damaged PDF" in failed[mixed.url + "/corrupt.pdf"] and "private or internal" in failed[REFUSED]
    assert targets[mixed.url + "/gallery.html"]["images"] == len(batch[mixed.url + "/gallery.html"])
    assert targets[mixed.url + "/missing.html"]["images"] == 0 and targets[mixed.url + "/missing.png"]["images"] == 1
    assert json.loads((out / "summary.json").read_text()) == {k: v for k, v in summary.items() if k != "csv_rows"}
    assert summary["done"] == len(mixed.targets) - 4 and summary["failed"] == 4 and summary["unfinished"] == 0
    assert summary["medical"] == sum(r["medical"] for r in targets.values())
    assert summary["this_run"]["decoding"] == "replicas"  # "auto" on a one-node Ray


def test_decoding_in_tasks_of_its_own_gives_the_rows_decoding_in_the_replicas_gives(local_ray, mixed, tmp_path):
    """A cluster's placement (a stage of decoding tasks) and one machine's (the replicas decode)
    run the same code: every row is the same, a picture's reason and size included."""
    targets = [mixed.url + p for p in ["/gallery.html", *mixed.site.pdfs, *mixed.site.images, "/missing.png"]]
    rows = {}
    for where in ("tasks", "replicas"):
        export = tmp_path / f"{where}.csv"
        summary = run(targets, tmp_path / where, settings_for(mixed, batch_decode=where), use_browser=False, csv=export)
        assert summary["this_run"]["decoding"] == where
        rows[where] = csv_by_target(export)
    assert set(rows["tasks"]) == set(targets)
    for target in targets:
        assert same_rows(rows["tasks"][target], rows["replicas"][target]), target
    statuses = Counter(r["status"] for found in rows["tasks"].values() for r in found)
    assert statuses["ok"] >= 10 and statuses["error"] >= 1 and statuses["skipped"] >= 1  # decoded, failed, too small


def test_pages_are_rendered_by_the_extraction_actors_chromium_as_scan_renders_them(local_ray, mixed, tmp_path,
                                                                                      monkeypatch):
    target, export = mixed.url + "/gallery.html", tmp_path / "all.csv"
    settings = settings_for(mixed, batch_extract_workers=1)
    run([target], tmp_path / "job", settings, use_browser=True, csv=export)
    rendered = csv_by_target(export)[target]
    seen = {r["image"].removeprefix(mixed.url) for r in rendered}
    assert {"/img/pseudo-ct.png", "/img/chart.svg", "/img/js-cat.jpg"} <= seen  # a stylesheet, an SVG, a script
    monkeypatch.setenv("MEDPIC_ALLOWED_ORIGINS", mixed.url)
    out = tmp_path / "scan.csv"
    assert main(["scan", target, "--csv", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        assert same_rows(list(csv.DictReader(f)), rendered)


def test_confident_medical_images_are_saved_once_under_their_content_hash(local_ray, mixed, tmp_path):
    out = tmp_path / "job"
    targets = [mixed.url + p for p in ["/gallery.html", *mixed.site.pdfs, *mixed.site.images]]
    run(targets, out, settings_for(mixed), use_browser=False, save_medical=True, min_confidence=0.6)
    rows = pq.read_table(out / "results").to_pylist()
    wanted = {r["sha256"] for r in rows if r["status"] == "ok" and r["label"] == "medical" and r["confidence"] >= 0.6}
    saved = {p.name.split(".")[0]: p for p in (out / "images").iterdir()}
    assert wanted and set(saved) == wanted
    for digest, path in saved.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert any(p.suffix == ".png" for p in saved.values()) and any(p.suffix == ".jpg" for p in saved.values())


def test_resume_runs_failed_targets_again_and_never_repeats_done_ones(local_ray, mixed, tmp_path):
    out = tmp_path / "job"
    flaky = "/flaky.html"
    targets = [mixed.url + p for p in [*mixed.site.pages, flaky]]
    first = run(targets, out, settings_for(mixed, batch_commit_targets=1), use_browser=False)
    assert first["failed"] == 1 and first["done"] == len(targets) - 1
    mixed.routes[flaky] = mixed.routes[mixed.site.pages[0]]  # the page is back
    hits = len(mixed.hits)
    with pytest.raises(InvalidInput, match="--resume"):
        run(targets, out, settings_for(mixed), use_browser=False)
    second = run(targets, out, settings_for(mixed), use_browser=False, resume=True)
    assert second["failed"] == 0 and second["done"] == len(targets) and second["this_run"]["targets"] == 1
    assert {h for h in mixed.hits[hits:] if h.endswith(".html")} == {flaky}  # done pages are not fetched again
    rows = pq.read_table(out / "results").to_pylist()
    assert Counter(r["target"] for r in rows) == {t: 3 for t in targets}
    assert all(r["status"] == "ok" for r in rows)


def test_local_picture_files_in_large_calls_get_the_rows_medpic_classify_gives(local_ray, tmp_path):
    """300 local files (calls of up to 64, decoded in the replicas): each row is classify's for the
    same file, a corrupt one and a tiny one included."""
    from medpic.sources.files import InputFile
    from medpic.sources.targets import open_image_files

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, picture in enumerate(pictures(298, side=48)):
        picture.save(folder / f"{i:03d}.{'png' if i % 2 else 'jpg'}")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG after all")
    pictures(1, side=5)[0].save(folder / "tiny.png")
    files = sorted(map(str, folder.iterdir()))
    settings = Settings()
    summary = run(files, tmp_path / "job", settings, use_browser=False, csv=tmp_path / "all.csv")
    assert summary["this_run"]["decoding"] == "replicas" and summary["done"] == 300 and summary["errors"] == 1
    batch = csv_by_target(tmp_path / "all.csv")
    report = scan(open_image_files([InputFile(f, f, ref=f) for f in files], settings=settings),
                  Classifier.load(settings), JudgeOptions.from_settings(settings))
    assert len(report.rows) == len(batch) == 300
    for expected in report.rows:
        row, = batch[expected.source]
        for name in ("status", "reason", "width", "height", "label", "modality", "sha256"):
            assert row[name] == str(expected.as_dict()[name] or ""), (expected.source, name)
        assert abs(float(row["p_medical"] or 0) - (expected.p_medical or 0)) < 1e-3
    assert Counter(r["status"] for found in batch.values() for r in found) == {"ok": 299, "error": 1}


def test_auto_decodes_in_the_replicas_only_when_the_pools_leave_no_cpu_free(local_ray):
    from medpic.batch.engine import decode_in_replicas

    assert decode_in_replicas("auto", pool_cpus=1.5) is True  # 2 CPUs: the replicas hold the cores
    assert decode_in_replicas("auto", pool_cpus=0.5) is False  # a free CPU: decoding tasks use it
    assert decode_in_replicas("tasks", pool_cpus=2) is False and decode_in_replicas("replicas", pool_cpus=0) is True
    with pytest.raises(InvalidInput, match="batch_decode"):
        decode_in_replicas("gpu", pool_cpus=1)


def test_the_cli_reads_a_csv_list_and_exports_one_csv(local_ray, mixed, tmp_path, monkeypatch, capsys):
    listing = tmp_path / "targets.csv"
    listing.write_text("id,target\n1," + mixed.url + mixed.site.pdfs[0] + "\n2," + mixed.url + mixed.site.images[0]
                       + "\n3," + mixed.url + mixed.site.pdfs[0] + "\n", encoding="utf-8")
    monkeypatch.setenv("MEDPIC_ALLOWED_ORIGINS", mixed.url)
    out, export = tmp_path / "job", tmp_path / "all.csv"
    assert main(["batch", str(listing), "--out", str(out), "--no-browser", "--csv", str(export),
                 "--extract-workers", "1", "--targets-per-worker", "2", "--batch-size", "4"]) == 0
    err = capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["extract_workers"], summary["targets_per_worker"], summary["batch_size"]) == (1, 2, 4)
    assert "2 targets: 2 done, 0 failed" in err and f"CSV written to {export}" in err
    assert sum(len(v) for v in csv_by_target(export).values()) == 3  # 2 PDF images + 1 image URL
    assert main(["batch", str(listing), "--out", str(out), "--no-browser"]) == 2
    assert "--resume" in capsys.readouterr().err


# -- killed with SIGKILL, then resumed --------------------------------------------------------


def _committed(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    lines = [json.loads(line) for line in ledger.read_text().splitlines() if line.endswith("}")]
    return sum(len(entry.get("targets", ())) for entry in lines)


def _batch_process(listing: Path, out: Path, server, ray_tmp: str) -> subprocess.Popen:
    # One target at a time per worker: a call's rows leave together, and the test needs commits
    # spread over the job, not bunched at its end, to kill it in the middle.
    env = dict(os.environ, MEDPIC_ALLOWED_ORIGINS=server.url, MEDPIC_BATCH_COMMIT_TARGETS="2", RAY_TMPDIR=ray_tmp,
               MEDPIC_BATCH_TARGETS_PER_WORKER="1")
    return subprocess.Popen([sys.executable, "-m", "medpic", "batch", str(listing), "--out", str(out), "--no-browser",
                             "--resume"], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _result_rows(out: Path) -> Counter:
    return Counter(tuple(sorted(r.items())) for r in pq.read_table(out / "results").to_pylist())


def test_a_job_killed_with_sigkill_and_resumed_equals_a_clean_run(local_ray, tmp_path):
    site = build_site(pages=20, pdfs=20, images=17, delay=0.15)
    ray_tmp = [tempfile.mkdtemp(prefix="mpkill", dir="/tmp") for _ in range(2)]
    try:
        with site.serve() as server:
            targets = [server.url + p for p in site.pages + site.pdfs + site.images + list(site.failures)]
            assert len(targets) == 60
            listing = tmp_path / "targets.txt"
            listing.write_text("# sixty targets\n" + "\n".join(targets) + "\n", encoding="utf-8")
            clean = tmp_path / "clean"
            run(targets, clean, settings_for(server), use_browser=False)

            out = tmp_path / "killed"
            job = _batch_process(listing, out, server, ray_tmp[0])
            deadline = time.monotonic() + 120
            while _committed(out / "ledger.jsonl") < 6 and job.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            os.killpg(job.pid, signal.SIGKILL)  # the driver and the Ray it started
            job.wait()
            killed_at = _committed(out / "ledger.jsonl")
            assert 6 <= killed_at < 60, job.stderr.read().decode()[-2000:]

            resumed = _batch_process(listing, out, server, ray_tmp[1])
            assert resumed.wait(timeout=180) == 0, resumed.stderr.read().decode()[-2000:]
    finally:
        for folder in ray_tmp:
            shutil.rmtree(folder, ignore_errors=True)
    assert _result_rows(out) == _result_rows(clean)  # same rows, none twice, none missing
    assert not list((out / "results").glob("*.tmp"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 57 and summary["failed"] == 3 and summary["this_run"]["targets"] <= 60 - killed_at + 3


# -- an extraction worker dies in the middle of a target ---------------------------------------


def _extraction_actors() -> list[int]:
    """Pids of this machine's extraction actors (Ray names its worker processes after them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"MapBatches(Extractor)" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_an_extraction_worker_killed_mid_target_is_restarted_and_its_targets_run_again(local_ray, tmp_path):
    """SIGKILL to the extraction actors while one of them waits on a page: Ray restarts the actor,
    the task runs again, and the job's rows equal a clean run's, none twice, none missing."""
    site = build_site(pages=6, pdfs=3, images=3)
    requests, stalled = [], threading.Event()
    stall_page = site.routes["/page0.html"]

    def stall_once(h) -> None:  # the first request waits, long enough to be killed while waiting
        requests.append(time.monotonic())
        if len(requests) == 1:
            stalled.set()
            time.sleep(4)
        stall_page(h)

    killed: list[int] = []

    def killer() -> None:
        if stalled.wait(120):
            killed.extend(_extraction_actors())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with site.serve() as server:
        targets = [server.url + p for p in site.pages + site.pdfs + site.images]
        clean = run(targets, tmp_path / "clean", settings_for(server), use_browser=False)
        site.routes["/page0.html"] = stall_once
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        summary = run(targets, tmp_path / "crashed", settings_for(server), use_browser=False)
        thread.join(5)
    assert killed, "no extraction actor was found to kill"
    assert len(requests) >= 2  # the stalled page was asked for again, by the restarted actor
    assert summary["done"] == clean["done"] == len(targets) and summary["unfinished"] == 0
    assert _result_rows(tmp_path / "crashed") == _result_rows(tmp_path / "clean")
