"""A warm renderer: render workers that live across saves.

A fresh build forks workers that import WeasyPrint, load the fonts and parse the stylesheets
(each worker) before rendering anything. The preview and `watch` keep one pool of such workers
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

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ..rendering.design import for_content


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
    from ..building import pipeline

    while True:
        _DONE.wait()
        time.sleep(TIDY_DELAY)
        _DONE.clear()
        with _BUSY:  # a task that came meanwhile runs first; its end sets _DONE again
            if _ROOT and not pipeline.PROCESS.ready(_ROOT):
                pipeline.PROCESS.warm(_ROOT)  # after a render stopped half-way: while idle
            gc.collect()


# --- stopping a render that a newer save made stale ----------------------------------------
#
# The parent raises the shared "cancelled up to" generation, then sends SIGUSR1 to its
# workers; a worker whose task belongs to a generation at or below it raises Cancelled in the
# middle of the render. Cancelled is a BaseException, as KeyboardInterrupt is: WeasyPrint's
# `except Exception` blocks let it through. The Printer the render was using may be half-way
# through something: it is dropped and made again while the worker waits for its next task.

SIGNAL = signal.SIGUSR1


class Cancelled(BaseException):
    """A render stopped (or never started) because a newer save made it stale."""


_ROOT = ""  # the content folder this worker renders
_CANCELLED = None  # the shared generation up to which tasks are stale (a multiprocessing Value)
_RUNNING = 0  # the generation of the task running, 0 when none


def _on_cancel(signum, frame) -> None:
    if _RUNNING and _CANCELLED is not None and _RUNNING <= _CANCELLED.value:
        raise Cancelled


def _cancellable(generation: int, fn, /, *args, **kwargs):
    """Run a task of this generation, unless it is stale already; stop it if it becomes so."""
    global _RUNNING
    from ..building import pipeline

    if _CANCELLED is not None and generation <= _CANCELLED.value:
        raise Cancelled
    _RUNNING = generation
    try:
        return fn(*args, **kwargs)
    except Cancelled:
        pipeline.PROCESS.forget()  # the tidy thread makes a new one
        raise
    finally:
        _RUNNING = 0


def _warm_worker(content_root: str, epoch: str, parent: int, cancelled=None) -> None:
    global _ROOT, _CANCELLED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _ROOT, _CANCELLED = content_root, cancelled
    signal.signal(SIGNAL, _on_cancel)  # ignored until now (inherited from the parent)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    threading.Thread(target=_tidy, name="tidy", daemon=True).start()
    os.environ["SOURCE_DATE_EPOCH"] = epoch  # fontTools reads it when subsetting
    from ..building.pipeline import PROCESS

    PROCESS.warm(content_root)
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
    from ..building import pipeline
    from ..reading import markup
    from ..rendering import design, render

    render.environment.cache_clear()
    design.for_project.cache_clear()
    markup.block.cache_clear()
    markup.inline.cache_clear()
    pipeline.PROCESS.forget()


class _TidyExecutor(ProcessPoolExecutor):
    """A process pool whose workers collect each task's garbage once it is done."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_then_tidy, fn, *args, **kwargs)


class Session(Executor):
    """One build's use of the warm pool: what `pipeline.run` submits (it takes this for a
    pool), and can be cancelled as a whole when a newer save makes the build stale."""

    def __init__(
        self,
        pool: WarmPool,
        executor: ProcessPoolExecutor,
        generation: int,
        book: ProcessPoolExecutor | None = None,
    ):
        self._pool = pool
        self._executor = executor
        self._book = book or executor
        self.generation = generation
        self.cancelled = False
        self._futures: list[Future] = []
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._submit(self._executor, fn, *args, **kwargs)

    def submit_book(self, fn, /, *args, **kwargs) -> Future:
        """Submit the booklet and its excerpts (pipeline._render_all) to the one worker that
        rendered them last: it keeps their parts' layouts (livret/rendering/compose.py), so a save
        lays out again only the card it changed."""
        return self._submit(self._book, fn, *args, **kwargs)

    def _submit(self, executor, fn, /, *args, **kwargs) -> Future:
        with self._lock:
            if self.cancelled:
                raise Cancelled  # the build stops at its next render
            future = executor.submit(_cancellable, self.generation, fn, *args, **kwargs)
            self._futures.append(future)
            return future

    def cancel(self) -> None:
        """Stop this build: its renders not started never start, those running stop."""
        with self._lock:
            if self.cancelled:
                return
            self.cancelled = True
            futures = list(self._futures)
        for future in futures:
            future.cancel()
        self._pool.cancel_up_to(self.generation)

    def wait(self) -> None:
        """Until every render of this build has ended (stopped or not): a stale render then
        never writes its PDF after the next build's."""
        with self._lock:
            futures = list(self._futures)
        wait(futures)


class WarmPool:
    """A ProcessPoolExecutor of warm render workers, kept across builds."""

    def __init__(self, content_root: Path, jobs: int | None = None):
        from ..building.pipeline import default_jobs

        self.root = str(Path(content_root).resolve())
        self.jobs = jobs or max(2, default_jobs())
        self._pool: ProcessPoolExecutor | None = None
        # The booklet's worker, on its own: it keeps the parts' layouts across saves.
        self._book: ProcessPoolExecutor | None = None
        self._stamp: tuple = ()
        self._workers: list = []
        self._generation = 0
        self._context = multiprocessing.get_context("forkserver")
        self._cancelled = self._context.Value("q", 0)
        # The workers come from a fork server started from this process: until a worker has
        # set its own handler, the cancel signal must not end it (its default action).
        with contextlib.suppress(ValueError):  # not the main thread: left as it is
            signal.signal(SIGNAL, signal.SIG_IGN)
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

    def session(self, site) -> Session:
        """A cancellable use of the pool for one build of this site."""
        executor = self.get(site)
        self._generation += 1
        return Session(self, executor, self._generation, self._book)

    def cancel_up_to(self, generation: int) -> None:
        """Every task of this generation or before is stale: stop those that run."""
        with self._cancelled.get_lock():
            self._cancelled.value = max(self._cancelled.value, generation)
        for worker in self._workers:
            with contextlib.suppress(ProcessLookupError):
                if worker.is_alive():
                    os.kill(worker.pid, SIGNAL)

    def get(self, site) -> ProcessPoolExecutor:
        """The pool for this site's build, started (or restarted, if the stylesheets or the
        edition's date changed)."""
        from ..building.pipeline import set_reproducible_clock

        set_reproducible_clock(site)
        stamp = (os.environ.get("SOURCE_DATE_EPOCH", ""), styles_stamp(self.root))
        if self._pool is not None and stamp != self._stamp:
            self.close()
        if self._pool is not None:
            try:  # a worker that died (killed, out of memory) breaks the pool: start anew
                self._pool.submit(int)
                if self._book is not None:
                    self._book.submit(int)
            except (BrokenProcessPool, RuntimeError):  # RuntimeError: shut down
                self.close()
        if self._pool is None:
            self._stamp = stamp
            before = set(multiprocessing.active_children())

            def pool(workers: int) -> ProcessPoolExecutor:
                made = _TidyExecutor(
                    max_workers=workers,
                    mp_context=self._context,
                    initializer=_warm_worker,
                    initargs=(self.root, stamp[0], os.getpid(), self._cancelled),
                )
                for _ in range(workers):  # start them all now: they warm up meanwhile
                    made.submit(int)
                return made

            # One worker for the booklet and its excerpts, the others for the sheets.
            self._book = pool(1)
            self._pool = pool(max(1, self.jobs - 1))
            # This pool's processes (started by the submits above): those a cancel signals.
            self._workers = list(set(multiprocessing.active_children()) - before)
        return self._pool

    def close(self) -> None:
        for executor in (self._pool, self._book):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._pool = self._book = None
        self._workers = []

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
