"""Each part of a book laid out once; the booklet and its excerpts composed from the parts.

A book document (the booklet, a theme excerpt) is a sequence of *parts*: the children of
<body>, each with an id (cover, contents, introduction, theme openers, cards, thanks, back
cover), each opening on a new page (styles/page.css). A part's layout depends on nothing
before it but the page it starts on: its folio and its side (left- and right-hand pages carry
their folio on the outside edge). So each part is laid out on its own, in a document holding
that part only, starting on its page, and the document is the sequence of their pages. Each
part is then written once, as a PDF of its own, and the document's file is these files put
end to end (livret/finishing/assemble.py: one tag tree, outline, set of links). For edition
#01 the composed booklet reads, links and looks as a single layout of the whole document
does (tests/test_compose.py).

What a part cannot know on its own, the composition gives it:
- its first folio: `@page :first { counter-increment: page N }`;
- its side: a part opening on a left-hand (even) page is laid out after a page break, on the
  second page of its document, and the first page is dropped;
- the page numbers of the contents and the theme openers (`target-counter()` of the
  elements they link to, in other parts): written into the part as `data-livret-page`, which
  the same stylesheets read (`attr()`) in place of `target-counter()` for these parts. The
  numbers come from the layout of the other parts; the parts that show them are laid out
  again only when a number or their own length changed (in practice: once, on a first build).

An excerpt is an offprint: its parts keep the folios they have in the booklet, as a chapter
printed apart keeps its page numbers (its own cover and contents open it, its contents give
the booklet's numbers, and the viewer shows them, /PageLabels). So an excerpt's cards are the
booklet's cards, laid out once for both, and a partner quoting « p. 14 » of an excerpt means
p. 14 of the booklet.

What makes a part depend on what precedes it, beyond the folio and side, rules the
composition out: a page total (`counter(pages)`), a cross-reference of another form
(`target-counter` of another attribute, `target-text`), text between the parts. `refusal`
says which; the document is then laid out whole, as before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import contracts

# The variants composed from their parts (the press file's page plan is the whole
# document's: spreads, a multiple of 4 pages; livret/rendering/fit.py, pageplan.py).
VARIANTS = ("accessible", "archive")
# A part opening on a left-hand page: laid out on the second page of its document.
PREFIX = '<div style="break-after: page"></div>'
# The stylesheets' cross-reference (styles/contents.css, opener.css) and what replaces it.
TARGET_COUNTER = "target-counter(attr(data-target url), page)"
PAGE_ATTRIBUTE = "data-livret-page"
NUMBERED = re.compile(r'\bdata-target="#([^"]+)"')
# CSS that makes a part depend on what precedes it (besides TARGET_COUNTER).
UNCOMPOSABLE = (
    ("counter(pages", "counter(pages)"),
    ("counters(pages", "counters(pages)"),
    ("target-counter(", "target-counter()"),
    ("target-counters(", "target-counters()"),
    ("target-text(", "target-text()"),
)
METADATA = re.compile(r"<title>.*?</title>|<meta\b[^>]*>", re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass(frozen=True)
class Part:
    ident: str
    html: str
    card: bool = False  # a card (livret/rendering/contracts.py), fitted to its pages

    @property
    def targets(self) -> tuple[str, ...]:
        """The ids whose page number this part shows (its `data-target="#id"`)."""
        return tuple(dict.fromkeys(NUMBERED.findall(self.html)))

    def numbered(self, numbers: Mapping[str, int]) -> str:
        """The part with each target's page number written beside it."""
        return NUMBERED.sub(
            lambda m: f'{m.group(0)} {PAGE_ATTRIBUTE}="{numbers[m.group(1)]}"', self.html
        )


@dataclass(frozen=True)
class Split:
    """A document cut into its parts: `head` is everything up to <body …> included."""

    head: str
    parts: tuple[Part, ...]
    copyfit: bool = False  # its <body> asks for its cards to be fitted (data-copyfit)

    def document(self, body: str) -> str:
        return f"{self.head}{body}</body></html>"

    @property
    def shape(self) -> str:
        """What of `head` shapes a part's pages: all of it but the title and the <meta>
        elements (the PDF's metadata, which a document takes from its first part)."""
        return METADATA.sub("", self.head)


def split(html: str) -> Split | None:
    """The document's parts, found by livret/rendering/contracts.py, or None when <body>
    holds anything else than elements with an id (text, an element without id, an empty
    element): such a document is laid out whole."""
    layout = contracts.read(html)
    if layout.body_tag is None or not layout.parts:
        return None
    head_end = html.find(layout.body_tag) + len(layout.body_tag)
    cards = {card.start for card in layout.cards}
    parts: list[Part] = []
    at = head_end
    for element in layout.parts:
        if element.id is None or element.end is None or element.tag in contracts.VOID:
            return None
        if _stray(html[at : element.start]):
            return None
        parts.append(Part(element.id, html[element.start : element.end], element.start in cards))
        at = element.end
    close = html.find("</body>", at)
    if _stray(html[at : close if close >= 0 else len(html)]):
        return None
    if len({p.ident for p in parts}) != len(parts):
        return None
    return Split(html[:head_end], tuple(parts), layout.copyfit)


def _stray(between: str) -> bool:
    """Whether what stands between two parts is more than blank space and comments."""
    return bool(COMMENT.sub("", between).strip())


def refusal(css: str) -> str | None:
    """Why a stylesheet rules the composition out, or None. Its one cross-reference form
    (TARGET_COUNTER) is taken away first: that one the composition gives."""
    rest = css.replace(TARGET_COUNTER, "")
    for needle, name in UNCOMPOSABLE:
        if needle in rest:
            return name
    return None


def numbered_sheet(css: str) -> str:
    """A stylesheet for the parts that show page numbers: the number written in the part."""
    return css.replace(TARGET_COUNTER, f"attr({PAGE_ATTRIBUTE})")


def key(*fields: object) -> str:
    return hashlib.sha256("\0".join(map(str, fields)).encode()).hexdigest()


# A part's layout: (the part, the folio of its first page, the page numbers it shows or None)
# → its pages (WeasyPrint Page objects: `anchors` is all the composition reads).
LayOut = Callable[[Part, int, "Mapping[str, int] | None"], Sequence]


@dataclass
class Composition:
    pages: list  # every page of the document, in order
    starts: dict[str, int]  # part id → folio of its first page
    folios: list[int] = field(default_factory=list)  # per page
    numbers: dict[str, int] = field(default_factory=dict)  # the page numbers parts show
    spans: dict[str, range] = field(default_factory=dict)  # part id → its pages' indexes

    @property
    def digest(self) -> str:
        """What of the layout of the other parts shows in this document: its folios."""
        return key(*(f"{k}={v}" for k, v in sorted(self.starts.items())))

    @property
    def offprint(self) -> bool:
        """Whether the folios differ from the page indexes (an excerpt's)."""
        return self.folios != list(range(1, len(self.folios) + 1))


class MissingTarget(Exception):
    """A part shows the page number of an element no part holds."""


def compose(
    document: Split,
    lay_out: LayOut,
    frame: Mapping[str, int] | None = None,
    guess: Mapping[str, int] | None = None,
    rounds: int = 4,
) -> Composition:
    """Lay the parts out one after the other and return the document's pages.

    `frame`: the folios of another document's parts (the booklet's), which the parts of the
    same id keep when they can (an offprint); `guess`: page numbers to try first for the
    parts that show some (the last build's), else 0. Each round lays out only what changed
    (`lay_out` keeps what it laid out: same part, folio and numbers, same pages)."""
    numbers: dict[str, int] = dict(guess or {})
    for _round in range(rounds):
        page = 1
        pages: list = []
        folios: list[int] = []
        starts: dict[str, int] = {}
        anchors: dict[str, int] = {}
        shown: dict[str, int] = {}
        spans: dict[str, range] = {}
        for part in document.parts:
            start = page
            if frame and part.ident in frame and frame[part.ident] >= page:
                start = frame[part.ident]
            targets = part.targets
            given = {t: numbers.get(t, 0) for t in targets} if targets else None
            laid = lay_out(part, start, given)
            shown.update(given or {})
            starts[part.ident] = start
            for i, one in enumerate(laid):
                for name in one.anchors:
                    anchors.setdefault(name, start + i)
            spans[part.ident] = range(len(pages), len(pages) + len(laid))
            pages.extend(laid)
            folios.extend(range(start, start + len(laid)))
            page = start + len(laid)
        if all(anchors.get(t) == n for t, n in shown.items()):
            return Composition(pages, starts, folios, shown, spans)
        missing = sorted(t for t in shown if t not in anchors)
        if missing:
            raise MissingTarget(", ".join(missing))
        numbers = anchors
    raise MissingTarget("page numbers did not settle")  # pragma: no cover (never seen)


def page_labels(folios: Sequence[int]) -> list[tuple[int, int]]:
    """(page index, first folio) of each run of consecutive folios: the /PageLabels ranges
    that make a viewer show an offprint's folios."""
    out: list[tuple[int, int]] = []
    for index, folio in enumerate(folios):
        if index == 0 or folio != folios[index - 1] + 1:
            out.append((index, folio))
    return out
