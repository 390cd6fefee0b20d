"""The saves `watch` and `preview` react to: batches of changed paths, for as long as they run.

The watcher starts before the first build, so that a save made during that build is seen: the
first batch is empty and comes once the folders are watched (build everything now).

A content folder that goes away (a `git checkout`, a sync tool that replaces the folder) takes
its watch with it: the operating system stops reporting anything inside it, even once a folder
of that name is back. So when the content folder is gone, the batch that says so is given (the
build reports « content folder not found »), then its parent folder is watched until the content
folder is back, and watching starts again, with a batch naming it (build everything again).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from watchfiles import Change, watch

from ..reading.loader import is_backup_file

DEBOUNCE = 150  # ms: a save is one write (or a write and a rename), seen 10-20 ms after
STEP = 10  # ms between two looks at the changes gathered
TIMEOUT = 500  # ms: how often a quiet watcher says so (and the stop event is looked at)


def _wanted(change, path: str) -> bool:
    return not is_backup_file(Path(path).name)  # editors' backup, lock and swap files


def saves(
    content: Path | str,
    folders: Iterable[Path | str] = (),
    stop: threading.Event | None = None,
) -> Iterator[list[str]]:
    """Batches of changed paths: `[]` first, once watching; a batch naming the content folder
    when it is gone, and again when it is back. Ends when `stop` is set."""
    content = Path(content)
    others = [Path(f) for f in folders]
    announce: list[str] | None = []  # given once the folders are watched
    while stop is None or not stop.is_set():
        if not content.is_dir() and not _wait_for(content, stop):
            return
        watched = _identity(content)
        root = content.absolute()
        roots = [content, *(f for f in others if f.is_dir())]
        try:
            for changes in watch(
                *roots,
                watch_filter=_wanted,
                debounce=DEBOUNCE,
                step=STEP,
                rust_timeout=TIMEOUT,
                yield_on_timeout=True,
                stop_event=stop,
            ):
                paths = sorted({path for _change, path in changes})
                if announce is not None:
                    paths, announce = sorted({*announce, *paths}), None
                    yield paths
                elif paths:
                    yield paths
                # Removed (an event says so; a new folder may even have the old one's inode
                # number) or replaced: its watch is gone with it.
                removed = any(c == Change.deleted and Path(p) == root for c, p in changes)
                if removed or _identity(content) != watched:
                    if not paths:
                        yield [str(content)]  # moved away: no event may have said so
                    # Watched again, it is announced (it may be back already: a new folder,
                    # which the old watch does not see).
                    announce = [str(content)]
                    break
        except FileNotFoundError:  # gone between the look and the watch
            announce = [str(content)]


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which folder a path names (a folder removed and made again is another one)."""
    try:
        st = folder.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _wait_for(folder: Path, stop: threading.Event | None) -> bool:
    """Wait until `folder` exists, watching its nearest parent that does (not recursively: a
    project folder can be big). False if stopped first."""
    while not folder.is_dir():
        if stop is not None and stop.is_set():
            return False
        parent = next((p for p in folder.parents if p.is_dir()), None)
        if parent is None:
            return False
        for _changes in watch(
            parent,
            debounce=DEBOUNCE,
            step=STEP,
            rust_timeout=TIMEOUT,
            yield_on_timeout=True,  # and look again: it may have come before the watch did
            stop_event=stop,
            recursive=False,
        ):
            if folder.is_dir() or not parent.is_dir() or (stop is not None and stop.is_set()):
                break
    return True
