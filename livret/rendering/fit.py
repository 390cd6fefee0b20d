"""Copyfitting: every page of a card is a real page, none a leftover.

A card opens on a new page (a left-hand one in the press file) and fills whole pages
(styles/page.css, print.css); when its text runs
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

In a book composed from its parts (livret/rendering/compose.py), the card's own part is that
document: `fit_in_place` measures the layout that is printed (its blocks' ids, `probed`, are
unique in the document and removed from the PDF's destinations), so a card that fits is laid
out once and one that needs a break once more. The press file fits its cards to spreads on
layouts of their own (`options`, below).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..building import usercache
from . import contracts

MIN_FILL = 0.40  # the floor: no page of a card less than 40 % full
TARGET = 0.45  # what the plan aims at, a margin over the floor for the model's errors

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


@functools.lru_cache(maxsize=1024)
def candidates(card: str) -> tuple[Candidate, ...]:
    """Where `card` may be given a page break (cached: a card is read again for each
    document that holds it, and at each save, unchanged)."""
    parser = _Blocks(card)
    parser.feed(card)
    parser.close()
    # The card's first section starts its first page: breaking before it moves nothing.
    return tuple(parser.found[1:])


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


# What `probed` puts between a card's id and its blocks' numbers in a composed document
# (`action-adie.fit-3`): no slug holds a dot, so these ids are told from every other.
PROBE = ".fit"


def probed(card: str, cands, breaks=(), prefix: str = "fit") -> str:
    """`card` as it is measured: each candidate with an id (`<prefix>-<i>`), `breaks`
    (offsets) marked, and an empty block at its end (`<prefix>-end`), after its floats."""
    text = mark(  # candidates come in the card's order: the i-th offset is cands[i]'s
        card,
        [c.offset for c in cands],
        lambda i: f' id="{prefix}-{i}"' + (BREAK if cands[i].offset in breaks else ""),
    )
    close = text.rindex("</")  # the card's own end tag, whatever its element
    end = END.replace('id="fit-end"', f'id="{prefix}-end"')
    return text[:close] + end + text[close:]


def read(pages, cands, area: tuple[float, float], prefix: str = "fit") -> Measure:
    """The measure of a card from its laid-out `pages` (its probed HTML: `probed`), the
    page area running from `area[0]` to `area[1]` (points from the page's top)."""
    where: dict[str, tuple[int, float]] = {}
    first = None
    for number, page in enumerate(pages):
        for name, box in page.anchors.items():
            y = box[1]  # (x1, y1, x2, y2) in WeasyPrint 70; the top either way
            where.setdefault(name, (number, y))
            if name.startswith("action-") and first is None:
                first = number
    first = first or 0
    top, bottom = area

    def fill(y: float) -> float:
        return max(0.0, min(1.0, (y - top) / (bottom - top)))

    end_page, end_y = where[f"{prefix}-end"]
    fills = [1.0] * (end_page - first) + [fill(end_y)]
    starts = [
        (where[f"{prefix}-{i}"][0] - first, fill(where[f"{prefix}-{i}"][1]))
        for i in range(len(cands))
    ]
    return Measure(fills, starts)


def area_of(pages) -> tuple[float, float]:
    """The top and bottom of the page area, from a layout holding PROBES."""
    where = {name: box[1] for page in pages[:1] for name, box in page.anchors.items()}
    return where["fit-top"], where["fit-bottom"]


def measure(layout: Callable[[str], object], head: str, card: str, cands, breaks=()) -> Measure:
    """Lay out `card` alone (after `head`, the document's own <head> and <body>), with
    `breaks` (offsets) marked, and read the anchors."""
    document = layout(head + PROBES + probed(card, cands, breaks) + "</body></html>")
    pages = document.pages  # type: ignore[attr-defined]
    return read(pages, cands, area_of(pages))


def fit_in_place(
    lay_out: Callable[[str], list], card: str, area: tuple[float, float], prefix: str
) -> tuple[list[int], str, list]:
    """`fit_card` from the layouts the document keeps (livret/rendering/compose.py): `lay_out(text)`
    lays the card's probed HTML out where it goes in the document and gives its pages, so
    that the layout measured is the one printed (a card that fits is laid out once; one
    that needs a break, once more). → (its breaks, its HTML as printed, its pages)."""
    cands = candidates(card)
    text = probed(card, cands, (), prefix)
    pages = lay_out(text)
    first = read(pages, cands, area, prefix)
    for i in choose(first, cands)[:3]:
        trial_text = probed(card, cands, {cands[i].offset}, prefix)
        trial_pages = lay_out(trial_text)
        trial = read(trial_pages, cands, area, prefix)
        if len(trial.fills) == len(first.fills) and min(trial.fills) >= MIN_FILL:
            if trial.starts[i][0] == len(first.fills) - 1:
                return [cands[i].offset], trial_text, trial_pages
    return [], text, pages


def choose(m: Measure, cands: Sequence[Candidate]) -> list[int]:
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
    return fit_measured(layout, head, card)[0]


def fit_measured(layout, head: str, card: str) -> tuple[list[int], Measure, Measure]:
    """`fit_card`'s breaks, the measure of the card laid out with them, and without any (the
    layouts it made: the press file's options read them instead of laying the card out again)."""
    cands = candidates(card)
    first = measure(layout, head, card, cands)
    for i in choose(first, cands)[:3]:
        trial = measure(layout, head, card, cands, breaks={cands[i].offset})
        if len(trial.fills) == len(first.fills) and min(trial.fills) >= MIN_FILL:
            page = trial.starts[i][0]
            if page == len(first.fills) - 1:
                return [cands[i].offset], trial, first
    return [], first, first


def head_of(html: str) -> str | None:
    """What a card's layout document needs of `html`: its <html> and <body> tags (the
    stylesheets come from the printer; the <head>'s title and metadata shape nothing)."""
    # the tags as written, found by parsing (livret/rendering/contracts.py)
    doc = contracts.read(html)
    if doc.body_tag is None or doc.html_tag is None:
        return None
    return f'<!DOCTYPE html>{doc.html_tag}<head><meta charset="utf-8"></head>{doc.body_tag}'


def _cards(html: str) -> list[tuple[str, int, int]]:
    """(slug, start, end) of each card of `html` (livret/rendering/contracts.py: any attribute
    order)."""
    found: list[tuple[str, int, int]] = []
    for card in contracts.read(html).cards:
        if card.end is not None and (not found or card.start >= found[-1][2]):
            found.append((contracts.slug_of(card), card.start, card.end))
    return found


def _edit(html: str, edits: list[tuple[int, int, str]]) -> str:
    """`html` with each (start, end) span replaced by its text (spans in order, apart)."""
    out, last = [], 0
    for start, end, text in sorted(edits):
        out += [html[last:start], text]
        last = end
    return "".join(out) + html[last:]


def apply(html: str, decide: Callable[[str, str], list[int]]) -> str:
    """`html` with every card's breaks marked; `decide(head, card)` gives a card's breaks.
    Only in a document whose <body> asks for it (`data-copyfit`: the booklet and excerpts;
    a sheet is a handout of one or two pages, whose text runs on under the sidebar)."""
    head = head_of(html)
    if head is None or not contracts.read(html).copyfit:  # the layout asks for it (base.html)
        return html

    def one(card: str) -> str:
        breaks = decide(head, card)
        return mark(card, breaks, lambda _i: BREAK) if breaks else card

    return _edit(html, [(start, end, one(html[start:end])) for _slug, start, end in _cards(html)])


SRC = re.compile(r'\bsrc="([^"]*)"')


class Decisions:
    """The breaks of each card already fitted, by a key of everything that shapes a card's
    layout: its HTML, its document's <body> tag, the pictures it shows, the stylesheets and
    fonts, the renderer and livret's code (`salt`). In memory, on disk in a folder when given
    one (a build's output folder keeps one, so a rebuild fits only new or edited cards), and in
    the user's cache (`shared`, livret/building/usercache.py: a build into a new folder fits
    only the cards no build on this machine has fitted).
    """

    def __init__(self, shared: str | None = None) -> None:
        self.memory: dict[str, list] = {}
        self.shared = shared  # the name of its folder in the user's cache, or None

    @staticmethod
    def key(salt: str, head: str, card: str, root: Path) -> str:
        digest = hashlib.sha256("\0".join((salt, head, card)).encode())
        for picture in picture_digests(card, root):  # their size shapes the page
            digest.update(b"\0" + picture)
        return digest.hexdigest()

    def get(
        self, key: str, folder: Path | None = None, valid: Callable[[list], bool] | None = None
    ) -> list | None:
        """The value kept for `key`: from memory, else from `folder`, where an entry is taken
        only when it is exactly what `put` writes (a regular file holding the JSON list, in
        `put`'s own form, within ENTRY_CAP) and `valid` accepts it. Anything else (a damaged,
        foreign or hostile file) counts as absent."""
        if key in self.memory:
            return self.memory[key]
        for where in (folder, self._shared()):
            if where is None:
                continue
            value = _read_entry(where / f"{key}.json")
            if value is None or (valid is not None and not valid(value)):
                continue
            if where != folder and folder is not None:  # the build's folder keeps what it used
                usercache.keep(folder / f"{key}.json", _entry(value))
            self.memory[key] = value
            return value
        return None

    def put(self, key: str, value: list, folder: Path | None = None) -> None:
        """Keep `value` (a cache: what cannot be written is fitted again next time)."""
        self.memory[key] = value
        if folder is not None:
            usercache.keep(folder / f"{key}.json", _entry(value))
        shared = self._shared()
        if shared is not None:
            usercache.keep(shared / f"{key}.json", _entry(value), pruned=True)

    def _shared(self) -> Path | None:
        return None if self.shared is None else usercache.folder(self.shared)


def picture_digests(html: str, root: Path) -> list[bytes]:
    """The sha256 of each picture `html` shows from the content folder `root`, in order (what
    a key of its layout holds besides the HTML: livret/rendering/partcache.py too)."""
    out = []
    for src in SRC.findall(html):
        path = (root / src).resolve()
        if path.is_relative_to(root) and path.is_file():
            found = path.stat()
            out.append(_file_digest(str(path), found.st_mtime_ns, found.st_size))
    return out


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, _mtime_ns: int, _size: int) -> bytes:
    """A file's sha256, read once per version (its time and size) and process: a card's
    trial layouts and its parts' keys name the same pictures."""
    return hashlib.sha256(Path(path).read_bytes()).digest()


ENTRY_CAP = 16384  # a decision is a few offsets (`[1234]`), a card's menu a few options


def _entry(value: list) -> bytes:
    """A value as the cache keeps it (the one form `_read_entry` accepts)."""
    return json.dumps(value).encode()


def _read_entry(path: Path) -> list | None:
    from ..building.writer import read_small_regular_file

    data = read_small_regular_file(path, ENTRY_CAP)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list) or _entry(value) != data:
        return None
    return value


def breaks_of(card: str) -> Callable[[list], bool]:
    """Whether a kept decision can be `card`'s breaks: offsets, in order, each one a place
    where the card may break."""

    def valid(value: list) -> bool:
        return (
            all(type(v) is int and v >= 0 for v in value)
            and value == sorted(set(value))
            and set(value) <= {c.offset for c in candidates(card)}
        )

    return valid


# --- Spreads (the press file): every card opens on a left-hand page, at most a page or two
# left blank. A card that would end on a left-hand page before another card leaves a blank
# page; a designer fits it to whole spreads instead: a little tighter or looser (within
# 0.5 pt of size and leading: styles/print.css, `data-copyfit`), or a pull quote taken from
# the card's own text with the page breaks spread out. Each card is measured alone (its
# options, cached like its breaks), then the document's plan picks, for all cards at once,
# the options that leave the fewest blank pages, then the fewest changes.

NAME = re.compile(r"<[^\s/>]+")  # a start tag's "<" and name
QUOTE_SECTION = re.compile(
    r'<section class="section section--([a-z0-9-]+)"[^>]*>(.*?)</section>', re.S
)
PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
TAG = re.compile(r"<[^>]+>")
SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-ÖØ-Ý«])")
QUOTE_LENGTH = (70, 170)  # characters: two to four lines at the pull quote's size
# Cost of each change, to prefer the lightest that works (0: the card as the fitting left it).
COSTS = {"": 0, "tight": 1, "loose": 1, "quote": 3, "stretch": 4}


@dataclass(frozen=True)
class Option:
    """One way to lay a card out: a copyfit (`""`, "tight", "loose"), a pull quote or not,
    the breaks (offsets in the card as given), the pages it then takes, and whether its
    breaks were spread out to take a page more than its text needs (`stretched`)."""

    pages: int
    copyfit: str = ""
    quote: bool = False
    breaks: tuple[int, ...] = ()
    stretched: bool = False

    @property
    def cost(self) -> int:
        """What the change costs the reader: a page more white costs most."""
        quote = COSTS["quote"] if self.quote else 0
        return COSTS[self.copyfit] + quote + (COSTS["stretch"] if self.stretched else 0)

    def describe(self) -> str:
        what = {"": "", "tight": "0.5 pt tighter", "loose": "0.5 pt looser"}[self.copyfit]
        parts = [what] if what else []
        if self.quote:
            parts.append("a pull quote")
        if self.stretched:
            parts.append(f"its text spread over {self.pages} pages")
        return ", ".join(parts) or "as fitted"


def pull_quote(card: str) -> str | None:
    """A sentence of the card's own text to set as a pull quote: from its Bilan if it has one
    (what the people who carried the action say of it), else from its first sections; the
    first sentence of a readable length. Its text as printed, tags dropped."""
    sections = QUOTE_SECTION.findall(card)
    sections.sort(key=lambda s: s[0] != "bilan")  # stable: Bilan first, then in order
    for _slug, body in sections:
        for paragraph in PARAGRAPH.findall(body):
            for sentence in SENTENCE.split(TAG.sub("", paragraph).strip()):
                if QUOTE_LENGTH[0] <= len(sentence) <= QUOTE_LENGTH[1]:
                    return sentence
    return None


def treated(card: str, copyfit: str, quote: bool) -> str:
    """The card with its copyfit marked and its pull quote set (before its middle section:
    the quote is a repeat of the text, for the eye, hidden from screen readers)."""
    if copyfit:
        at = NAME.match(card).end()  # type: ignore[union-attr]  # a card opens with its tag
        card = f'{card[:at]} data-copyfit="{copyfit}"{card[at:]}'
    if quote and (sentence := pull_quote(card)) is not None:
        starts = [m.start() for m in re.finditer(r'<section class="section ', card)]
        if len(starts) >= 2:
            at = starts[len(starts) // 2]
            aside = (
                '<aside class="pull-quote" aria-hidden="true">'
                f"<p>«\u202f{sentence}\u202f»</p></aside>"
            )
            card = card[:at] + aside + card[at:]
    return card


def _spread(layout, head: str, card: str, pages: int, first: Measure) -> tuple[int, ...] | None:
    """Breaks (offsets in `card`) that lay it out on exactly `pages` pages, none under
    MIN_FILL: one break per full page, where the page is about as full as the card's text
    spread evenly would make it; None when it cannot be done. `first`: its measure without
    breaks."""
    cands = candidates(card)
    breaks: set[int] = set()
    share = max(TARGET + 0.1, (len(first.fills) - 1 + first.fills[-1]) / pages)
    m = first
    for page in range(pages - 1):
        if len(m.fills) > pages:
            return None
        if len(m.fills) == pages and m.fills[-1] >= TARGET and min(m.fills) >= MIN_FILL:
            return tuple(sorted(breaks))
        options = [
            (abs(above - share) + 0.05 * cands[i].rank, i)
            for i, (on, above) in enumerate(m.starts)
            if on == page and MIN_FILL <= above and cands[i].offset not in breaks
        ]
        if not options:
            continue
        breaks.add(cands[min(options)[1]].offset)
        m = measure(layout, head, card, cands, breaks)
    ok = len(m.fills) == pages and min(m.fills) >= MIN_FILL
    return tuple(sorted(breaks)) if ok else None


def options(layout, head: str, card: str) -> list[Option]:
    """The ways to lay `card` out on whole pages: as the fitting leaves it, one page less
    (tighter), one page more (looser, then with a pull quote and its breaks spread out)."""
    found: dict[int, Option] = {}
    base_breaks, base, _unbroken = fit_measured(layout, head, card)
    found[len(base.fills)] = Option(len(base.fills), breaks=tuple(base_breaks))
    for copyfit, quote in (("tight", False), ("loose", False), ("loose", True)):
        text = treated(card, copyfit, quote)
        if quote and text == treated(card, copyfit, False):
            continue  # no sentence to quote
        breaks, m, unbroken = fit_measured(layout, head, text)
        pages = len(m.fills)
        if pages not in found and min(m.fills) >= MIN_FILL:
            found[pages] = Option(pages, copyfit, quote, tuple(breaks))
        want = len(base.fills) + 1
        if copyfit == "loose" and want not in found and pages < want:
            spread = _spread(layout, head, text, want, unbroken)
            if spread is not None:
                found[want] = Option(want, copyfit, quote, spread, stretched=True)
    return sorted(found.values(), key=lambda o: (o.cost, o.pages))


def apply_option(card: str, option: Option) -> str:
    text = treated(card, option.copyfit, option.quote)
    return mark(text, list(option.breaks), lambda _i: BREAK) if option.breaks else text


def simulate(lead: int, themes: list[list[int]], thanks: int) -> tuple[int, list[bool], int]:
    """Lay the parts out in spreads: `lead` pages before the first theme, each theme its
    opener (one page; a spread when it falls on a left-hand page) and its cards (their page
    counts, each opening on a left-hand page), the thanks, the back cover last of a multiple
    of 4. → (blank pages, which openers are spreads, total pages)."""
    page, blanks, spreads = lead + 1, 0, []
    for cards in themes:
        spreads.append(page % 2 == 0)
        page += 2 if page % 2 == 0 else 1
        for n in cards:
            if page % 2:
                blanks, page = blanks + 1, page + 1
            page += n
    page += thanks + 1
    total = page - 1
    return blanks + -total % 4, spreads, total + -total % 4


@dataclass(frozen=True)
class Plan:
    blanks: int
    spreads: list[bool]
    choices: dict[str, Option]


def plan_spreads(
    lead: int, themes: list[list[str]], thanks: int, menus: dict[str, list[Option]]
) -> Plan:
    """The options, one per card, that leave the fewest blank pages, then change the least."""
    import itertools

    slugs = [s for cards in themes for s in cards]
    best = None
    for combo in itertools.product(*(menus[s] for s in slugs)):
        counts, i = [], 0
        for cards in themes:
            counts.append([o.pages for o in combo[i : i + len(cards)]])
            i += len(cards)
        blanks, spreads, _total = simulate(lead, counts, thanks)
        key = (blanks, sum(o.cost for o in combo))
        if best is None or key < best[0]:
            best = (key, Plan(blanks, spreads, dict(zip(slugs, combo, strict=True))))
    assert best is not None
    return best[1]


def menu_to_json(menu: list[Option]) -> list:
    return [[o.pages, o.copyfit, o.quote, list(o.breaks), o.stretched] for o in menu]


def menu_from_json(value) -> list[Option] | None:
    """A menu as `menu_to_json` writes it, or None for anything else (a cache entry of
    another shape is recomputed, never trusted)."""

    def option(item) -> Option | None:
        if not (isinstance(item, list) and len(item) == 5):
            return None
        pages, copyfit, quote, breaks, stretched = item
        if not (
            type(pages) is int
            and pages > 0
            and copyfit in COSTS
            and type(quote) is bool
            and type(stretched) is bool
            and isinstance(breaks, list)
            and all(type(b) is int and b >= 0 for b in breaks)
            and breaks == sorted(set(breaks))
        ):
            return None
        return Option(pages, copyfit, quote, tuple(breaks), stretched)

    menu = [option(item) for item in value] if isinstance(value, list) else []
    return [o for o in menu if o is not None] if menu and None not in menu else None


def apply_spreads(
    html: str, menu_of: Callable[[str, str], list[Option]], layout: Callable[[str], object]
) -> tuple[str, Plan | None]:
    """`html` fitted to spreads (the press file): each card's option chosen from its menu
    (`menu_of(head, card)`), the openers that fall on a left-hand page marked as spreads.
    One layout of the whole document, with each card as the fitting leaves it, gives the
    pages before the first theme and the thanks' length."""
    head = head_of(html)
    doc = contracts.read(html)  # livret/rendering/contracts.py: the cards and parts, by parsing
    if head is None or not doc.copyfit:
        return html, None
    spans = _cards(html)
    cards = {slug: html[start:end] for slug, start, end in spans}
    if not cards:
        return html, None
    menus = {slug: menu_of(head, card) for slug, card in cards.items()}
    first = {slug: min(menu, key=lambda o: o.cost) for slug, menu in menus.items()}
    document = layout(_edit(html, [(a, b, apply_option(html[a:b], first[s])) for s, a, b in spans]))
    starts: dict[str, int] = {}
    for number, page in enumerate(document.pages, 1):  # type: ignore[attr-defined]
        for name in page.anchors:
            starts.setdefault(name, number)
    themes: list[list[str]] = []
    names: list[str] = []
    for ident in (part.id or "" for part in doc.parts):
        if ident.startswith("theme-"):
            themes.append([])
            names.append(ident)
        elif ident.startswith("action-") and themes:
            themes[-1].append(ident.removeprefix("action-"))
    if not names or "thanks" not in starts or "back" not in starts:
        return html, None
    lead = starts[names[0]] - 1
    thanks = starts["back"] - starts["thanks"]
    plan = plan_spreads(lead, themes, thanks, menus)
    edits = [(a, b, apply_option(html[a:b], plan.choices[s])) for s, a, b in spans]
    for name, spread in zip(names, plan.spreads, strict=True):
        opener = doc.part(name)
        if spread and opener is not None:  # data-spread after the opener's tag name
            edits.append((opener.name_end, opener.name_end, " data-spread"))
    return _edit(html, edits), plan
