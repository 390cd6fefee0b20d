"""Copyfitting: every page of a card is a real page, none a leftover.

A card opens on a left-hand page and fills whole pages (styles/page.css); when its text runs
a few lines onto its last page, that page is nearly empty (12 % of p. 7 in edition #01). A
designer moves the page break up, so that a section (or, failing one, a heading or a
paragraph) opens the last page and both pages are well filled. This module computes where.

How: each card is laid out on its own, in a document holding only that card with the same
stylesheets (a card opens on a fresh page, so its layout does not depend on what comes
before it). WeasyPrint's public `Page.anchors` give where each block starts and where the
card ends; from these the plan picks the block before which the last page should begin,
checks the choice with a second small layout, and marks that block `data-fit="break"`
(styles/card.css breaks the page before it). Decisions depend only on the card's own HTML,
the design and the renderer: they are cached under that key, so a build lays out only the
cards it has never seen, and the final document is laid out once, as it always was.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

MIN_FILL = 0.40  # the floor: no page of a card less than 40 % full
TARGET = 0.45  # what the plan aims at, a margin over the floor for the model's errors

CARD = re.compile(r'<article class="card" id="action-([^"]+)"[^>]*>.*?</article>', re.S)
BODY = re.compile(r"<body\b[^>]*>")
BREAK = ' data-fit="break"'
END = '<div id="fit-end" style="clear: both"></div>'
# The top and bottom of the page area, where the stylesheets put them (fixed boxes are
# placed on the page area, and take no room in the flow).
PROBES = (
    '<div id="fit-top" style="position: fixed; top: 0; height: 0"></div>'
    '<div id="fit-bottom" style="position: fixed; bottom: 0; height: 0"></div>'
)
VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Where a page may be made to begin, best first: a section, a heading, another block.
RANK = {"section": 0, "h3": 1, "h4": 1, "h5": 1, "h6": 1}
BLOCKS = {"p", "ul", "ol", "figure", "blockquote", "table", "dl"}


@dataclass(frozen=True)
class Candidate:
    offset: int  # of the start tag's name end, in the card's HTML (where BREAK goes)
    rank: int


class _Blocks(HTMLParser):
    """The start tags of a card where a page may begin: its sections and their children."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.lines = [0]
        for line in text.splitlines(keepends=True):
            self.lines.append(self.lines[-1] + len(line))
        self.stack: list[str] = []
        self.found: list[Candidate] = []

    def handle_starttag(self, tag, attrs):
        parent = self.stack[-1] if self.stack else ""
        classes = dict(attrs).get("class") or ""
        if tag == "section" and "section" in classes.split():
            rank: int | None = 0
        elif parent == "section" and (tag in RANK or tag in BLOCKS):
            rank = RANK.get(tag, 2)
        else:
            rank = None
        if rank is not None:
            line, col = self.getpos()
            self.found.append(Candidate(self.lines[line - 1] + col + 1 + len(tag), rank))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass


def candidates(card: str) -> list[Candidate]:
    parser = _Blocks(card)
    parser.feed(card)
    parser.close()
    # The card's first section starts its first page: breaking before it moves nothing.
    return parser.found[1:]


def mark(card: str, offsets: list[int], attribute: Callable[[int], str]) -> str:
    """`card` with `attribute(i)` inserted after the tag name of the i-th offset."""
    out, last = [], 0
    for i, offset in enumerate(sorted(offsets)):
        out += [card[last:offset], attribute(i)]
        last = offset
    return "".join(out) + card[last:]


@dataclass(frozen=True)
class Measure:
    """A card laid out on its own: its pages' fill, and where each candidate starts."""

    fills: list[float]  # per page of the card, 0–1 of the content area's height
    starts: list[tuple[int, float]]  # per candidate: (page of the card, fill above it)


def measure(layout: Callable[[str], object], head: str, card: str, cands, breaks=()) -> Measure:
    """Lay out `card` alone (after `head`, the document's own <head> and <body>), with
    `breaks` (offsets) marked, and read the anchors."""
    text = mark(  # candidates come in the card's order: the i-th offset is cands[i]'s
        card,
        [c.offset for c in cands],
        lambda i: f' id="fit-{i}"' + (BREAK if cands[i].offset in breaks else ""),
    )
    text = text[: text.rindex("</article>")] + END + "</article>"
    document = layout(head + PROBES + text + "</body></html>")
    pages = document.pages  # type: ignore[attr-defined]
    where: dict[str, tuple[int, float]] = {}
    first = None
    for number, page in enumerate(pages):
        for name, box in page.anchors.items():
            y = box[1]  # (x1, y1, x2, y2) in WeasyPrint 70; the top either way
            where.setdefault(name, (number, y))
            if name.startswith("action-") and first is None:
                first = number
    first = first or 0
    top, bottom = where["fit-top"][1], where["fit-bottom"][1]

    def fill(y: float) -> float:
        return max(0.0, min(1.0, (y - top) / (bottom - top)))

    end_page, end_y = where["fit-end"]
    fills = [1.0] * (end_page - first) + [fill(end_y)]
    starts = [(where[f"fit-{i}"][0] - first, fill(where[f"fit-{i}"][1])) for i in range(len(cands))]
    return Measure(fills, starts)


def choose(m: Measure, cands: list[Candidate]) -> list[int]:
    """Candidate indexes, best first, before which the last page may begin."""
    last = len(m.fills) - 1
    if last == 0 or m.fills[-1] >= TARGET:
        return []
    f_last = m.fills[-1]
    options = []
    for i, (page, above) in enumerate(m.starts):
        if page != last - 1:
            continue
        moved = 1.0 - above + f_last  # the last page, once the rest of page `last-1` joins it
        if above >= TARGET and TARGET <= moved <= 0.92:
            options.append((cands[i].rank, abs(above - moved), i))
    return [i for *_key, i in sorted(options)]


def fit_card(layout, head: str, card: str) -> list[int]:
    """The offsets (in `card`) of the blocks to break before: [] when the card fits."""
    cands = candidates(card)
    first = measure(layout, head, card, cands)
    for i in choose(first, cands)[:3]:
        trial = measure(layout, head, card, cands, breaks={cands[i].offset})
        if len(trial.fills) == len(first.fills) and min(trial.fills) >= MIN_FILL:
            page = trial.starts[i][0]
            if page == len(first.fills) - 1:
                return [cands[i].offset]
    return []


def head_of(html: str) -> str | None:
    """What a card's layout document needs of `html`: its <html> and <body> tags (the
    stylesheets come from the printer; the <head>'s title and metadata shape nothing)."""
    body = BODY.search(html)
    opening = re.search(r"<html\b[^>]*>", html)
    if body is None or opening is None:
        return None
    return f'<!DOCTYPE html>{opening.group(0)}<head><meta charset="utf-8"></head>{body.group(0)}'


def apply(html: str, decide: Callable[[str, str], list[int]]) -> str:
    """`html` with every card's breaks marked; `decide(head, card)` gives a card's breaks.
    Only in a document whose <body> asks for it (`data-copyfit`: the booklet and excerpts;
    a sheet is a handout of one or two pages, whose text runs on under the sidebar)."""
    head = head_of(html)
    if head is None or "data-copyfit" not in head:  # the layout asks for it (base.html)
        return html

    def one(match: re.Match) -> str:
        card = match.group(0)
        breaks = decide(head, card)
        return mark(card, breaks, lambda _i: BREAK) if breaks else card

    return CARD.sub(one, html)


SRC = re.compile(r'\bsrc="([^"]*)"')


class Decisions:
    """The breaks of each card already fitted, by a key of everything that shapes a card's
    layout: its HTML, its document's <body> tag, the pictures it shows, the stylesheets and
    fonts, the renderer and livret's code (`salt`). In memory, and on disk in a folder when
    given one (a build's output folder keeps one, so a rebuild fits only new or edited cards).
    """

    def __init__(self) -> None:
        self.memory: dict[str, list[int]] = {}

    @staticmethod
    def key(salt: str, head: str, card: str, root: Path) -> str:
        digest = hashlib.sha256("\0".join((salt, head, card)).encode())
        for src in SRC.findall(card):  # pictures: their size shapes the page
            path = (root / src).resolve()
            if path.is_relative_to(root) and path.is_file():
                digest.update(b"\0" + hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def get(
        self, key: str, folder: Path | None = None, card: str | None = None
    ) -> list[int] | None:
        """The breaks kept for `key`: from memory, else from `folder`, where an entry is
        taken only when it is exactly what `put` writes — a regular file holding the JSON
        list of offsets, each one a place where `card` (the card the key was made from) may
        break. Anything else (a damaged, foreign or hostile file) counts as absent."""
        if key in self.memory:
            return self.memory[key]
        if folder is None:
            return None
        value = _read_entry(folder / f"{key}.json", card)
        if value is not None:
            self.memory[key] = value
        return value

    def put(self, key: str, value: list[int], folder: Path | None = None) -> None:
        from .writer import write_atomic

        self.memory[key] = value
        if folder is not None:
            try:
                write_atomic(folder / f"{key}.json", _entry(value))
            except OSError:
                pass  # a cache: the next build fits the card again


ENTRY_CAP = 4096  # a decision is a few offsets: `[1234]`


def _entry(value: list[int]) -> bytes:
    """A decision as the cache keeps it (the one form `_read_entry` accepts)."""
    return json.dumps(value).encode()


def _read_entry(path: Path, card: str | None) -> list[int] | None:
    from .writer import read_small_regular_file

    data = read_small_regular_file(path, ENTRY_CAP)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not (
        isinstance(value, list)
        and all(type(v) is int and v >= 0 for v in value)
        and value == sorted(set(value))
        and _entry(value) == data
    ):
        return None
    if card is not None and not set(value) <= {c.offset for c in candidates(card)}:
        return None
    return value
