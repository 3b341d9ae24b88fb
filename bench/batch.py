"""`medpic batch` speed, scaling and memory (a benchmark, not a test). Run:

    .venv/bin/python bench/batch.py            # 200 targets, ~2,300 images, 6 configurations
    .venv/bin/python bench/batch.py --small    # 60 targets, for a quick look
    .venv/bin/python bench/batch.py --targets 800 --configs 2x1,2x2 --marginal   # the rate once started
    .venv/bin/python bench/batch.py --small --browser --configs 1x1,2x1   # pages rendered in Chromium
    .venv/bin/python bench/batch.py --files --configs 1x1,2x1   # the same pictures as local files

A local site answers every request after `--latency` seconds (default 0.03: a remote site's round
trip) with 200 targets: pages of 10-30 images (JPEG, 256 px), PDFs of 2-6 images, and image URLs.
Each configuration (1, 2, 4 extraction workers x 1, 2 model replicas) runs as its own
`python -m medpic batch --no-browser` process (`--browser`: pages rendered, one Chromium per
extraction worker) with an embedded Ray, and reports:
- targets/s and images/s end to end (Ray's start, actors' start and model loads included) and in
  the steady state (from the first commit to the last, read from the shards' times; an extraction
  call's rows leave together, so on short runs commits bunch and this overstates: use --targets 800);
- peak memory: the largest sum of PSS (shared pages counted once) over every process of the job
  (driver, Ray's daemons, workers), sampled every 0.2 s;
- CPU milliseconds per image by role (extraction actors, decoding tasks, model replicas, the
  driver, and "other": Ray's daemons and Chromium), read from /proc with the same samples: where the
  cores go;
- with `--marginal`, the rate once started: each configuration also runs on a quarter of the
  targets, and the extra images over the extra seconds leave start-up out (so does the extra CPU
  by role over the extra images);
- the speed-up from 1 to 2 extraction workers;
- `medpic classify`'s code path on the same pictures, as files, in this process, and the ratio.

The site runs in this process, on the same cores as the job: its CPU per image is reported as a
role of its own, since a real site's would be on other machines. With `--files` the job's targets
are the pictures themselves (one file each), the input `medpic classify` gets, and the ratio
measures what the batch machinery costs over it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medpic.model.classifier import Classifier  # noqa: E402
from medpic.scan import JudgeOptions, scan  # noqa: E402
from medpic.settings import Settings  # noqa: E402
from medpic.sources.files import InputFile  # noqa: E402
from medpic.sources.targets import open_image_files  # noqa: E402
from tests.batch.batch_site import pictures  # noqa: E402
from tests.localserver import LocalServer  # noqa: E402
from tests.pdf_fixtures import pdf_with_images  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONFIGS = [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2)]


def _delayed(ctype: str, body: bytes, latency: float):
    def handler(h) -> None:
        time.sleep(latency)
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def build(targets: int, latency: float, folder: Path) -> tuple[dict, list[str]]:
    """Routes and target paths; every picture is also written to ``folder`` for the classify baseline."""
    rng = random.Random(0)
    pages, pdfs = targets // 2, targets // 4
    counts = [rng.randint(10, 30) for _ in range(pages)] + [rng.randint(2, 6) for _ in range(pdfs)]
    pics = iter(pictures(sum(counts) + targets - pages - pdfs, side=256))
    routes, paths, n = {}, [], 0

    def keep(image, fmt: str) -> bytes:
        nonlocal n
        buf = io.BytesIO()
        image.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        (folder / f"{n:05d}.{fmt.lower()}").write_bytes(buf.getvalue())
        n += 1
        return buf.getvalue()

    for p, count in enumerate(counts[:pages]):
        tags = []
        for i in range(count):
            routes[f"/img/{p}-{i}.jpg"] = _delayed("image/jpeg", keep(next(pics), "JPEG"), latency)
            tags.append(f'<img src="/img/{p}-{i}.jpg" alt="figure {i}">')
        routes[f"/page{p}.html"] = _delayed("text/html", f"<html><body>{''.join(tags)}</body></html>".encode(), latency)
        paths.append(f"/page{p}.html")
    for d, count in enumerate(counts[pages:]):
        images = [next(pics) for _ in range(count)]
        for image in images:
            keep(image, "PNG")
        routes[f"/doc{d}.pdf"] = _delayed("application/pdf", pdf_with_images(images), latency)
        paths.append(f"/doc{d}.pdf")
    for i in range(targets - pages - pdfs):
        routes[f"/pic{i}.png"] = _delayed("image/png", keep(next(pics), "PNG"), latency)
        paths.append(f"/pic{i}.png")
    return routes, paths


# A Ray worker is named ray::IDLE until it runs something; one that becomes an actor keeps that role.
_ROLES = (("Extractor", "extraction"), ("ClassifyActor", "model"), ("decode_rows", "decoding"),
          ("medpic batch", "driver"), ("ray::IDLE", "ray workers (idle, decoding tasks)"))
_TICK = os.sysconf("SC_CLK_TCK")


def _sample(sid: int, cpu: dict[int, tuple[str, float]]) -> int:
    """PSS of every process in session ``sid`` (the job and the Ray it started); each one's CPU
    seconds so far go into ``cpu`` by pid, with its role (the first one its name shows)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[3]) != sid:
                continue
            name = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            role = cpu.get(int(entry.name), ("", 0.0))[0]
            if not role or role == _ROLES[-1][1]:
                role = next((r for k, r in _ROLES if k in name), role)
            cpu[int(entry.name)] = (role, (int(stat[11]) + int(stat[12])) / _TICK)
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def _cpu_ms_per_image(cpu: dict[int, tuple[str, float]], images: int) -> dict[str, float]:
    roles: dict[str, float] = {}
    for role, seconds in cpu.values():
        roles[role or "other"] = roles.get(role or "other", 0.0) + seconds
    return {role: round(1000 * s / max(1, images), 2) for role, s in sorted(roles.items())}


def _own_cpu_s() -> float:
    """CPU seconds this process has used in all its threads but the calling one: the local site's
    server threads, when the caller is the sampling loop."""
    t = os.times()
    return t.user + t.system - time.thread_time()


def run_config(listing: Path, url: str, workers: int, replicas: int, work: Path, *, browser: bool) -> dict:
    out = work / f"out-{workers}-{replicas}"
    shutil.rmtree(out, ignore_errors=True)
    targets = len(listing.read_text(encoding="utf-8").split())
    env = dict(os.environ, MEDPIC_ALLOWED_ORIGINS=url, RAY_TMPDIR=str(work / "ray"), TF_CPP_MIN_LOG_LEVEL="2",
               MEDPIC_BATCH_COMMIT_TARGETS=str(max(5, targets // 40)))  # about 40 commits: enough to time
    started, started_at = time.monotonic(), time.time()
    job = subprocess.Popen([sys.executable, "-m", "medpic", "batch", str(listing), "--out", str(out),
                            "--extract-workers", str(workers), "--model-replicas", str(replicas)]
                           + ([] if browser else ["--no-browser"]),
                           cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, cpu, site = 0, {}, _own_cpu_s()
    while job.poll() is None:
        peak = max(peak, _sample(job.pid, cpu))
        time.sleep(0.2)
    wall = time.monotonic() - started
    cpu[-1] = ("site (the local server, same cores)", _own_cpu_s() - site)
    if job.returncode != 0:
        raise SystemExit(job.stderr.read().decode()[-3000:])
    summary = json.loads((out / "summary.json").read_text())
    return dict(workers=workers, replicas=replicas, wall_s=round(wall, 1), targets=summary["targets"],
                images=summary["images"], targets_per_s=round(summary["targets"] / wall, 2),
                images_per_s=round(summary["images"] / wall, 1), **_steady(out, started_at), peak_mb=round(peak / 1024),
                cpu_ms_per_image=_cpu_ms_per_image(cpu, summary["images"]))


def _steady(out: Path, started_at: float) -> dict:
    """Start-up (to the first commit) and images/s from the first commit to the last."""
    commits = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    times = [(out / "results" / c["shard"]).stat().st_mtime for c in commits]
    images = [sum(t["images"] for t in c["targets"]) for c in commits]
    span = max(times) - min(times)
    return dict(startup_s=round(min(times) - started_at, 1),
                steady_images_per_s=round(sum(images[1:]) / span, 1) if span > 0 else None)


def _marginal(full: dict, short: dict) -> dict:
    """The rate once started, and the CPU each extra image cost by role: start-up (Ray, imports,
    model loads) is in both runs, so the difference leaves it out."""
    extra_s, extra_images = full["wall_s"] - short["wall_s"], full["images"] - short["images"]
    if extra_s <= 0 or extra_images <= 0:
        return dict(marginal_images_per_s=None)
    cpu = {role: round((full["cpu_ms_per_image"].get(role, 0.0) * full["images"]
                        - short["cpu_ms_per_image"].get(role, 0.0) * short["images"]) / extra_images, 2)
           for role in full["cpu_ms_per_image"]}
    return dict(marginal_images_per_s=round(extra_images / extra_s, 1), marginal_cpu_ms_per_image=cpu)


def classify_baseline(folder: Path) -> float:
    """Images/s of `medpic classify`'s code path on the same pictures (model loaded beforehand)."""
    settings = Settings.from_env()
    classifier = Classifier.load(settings)
    files = [InputFile("bench", str(p)) for p in sorted(folder.iterdir())]
    options = JudgeOptions.from_settings(settings)
    scan(open_image_files(files[:32], settings=settings), classifier, options)  # warm-up
    started = time.perf_counter()
    rows = scan(open_image_files(files, settings=settings), classifier, options).rows
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="60 targets instead of 200")
    parser.add_argument("--targets", type=int, help="this many targets (a longer steady state than 200 gives)")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds before the site answers a request")
    parser.add_argument("--browser", action="store_true", help="render pages in Chromium (default: parse HTML)")
    parser.add_argument("--files", action="store_true",
                        help="the job's targets are the pictures themselves, as local files: the same input "
                             "`medpic classify` gets, so the ratio is what the batch machinery costs")
    parser.add_argument("--marginal", action="store_true",
                        help="also run each configuration on a quarter of the targets: the extra images over the "
                             "extra seconds is the rate once started, start-up and bunched commits left out")
    parser.add_argument("--configs", default=",".join(f"{w}x{r}" for w, r in CONFIGS),
                        help="WORKERSxREPLICAS,... (default: %(default)s)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mpbench", dir="/tmp"))  # short: Ray's socket paths live under it
    try:
        report = measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


def measure(args: argparse.Namespace, work: Path) -> dict:
    (work / "pictures").mkdir()
    routes, paths = build(args.targets or (60 if args.small else 200), args.latency, work / "pictures")
    baseline = classify_baseline(work / "pictures")
    results = []
    with LocalServer(routes) as server:
        listing = work / "targets.txt"
        targets = sorted(map(str, (work / "pictures").iterdir())) if args.files else [server.url + p for p in paths]
        listing.write_text("\n".join(targets) + "\n", encoding="utf-8")
        quarter = work / "quarter.txt"  # a seeded quarter of the targets, for the marginal rate
        if args.marginal:
            quarter.write_text("\n".join(random.Random(0).sample(targets, max(1, len(targets) // 4))) + "\n",
                               encoding="utf-8")
        for workers, replicas in (tuple(map(int, c.split("x"))) for c in args.configs.split(",")):
            results.append(run_config(listing, server.url, workers, replicas, work, browser=args.browser))
            if args.marginal:
                short = run_config(quarter, server.url, workers, replicas, work, browser=args.browser)
                results[-1].update(_marginal(results[-1], short))
            print(json.dumps(results[-1]), file=sys.stderr)
    by = {(r["workers"], r["replicas"]): r for r in results}
    best = max(r["steady_images_per_s"] or 0 for r in results)
    speedup = round(by[1, 1]["wall_s"] / by[2, 1]["wall_s"], 2) if (1, 1) in by and (2, 1) in by else None
    report = dict(targets=len(targets), pictures=len(list((work / "pictures").iterdir())), latency_s=args.latency,
                  browser=args.browser, files=args.files, cpus=os.cpu_count(), runs=results, speedup_1_to_2_workers=speedup,
                  classify_images_per_s=round(baseline, 1),
                  best_steady_vs_classify=round(best / baseline, 2),
                  best_end_to_end_vs_classify=round(max(r["images_per_s"] for r in results) / baseline, 2))
    return report


if __name__ == "__main__":
    main()
