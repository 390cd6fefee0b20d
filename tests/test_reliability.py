"""Builds under edits, concurrency and signals (issue #9, items 1, 6, 7 and 8).

Real builds of one action sheet (the cheapest output), real processes, real signals; every
wait is on an event (a line printed, a process ending), with a timeout only as a guard.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pdftext import poppler_pages as pdf_pages

ROOT = Path(__file__).resolve().parent.parent
SHEET = "retour-experience-01-action-adie.pdf"
OLD = "Depuis 2023"
NEW = "Depuis 2023 (texte enregistré pendant la construction)"


def _sheet_text(path: Path) -> str:
    return " ".join(" ".join(pdf_pages(path)).split())


# --- item 1: a save during a build -----------------------------------------------------------


def test_a_save_right_after_the_read_is_rebuilt_by_the_next_build(
    content_copy, tmp_path, monkeypatch
):
    """The card is saved just after the build read it: this build prints the old text (it
    is what it read); the next one must see the change, never say "up to date"."""
    from livret.building.pipeline import run
    from livret.reading import reader

    card = content_copy / "actions/adie.md"
    real_read_text = reader.read_text
    saved = []

    def read_then_save(path, *args, **kwargs):
        text = real_read_text(path, *args, **kwargs)
        if Path(path).resolve() == card.resolve() and not saved:
            card.write_text(text.replace(OLD, NEW), encoding="utf-8")  # the editor saves
            saved.append(True)
        return text

    monkeypatch.setattr(reader, "read_text", read_then_save)
    out = tmp_path / "out"
    _, first = run(content_copy, out, booklet=False, themes=[], actions=["adie"], jobs=1)
    assert saved and first[0].status == "built"
    assert NEW not in _sheet_text(out / SHEET)  # rendered from what was read

    monkeypatch.setattr(reader, "read_text", real_read_text)
    _, second = run(content_copy, out, booklet=False, themes=[], actions=["adie"], jobs=1)
    assert second[0].status == "built", "the save was taken for 'up to date'"
    assert NEW in _sheet_text(out / SHEET)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["outputs"] if e["path"] == SHEET)
    assert entry["sha256"] == hashlib.sha256((out / SHEET).read_bytes()).hexdigest()


# --- item 7: two builds at once ----------------------------------------------------------------

# Build A: stops just before writing its manifest (its PDF is written), says so, and waits
# for a line on stdin: the moment the race happens.
PAUSED_BUILD = r"""
import sys
from livret.building import pipeline
real = pipeline.write_json
def paused(path, data):
    print("paused", flush=True)
    sys.stdin.readline()
    real(path, data)
pipeline.write_json = paused
from livret.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _build_cmd(content: Path, out: Path, *extra: str, quiet: bool = True) -> list[str]:
    return [
        "--content",
        str(content),
        "--output",
        str(out),
        "--only",
        "actions",
        "--action",
        "adie",
        "-j",
        "1",
        *(["-q"] if quiet else []),
        *extra,
    ]


@pytest.mark.slow  # two builds, each in a process of its own
def test_two_builds_at_once_leave_manifest_and_pdfs_consistent(content_copy, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    a = subprocess.Popen(
        [sys.executable, "-c", PAUSED_BUILD, *_build_cmd(content_copy, out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    b = None
    try:
        assert a.stdout.readline().strip() == "paused", a.stderr.read()
        card = content_copy / "actions/adie.md"
        card.write_text(card.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
        # B through another spelling of the same folder: the lock is on what it resolves to.
        (tmp_path / "alias").symlink_to(out)
        b = subprocess.Popen(
            [sys.executable, str(ROOT / "build.py"), *_build_cmd(content_copy, tmp_path / "alias")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        line = b.stderr.readline()  # B's first word: it waits (or, unlocked, it ends)
        assert "waiting" in line, line + b.stderr.read()
        a.stdin.write("go\n")
        a.stdin.flush()
        assert a.wait(timeout=300) == 0, a.stderr.read()
        assert b.wait(timeout=300) == 0, b.stderr.read()
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["outputs"]:
        data = (out / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["path"]
    assert NEW in _sheet_text(out / SHEET)  # B came last and rendered the edit


# --- item 8: no render worker outlives its build -------------------------------------------------


def _children(pid: int) -> set[int]:
    """Live child processes of `pid` (from /proc; zombies are dead)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_until(predicate, timeout: float, what: str):
    """Poll a condition only the kernel can tell (no event exists for 'a process died')."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _ignore_sigint() -> None:
    """As `nohup`, a background job of a script (`cmd &`) or some CI runners start a command."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow  # real processes killed
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "how",
    [
        "SIGKILL parent",
        "SIGTERM parent",
        "Ctrl-C group",
        "SIGINT parent",
        "Ctrl-C group, started with SIGINT ignored",
    ],
)
def test_stopping_the_build_leaves_no_render_worker(content_copy, tmp_path, how):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--content", str(content_copy)]
        + ["--output", str(tmp_path / "out"), "--only", "actions", "--force", "-j", "2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group, as a terminal gives a command
        preexec_fn=_ignore_sigint if "ignored" in how else None,
    )
    try:
        workers = _wait_until(
            lambda: len(_children(proc.pid)) >= 2 and _children(proc.pid), 120, "two workers"
        )
        if how == "SIGKILL parent":
            proc.send_signal(signal.SIGKILL)
        elif how == "SIGTERM parent":
            proc.send_signal(signal.SIGTERM)
        elif how == "SIGINT parent":
            proc.send_signal(signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        proc.wait(timeout=60)
        _wait_until(lambda: not any(_alive(w) for w in workers), 30, "the workers to end")
        if how.startswith(("Ctrl-C", "SIGINT")):
            err = proc.stderr.read()
            assert proc.returncode == 130 and "interrupted" in err, err
            assert "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for w in _children(proc.pid):
            os.kill(w, signal.SIGKILL)


# --- item 6: watch survives anything --------------------------------------------------------------

# The real watch, with one planted bug: a card holding "BOOM" makes the HTML renderer raise
# an unexpected exception (as a WeasyPrint crash would).
WATCH_WITH_A_BUG = r"""
import sys
from livret.rendering import render
real = render.render_html
def buggy(site, output):
    html = real(site, output)
    if "BOOM" in html:
        raise RuntimeError("planted bug")
    return html
render.render_html = buggy
from livret.cli import main
sys.exit(main(sys.argv[1:]))
"""


class _Lines:
    """The lines a process prints, read by a thread, awaited by content."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, text: str, start: int = 0, timeout: float = 180) -> int:
        """Index of the first line from `start` containing `text`."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if text in self.lines[i]:
                        return i
                left = end - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no line with {text!r}:\n" + "\n".join(self.lines))
                self.cond.wait(left)


@pytest.mark.slow  # a watch loop in a process of its own
def test_watch_survives_any_error_and_rebuilds_later_saves(content_copy, tmp_path):
    out = tmp_path / "out"
    card = content_copy / "actions/adie.md"
    good = card.read_text(encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCH_WITH_A_BUG, "watch"]
        + _build_cmd(content_copy, out, quiet=False),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)},
    )
    lines = _Lines(proc.stdout)
    try:
        at = lines.wait_for("watching")
        first = (out / SHEET).read_bytes()

        # 1. a lone surrogate in the title (once a WeasyPrint crash that ended the watch)
        bad = good.replace("title: Permettre", 'title: "\\udc80 Permettre', 1)
        card.write_text(bad.replace("fragilité\n", 'fragilité"\n', 1), encoding="utf-8")
        at = lines.wait_for("U+DC80", at + 1)
        assert "content/actions/adie.md:2: title:" in lines.lines[at]

        # 2. an unexpected exception: one line, a log with the traceback, still watching
        card.write_text(good.replace(OLD, "BOOM " + OLD), encoding="utf-8")
        at = lines.wait_for("internal error", at + 1)
        log = Path(lines.lines[at].rsplit(" ", 1)[1])
        assert "planted bug" in log.read_text(encoding="utf-8")
        assert "Traceback" in log.read_text(encoding="utf-8")
        assert proc.poll() is None
        assert (out / SHEET).read_bytes() == first  # the last good PDF stays

        # 3. a good save is rebuilt
        card.write_text(good.replace(OLD, NEW), encoding="utf-8")
        lines.wait_for(f"rendered {SHEET}", at + 1)
        assert NEW in _sheet_text(out / SHEET)
        assert not any("Traceback" in line for line in lines.lines), lines.lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # a real process interrupted
def test_ctrl_c_stops_watch_started_with_sigint_ignored(content_copy, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "watch"]
        + _build_cmd(content_copy, tmp_path / "out", quiet=False),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
        preexec_fn=_ignore_sigint,
    )
    lines = _Lines(proc.stdout)
    try:
        lines.wait_for("watching")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- issue 17: the content folder removed and put back ------------------------------------------


@pytest.mark.slow  # a watch loop in a process of its own
def test_watch_recovers_when_the_content_folder_comes_back(content_copy, tmp_path):
    """A `git checkout` or a sync tool removes content/ and writes it again: the watch goes on
    with the folder that came back."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "watch"]
        + _build_cmd(content_copy, out, quiet=False),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "LIVRET_LANG": "en"},
    )
    lines = _Lines(proc.stdout)
    try:
        at = lines.wait_for("watching")
        aside = tmp_path / "aside"
        shutil.copytree(content_copy, aside)
        shutil.rmtree(content_copy)  # removed, then written again: new folders, new files
        at = lines.wait_for("content folder not found", at + 1)
        shutil.copytree(aside, content_copy)
        card = content_copy / "actions/adie.md"
        card.write_text(card.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
        lines.wait_for(f"rendered {SHEET}", at + 1)
        assert NEW in _sheet_text(out / SHEET)
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- issue 17: watch keeps up with the editor ----------------------------------------------------

# The real watch, saying when the parent has made a PDF's HTML (its render starts right after,
# in a warm worker): the moment to save during the render.
WATCH_SAYING_RENDERS = r"""
import sys
from livret.rendering import render
real = render.render_html
def saying(site, output):
    html = real(site, output)
    print(f"html ready: {output.filename}", flush=True)
    return html
render.render_html = saying
from livret.cli import main
sys.exit(main(sys.argv[1:]))
"""
BOOKLET = "retour-experience-01.pdf"


def _watch_booklet(content: Path, out: Path) -> tuple[subprocess.Popen, _Lines]:
    """The real watch of the booklet, in French (the editor's default)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCH_SAYING_RENDERS, "watch"]
        + ["--content", str(content), "--output", str(out), "--only", "booklet", "-j", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(out.parent)},
    )
    return proc, _Lines(proc.stdout)


@pytest.mark.slow  # a watch loop in a process of its own, rendering the booklet
def test_watch_checks_a_bad_save_at_once_and_stops_the_stale_build(content_copy, tmp_path, french):
    """A bad save while the booklet renders: its problem is printed at once, in French, before
    any line of the stale build, whose booklet is never written."""
    out = tmp_path / "out"
    card = content_copy / "actions/adie.md"
    good = card.read_text(encoding="utf-8")
    proc, lines = _watch_booklet(content_copy, out)

    def rendered() -> list[str]:
        return [line for line in lines.lines if "rendu" in line or "construit" in line]

    try:
        at = lines.wait_for(f"html ready: {BOOKLET}")
        card.write_text(good.replace("theme: mobilites", "theme: nulle-part", 1), "utf-8")
        problem = lines.wait_for("adie.md:4", at + 1)
        assert "theme" in lines.lines[problem], lines.lines
        assert not rendered(), lines.lines  # printed before the stale build could end
        lines.wait_for("surveille", problem + 1)  # the stale build has ended
        assert not rendered(), lines.lines
        assert not (out / BOOKLET).exists()  # its render was stopped, never written
        assert proc.poll() is None
        assert not any("Traceback" in line for line in lines.lines), lines.lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # a watch loop in a process of its own, rendering the booklet
def test_watch_builds_the_last_of_two_quick_saves(content_copy, tmp_path, french):
    """A good save while the booklet renders stops that render (never ended, never written)
    and builds the new content: the booklet shows the last save."""
    out = tmp_path / "out"
    card = content_copy / "actions/adie.md"
    good = card.read_text(encoding="utf-8")
    proc, lines = _watch_booklet(content_copy, out)

    def save(words: str) -> None:
        card.write_text(good.replace("## Contexte\n", f"## Contexte\n\n{words}\n", 1), "utf-8")

    try:
        at = lines.wait_for("surveille")  # the first build is done
        save("Premiere version ajoutee.")
        at = lines.wait_for(f"html ready: {BOOKLET}", at + 1)
        save("Seconde version ajoutee.")
        at = lines.wait_for(f"html ready: {BOOKLET}", at + 1)
        done = lines.wait_for(f"rendu {BOOKLET}", at + 1)
        text = _sheet_text(out / BOOKLET)
        assert "Seconde version ajoutee." in text and "Premiere version" not in text
        # The stale render never ended: after the first build, one booklet rendered, the last.
        first = lines.wait_for(f"rendu {BOOKLET}")
        assert [x for x in lines.lines[first + 1 :] if "rendu " in x] == [lines.lines[done]]
        assert proc.poll() is None
        assert not any("Traceback" in line for line in lines.lines), lines.lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
