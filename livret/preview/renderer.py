"""A warm renderer: render workers that live across saves.

A fresh build forks workers that import WeasyPrint, load the fonts and parse the stylesheets
(~0.4 s each) before rendering anything. The preview and `watch` keep one pool of such workers
for as long as they run: a save pays for the render only. The workers are restarted only when
what they loaded changes (the styles and fonts, the edition's date that fixes the PDF timestamps).

Workers come from a fork server (a clean single-threaded process), not from the preview's
process with its server threads; they ignore Ctrl-C (the parent stops them, cleanly).

Memory stays flat over the saves: a render runs with the collector paused (pdf.py), so its
objects (a booklet: ~230,000 in reference cycles) outlive it until a full collection, which
came only every few renders: the worker held two or three renders' garbage at a time and grew
(+21 % over 20 saves). Each worker now collects once a task is done and its result sent, while
it waits for the next one (benchmarks/bench_preview.py measures it).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ..design import for_content


def _end_with(parent: int) -> None:
    """A worker ends when the process that started it is gone, even if it was killed and
    could not stop its pool: no stray workers."""
    while True:
        time.sleep(1)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)


# --- worker side: after each task, collect its garbage while idle ------------------------

_BUSY = threading.Lock()  # held while a task runs: the collection waits for it
_DONE = threading.Event()  # set when a task ends
TIDY_DELAY = 0.05  # seconds: the result is sent before the collection takes the interpreter


def _then_tidy(fn, /, *args, **kwargs):
    """Run a task; the worker's tidy thread collects its garbage once it is done."""
    with _BUSY:
        try:
            return fn(*args, **kwargs)
        finally:
            _DONE.set()


def _tidy() -> None:
    while True:
        _DONE.wait()
        time.sleep(TIDY_DELAY)
        _DONE.clear()
        with _BUSY:  # a task that came meanwhile runs first; its end sets _DONE again
            gc.collect()


def _warm_worker(content_root: str, epoch: str, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    threading.Thread(target=_tidy, name="tidy", daemon=True).start()
    os.environ["SOURCE_DATE_EPOCH"] = epoch  # fontTools reads it when subsetting
    from ..pipeline import _warm

    _warm(content_root)
    # What the worker loaded for good (modules, fonts, stylesheets) leaves the collector's
    # generations: later passes do not walk it again.
    gc.collect()
    gc.freeze()


def styles_stamp(content_root: str) -> tuple:
    """What the workers parsed and loaded (stylesheets, fonts): a change needs new workers."""
    return tuple(
        (name, str(p), p.stat().st_mtime_ns, p.stat().st_size)
        for name, p in for_content(content_root).files().items()
        if name.startswith("styles/")
    )


def forget_design() -> None:
    """Drop every cache of this process that holds something made from the layouts and
    stylesheets: the one call that invalidates the design."""
    from .. import design, markup, pipeline, render

    render.environment.cache_clear()
    design.for_project.cache_clear()
    markup.block.cache_clear()
    markup.inline.cache_clear()
    pipeline.forget_printer()


class _TidyExecutor(ProcessPoolExecutor):
    """A process pool whose workers collect each task's garbage once it is done."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_then_tidy, fn, *args, **kwargs)


class WarmPool:
    """A ProcessPoolExecutor of warm render workers, kept across builds."""

    def __init__(self, content_root: Path, jobs: int | None = None):
        from ..pipeline import _default_jobs

        self.root = str(Path(content_root).resolve())
        self.jobs = jobs or max(2, _default_jobs())
        self._pool: ProcessPoolExecutor | None = None
        self._stamp: tuple = ()
        self._design = [Path(f).resolve() for f in for_content(self.root).folders]

    def saved(self, changes: Iterable[str]) -> bool:
        """Files were saved: if a layout or a stylesheet is among them, drop what this process
        made of the design (the Jinja templates, compiled again, and what they were given).
        The workers, which loaded the stylesheets and fonts, are restarted by `get` when
        those changed. A saved card keeps the caches: they depend on the layouts and on the
        text given to them only. True when something was dropped."""
        if not any(Path(c).resolve().is_relative_to(f) for c in changes for f in self._design):
            return False
        forget_design()
        return True

    def get(self, site) -> ProcessPoolExecutor:
        """The pool for this site's build, started (or restarted, if the stylesheets or the
        edition's date changed)."""
        from ..pipeline import _set_reproducible_clock

        _set_reproducible_clock(site)
        stamp = (os.environ.get("SOURCE_DATE_EPOCH", ""), styles_stamp(self.root))
        if self._pool is not None and stamp != self._stamp:
            self.close()
        if self._pool is not None:
            try:  # a worker that died (killed, out of memory) breaks the pool: start anew
                self._pool.submit(int)
            except (BrokenProcessPool, RuntimeError):  # RuntimeError: shut down
                self.close()
        if self._pool is None:
            self._stamp = stamp
            self._pool = _TidyExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_warm_worker,
                initargs=(self.root, stamp[0], os.getpid()),
            )
            for _ in range(self.jobs):  # start them all now: they warm up in the background
                self._pool.submit(int)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
