#!/usr/bin/env python3
"""What the web edition and the EPUB cost beside the booklet (issue 20's goal: together ≤ 15 %
of the booklet's build), and the size of each HTML page (goal: ≤ 60 KB before fonts).

Run from the repository root:  .venv/bin/python benchmarks/bench_editions.py [--repeat N]

Each round, in fresh processes (interpreter start, imports and teardown included), into one
output folder under a temporary directory:
  booklet   build.py --only booklet --force -q
  epub+web  build.py --only epub --only web -q, their files removed first (the booklet, up to
            date, is not rebuilt: --force would render it again)
Wall and CPU time (user + system of the process tree, from os.wait4) of each; the ratio
epub+web ÷ booklet, median over the rounds. A fresh process for the EPUB and the web edition
pays the interpreter's start and the imports (~0.35 s) that a build making them with the
booklet (`make`) pays once: the second figure is that marginal cost, the EPUB's and the web
edition's own seconds in one build (`--json`), over the booklet's build. The web edition's
font subsets are cached per user (~/.cache/livret/web-fonts): the first round makes them
(shown apart), later rounds reuse them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh `python build.py ARGV` and everything it started."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(REPO / "build.py"), *argv], cwd=REPO)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"build failed: {argv}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        common = ["--content", str(REPO / "content"), "--output", str(out), "-q"]
        booklet_only = [*common, "--force", "--only", "booklet"]
        editions_only = [*common, "--only", "epub", "--only", "web"]

        def editions() -> tuple[float, float]:
            shutil.rmtree(out / "web", ignore_errors=True)
            for epub in out.glob("*.epub"):
                epub.unlink()
            return measure(editions_only)

        measure(booklet_only)  # warm-up: the fitting cache, .pyc files
        first = editions()
        rows = []
        for _ in range(args.repeat):
            booklet = measure(booklet_only)
            made = editions()
            rows.append((booklet, made))
            print(
                f"booklet {booklet[0]:.2f} s wall {booklet[1]:.2f} s CPU | epub+web "
                f"{made[0]:.2f} s wall {made[1]:.2f} s CPU | ratio "
                f"{made[0] / booklet[0]:.3f} wall {made[1] / booklet[1]:.3f} CPU"
            )
        marginal = []
        for _ in range(args.repeat):
            done = subprocess.run(
                [sys.executable, str(REPO / "build.py"), "--content", str(REPO / "content")]
                + ["--output", str(out), "--force", "--json", "--only", "booklet"]
                + ["--only", "epub", "--only", "web"],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            )
            seconds = {o["kind"]: o["seconds"] for o in json.loads(done.stdout)["outputs"]}
            marginal.append(seconds["epub"] + seconds["web"])
        wall = statistics.median(e[0] / b[0] for b, e in rows)
        cpu = statistics.median(e[1] / b[1] for b, e in rows)
        print(f"first epub+web of the run (font subsets made if not cached): {first[0]:.2f} s wall")
        print(
            f"epub+web ÷ booklet, fresh processes, median of {args.repeat}: "
            f"{wall:.3f} wall, {cpu:.3f} CPU"
        )
        booklet_wall = statistics.median(b[0] for b, _e in rows)
        print(
            f"epub+web within one build: {statistics.median(marginal):.2f} s = "
            f"{statistics.median(marginal) / booklet_wall:.3f} × the booklet's build "
            f"({booklet_wall:.2f} s wall); goal ≤ 0.15"
        )
        pages = sorted((p.stat().st_size, p) for p in (out / "web").rglob("*.html"))
        largest = pages[-1]
        print(
            f"HTML pages: {len(pages)}, largest {largest[0] / 1000:.1f} KB "
            f"({largest[1].relative_to(out)}), goal ≤ 60 KB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
