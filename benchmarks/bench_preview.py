#!/usr/bin/env python3
"""Preview benchmark: how soon does a save show, and does the long-lived process stay flat?

Run from the repository root:  .venv/bin/python benchmarks/bench_preview.py [--saves N]
                                   [--repeat N] [--json] [--keep]

The figures (goals from issue 13, ratios against baselines measured in the same run):
  1. save → first page      a card saved → the server's event with its sheet's changed page,
                            and that page's PNG fetched over HTTP     (goal ≤ 1.0 s, absolute)
  2. save → booklet PDF     a card saved → the booklet PDF written by the preview's warm
                            worker (its mtime)  vs  a bare WeasyPrint render of the booklet
                            HTML (`--html` export) in a warm process   (goal ≤ 1.1×;
                            and ≤ 2.5 s at rest, issue 21)
  3. cold booklet build     measured in one place, benchmarks/bench_build.py (figures 1b, 2
                            and 2c; `--cold` runs only those): wall and CPU ratios to the bare
                            default render of the `--html` export, peak memory beside
  4. RSS over the saves     the preview process, its render workers (sum and largest) and
                            the whole tree, after the warm-up (save 3: each worker has had
                            its largest render, the caches are full) vs after the last save,
                            with the trend after the warm-up (least squares, MB per save) and
                            every sample in the JSON; sampled while the workers idle (goal:
                            within ± 10 %)
  5. rasteriser             one booklet page by pypdfium2 (in process, PNG included) vs a
                            `pdftoppm -png` process for that page (why pypdfium2 was chosen)

Every run uses a snapshot of the project (build.py, livret/, layouts/, styles/, content/) in a
temporary folder: the repository is only read. Wall time is time.perf_counter(); CPU time
(user + system) of the process tree is beside it: on a loaded machine, a wall time far above
the CPU time means the benchmark waited for a core, not for livret. Saves alternate between
two versions of one card (one word differs), so the document does not grow over 50 saves.

Exit status: 0 even when a goal is missed (a benchmark, not a test); 1 when a check fails
(the wrong outputs changed, a build failed), since the figures would not measure what they
claim.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PROJECT_PARTS = ("build.py", "livret", "layouts", "styles", "content")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "recipients*.csv", "output", ".preview")
CARD = Path("actions") / "adie.md"
SHEET = "retour-experience-01-action-adie.pdf"
BOOKLET = "retour-experience-01.pdf"
BOOKLET_HTML = "retour-experience-01.html"
WAIT = 600

GOAL_FIRST_PAGE_S = 1.0
GOAL_BOOKLET_RATIO = 1.1
GOAL_BOOKLET_S = 2.5  # issue 21: save → whole booklet PDF, at rest (was about 6 s)
GOAL_RSS_DRIFT = 0.10
WARM_UP = 3  # saves before the RSS reference (see rss_figures)

# A warm process rendering the exported booklet HTML with WeasyPrint's defaults, on demand:
# one line on stdin → one render → one JSON line (wall and CPU seconds) on stdout.
WARM_BASELINE = r"""
import json, sys, time
import weasyprint
html_path, pdf_path = sys.argv[1:]
weasyprint.HTML(filename=html_path).write_pdf(pdf_path)  # warm-up: imports, fonts, caches
print("ready", flush=True)
for _line in sys.stdin:
    w, c = time.perf_counter(), time.process_time()
    weasyprint.HTML(filename=html_path).write_pdf(pdf_path)
    print(json.dumps([time.perf_counter() - w, time.process_time() - c]), flush=True)
"""


def log(message: str) -> None:
    print(f"[bench_preview] {message}", file=sys.stderr, flush=True)


def snapshot(root: Path) -> Path:
    project = root / "project"
    project.mkdir()
    for part in PROJECT_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, project / part, ignore=SKIP)
        else:
            shutil.copy2(src, project / part)
    return project


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and all its living descendants (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p = int(stat.parent.name)
        stats[p] = fields
        parents.setdefault(int(fields[1]), []).append(p)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][11]) + int(stats[p][12])) / tick  # utime, stime
        todo += parents.get(p, [])
    return total


def tree_rss(pid: int) -> dict:
    """RSS in MB of the preview process ("main"), of its helpers (its children: the fork
    server, multiprocessing's resource tracker) and of its render workers (the fork server's
    children), from /proc/<pid>/status and /proc/<pid>/stat."""

    def rss(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6
        except OSError:
            pass
        return 0.0

    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    helpers = children.get(pid, [])
    workers = [w for h in helpers for w in children.get(h, [])]
    sizes = [rss(w) for w in workers]
    return {
        "main": rss(pid),
        "helpers": sum(rss(h) for h in helpers),
        "workers_sum": sum(sizes),
        "workers_max": max(sizes, default=0.0),
        "workers": len(sizes),
        "pids": sorted(workers),
    }


class Preview:
    """A `build.py preview --no-open` process and a reader of its event stream."""

    def __init__(self, project: Path, output: Path):
        self.log = output.parent / "preview.log"
        self.proc = subprocess.Popen(
            [PYTHON, "build.py", "preview", "--no-open", "-q"]
            + ["--content", "content", "--output", str(output)],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
            text=True,
        )
        line = self.proc.stdout.readline()
        if "http://127.0.0.1:" not in line:
            raise SystemExit(f"the preview did not start: {line!r}")
        self.port = urlsplit(line[line.index("http://") :].split()[0]).port
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        conn.request("GET", "/events")
        self.stream = conn.getresponse()

    def next_state(self) -> dict:
        data = []
        while True:
            line = self.stream.fp.readline().decode()
            if not line:
                status = self.proc.poll()
                raise SystemExit(
                    f"the preview's event stream ended (exit status {status}); its messages:\n"
                    + self.log.read_text(errors="replace")[-3000:]
                )
            line = line.rstrip("\n")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                return json.loads("".join(data))

    def until(self, condition) -> dict:
        while True:
            state = self.next_state()
            if condition(state):
                return state

    def get(self, path: str) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise SystemExit(f"GET {path}: {resp.status}")
            return body
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.send_signal(2)
        self.proc.wait(timeout=WAIT)


def rasteriser(pdf: Path, scratch: Path, repeat: int) -> dict:
    import pypdfium2 as pdfium

    from livret.preview.pages import DPI

    page = 2  # a text page
    times = {"pypdfium2": [], "pdftoppm": []}
    for _ in range(repeat):
        start = time.perf_counter()
        doc = pdfium.PdfDocument(str(pdf))
        doc[page].render(scale=DPI / 72).to_pil().save(scratch / "p.png", compress_level=1)
        doc.close()
        times["pypdfium2"].append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(DPI), "-f", str(page + 1), "-l", str(page + 1)]
            + [str(pdf), str(scratch / "q")],
            check=True,
        )
        times["pdftoppm"].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def rss_figures(samples: list[dict], warm_up: int = WARM_UP) -> dict:
    """RSS after the warm-up (`warm_up` saves) vs after the last save, and the trend from
    there (least squares, MB per save), for the preview process, its workers (sum, largest)
    and the whole tree. samples[i]: after save i + 1."""
    ref = max(0, min(warm_up, len(samples) - 1) - 1)
    out: dict = {"goal": GOAL_RSS_DRIFT, "saves": len(samples), "warm_up_saves": ref + 1}
    series = {
        "main": [s["main"] for s in samples],
        "workers_sum": [s["workers_sum"] for s in samples],
        "workers_max": [s["workers_max"] for s in samples],
        "tree": [s["main"] + s["helpers"] + s["workers_sum"] for s in samples],
    }
    for name, values in series.items():
        base, tail = values[ref], values[ref:]
        slope = 0.0
        if len(tail) > 1:
            slope = statistics.linear_regression(range(len(tail)), tail).slope
        out[name] = {
            "after_first_save": values[0],
            "after_warm_up": base,
            "after_last": values[-1],
            "ratio": values[-1] / base if base else float("nan"),
            "slope_mb_per_save": slope,
            # the trend over 50 saves, as a share of the size after the warm-up
            "trend_per_50_saves": slope * 50 / base if base else float("nan"),
        }
    out["series"] = {name: [round(v, 1) for v in values] for name, values in series.items()}
    out["workers"] = sorted({s["workers"] for s in samples})
    out["same_workers"] = all(s["pids"] == samples[0]["pids"] for s in samples)
    return out


def wait_idle(pid: int, quiet: float = 0.15, step: float = 0.05) -> None:
    """Until the preview's processes have used no CPU for `quiet` seconds: the workers have
    collected the last render's garbage (renderer.py's tidy thread), so an RSS sample is
    taken at rest. Gives up after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    last, still = tree_cpu(pid), 0.0
    while still < quiet and time.monotonic() < deadline:
        time.sleep(step)
        now = tree_cpu(pid)
        still = still + step if now == last else 0.0
        last = now


def edit(card: Path, original: str, n: int) -> None:
    word = "encore" if n % 2 else "toujours"
    text = original.replace("## Contexte\n", f"## Contexte\n\nUne phrase de plus, {word}.\n", 1)
    card.write_text(text, encoding="utf-8")


def bench(saves: int, repeat: int, tmp: Path, baseline: bool = True) -> dict:
    """`baseline`: False to leave the warm WeasyPrint baseline out (no ratio for figure 2);
    benchmarks/bench_reuse.py needs only the preview's own figures."""
    project = snapshot(tmp)
    html_dir, output = tmp / "html", tmp / "output"
    log("export the booklet HTML")
    subprocess.run(
        [PYTHON, "build.py", "--html", str(html_dir), "--only", "booklet", "-q"],
        cwd=project,
        check=True,
    )
    checks: list[tuple[str, bool]] = []

    # --- 1, 2, 4. the preview over the saves, with the warm baseline interleaved -----------
    log("start the warm baseline and the preview" if baseline else "start the preview")
    warm_proc = None
    if baseline:
        warm_proc = subprocess.Popen(
            [PYTHON, "-c", WARM_BASELINE, str(html_dir / BOOKLET_HTML), str(tmp / "warm.pdf")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert warm_proc.stdout.readline().strip() == "ready"
    preview = Preview(project, output)
    preview.until(lambda s: not s["building"] and s["outputs"])
    card = project / "content" / CARD
    original = card.read_text(encoding="utf-8")
    first, booklet, warm, cpu, rss = [], [], [], [], []
    for n in range(1, saves + 1):
        if warm_proc is not None:
            warm_proc.stdin.write("go\n")
            warm_proc.stdin.flush()
            warm.append(json.loads(warm_proc.stdout.readline()))
        if n > 1:  # after save n - 1, once the workers are idle again
            wait_idle(preview.proc.pid)
            rss.append(tree_rss(preview.proc.pid))
        before_cpu = tree_cpu(preview.proc.pid)
        booklet_pdf = output / BOOKLET
        t_save = time.time()
        start = time.perf_counter()
        edit(card, original, n)

        def sheet_changed(state):
            docs = {d["name"]: d for d in state["outputs"]}
            return SHEET in docs and docs[SHEET]["changed"]

        state = preview.until(sheet_changed)
        sheet = next(d for d in state["outputs"] if d["name"] == SHEET)
        preview.get("/" + sheet["pages"][sheet["changed"][0] - 1])
        first.append(time.perf_counter() - start)
        state = preview.until(lambda s: not s["building"])
        if state["problems"]:
            raise SystemExit(f"save {n} failed: {state['problems']}")
        booklet.append(booklet_pdf.stat().st_mtime - t_save)
        changed = sorted(d["name"] for d in state["outputs"] if d["changed"])
        checks.append(
            (f"save {n}: the sheet, its excerpt and the booklet changed", len(changed) == 3)
        )
        cpu.append(tree_cpu(preview.proc.pid) - before_cpu)
        log(f"save {n}/{saves}: first page {first[-1]:.2f} s, booklet {booklet[-1]:.2f} s")
    wait_idle(preview.proc.pid)  # the workers idle, as before the other samples
    rss.append(tree_rss(preview.proc.pid))
    preview.stop()
    if warm_proc is not None:
        warm_proc.stdin.close()
        warm_proc.wait(timeout=WAIT)

    checks.append(
        (
            "the same render workers from the first save to the last",
            all(s["pids"] == rss[0]["pids"] for s in rss),
        )
    )
    raster = rasteriser(output / BOOKLET, tmp, max(3, repeat))
    med = statistics.median
    warm_wall = med(w[0] for w in warm) if warm else float("nan")
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "saves": saves,
        "first_page_s": {
            "median": med(first),
            "max": max(first),
            "goal": GOAL_FIRST_PAGE_S,
            "each": [round(f, 3) for f in first],
        },
        "booklet_pdf_s": {
            "median": med(booklet),
            "max": max(booklet),
            "goal": GOAL_BOOKLET_S,
            "each": [round(b, 3) for b in booklet],
        },
        "warm_baseline_s": {
            "wall": warm_wall,
            "cpu": med(w[1] for w in warm) if warm else warm_wall,
        },
        "booklet_ratio": {"value": med(booklet) / warm_wall, "goal": GOAL_BOOKLET_RATIO},
        "save_cpu_s": {
            "median": med(cpu),
            "note": "CPU of the preview tree per save",
            "each": [round(c, 3) for c in cpu],
        },
        "rss_mb": rss_figures(rss),
        "rasterise_one_page_s": raster,
        "checks": [{"check": c, "ok": ok} for c, ok in checks],
    }
    return result


def print_table(r: dict) -> None:
    def ok(good: bool) -> str:
        return "ok" if good else "MISSED"

    fp, br, rs = r["first_page_s"], r["booklet_ratio"], r["rss_mb"]
    print(f"preview benchmark — {r['saves']} saves, {r['machine']['cpus']} CPUs")
    print(
        f"1. save → first changed page + PNG   {fp['median']:.2f} s (max {fp['max']:.2f})"
        f"   goal ≤ {fp['goal']} s  {ok(fp['median'] <= fp['goal'])}"
    )
    bp = r["booklet_pdf_s"]
    print(
        f"2. save → booklet PDF                {bp['median']:.2f} s (max {bp['max']:.2f})"
        f"   goal ≤ {bp['goal']} s at rest  {ok(bp['median'] <= bp['goal'])}"
    )
    print(
        f"   vs warm bare WeasyPrint {r['warm_baseline_s']['wall']:.2f} s"
        f" (CPU {r['warm_baseline_s']['cpu']:.2f} s) = {br['value']:.2f}×"
        f"   goal ≤ {br['goal']}×  {ok(br['value'] <= br['goal'])}"
    )
    print(f"   CPU of the preview per save       {r['save_cpu_s']['median']:.2f} s")
    print("3. cold --only booklet --force       see benchmarks/bench_build.py --cold")
    print(
        f"4. RSS after save {rs['warm_up_saves']} (warm-up) → after save {r['saves']}"
        f"   goal ± {rs['goal']:.0%}"
    )
    for name, label in (
        ("main", "preview process"),
        ("workers_sum", "workers, sum"),
        ("workers_max", "largest worker"),
        ("tree", "all processes"),
    ):
        f = rs[name]
        print(
            f"   {label:<18} {f['after_first_save']:4.0f} … {f['after_warm_up']:4.0f} → "
            f"{f['after_last']:4.0f} MB "
            f"({f['ratio'] - 1:+.1%}), trend {f['slope_mb_per_save']:+.2f} MB/save "
            f"({f['trend_per_50_saves']:+.1%} per 50 saves)  "
            f"{ok(abs(f['ratio'] - 1) <= rs['goal'])}"
        )
    ra = r["rasterise_one_page_s"]
    print(
        f"5. one page to PNG: pypdfium2 {ra['pypdfium2'] * 1000:.0f} ms, "
        f"pdftoppm {ra['pdftoppm'] * 1000:.0f} ms"
    )
    for c in r["checks"]:
        if not c["ok"]:
            print(f"CHECK FAILED: {c['check']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=50, help="saves in the preview (default 50)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of the rasteriser's timing (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.saves < 2:
        parser.error("--saves: at least 2")
    sys.path.insert(0, str(REPO))
    tmp = Path(tempfile.mkdtemp(prefix="livret-bench-preview-"))
    try:
        result = bench(args.saves, args.repeat, tmp)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0 if all(c["ok"] for c in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
