"""Robustness over a folder of hostile files: a standing check (a measurement, not a test).

    .venv/bin/python bench/robustness.py ../shared/corpus [DIR...] [--timeout 60] [--json OUT]

Every file under the folders (recursively; hidden files and README* skipped) is one fresh
`python -m medpic` process, like bench/attack.py, so its peak RSS (os.wait4) is its own: PDFs (`%PDF-`
in the first KiB, or a .pdf name) through `scan FILE --csv`, the rest through `classify FILE --csv`.
This parent imports only the standard library: a child's ru_maxrss starts from the parent's size at fork.

Printed: files, rows, rows per status and reason (specifics replaced by placeholders so that one cause
is one line), tracebacks, timeouts, non-zero exits, stderr lines that are not MedPic's own, the slowest
files, peak RSS, and for PDFs the comparison with poppler's `pdfimages -list`: `image` objects (by
object number, any page; inline ones counted per page) without a row, and rows without an `image`
object (soft masks, stencils, objects pdfimages does not list). MedPic merges pixel-identical objects
into one row, so a missing object "same size as a row" is probably such a merge, not a loss.
Always exits 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OWN_LINE = re.compile(r"^(medpic: |note: |(DEBUG|INFO|WARNING|ERROR|CRITICAL) medpic[.:])"
                      r"|\b\d+ images?: \d+ medical, \d+ non-medical")
ROW_ID = re.compile(r"^page-(\d+)/(xref|inline)-(\d+)$")


def list_files(folders: list[Path]) -> list[Path]:
    """Every file, recursively, in a stable order; the corpus's own README is not an input."""
    files = []
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else [folder]:
            rel = path.relative_to(folder) if folder.is_dir() else Path(path.name)
            if path.is_file() and not any(p.startswith(".") for p in rel.parts) and not path.name.startswith("README"):
                files.append(path)
    return files


def is_pdf(path: Path) -> bool:
    """The bytes decide, as `medpic scan` does; the name catches PDFs whose header is damaged."""
    with open(path, "rb") as f:
        return b"%PDF-" in f.read(1024) or path.suffix.lower() == ".pdf"


def run_medpic(args: list[str], timeout: float) -> dict:
    """One `python -m medpic` process: seconds, peak RSS, exit code or timeout, stderr lines.

    stderr goes to a file, not a pipe: a chatty child must not block on a full pipe while we poll."""
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "medpic", *args], cwd=REPO, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONPATH": str(REPO)})
        killed = False
        while True:  # wait4, not poll: the child's own rusage (peak RSS) comes with its exit status
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > started + timeout and not killed:
                proc.kill()
                killed = True
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace").splitlines()
    return {"seconds": round(time.monotonic() - started, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "timeout": killed, "exit": proc.returncode, "stderr": stderr}


def read_rows(path: Path) -> list[dict] | None:
    """The CSV's rows, or None when the command wrote none (itself a finding)."""
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def normalise_reason(reason: str) -> str:
    """Group one cause under one line: quoted text, URLs, paths and numbers become placeholders."""
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    reason = re.sub(r"\b\w+://\S+|(?<!\w)/\S+", "<path>", reason)
    reason = re.sub(r"\b\d[\d,.]*(x\d[\d,.]*)?\b", "N", reason)  # not the 2 of JBIG2
    return reason[:100]


def noise(stderr: list[str]) -> list[str]:
    """Lines that are not MedPic's own; tracebacks are counted apart, so their lines are left out."""
    lines, in_traceback = [], False
    for line in stderr:
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and not line.startswith(" "):
            in_traceback = False  # the exception line ends the block
        elif line.strip() and not in_traceback and not OWN_LINE.search(line):
            lines.append(line)
    return lines


def pdfimages_list(path: Path, timeout: float) -> dict:
    """`pdfimages -list` as dicts (object None for inline images), or why there are none."""
    if not shutil.which("pdfimages"):
        return {"error": "pdfimages not installed"}
    try:
        # stderr discarded, not captured: on a bomb it is megabytes of warnings, and a big parent
        # would inflate every later child's peak RSS (a child's ru_maxrss starts from it at fork)
        out = subprocess.run(["pdfimages", "-list", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=timeout).stdout
    except subprocess.TimeoutExpired:
        return {"error": f"pdfimages timed out after {timeout:g} s"}
    objects = []
    for line in out.decode(errors="replace").splitlines()[2:]:
        f = line.split()  # page num type width height color comp bpc enc interp object ID ... ([inline]: no ID)
        if len(f) >= 11 and f[0].isdigit():
            objects.append({"page": int(f[0]), "type": f[2], "size": (f[3], f[4]),
                            "object": None if f[10] == "[inline]" else int(f[10])})
    return {"objects": objects}


def compare(listing: dict, rows: list[dict]) -> dict:
    """pdfimages' `image` objects against MedPic's rows, both ways (see the module docstring)."""
    if "error" in listing:
        return {"error": listing["error"]}
    objects = listing["objects"]
    images = {o["object"]: o for o in objects if o["type"] == "image" and o["object"] is not None}
    types = {}
    for o in objects:
        types.setdefault(o["object"], set()).add(o["type"])
    inline_objects = Counter(o["page"] for o in objects if o["type"] == "image" and o["object"] is None)
    row_xrefs, row_inline, row_sizes = {}, Counter(), set()
    for row in rows:
        row_sizes.add((row.get("width", ""), row.get("height", "")))
        m = ROW_ID.match(row.get("image", ""))
        if m and m[2] == "xref":
            row_xrefs[int(m[3])] = row
        elif m:
            row_inline[int(m[1])] += 1
    missing = sorted(set(images) - set(row_xrefs))
    extra = Counter("/".join(sorted(types[x])) if x in types else "not listed" for x in set(row_xrefs) - set(images))
    extra["inline"] = sum(max(0, n - inline_objects[p]) for p, n in row_inline.items())
    return {"image_objects": len(images) + sum(inline_objects.values()), "rows": len(rows),
            "objects_without_row": len(missing) + sum(max(0, n - row_inline[p]) for p, n in inline_objects.items()),
            "of_which_same_size_as_a_row": sum(images[x]["size"] in row_sizes for x in missing),
            "missing_xrefs": missing[:20], "rows_without_object": {k: v for k, v in extra.items() if v}}


def measure(path: Path, timeout: float, list_timeout: float, tmp: Path) -> dict:
    """One file end to end: the command, its rows, and for PDFs the pdfimages comparison."""
    pdf = is_pdf(path)
    out = tmp / f"{len(list(tmp.iterdir()))}.csv"  # one fresh name per file
    result = run_medpic(["scan" if pdf else "classify", str(path.resolve()), "--csv", str(out)], timeout)
    rows = read_rows(out)
    result.update(file=str(path), command="scan" if pdf else "classify", rows=rows)
    if pdf:
        result["pdfimages"] = compare(pdfimages_list(path, list_timeout), rows or [])
    return result


def summarise(results: list[dict]) -> dict:
    """All the figures, JSON-ready; per-file details kept for the slow, the big and the broken."""
    rows = [r for res in results for r in res["rows"] or []]
    noisy = [(res["file"], line) for res in results for line in noise(res["stderr"])]
    pdfs = {res["file"]: res["pdfimages"] for res in results if "pdfimages" in res}
    totals = Counter()
    for c in pdfs.values():
        totals.update({k: v for k, v in c.items() if isinstance(v, int)})
        totals.update({f"rows_without_object: {k}": v for k, v in c.get("rows_without_object", {}).items()})
    by_time = sorted(results, key=lambda r: -r["seconds"])
    by_rss = sorted(results, key=lambda r: -r["peak_rss_mb"])
    return {
        "files": len(results), "pdfs": len(pdfs), "rows": len(rows),
        "files_without_csv": [r["file"] for r in results if r["rows"] is None],
        "rows_per_status": dict(Counter(r.get("status", "") for r in rows).most_common()),
        "rows_per_reason": dict(Counter(f"{r.get('status')}: {normalise_reason(r.get('reason', ''))}"
                                        for r in rows if r.get("reason")).most_common()),
        "tracebacks": [r["file"] for r in results if any("Traceback" in line for line in r["stderr"])],
        "timeouts": [r["file"] for r in results if r["timeout"]],
        "nonzero_exits": [{"file": r["file"], "exit": r["exit"], "last_line": (r["stderr"] or [""])[-1][:160]}
                          for r in results if r["exit"] != 0 and not r["timeout"]],
        "noise_lines": len(noisy), "noise_files": len({f for f, _ in noisy}),
        "noise_examples": [f"{Path(f).name}: {line[:140]}" for f, line in noisy[:8]],
        "slowest": [{"file": r["file"], "seconds": r["seconds"]} for r in by_time[:5]],
        "peak_rss_mb": by_rss[0]["peak_rss_mb"] if results else 0,
        "largest_rss": [{"file": r["file"], "peak_rss_mb": r["peak_rss_mb"]} for r in by_rss[:5]],
        "pdfimages": {"per_pdf": pdfs, "totals": dict(totals)},
        "per_file": [{k: v for k, v in r.items() if k not in ("rows", "stderr")} | {"row_count": len(r["rows"] or [])}
                     for r in results],
    }


def print_summary(s: dict, top: int = 12) -> None:
    """The figures a person reads; everything else is in --json."""
    print(f"files: {s['files']} ({s['pdfs']} PDFs)   rows: {s['rows']}   files without CSV: {len(s['files_without_csv'])}")
    print("rows per status: " + ", ".join(f"{k or '(none)'} {v}" for k, v in s["rows_per_status"].items()))
    print(f"rows per reason (top {top}):")
    for reason, n in list(s["rows_per_reason"].items())[:top]:
        print(f"  {n:5d}  {reason}")
    print(f"tracebacks: {len(s['tracebacks'])} {[Path(f).name for f in s['tracebacks']]}")
    print(f"timeouts: {len(s['timeouts'])} {[Path(f).name for f in s['timeouts']]}")
    print(f"non-zero exits: {len(s['nonzero_exits'])}")
    for e in s["nonzero_exits"]:
        print(f"  {e['exit']:>3}  {Path(e['file']).name}: {e['last_line']}")
    print(f"library noise on stderr: {s['noise_lines']} lines from {s['noise_files']} files")
    for line in s["noise_examples"]:
        print(f"  {line}")
    print("slowest: " + ", ".join(f"{Path(r['file']).name} {r['seconds']:.1f} s" for r in s["slowest"]))
    print(f"peak RSS: {s['peak_rss_mb']} MB; largest: "
          + ", ".join(f"{Path(r['file']).name} {r['peak_rss_mb']} MB" for r in s["largest_rss"]))
    print("pdfimages -list vs rows (image objects / rows / objects without a row [same size as a row] / rows without an object):")
    for f, c in s["pdfimages"]["per_pdf"].items():
        detail = c.get("error") or (f"{c['image_objects']} / {c['rows']} / {c['objects_without_row']}"
                                    f" [{c['of_which_same_size_as_a_row']}] / {sum(c['rows_without_object'].values())}"
                                    + (f" {c['rows_without_object']}" if c["rows_without_object"] else ""))
        print(f"  {Path(f).name}: {detail}")
    print(f"  totals: {s['pdfimages']['totals']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--timeout", type=float, default=60, help="seconds per file (default 60)")
    parser.add_argument("--pdfimages-timeout", type=float, default=20, help="seconds per pdfimages -list (default 20)")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in list_files(args.folders):
            results.append(measure(path, args.timeout, args.pdfimages_timeout, Path(tmp)))
            r = results[-1]
            print(f"# {path}: {r['seconds']:.1f} s, {r['peak_rss_mb']} MB, exit {'timeout' if r['timeout'] else r['exit']},"
                  f" {len(r['rows'] or [])} rows", file=sys.stderr, flush=True)
    summary = summarise(results)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
