"""``--ray-address``: a job joins a Ray head started apart (``ray start --head``), not only the
Ray it would start itself. Everything stays on 127.0.0.1; the head is stopped by its own pids."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.batch.batch_site import build_site
from tests.localserver import free_port

REPO = Path(__file__).resolve().parents[2]


def _pids_using(folder: str) -> list[int]:
    """Processes whose command line names ``folder``: the head's GCS, raylet, workers and helpers."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if folder.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _stop(folder: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _pids_using(folder):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while _pids_using(folder) and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture
def ray_head():
    """A Ray head in processes of its own, 2 CPUs, token authentication off on both sides."""
    folder = tempfile.mkdtemp(prefix="mphead", dir="/tmp")
    port = free_port()
    env = dict(os.environ, RAY_TMPDIR=folder, RAY_AUTH_MODE="disabled")
    ray = Path(sys.executable).with_name("ray")
    try:
        subprocess.run([str(ray), "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
                        "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats"],
                       env=env, check=True, timeout=120, capture_output=True)
        yield f"127.0.0.1:{port}", folder
    finally:
        _stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_job_runs_on_a_ray_head_started_apart(ray_head, tmp_path):
    address, folder = ray_head
    site = build_site(pages=2, pdfs=2, images=2)
    with site.serve() as server:
        targets = [server.url + p for p in site.pages + site.pdfs + site.images]
        listing = tmp_path / "targets.txt"
        listing.write_text("\n".join(targets) + "\n", encoding="utf-8")
        out = tmp_path / "job"
        env = dict(os.environ, MEDPIC_ALLOWED_ORIGINS=server.url, RAY_AUTH_MODE="disabled")
        env.pop("RAY_TMPDIR", None)
        job = subprocess.run([sys.executable, "-m", "medpic", "batch", str(listing), "--out", str(out),
                              "--ray-address", address, "--no-browser"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert job.returncode == 0, job.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ray"] == address and summary["done"] == len(targets)
    assert len(pq.read_table(out / "results").to_pylist()) == 2 * 3 + 2 * 2 + 2
    workers = list(Path(folder).glob("ray/session_*/logs/worker-*"))
    assert workers, "the job's actors ran on the head's node"


def test_an_address_where_no_ray_listens_is_a_usage_error_at_once(tmp_path, capsys):
    from medpic.cli import main

    listing = tmp_path / "targets.txt"
    listing.write_text("paper.pdf\n", encoding="utf-8")
    started = time.monotonic()
    assert main(["batch", str(listing), "--out", str(tmp_path / "job"), "--ray-address", f"127.0.0.1:{free_port()}"]) == 2
    assert time.monotonic() - started < 15  # Ray alone would retry for minutes
    assert "could not join the Ray cluster" in capsys.readouterr().err
