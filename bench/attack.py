"""Hostile inputs against the command line: time and peak memory (a benchmark, not a test).

Cases (issue 10), each run as a fresh `python -m medpic` process so its peak RSS is its own:
- slow headers: a server that sends a status line, then one header byte every 0.2 s, forever;
  `medpic scan URL` with MEDPIC_FETCH_TIMEOUT=5 must end soon after 5 s;
- big pictures: 24 PNGs of 7000x7000 (a few MB in all) through `medpic classify`;
- a PDF holding 30 such pictures through `medpic scan`;
- a fetch flood: the app in its own process, 20 callers at once asking `classify_urls` for 6 of
  those pictures each (served on 127.0.0.1); the calls answered and refused, the app's memory
  left behind once they are answered, and its peak.

`--repo DIR` runs another checkout's package (e.g. the commit before a fix) with this venv, so
before and after are measured on the same machine in one go:

    .venv/bin/python bench/attack.py --repo /tmp/before --repo .
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.localserver import LocalServer, drip_headers  # noqa: E402

LIMIT_S = 60


def big_pngs(folder: Path, count: int, side: int) -> list[Path]:
    """Large, cheap to store: flat colour with a little structure, so PNG compresses them well."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        small = (rng.integers(0, 255, (side // 500, side // 500, 3))).astype(np.uint8)
        image = Image.fromarray(small).resize((side, side), Image.Resampling.NEAREST)
        path = folder / f"big-{i:02d}.png"
        image.save(path, optimize=True)
        paths.append(path)
    return paths


def pdf_of(images: list[Path], out: Path) -> Path:
    import pymupdf

    doc = pymupdf.open()
    for image in images:
        page = doc.new_page(width=600, height=600)
        page.insert_image(page.rect, filename=str(image))
    doc.save(out, deflate=True)
    return out


def run(repo: Path, args: list[str], env: dict[str, str]) -> dict:
    """One `python -m medpic` process: wall time, peak RSS, exit code (or 'killed at the limit')."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "medpic", *args], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(repo), **env})
    deadline = started + LIMIT_S
    killed = False
    while True:  # wait4, not poll: the child's own rusage (peak RSS) comes with its exit status
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline and not killed:
            proc.kill()
            killed = True
        time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace").strip().splitlines()
    return {"seconds": round(time.monotonic() - started, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "exit": "killed at the limit" if killed else os.waitstatus_to_exitcode(status),
            "last_line": stderr[-1][:160] if stderr else ""}


APP = """
import sys
from medpic.app import build_app
from medpic.settings import Settings
demo = build_app(Settings(allow_private=True))
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
"""


def _call(app: str, urls: list[str]) -> str:
    import urllib.request

    request = urllib.request.Request(f"{app}/gradio_api/call/classify_urls", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"data": [urls, "", None]}).encode())
    try:
        event_id = json.loads(urllib.request.urlopen(request, timeout=120).read())["event_id"]
        stream = urllib.request.urlopen(f"{app}/gradio_api/call/classify_urls/{event_id}", timeout=300).read()
    except OSError as exc:
        return f"refused: {exc}"
    return "answered" if b"event: complete" in stream else "refused"


def _rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def flood(repo: Path, image_urls: list[str], callers: int = 20) -> dict:
    """The app under ``callers`` simultaneous classify_urls calls: answered/refused, memory after, peak."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.localserver import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", APP, str(port)], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(repo)})
    app = f"http://127.0.0.1:{port}"
    try:
        _wait_for(app)
        started = time.monotonic()
        with ThreadPoolExecutor(callers) as pool:
            outcomes = list(pool.map(lambda k: _call(app, image_urls[k % 4:][:6]), range(callers)))
        seconds = time.monotonic() - started
        time.sleep(2)
        after = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        _, _, usage = os.wait4(proc.pid, 0)
    return {"seconds": round(seconds, 1), "answered": outcomes.count("answered"),
            "refused": len(outcomes) - outcomes.count("answered"), "rss_after_mb": after,
            "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def _wait_for(app: str, timeout_s: float = 90) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(app, timeout=5).read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app at {app} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", type=Path, help="checkout(s) to measure (default: this one)")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # internal: build the inputs in DIR
    args = parser.parse_args()
    if args.make:
        pdf_of(big_pngs(args.make, args.count, args.side)[:30], args.make.parent / "big.pdf")
        return
    repos = args.repo or [Path(__file__).resolve().parent.parent]
    results = {}
    routes = {"/slow": drip_headers}
    with tempfile.TemporaryDirectory() as tmp, LocalServer(routes) as server:
        folder = Path(tmp) / "big"
        folder.mkdir()
        # built by another process: a child's peak RSS starts from its parent's size at fork
        subprocess.run([sys.executable, __file__, "--make", str(folder), "--count", str(args.count),
                        "--side", str(args.side)], check=True)
        images, pdf = sorted(folder.glob("*.png")), Path(tmp) / "big.pdf"
        for image in images[:10]:
            routes[f"/{image.name}"] = (200, {"Content-Type": "image/png"}, image.read_bytes())
        image_urls = [f"{server.url}/{image.name}" for image in images[:10]]
        sizes = {"pngs_mb": round(sum(p.stat().st_size for p in images) / 2**20, 1),
                 "pdf_mb": round(pdf.stat().st_size / 2**20, 1)}
        for repo in repos:
            repo = repo.resolve()
            results[str(repo)] = {
                "slow_headers": run(repo, ["scan", server.url + "/slow", "--allow-private", "--no-browser"],
                                    {"MEDPIC_FETCH_TIMEOUT": "5"}),
                "big_pngs_classify": run(repo, ["classify", str(folder), "--csv", str(Path(tmp) / "c.csv")], {}),
                "big_pdf_scan": run(repo, ["scan", str(pdf), "--csv", str(Path(tmp) / "p.csv")], {}),
                "fetch_flood_app": flood(repo, image_urls),
            }
    print(json.dumps({"inputs": {"pictures": args.count, "side": args.side, **sizes}, "results": results}, indent=2))


if __name__ == "__main__":
    main()
