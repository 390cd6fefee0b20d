"""The preview's page images: each page of a PDF as a PNG, rasterised once per distinct page.

A page is known by a key: the sha256 of what draws it (its content stream, the fonts and images
it names, its size). WeasyPrint subsets fonts keeping the original glyph ids, so the same key
always draws the same pixels: a save re-rasterises only the pages whose key is new, and the
pages whose key differs from the last render's at the same place are the ones that changed.

PDFium (pypdfium2) rasterises; it is several times faster than a `pdftoppm` process per page
(benchmarks/bench_preview.py) and needs no system package.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

DPI = 110
CACHE = ".preview"  # inside the output folder: the only other folder the server reads
OWNER = ".owner"  # in each preview's own folder, locked while that preview runs


@dataclass
class Document:
    name: str  # the PDF's file name in the output folder
    title: str
    kind: str
    edition: str = ""  # the edition's slug: outputs are known by edition and name
    keys: list[str] = field(default_factory=list)  # one per page
    changed: list[int] = field(default_factory=list)  # pages (from 1) that changed last time
    version: int = 0
    sha256: str = ""  # of the PDF the pages were read from

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "edition": self.edition,
            "pages": [f"pages/{k}.png" for k in self.keys],
            "changed": self.changed,
            "version": self.version,
        }


def page_keys(pdf: Path) -> list[str]:
    """One key per page: what draws it, without the parts that differ between two renders of
    the same page (object numbers, font subset tags).

    pikepdf (qpdf) reads the file many times faster than pypdf did (benchmarks/README.md);
    the parent process does it while the workers render."""
    import pikepdf

    keys = []
    with pikepdf.open(pdf) as document:
        for page in document.pages:
            h = hashlib.sha256()
            h.update(repr([float(v) for v in page.mediabox]).encode())
            contents = page.obj.get("/Contents")
            for stream in contents if isinstance(contents, pikepdf.Array) else [contents]:
                if stream is not None:
                    h.update(stream.read_bytes())
            resources = page.obj.get("/Resources") or pikepdf.Dictionary()
            fonts = resources.get("/Font") or pikepdf.Dictionary()
            for name in sorted(fonts.keys()):
                base = str(fonts[name].get("/BaseFont", ""))
                h.update(f"{name}={base.split('+', 1)[-1]};".encode())
            images = resources.get("/XObject") or pikepdf.Dictionary()
            for name in sorted(images.keys()):
                h.update(name.encode() + hashlib.sha256(images[name].read_bytes()).digest())
            h.update(str(DPI).encode())
            keys.append(h.hexdigest())
    return keys


class PageCache:
    """PNG files named by page key; thread-safe.

    Each preview has its own folder, <output>/.preview/<edition>-<random>/, which it alone
    fills, prunes and removes: two previews of one output folder (two editions, or the same
    content twice) never remove each other's images. A folder whose preview has ended without
    removing it (killed) is removed by the next preview that starts: each preview holds a lock
    on a file in its folder for as long as it runs, and a folder whose lock is free is
    abandoned. Creating a folder and removing the abandoned ones happen under one lock, so a
    folder is never taken for abandoned while it is being made."""

    def __init__(self, output_dir: Path, edition: str = "preview"):
        base = Path(output_dir) / CACHE
        base.mkdir(parents=True, exist_ok=True)
        with _locked(base / ".lock"):
            _remove_abandoned(base)
            prefix = re.sub(r"[^A-Za-z0-9._-]", "-", edition)[:60] or "preview"
            self.folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=base))
            self._owner: int | None = os.open(
                self.folder / OWNER, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Remove this preview's folder (its images are of no use to anyone else)."""
        if self._owner is None:
            return
        with contextlib.suppress(OSError), _locked(self.folder.parent / ".lock"):
            shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._owner)
        self._owner = None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.png"

    def update(self, doc: Document, pdf: Path, mark: bool = True) -> list[int]:
        """Read the PDF's page keys, rasterise the new pages, and record which changed
        (`mark=False`: the first look at the outputs, where nothing is marked as changed)."""
        keys = page_keys(pdf)
        old = doc.keys
        changed = [i + 1 for i, k in enumerate(keys) if i >= len(old) or old[i] != k]
        missing = [i for i, k in enumerate(keys) if not self.path(k).is_file()]
        if missing:
            with self._lock:
                self._rasterise(pdf, keys, missing)
        doc.keys, doc.changed = keys, changed if mark else []
        if changed or len(old) != len(keys):
            doc.version += 1
        return changed

    def _rasterise(self, pdf: Path, keys: list[str], indexes: list[int]) -> None:
        import pypdfium2 as pdfium

        from ..building.writer import write_atomic

        document = pdfium.PdfDocument(str(pdf))
        try:
            for i in indexes:
                page = document[i]
                bitmap = page.render(scale=DPI / 72)
                buf = io.BytesIO()
                bitmap.to_pil().save(buf, format="PNG", compress_level=1)
                write_atomic(self.path(keys[i]), buf.getvalue(), durable=False)
                bitmap.close()
                page.close()
        finally:
            document.close()

    def prune(self, keep: set[str]) -> None:
        """Forget the images no document shows any more (the cache never grows past one
        version of each output plus the pages edited since). This preview's own folder only."""
        for png in self.folder.glob("*.png"):
            if png.stem not in keep:
                png.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(path: Path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_abandoned(base: Path) -> None:
    """Remove the folders of previews that have ended (their owner file is not locked), and
    the images an earlier version of livret kept directly in `base`. Called under base's
    lock."""
    for png in base.glob("*.png"):
        png.unlink(missing_ok=True)
    for folder in base.iterdir():
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            fd = os.open(folder / OWNER, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            shutil.rmtree(folder, ignore_errors=True)  # never owned: its maker ended at once
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a preview that runs
        finally:
            os.close(fd)  # (releases the lock taken, if any)
        shutil.rmtree(folder, ignore_errors=True)
