"""The user's cache: what livret computed once and any build on this machine may reuse.

Some results depend only on their inputs, never on the folder a build writes into: the
copyfitting decisions of a card (livret/rendering/fit.py, keyed by the card, the design, the
renderer and livret's code), the page numbers a book's parts showed, the parts of a book
written (livret/rendering/partcache.py), the web edition's font subsets, veraPDF's compiled
harness. They are kept per user (XDG_CACHE_HOME, else ~/.cache), under `livret/`, so that a
build into a new folder (a fresh `output/`, the preview's, another edition's) does not
compute them again. A build reads them like its own folder's cache:
anything damaged or foreign counts as absent, and a missing or read-only cache only costs
time. Each folder keeps its newest `CAP` entries (the parts: partcache.CAP).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

CAP = 4096  # entries per folder: decisions are ~20 bytes each, a year of saves a few thousand


def folder(name: str) -> Path:
    """`livret/<name>` in the user's cache (read from the environment at each call, so that a
    process follows a changed XDG_CACHE_HOME). A process with neither XDG_CACHE_HOME nor a home
    folder (a service account) keeps one of its own, private, that ends with it."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder: nowhere shared to keep it
            base = _private()
    return Path(base) / "livret" / name


@functools.cache
def _private() -> str:
    folder = tempfile.mkdtemp(prefix="livret-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def keep(path: Path, data: bytes, pruned: bool = False, cap: int = CAP) -> bool:
    """Write a cache entry, whole or not at all (livret/building/writer.py), and say whether
    it was kept: a cache that cannot be written only costs the work again. `pruned`: its
    folder is a folder of the user's cache, kept to its newest entries (`prune`)."""
    from .writer import write_atomic

    try:
        write_atomic(path, data, durable=False)
    except OSError:
        return False
    if pruned:
        prune(path.parent, cap)
    return True


def prune(where: Path, cap: int = CAP) -> None:
    """Keep the newest `cap` files of `where` (by modification time), when it holds more than
    `cap` plus a tenth: pruning then happens once per few hundred new entries."""
    try:
        entries = [e for e in os.scandir(where) if e.is_file(follow_symlinks=False)]
    except OSError:
        return
    if len(entries) <= cap + cap // 10:
        return
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns, reverse=True)
    for entry in entries[cap:]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
