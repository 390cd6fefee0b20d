"""Stage 5 — write: files appear whole or not at all.

A PDF viewer that has the booklet open, or a mail run reading it, never sees half a file:
we write beside the target and rename over it (atomic on POSIX within one filesystem).
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import tempfile
from pathlib import Path

from ..errors import LivretError, Problem, display_path
from ..i18n import _


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


# The page boxes a PDF may declare: the largest page PDF allows is 14,400 units a side (200
# inches, ISO 32000-1 annex C); a box beyond it, empty or not made of 4 finite numbers is
# not a page any viewer or printer can use.
BOXES = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox")
MAX_PAGE = 14_400


def pdf_problems(data: bytes) -> list[str]:
    """What makes `data` not a whole PDF (empty when it is): the cross-reference table read
    as it is (no repair), every object and stream decoded and every page's content parsed
    (pikepdf's check_pdf_syntax, qpdf --check's checks), each page box 4 finite numbers within
    the largest page PDF allows. Shown to people: qpdf's words, one problem per item."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as pdf:
            problems = pdf.check_pdf_syntax()
            for number, page in enumerate(pdf.pages, 1):
                for box in BOXES:
                    why = _box_problem(page.obj.get(box) if box != "/MediaBox" else page.mediabox)
                    if why:
                        problems.append(f"page {number} {box[1:]}: {why}")
            return problems
    except Exception as exc:  # not a PDF, a broken xref…: whatever qpdf stumbles on
        return [str(exc) or type(exc).__name__]


def _box_problem(box) -> str | None:
    if box is None:
        return None
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        return "not numbers"
    if len(values) != 4 or not all(math.isfinite(v) and abs(v) <= MAX_PAGE for v in values):
        return f"{values[:4]} out of bounds"
    if values[2] == values[0] or values[3] == values[1]:
        return "empty"
    return None


def write_pdf(path: Path, data: bytes) -> None:
    """`data` written to `path` as write_atomic does, only when it is a whole PDF
    (pdf_problems): else LivretError naming `path`, and the PDF already there stays as it
    was. A renderer that writes a damaged file must never replace a good one."""
    problems = pdf_problems(data)
    if problems:
        raise LivretError(
            Problem(
                display_path(path),
                None,
                None,
                _(
                    "the PDF made is damaged ({why}): it was not written, the previous one "
                    "stays in place. A picture or a number far out of the ordinary in the "
                    "content changed last is the likely cause: remove it and build again"
                ).format(why=problems[0][:300]),
            )
        )
    write_atomic(path, data)


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
