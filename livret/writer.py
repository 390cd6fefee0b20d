"""Stage 5 — write: files appear whole or not at all.

A PDF viewer that has the booklet open, or a mail run reading it, never sees half a file:
we write beside the target and rename over it (atomic on POSIX within one filesystem).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """`durable=False`: whole or absent, but not flushed to the disk before the rename (a cache
    file that can be made again: the preview's page images, which a save waits for)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: Path, data) -> None:
    write_atomic(path, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def read_small_regular_file(path: Path, cap: int) -> bytes | None:
    """The bytes of `path` when it is a regular file of at most `cap` bytes, else None (absent,
    unreadable, a symlink, a FIFO, a device, a folder, or too big). For every file livret reads
    back from what it wrote itself (the manifest, caches): what is not what we write counts
    as absent. Never blocks (a FIFO is opened non-blocking, then refused) nor reads past `cap`
    (a file that grows while read, /dev/zero under another name)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):  # ValueError: a NUL byte in the name
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
            return None
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return None if len(data) > cap else data
    except OSError:
        return None
    finally:
        os.close(fd)


def read_json(path: Path, cap: int):
    """The JSON value in `path` (see read_small_regular_file), or None when the file is not a
    regular file within `cap` bytes, not UTF-8 or not JSON (nested too deeply included)."""
    data = read_small_regular_file(path, cap)
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
