#!/usr/bin/env python3
"""Issue 21's goals: each card laid out once, reused by the booklet, the excerpts, the fitting
and the warm watch/preview workers. One script measures every goal of the issue.

Run from the repository root:
    .venv/bin/python benchmarks/bench_reuse.py [--only N]… [--repeat N] [--json] [--keep]

The figures (see benchmarks/README.md, « Layout reuse benchmark », for what each one runs):
  1. all four documents ÷ the booklet alone, CPU                          goal ≤ 1.25
  2. first build into an empty folder ÷ a forced rebuild into an existing one, CPU
                                                                          goal ≤ 1.10
  3. watch: a sentence appended to a card → booklet and excerpt rewritten ÷ a cold
     booklet build, wall; the first edit and the later ones (warm)      goal ≤ 0.50
  4. preview: save → whole booklet PDF written                           goal ≤ 2.5 s
     and save → first changed page (its PNG fetched)                      goal ≤ 1.0 s
  5. preview: the render workers' RSS after save 1, 10, 20 … 50, within ± 10 % of save 1
  6. memory follows the largest card: a 60-card theme's excerpt (goal ≤ 400 MB, largest
     process) and a 500-card booklet (goal ≤ 2 GB), synthetic content (synthetic.py), each
     run under an address-space cap and a timeout: « killed at … » rather than swapping
  7. a rebuild with nothing to do (`build.py -q`), wall                   goal ≤ 0.15 s
  8. a card edited, then the booklet built by a new process (`build.py`), CPU, and its
     ratio to the forced booklet (every part laid out): the other parts from the user's
     cache (livret/rendering/partcache.py)

Figures 1, 2, 3 and 7 run --repeat rounds, interleaved (each round runs each of them once);
a run both need is shared within a round (the cold booklet of 1 and 3, the forced rebuild of
1 and 2). Figures 4 and 5 are one preview session (benchmarks/bench_preview.py's, reused);
figure 6 runs each case once. Every build is a fresh process from a snapshot of the project
taken at start (bench_build.py's helpers), timed from fork to exit with os.wait4: CPU of the
whole process tree, peak RSS of its largest process. Exit status: 0 even when a goal is
missed; 1 when a check fails (the runs would not measure what they claim).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench_build as bb
import bench_preview as bp
import synthetic

PYTHON = bb.PYTHON
MB = bb.MB

FIGURES = (1, 2, 3, 4, 5, 6, 7, 8)
BOTH = ["--only", "booklet", "--only", "themes"]  # what "all four documents" are

GOAL_ALL_RATIO = 1.25  # 1. all four documents ÷ booklet, CPU (was 2.65)
GOAL_EMPTY_RATIO = 1.10  # 2. empty folder ÷ existing one, CPU (was 1.55)
GOAL_WATCH_RATIO = 0.50  # 3. watch edit ÷ cold booklet, wall (was 1.39)
GOAL_PREVIEW_BOOKLET_S = 2.5  # 4. preview save → booklet PDF, at rest (was about 6 s)
GOAL_PREVIEW_FIRST_S = 1.0  # 4. preview save → first changed page
GOAL_RSS_DRIFT = 0.10  # 5. the workers' RSS within ± 10 % of save 1
GOAL_THEME_MB = 400  # 6. a 60-card theme's excerpt, largest process (was 929 MB)
GOAL_BIG_MB = 2000  # 6. 500 cards (was killed at 4.5 GB after 200 s)
GOAL_NOOP_S = 0.15  # 7. nothing to do (was 0.36-0.50 s)

# The card the watch edits and the excerpt it belongs to (as bench_build's edit figure).
EDIT_CARD = bb.EDIT_CARD
EDIT_THEME = bb.EDIT_THEME
BIG_THEME = "mobilites"  # figure 6: the theme that holds the 60 cards
WAIT = 600  # seconds: no single wait of this script lasts longer

log = bb.log


# --- one guarded process: a cap on its address space, a timeout, its memory watched --------


@dataclass
class Guarded:
    seconds: float
    cpu: float
    peak_mb: float  # largest process: wait4's ru_maxrss or the VmHWM seen in /proc
    tree_mb: float  # the most the whole tree held at once (sum of VmRSS, sampled)
    status: str  # "ok", or how it ended: "killed by the timeout", "exit status 1"…
    stderr: str


def _tree(pid: int) -> list[int]:
    """The process and its living descendants (/proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _status_kb(pid: int, *keys: str) -> dict[str, int]:
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in keys:
                found[key] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return found


def measure_guarded(argv: list[str], cwd: Path, scratch: Path, cap_mb: float, timeout: float):
    """Run argv with RLIMIT_AS = cap_mb (inherited by the render workers it forks) in a
    session of its own, killed with all its processes after `timeout` seconds. A thread
    reads every process's VmHWM (its peak RSS) and the tree's total VmRSS every 0.2 s, so the
    peak is known even when the build dies before waiting for its workers."""
    cap = int(cap_mb * MB)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    err_path = scratch / "guarded-stderr.txt"
    seen = {"hwm": 0, "tree": 0}
    done = threading.Event()
    timed_out = threading.Event()
    with open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=bb.CHILD_ENV,
            start_new_session=True,
            preexec_fn=limit,  # no thread of ours runs yet
        )

        def watch() -> None:
            while not done.wait(0.2):
                total = 0
                for p in _tree(proc.pid):
                    kb = _status_kb(p, "VmHWM", "VmRSS")
                    seen["hwm"] = max(seen["hwm"], kb.get("VmHWM", 0))
                    total += kb.get("VmRSS", 0)
                seen["tree"] = max(seen["tree"], total)

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        done.set()
        watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:  # the workers of a build that died: never left behind
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    if timed_out.is_set():
        how = f"killed by the timeout ({timeout:.0f} s)"
    elif proc.returncode < 0:
        how = f"killed by signal {signal.Signals(-proc.returncode).name}"
    elif proc.returncode:
        how = f"exit status {proc.returncode}"
    else:
        how = "ok"
    return Guarded(
        seconds,
        usage.ru_utime + usage.ru_stime,
        max(usage.ru_maxrss, seen["hwm"]) * 1024 / MB,
        seen["tree"] * 1024 / MB,
        how,
        stderr,
    )


# --- the watch process --------------------------------------------------------------------


class Watch:
    """`build.py watch --json -q` on a content copy; its build summaries read from stdout."""

    def __init__(self, argv: list[str], cwd: Path, log_path: Path):
        env = dict(bb.CHILD_ENV, PYTHONUNBUFFERED="1")  # each summary as soon as printed
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_path.open("wb"),
            env=env,
            text=True,
            start_new_session=True,
        )
        self.log_path = log_path
        self.summaries: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """One summary per build: an indented JSON object, from a line "{" to a line "}"."""
        lines: list[str] = []
        for line in self.proc.stdout:
            if line.rstrip("\n") == "{":
                lines = []
            lines.append(line)
            if line.rstrip("\n") == "}":
                try:
                    self.summaries.put((time.time(), json.loads("".join(lines))))
                except ValueError:
                    pass
        self.summaries.put(None)  # the process has ended

    def next_summary(self, timeout: float = WAIT) -> tuple[float, dict]:
        try:
            item = self.summaries.get(timeout=timeout)
        except queue.Empty:
            item = None
        if item is None:
            raise bb.BenchError(
                f"watch: no build summary within {timeout:.0f} s (exit status "
                f"{self.proc.poll()}); its messages:\n"
                + self.log_path.read_text(errors="replace")[-3000:]
            )
        return item

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C: it stops its workers and ends
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of it left
        except ProcessLookupError:
            pass
        self.proc.wait()


def append_sentence(original: str, sentence: str) -> str:
    """The card's text with a sentence appended to its first body paragraph."""
    lines = original.split("\n")
    fences = 0
    for i, line in enumerate(lines):
        if line.strip() == "---" and fences < 2:
            fences += 1
            continue
        text = line.strip()
        if fences == 2 and text and not text.startswith(("#", "-", "*", ">", "|", "!", "<")):
            lines[i] = line.rstrip() + " " + sentence
            return "\n".join(lines)
    raise bb.BenchError("no paragraph to edit")


# --- the report -----------------------------------------------------------------------------


@dataclass
class Fig:
    key: str
    label: str
    unit: str  # "s", "x", "MB", "%", "pages"
    values: list[float] = field(default_factory=list)
    goal: float | None = None  # the median must be ≤ goal
    note: str = ""  # printed beside the result (« killed at … »)
    failed: bool = False  # the run did not end: the goal is missed whatever the value

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def ok(self) -> bool | None:
        if self.failed:
            return False
        return None if self.goal is None else self.median <= self.goal


def fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1%}"
    return bb.fmt(value, unit)


class Report:
    def __init__(self) -> None:
        self.figs: dict[str, Fig] = {}
        self.checks: dict[str, tuple[bool, str]] = {}
        self.details: dict[str, object] = {}

    def add(self, key: str, label: str, unit: str, value: float, goal=None) -> Fig:
        fig = self.figs.setdefault(key, Fig(key, label, unit, goal=goal))
        fig.values.append(value)
        return fig

    def check(self, name: str, ok: bool, detail: str) -> None:
        if name not in self.checks or self.checks[name][0]:  # the first failure is kept
            self.checks[name] = (ok, detail)

    def print(self, repeat: int, notes: list[str]) -> None:
        rows = [("figure", "median", "min", "max", "n", "goal", "result")]
        for f in self.figs.values():
            rows.append(
                (
                    f.label,
                    fmt(f.median, f.unit),
                    fmt(min(f.values), f.unit),
                    fmt(max(f.values), f.unit),
                    str(len(f.values)),
                    f"≤ {fmt(f.goal, f.unit)}" if f.goal is not None else "",
                    {True: "pass", False: "FAIL", None: "—"}[f.ok]
                    + (f" {f.note}" if f.note else ""),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for n, row in enumerate(rows):
            cells = [
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row[:6], widths, strict=True))
            ]
            print("  ".join([*cells, row[6]]).rstrip())
            if n == 0:
                print("  ".join("-" * w for w in [*widths, 6]))
        print()
        if self.checks:
            print("checks:")
            for name, (ok, detail) in self.checks.items():
                print(f"  {'pass' if ok else 'FAIL'}  {name} ({detail})")
            print()
        parent = ""
        for f in self.figs.values():
            top = not f.label.startswith(" ")
            if top:
                parent = f.label.split(",")[0]
            name = f.label if top else f"{parent} — {f.label.strip()}"
            if f.ok is False:
                why = f.note or f"{fmt(f.median, f.unit)} > goal {fmt(f.goal, f.unit)}"
                print(f"FAIL: {name}: {why}")
        for name, (ok, detail) in self.checks.items():
            if not ok:
                print(f"FAIL: check: {name} ({detail})")
        for note in notes:
            print(f"note: {note}")

    def as_json(self) -> dict:
        return {
            "figures": {
                f.key: {
                    "label": f.label.strip(),
                    "unit": f.unit,
                    "median": f.median,
                    "min": min(f.values),
                    "max": max(f.values),
                    "values": f.values,
                    "goal_max": f.goal,
                    "ok": f.ok,
                    "note": f.note,
                }
                for f in self.figs.values()
            },
            "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in self.checks.items()},
            "details": self.details,
        }


# --- the benchmark -------------------------------------------------------------------------


class Bench:
    def __init__(self, tmp: Path, args) -> None:
        self.tmp, self.args = tmp, args
        self.project = tmp / "project"
        bb.snapshot(self.project)
        self.build = [PYTHON, str(self.project / "build.py")]
        self.scratch = tmp / "io"
        self.scratch.mkdir()
        self.report = Report()
        self.runs: list[dict] = []  # every timed run, for the noise note and --json
        self.shared: dict[str, bb.Run] = {}  # this round's runs that several figures use
        self.edits = 0  # watch edits so far: each appends a sentence with a new word

    # what each run writes into
    def out(self, name: str) -> Path:
        return self.tmp / "out" / name

    def timed(self, args: list[str], what: str, n: int | None, env: dict | None = None) -> bb.Run:
        run = bb.measure([*self.build, *args], self.scratch, self.project, env)
        self.runs.append(
            {
                "what": what,
                "round": n,
                "seconds": run.seconds,
                "cpu_s": run.own_cpu,
                "peak_mb": run.peak_mb,
                "other_cpu_s": run.other_cpu,
                "steal_s": run.steal,
            }
        )
        log(
            f"  {what:28} {run.seconds:7.3f} s wall {run.own_cpu:7.3f} s CPU "
            f"{run.peak_mb:6.0f} MB  (others {run.other_cpu:.2f} CPU-s, steal {run.steal:.2f})"
        )
        return run

    def once_per_round(self, key: str, args: list[str], n: int) -> bb.Run:
        if key not in self.shared:
            self.shared[key] = self.timed(args, key, n)
        return self.shared[key]

    # the runs figures share: into the same folder every round (its caches kept, as a user's)
    def all_docs(self, n: int) -> bb.Run:
        args = [*BOTH, "-q", "--force", "--output", str(self.out("all"))]
        return self.once_per_round("all four documents, forced", args, n)

    def booklet(self, n: int) -> bb.Run:
        args = ["--only", "booklet", "-q", "--force", "--output", str(self.out("booklet"))]
        return self.once_per_round("booklet alone, forced", args, n)

    def setup(self, figures: set[int]) -> None:
        """Untimed: the folders the timed runs rebuild into, built once (and the OS caches,
        fontconfig's and the snapshot's .pyc files filled)."""
        log("setup (untimed)")
        if figures & {1, 2, 3, 7, 8}:
            bb.measure(
                [*self.build, "--only", "booklet", "-q", "--output", str(self.out("booklet"))],
                self.scratch,
                self.project,
            )
        if figures & {1, 2, 7}:
            bb.measure(
                [*self.build, *BOTH, "-q", "--output", str(self.out("all"))],
                self.scratch,
                self.project,
            )
        if 7 in figures:  # every output a plain `build.py` makes (web edition, EPUB)
            bb.measure(
                [*self.build, "-q", "--output", str(self.out("default"))],
                self.scratch,
                self.project,
            )
        if 8 in figures:  # a folder built from a copy of the content, whose card is edited
            self.edit_content = self.tmp / "edit-content"
            shutil.copytree(self.project / "content", self.edit_content)
            self.edit_original = (self.edit_content / EDIT_CARD).read_text(encoding="utf-8")
            bb.measure(
                [*self.build, "--only", "booklet", "-q", "--content", str(self.edit_content)]
                + ["--output", str(self.out("edit"))],
                self.scratch,
                self.project,
            )
        if 3 in figures:
            self.watch_content = self.tmp / "watch-content"
            shutil.copytree(self.project / "content", self.watch_content)
            self.watch_original = (self.watch_content / EDIT_CARD).read_text(encoding="utf-8")

    # --- 1 ----------------------------------------------------------------------------------
    def figure1(self, n: int) -> None:
        both, alone = self.all_docs(n), self.booklet(n)
        r = self.report
        r.add("all_cpu_s", "1. all four documents (booklet + 3 excerpts), CPU", "s", both.own_cpu)
        r.add("booklet_cpu_s", "   the booklet alone, CPU", "s", alone.own_cpu)
        r.add(
            "all_ratio_cpu",
            "   ratio, CPU",
            "x",
            both.own_cpu / alone.own_cpu,
            goal=GOAL_ALL_RATIO,
        )
        r.add("all_ratio_wall", "   ratio, wall", "x", both.seconds / alone.seconds)
        entries = bb.manifest_entries(self.out("all"))
        kinds = sorted(e["kind"] for e in entries.values())
        r.check(
            "figure 1 built the booklet and 3 excerpts, nothing else",
            kinds == ["booklet", "theme", "theme", "theme"],
            ", ".join(kinds),
        )
        pages = {e["kind"]: 0 for e in entries.values()}
        for e in entries.values():
            pages[e["kind"]] += e["pages"]
        self.report.details["pages"] = pages

    # --- 2 ----------------------------------------------------------------------------------
    def figure2(self, n: int) -> None:
        existing = self.all_docs(n)
        empty = self.timed(
            [*BOTH, "-q", "--force", "--output", str(self.out(f"empty-{n}"))],
            "all four, empty folder",
            n,
        )
        r = self.report
        r.add("empty_cpu_s", "2. first build into an empty folder, CPU", "s", empty.own_cpu)
        r.add(
            "existing_cpu_s", "   forced rebuild into an existing one, CPU", "s", existing.own_cpu
        )
        r.add(
            "empty_ratio_cpu",
            "   ratio, CPU",
            "x",
            empty.own_cpu / existing.own_cpu,
            goal=GOAL_EMPTY_RATIO,
        )
        r.add("empty_ratio_wall", "   ratio, wall", "x", empty.seconds / existing.seconds)
        r.add("empty_peak_mb", "   peak memory of the empty-folder build", "MB", empty.peak_mb)
        # The same, on a machine that never built this edition: the user's cache empty too
        # (livret/building/usercache.py; the bench's own, in its temporary folder).
        fresh = self.timed(
            [*BOTH, "-q", "--force", "--output", str(self.out(f"new-machine-{n}"))],
            "all four, new machine",
            n,
            env={"XDG_CACHE_HOME": str(self.tmp / f"user-cache-{n}")},
        )
        r.add(
            "new_machine_cpu_s", "2b. the same, the user's cache empty too, CPU", "s", fresh.own_cpu
        )
        r.add("new_machine_ratio_cpu", "   ratio, CPU", "x", fresh.own_cpu / existing.own_cpu)
        r.add("new_machine_ratio_wall", "   ratio, wall", "x", fresh.seconds / existing.seconds)

    # --- 3 ----------------------------------------------------------------------------------
    def figure3(self, n: int) -> None:
        cold = self.booklet(n)
        out = self.out("watch")
        card = self.watch_content / EDIT_CARD
        card.write_text(self.watch_original, encoding="utf-8")  # each round from the real card
        argv = [*self.build, "watch", "--json", "-q", *BOTH]
        argv += ["--content", str(self.watch_content), "--output", str(out)]
        watch = Watch(argv, self.project, self.tmp / f"watch-{n}.log")
        edits = []
        try:
            start = time.perf_counter()
            watch.next_summary()  # the first build (everything, or nothing when up to date)
            log(f"  watch: first build {time.perf_counter() - start:.1f} s")
            for k in range(1, self.args.edits + 1):
                self.edits += 1
                before = bb.manifest_entries(out)
                booklet = next(p for p, e in before.items() if e["kind"] == "booklet")
                excerpt = next(
                    p
                    for p, e in before.items()
                    if e["kind"] == "theme" and e["theme"] == EDIT_THEME
                )
                cpu0 = bp.tree_cpu(watch.proc.pid)
                busy0, _ = bb.machine_cpu()
                sentence = f"Une phrase ajoutée pour la mesure numéro {self.edits}."
                text = append_sentence(self.watch_original, sentence)
                saved = time.time()
                card.write_text(text, encoding="utf-8")
                seen, summary = watch.next_summary()
                manifest = out / "manifest.json"
                rewritten = manifest.stat().st_mtime - saved
                cpu = bp.tree_cpu(watch.proc.pid) - cpu0
                busy1, _ = bb.machine_cpu()
                after = bb.manifest_entries(out)
                built = sorted(
                    Path(o["path"]).name for o in summary["outputs"] if o["status"] == "built"
                )
                self.report.check(
                    "watch: each edit rewrote exactly the booklet and the card's excerpt",
                    built == sorted([booklet, excerpt]),
                    f"edit {self.edits} rebuilt {', '.join(built) or 'nothing'}",
                )
                self.report.check(
                    "watch: the manifest has new sha256 for both",
                    all(after[p]["sha256"] != before[p]["sha256"] for p in (booklet, excerpt)),
                    f"edit {self.edits}",
                )
                edit = {
                    "round": n,
                    "edit": k,
                    "seconds": rewritten,
                    "summary_seen_s": seen - saved,
                    "cpu_s": cpu,
                    "cold_booklet_s": cold.seconds,
                    "cold_booklet_cpu_s": cold.own_cpu,
                    "ratio": rewritten / cold.seconds,
                    "other_cpu_s": max(0.0, busy1 - busy0 - cpu),
                }
                edits.append(edit)
                self.runs.append({"what": f"watch edit {k}", "round": n, **edit})
                log(
                    f"  watch edit {k}: {rewritten:.3f} s wall ({edit['ratio']:.2f}× the cold "
                    f"booklet), {cpu:.2f} s CPU"
                )
        finally:
            watch.stop()
        self.report.details.setdefault("watch_edits", []).extend(edits)
        r = self.report
        first, later = edits[0], edits[1:]
        r.add(
            "watch_first_s",
            "3. watch, first edit → booklet + excerpt rewritten",
            "s",
            first["seconds"],
        )
        r.add(
            "watch_first_ratio",
            "   first edit ÷ cold booklet build, wall",
            "x",
            first["ratio"],
            goal=GOAL_WATCH_RATIO,
        )
        r.add(
            "watch_first_cpu_ratio",
            "   first edit ÷ cold booklet build, CPU",
            "x",
            first["cpu_s"] / first["cold_booklet_cpu_s"],
        )
        for e in later:
            r.add("watch_later_s", "   later edits (warm worker)", "s", e["seconds"])
            r.add(
                "watch_later_ratio",
                "   later edits ÷ cold booklet build, wall",
                "x",
                e["ratio"],
                goal=GOAL_WATCH_RATIO,
            )
            r.add(
                "watch_later_cpu_ratio",
                "   later edits ÷ cold booklet build, CPU",
                "x",
                e["cpu_s"] / e["cold_booklet_cpu_s"],
            )
        r.add(
            "watch_cold_booklet_s",
            "   cold booklet build (--only booklet --force)",
            "s",
            cold.seconds,
        )

    # --- 4 and 5 ------------------------------------------------------------------------------
    def preview(self, figures: set[int]) -> None:
        saves = self.args.saves or (50 if 5 in figures else 10)
        log(f"preview: {saves} saves (benchmarks/bench_preview.py, without its baseline)")
        folder = self.tmp / "preview"
        folder.mkdir()
        result = bp.bench(saves, 1, folder, baseline=False)
        r = self.report
        r.details["preview"] = result
        if 4 in figures:
            for v in result["booklet_pdf_s"]["each"]:
                r.add(
                    "preview_booklet_s",
                    "4. preview, save → whole booklet PDF",
                    "s",
                    v,
                    GOAL_PREVIEW_BOOKLET_S,
                )
            for v in result["first_page_s"]["each"]:
                r.add(
                    "preview_first_s",
                    "   save → first changed page (PNG fetched)",
                    "s",
                    v,
                    GOAL_PREVIEW_FIRST_S,
                )
            for v in result["save_cpu_s"]["each"]:
                r.add("preview_cpu_s", "   CPU of the preview's processes per save", "s", v)
        if 5 in figures:
            series = result["rss_mb"]["series"]["workers_sum"]
            largest = result["rss_mb"]["series"]["workers_max"]
            marks = [1, *range(10, saves + 1, 10)]
            picked = {m: series[m - 1] for m in marks if m <= len(series)}
            r.details["workers_rss_mb_after_save"] = picked
            base = picked[1]
            drift = max(abs(v / base - 1) for v in picked.values())
            for m, v in picked.items():
                r.add(
                    f"rss_{m}",
                    f"5. render workers' RSS (sum) after save {m}"
                    if m == 1
                    else f"   after save {m}",
                    "MB",
                    v,
                )
            r.add("rss_drift", "   largest drift from save 1", "%", drift, goal=GOAL_RSS_DRIFT)
            r.add("rss_largest_last", "   largest worker after the last save", "MB", largest[-1])
        failed = [c["check"] for c in result["checks"] if not c["ok"]]
        r.check(
            "preview: every save changed its sheet, excerpt and booklet; the same workers",
            not failed,
            "; ".join(failed) or f"{len(result['checks'])} checks of bench_preview.py",
        )

    # --- 6 ----------------------------------------------------------------------------------
    def figure6(self) -> None:
        a = self.args
        cases = []
        if a.theme_cards:
            content = synthetic.synthetic_content(
                self.tmp / f"content-theme{a.theme_cards}", {BIG_THEME: a.theme_cards}
            )
            cases.append(
                (
                    "theme",
                    f"6. a {a.theme_cards}-card theme's excerpt (--theme {BIG_THEME}), peak",
                    ["--theme", BIG_THEME],
                    content,
                    GOAL_THEME_MB,
                )
            )
        if a.big_cards:
            content = synthetic.synthetic_content(
                self.tmp / f"content-{a.big_cards}", synthetic.spread(a.big_cards)
            )
            cases.append(
                (
                    "big",
                    f"6. a {a.big_cards}-card booklet (--only booklet), peak",
                    ["--only", "booklet"],
                    content,
                    GOAL_BIG_MB,
                )
            )
        r = self.report
        for key, label, args, content, goal in cases:
            out = self.out(f"memory-{key}")
            checked = subprocess.run(
                [*self.build, "check", "-q", "--content", str(content)],
                cwd=self.project,
                capture_output=True,
                text=True,
                env=bb.CHILD_ENV,
                timeout=WAIT,
            )
            r.check(
                f"`build.py check` accepts the synthetic content ({content.name})",
                checked.returncode == 0,
                "accepted"
                if checked.returncode == 0
                else (checked.stdout + checked.stderr).strip()[-300:],
            )
            log(f"  {label}: cap {a.cap_mb:.0f} MB of address space, timeout {a.timeout:.0f} s")
            run = measure_guarded(
                [*self.build, *args, "-q", "--content", str(content), "--output", str(out)],
                self.project,
                self.scratch,
                a.cap_mb,
                a.timeout,
            )
            fig = r.add(f"{key}_peak_mb", label, "MB", run.peak_mb, goal=goal)
            r.add(f"{key}_s", "   wall", "s", run.seconds)
            r.add(f"{key}_cpu_s", "   CPU", "s", run.cpu)
            r.add(f"{key}_tree_mb", "   the whole tree at most (sampled)", "MB", run.tree_mb)
            detail = {
                "status": run.status,
                "seconds": run.seconds,
                "cpu_s": run.cpu,
                "peak_mb": run.peak_mb,
                "tree_mb": run.tree_mb,
                "cards": sum(1 for _ in (content / "actions").glob("*.md")),
                "themes": len(synthetic.themes_of(content)),
            }
            if run.status == "ok":
                entries = bb.manifest_entries(out).values()
                detail["pages"] = sum(e["pages"] for e in entries)
                r.add(f"{key}_pages", "   pages", "pages", detail["pages"])
            else:
                fig.note = (
                    f"killed at {run.peak_mb:.0f} MB after {run.seconds:.0f} s ({run.status})"
                )
                fig.failed = True  # a build that did not end misses its goal
                detail["stderr_tail"] = run.stderr[-2000:]
                log(f"  its last messages:\n{run.stderr[-1500:]}")
            r.details[f"memory_{key}"] = detail
            log(
                f"  → {run.status}: {run.seconds:.1f} s, {run.cpu:.1f} s CPU, "
                f"peak {run.peak_mb:.0f} MB"
            )

    # --- 7 ----------------------------------------------------------------------------------
    def figure7(self, n: int) -> None:
        for key, folder, args, label in (
            (
                "noop_default",
                "default",
                [],
                "7. no-op rebuild, `build.py -q` (every default output)",
            ),
            ("noop_both", "all", BOTH, "   no-op rebuild, `--only booklet --only themes`"),
        ):
            out = self.out(folder)
            before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
            run = self.timed([*args, "-q", "--output", str(out)], f"no-op ({folder})", n)
            after = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
            self.report.check(
                f"no-op rebuild ({folder}) wrote nothing",
                before == after,
                "files rewritten: "
                + (", ".join(k for k in after if before.get(k) != after[k]) or "none"),
            )
            self.report.add(f"{key}_s", label, "s", run.seconds, goal=GOAL_NOOP_S)
            self.report.add(f"{key}_cpu_s", "   CPU", "s", run.own_cpu)

    # --- 8 ----------------------------------------------------------------------------------
    def figure8(self, n: int) -> None:
        """A card edited, then the booklet built again by a new process (`build.py`, as an
        editor runs it after a save): its other parts taken from the user's cache
        (livret/rendering/partcache.py), against the forced booklet, every part laid out."""
        cold = self.booklet(n)
        self.edits += 1
        text = append_sentence(self.edit_original, f"Une phrase pour la mesure {self.edits}.")
        (self.edit_content / EDIT_CARD).write_text(text, encoding="utf-8")
        argv = ["--only", "booklet", "-q", "--content", str(self.edit_content)]
        edit = self.timed([*argv, "--output", str(self.out("edit"))], "booklet after an edit", n)
        r = self.report
        r.add("edit_cli_cpu_s", "8. a card edited, `build.py`, booklet, CPU", "s", edit.own_cpu)
        r.add("edit_cli_s", "   wall", "s", edit.seconds)
        r.add("edit_cli_ratio_cpu", "   ÷ the forced booklet (every part laid out), CPU", "x",
              edit.own_cpu / cold.own_cpu)  # fmt: skip
        entries = bb.manifest_entries(self.out("edit"))
        r.check(
            "figure 8 rebuilt the booklet",
            [e["kind"] for e in entries.values()] == ["booklet"],
            ", ".join(e["kind"] for e in entries.values()),
        )

    def run(self, figures: set[int]) -> None:
        self.setup(figures)
        rounds = [f for f in (1, 2, 3, 7, 8) if f in figures]
        for n in range(1, self.args.repeat + 1 if rounds else 1):
            log(f"round {n}/{self.args.repeat}")
            self.shared = {}
            for f in rounds:
                getattr(self, f"figure{f}")(n)
        if figures & {4, 5}:
            self.preview(figures)
        if 6 in figures:
            self.figure6()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--only",
        type=int,
        action="append",
        choices=FIGURES,
        metavar="N",
        help="run figure N only (repeatable; default: all, 1 to 7)",
    )
    p.add_argument(
        "--repeat", type=int, default=3, metavar="N", help="rounds of 1, 2, 3, 7 (default 3)"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    p.add_argument(
        "--edits", type=int, default=3, metavar="N", help="3: edits per watch session (default 3)"
    )
    p.add_argument(
        "--saves",
        type=int,
        default=0,
        metavar="N",
        help="4, 5: preview saves (default 50 with 5, else 10)",
    )
    p.add_argument(
        "--theme-cards",
        type=int,
        default=60,
        metavar="N",
        help="6: cards in the big theme; 0: skip",
    )
    p.add_argument(
        "--big-cards",
        type=int,
        default=500,
        metavar="N",
        help="6: cards in the big edition; 0: skip",
    )
    p.add_argument(
        "--cap-mb",
        type=float,
        default=3000,
        help="6: address-space cap per process, MB (default 3000)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="6: seconds before a build is killed (default 600)",
    )
    args = p.parse_args()
    if args.repeat < 1 or args.edits < 2:
        p.error("--repeat ≥ 1 and --edits ≥ 2 (the first edit and a warm one)")
    figures = set(args.only or FIGURES)

    commit = bb.git_head()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="livret-bench-reuse-"))
    # The builds' user cache (livret/building/usercache.py) is the bench's own: filled by its
    # untimed setup, as a machine that has built the edition before; none of the user's.
    bb.CHILD_ENV["XDG_CACHE_HOME"] = str(tmp / "user-cache")
    bench = Bench(tmp, args)
    try:
        bench.run(figures)
    except bb.BenchError as exc:
        print(f"bench_reuse: a run failed, no figures: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()

    machine = bb.machine_facts(commit, load_before, load_after)
    cpus = machine["cpus"]
    notes = [
        f"figures {', '.join(map(str, sorted(figures)))}; {cpus} CPUs, Python {machine['python']}, "
        f"WeasyPrint {machine['weasyprint']}, work tree at {commit} (snapshot taken at start)"
    ]
    timed = [x for x in bench.runs if "other_cpu_s" in x]
    if timed:
        note, share = bb.load_note(timed, cpus, load_before, load_after)
        if share > 0.05:
            note += "; TIMINGS ARE NOISY: trust the CPU ratios over the wall ones"
        notes.append(note)
    report = bench.report
    if args.json:
        print(
            json.dumps(
                {
                    "repeat": args.repeat,
                    "machine": machine,
                    **report.as_json(),
                    "runs": bench.runs,
                    "notes": notes,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        report.print(args.repeat, notes)
    return 0 if all(ok for ok, _ in report.checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
