"""Load on the Gradio app (a benchmark, not a test). Run: .venv/bin/python bench/load_app.py

Starts `python app.py` as a server (bundled model, guard on with the local test site's origin
exempt), measures cold start to the first answer, then runs 20 concurrent gradio_client clients
for 60 s, each alternating `classify_images` (two uploads) and `scan_url` (the local test site's
gallery page). Reports failed requests, p50/p95 latency per endpoint, requests per second and the
server's peak RSS (the Python process, and with its Chromium children).
Issue 5's goals: zero failures, RSS <= 1.5 GB, cold start <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.localserver import free_port  # noqa: E402
from tests.site import serve_site  # noqa: E402



def rss_mb(pid: int, *, children: bool) -> float:
    pids = [pid]
    if children:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        queue = [int(p) for p in out.split()]
        while queue:
            child = queue.pop()
            pids.append(child)
            more = subprocess.run(["ps", "-o", "pid=", "--ppid", str(child)], capture_output=True, text=True).stdout
            queue += [int(p) for p in more.split()]
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    with serve_site() as site:
        port = free_port()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
               "MEDPIC_ALLOWED_ORIGINS": site.url, "GRADIO_ANALYTICS_ENABLED": "False"}
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        images = [handle_file(str(ROOT / "examples" / n)) for n in ("fundus-retina.jpg", "cat.jpg")]
        try:
            while True:
                try:
                    first = Client(url, verbose=False)
                    first.predict(images, None, api_name="/classify_images")
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    if time.perf_counter() - started > 120:
                        raise
                    time.sleep(0.25)
            cold_start = time.perf_counter() - started

            latencies: dict[str, list[float]] = {"classify_images": [], "scan_url": []}
            failures: list[str] = []
            peak = {"python": 0.0, "with_chromium": 0.0}
            stop = time.perf_counter() + args.seconds
            lock = threading.Lock()

            def client_loop(n: int) -> None:
                client = Client(url, verbose=False)
                k = n
                while time.perf_counter() < stop:
                    name = "classify_images" if k % 2 == 0 else "scan_url"
                    k += 1
                    t0 = time.perf_counter()
                    try:
                        if name == "classify_images":
                            report, _ = client.predict(images, None, api_name="/classify_images")
                            assert report["summary"]["ok"] == 2
                        else:
                            report, _ = client.predict(site.url + "/gallery.html", None, api_name="/scan_url")
                            assert report["summary"]["found"] >= 15, report["summary"]
                        with lock:
                            latencies[name].append(time.perf_counter() - t0)
                    except Exception as exc:  # noqa: BLE001 - counted and reported
                        with lock:
                            failures.append(f"{name}: {type(exc).__name__}: {exc}"[:200])

            def watch() -> None:
                while time.perf_counter() < stop + 5:
                    peak["python"] = max(peak["python"], rss_mb(server.pid, children=False))
                    peak["with_chromium"] = max(peak["with_chromium"], rss_mb(server.pid, children=True))
                    time.sleep(1)

            threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
            watcher = threading.Thread(target=watch, daemon=True)
            t0 = time.perf_counter()
            watcher.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
    done = sum(len(v) for v in latencies.values())
    print(json.dumps({
        "clients": args.clients, "seconds": round(elapsed, 1),
        "cold_start_to_first_answer_s": round(cold_start, 2),
        "requests_ok": done, "requests_failed": len(failures), "failures": failures[:5],
        "requests_per_s": round(done / elapsed, 2),
        "latency_s": {k: {"n": len(v), "p50": round(percentile(v, 0.5), 2), "p95": round(percentile(v, 0.95), 2)}
                      for k, v in latencies.items()},
        "peak_rss_mb": {k: round(v) for k, v in peak.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
