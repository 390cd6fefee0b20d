"""Each part of a book kept once written, for any later process (the user's cache).

A book's parts (livret/rendering/compose.py) are laid out and written once per process: the
preview's warm workers keep them between saves. A new process (the next `python build.py`
after an edit, an excerpt built alone, a build into another folder) used to lay every part
out again, though a part's file depends only on what its key holds. So each part written is
also kept in the user's cache (livret/building/usercache.py, folder "parts"): its file, and
what of its pages the composition and the assembly read (`WrittenPage`). A later process
finds it there and lays out only the parts that changed.

The key: the part's layout key in the printer (the variant, the document's <head> and <body>
tags, the part's HTML as laid out, its first folio, the page numbers it shows), the design
and renderer and livret's code (the printer's salt), the bytes of the pictures it shows, and
the edition's date the build gives the clock. An entry is taken only whole and in the exact
form `put` writes (the digest of its file and pages checked); anything else counts as
absent. The folder is the user's own (0700): a part holds the booklet's text before it is
published.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..building import usercache
from ..finishing import assemble
from .fit import picture_digests

FOLDER = "parts"
HEADER_CAP = 1 << 20  # a part's pages: a few anchors, links and bookmarks each
FILE_CAP = 64 << 20  # a part's file: a card with its pictures
# Entries kept (the newest): an edition's parts are ~60 (screen and archive, the excerpts'
# covers and contents), ~40 KB each; a save in the preview adds two or three.
CAP = 1024


class WrittenPage:
    """What of a page the composition and the assembly still read once its part is written
    (livret/finishing/assemble.py): WeasyPrint's public Page attributes, without the layout
    (the boxes) behind them, which is let go: memory then follows the largest card, not the
    whole book (benchmarks/bench_reuse.py, figure 6). Kept in the user's cache as JSON."""

    __slots__ = ("anchors", "bleed", "bookmarks", "height", "links", "width")

    def __init__(self, anchors, bookmarks, links, width, height, bleed) -> None:
        self.anchors, self.bookmarks, self.links = anchors, bookmarks, links
        self.width, self.height, self.bleed = width, height, bleed

    @classmethod
    def of(cls, page) -> WrittenPage:
        links = [(kind, target, rect, None) for kind, target, rect, _box in page.links]
        return cls(page.anchors, page.bookmarks, links, page.width, page.height, page.bleed)

    def to_json(self) -> dict:
        return {
            "anchors": {name: list(at) for name, at in self.anchors.items()},
            "bookmarks": [
                [level, label, list(at), state] for level, label, at, state in self.bookmarks
            ],
            "links": [[kind, target, list(rect)] for kind, target, rect, _box in self.links],
            "width": self.width,
            "height": self.height,
            "bleed": self.bleed,
        }

    @classmethod
    def from_json(cls, value) -> WrittenPage | None:
        """The page `to_json` wrote, or None for anything of another shape."""
        try:
            anchors = {str(n): _numbers(at, 4) for n, at in value["anchors"].items()}
            bookmarks = [
                (int(lvl), str(label), _numbers(at, 2), str(state))
                for lvl, label, at, state in value["bookmarks"]
            ]
            links = [
                (str(kind), str(target), _numbers(rect, 4), None)
                for kind, target, rect in value["links"]
            ]
            width, height = _numbers([value["width"], value["height"]], 2)
            bleed = {side: _numbers([value["bleed"][side]], 1)[0] for side in value["bleed"]}
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if set(bleed) != {"top", "right", "bottom", "left"}:
            return None
        page = cls(anchors, bookmarks, links, width, height, bleed)
        return page if page.to_json() == value else None


def _numbers(value, count: int) -> tuple:
    if not isinstance(value, list) or len(value) != count:
        raise ValueError(value)
    if not all(type(v) in (int, float) for v in value):
        raise ValueError(value)
    return tuple(value)


def key(salt: str, layout_key: str, body: str, root: Path) -> str:
    """The key of a part's entry: its layout key in the printer, the design, renderer and
    code (`salt`), the bytes of the pictures its HTML shows (`root`: the content folder), and
    the edition's date the build gives the clock (SOURCE_DATE_EPOCH: the font subsets a part
    embeds carry it)."""
    clock = os.environ.get("SOURCE_DATE_EPOCH", "")
    digest = hashlib.sha256("\0".join(("part", salt, layout_key, clock)).encode())
    for picture in picture_digests(body, root):
        digest.update(b"\0" + picture)
    return digest.hexdigest()


def _folder() -> Path:
    where = usercache.folder(FOLDER)
    if not where.is_dir():
        try:
            where.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            pass
    return where


def get(entry: str) -> tuple[assemble.Fragment, list[WrittenPage]] | None:
    """The part kept under `entry`: (its file, its pages), or None."""
    from ..building.writer import read_small_regular_file

    kept = read_small_regular_file(_folder() / entry, HEADER_CAP + FILE_CAP)
    if kept is None or b"\n" not in kept:
        return None
    at = kept.index(b"\n") + 1
    header, data = kept[:at], kept[at:]
    try:
        head = json.loads(header)
    except (ValueError, RecursionError):
        return None
    if not isinstance(head, dict) or set(head) != {"sha256", "borrowed", "pages"}:
        return None
    borrowed, found = head["borrowed"], head["pages"]
    if not (isinstance(borrowed, list) and all(isinstance(b, str) for b in borrowed)):
        return None
    if not isinstance(found, list) or not found:
        return None
    pages = [WrittenPage.from_json(p) for p in found]
    if any(p is None for p in pages):
        return None
    if _header(data, borrowed, pages) != header:  # type: ignore[arg-type]  # digest, form
        return None
    return assemble.Fragment(data, frozenset(borrowed)), pages  # type: ignore[return-value]


def _header(data: bytes, borrowed, pages: list[WrittenPage]) -> bytes:
    """The entry's first line: its pages and borrowed names, and the digest of these and
    of its file (what a damaged entry no longer matches)."""
    what = {"borrowed": sorted(borrowed), "pages": [p.to_json() for p in pages]}
    described = json.dumps(what, sort_keys=True).encode()
    digest = hashlib.sha256(described + b"\n" + data).hexdigest()
    return json.dumps({**what, "sha256": digest}, sort_keys=True).encode() + b"\n"


def put(entry: str, fragment: assemble.Fragment, pages: list) -> None:
    """Keep a part written (a cache: what cannot be written is laid out again next time)."""
    written = [p if isinstance(p, WrittenPage) else WrittenPage.of(p) for p in pages]
    header = _header(fragment.data, fragment.borrowed, written)
    if len(header) <= HEADER_CAP and len(fragment.data) <= FILE_CAP:
        usercache.keep(_folder() / entry, header + fragment.data, pruned=True, cap=CAP)
