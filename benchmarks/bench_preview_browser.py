#!/usr/bin/env python3
"""Save → changed page *painted in a real browser* (issue 13's figure, end to end).

Run from the repository root:  .venv/bin/python benchmarks/bench_preview_browser.py
                                   [--saves N] [--json]

A snapshot of the project (build.py, livret/, layouts/, styles/, content/) is copied to a
temporary folder; `build.py preview --no-open` serves it; Debian's headless Chromium (through
chromedriver and Selenium, as in tests/test_preview_browser.py) opens the page. For each save,
a script in the page waits for the state that marks pages as changed, then for each changed
page's new image to be decoded (`img.decode()`) and for the next two animation frames (the
frame that paints it), and records the wall clock (`Date.now()`). The figure is that time
minus the time the card file was written (same machine, same clock), for the first changed
page of the save, and for the edited card's sheet and the booklet's pages.

Saves alternate between two versions of one card (one word differs) and wait for the
previous save to be wholly shown (booklet included) before the next: each save is measured
on an idle preview. CPU time of the preview's process tree is reported beside the wall time.
Goal (issue 13): first changed page shown ≤ 1.0 s after the save, on an idle machine.
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

# The project snapshot, the card, the documents and the process tree's CPU: as the preview
# benchmark has them (this script runs from benchmarks/, beside it).
from bench_preview import BOOKLET, CARD, SHEET, edit, snapshot, tree_cpu

GOAL_S = 1.0
WAIT = 300

# Installed once in the page: for every state pushed by the server, the time each changed
# page is painted (decoded image + two animation frames), by document.
HOOK = r"""
window.__shown = [];
document.addEventListener("livret:state", function (e) {
  const state = e.detail;
  state.outputs.forEach(function (doc) {
    doc.changed.forEach(function (n) {
      const img = document.querySelector(
        'section[data-name="' + doc.name + '"] figure[data-page="' + n + '"] img');
      if (!img) return;
      img.decode().then(function () {
        requestAnimationFrame(function () { requestAnimationFrame(function () {
          window.__shown.push({doc: doc.name, page: n, gen: state.generation, t: Date.now()});
        }); });
      }, function () {});
    });
  });
});
"""


def log(message: str) -> None:
    print(f"[bench_preview_browser] {message}", file=sys.stderr, flush=True)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--saves", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="livret-bench-browser-"))
    proc = driver = None
    try:
        project = snapshot(tmp)
        card = project / "content" / CARD
        original = card.read_text(encoding="utf-8")
        log_file = (tmp / "preview.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "build.py", "preview", "--no-open"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env={**os.environ, "LIVRET_LANG": "en"},
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "http://127.0.0.1:" not in line:
            log("the preview did not start: " + (tmp / "preview.log").read_text())
            return 1
        url = line[line.index("http://") :].split()[0]
        driver = browser()
        driver.set_script_timeout(WAIT)
        driver.get(url)
        driver.execute_script(HOOK)
        # Ready: the booklet's pages are drawn and nothing is building.
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            ready = driver.execute_script(
                "return document.body.dataset.building === 'false' && "
                f"!!document.querySelector('section[data-name=\"{BOOKLET}\"] img');"
            )
            if ready:
                break
            time.sleep(0.2)  # polling a browser from outside: no event to await here
        else:
            log("the preview never became ready")
            return 1

        firsts, sheets, booklets, cpus = [], [], [], []
        for n in range(args.saves):
            # Only what a state pushed after this save marks as changed counts: a later push
            # of the same state (the end of the build) lists the same pages again.
            g0 = int(driver.execute_script("return document.body.dataset.generation || 0;"))
            driver.execute_script("window.__shown = [];")
            cpu0 = tree_cpu(proc.pid)
            t0 = time.time() * 1000
            edit(card, original, n)
            firstseen: dict[tuple[str, int], float] = {}
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                for g in driver.execute_script("return window.__shown;"):
                    if g["gen"] > g0:
                        key = (g["doc"], g["page"])
                        firstseen[key] = min(firstseen.get(key, g["t"]), g["t"])
                docs = {doc for doc, _page in firstseen}
                building = driver.execute_script("return document.body.dataset.building;")
                if BOOKLET in docs and SHEET in docs and building == "false":
                    break
                time.sleep(0.05)
            else:
                log(f"save {n + 1}: the booklet's changed pages never showed")
                return 1
            cpus.append(tree_cpu(proc.pid) - cpu0)
            first = min(firstseen.values()) - t0
            sheet = min(t for (doc, _p), t in firstseen.items() if doc == SHEET) - t0
            booklet = max(t for (doc, _p), t in firstseen.items() if doc == BOOKLET) - t0
            firsts.append(first / 1000)
            sheets.append(sheet / 1000)
            booklets.append(booklet / 1000)
            log(
                f"save {n + 1}: first page painted {first / 1000:.2f} s, sheet "
                f"{sheet / 1000:.2f} s, booklet's last changed page {booklet / 1000:.2f} s, "
                f"CPU {cpus[-1]:.2f} s"
            )
        # The first save warms what the preview had not rendered yet: reported, not counted.
        counted = slice(1, None) if args.saves > 2 else slice(None)
        result = {
            "saves": args.saves,
            "first_page_median_s": statistics.median(firsts[counted]),
            "first_page_max_s": max(firsts[counted]),
            "sheet_median_s": statistics.median(sheets[counted]),
            "booklet_median_s": statistics.median(booklets[counted]),
            "preview_cpu_per_save_median_s": statistics.median(cpus[counted]),
            "goal_first_page_s": GOAL_S,
            "cpus": os.cpu_count(),
            "load_before": os.getloadavg(),
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            for key, value in result.items():
                print(f"{key:32} {value}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
