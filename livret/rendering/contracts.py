"""What the code needs of the layouts' HTML, read by parsing it and checked loudly.

The layouts (Jinja2, a project may override any of them: livret/rendering/design.py) and the code
that finishes a document are tied by a few promises. The rendered HTML of a booklet or an excerpt
(booklet.html) and of a single-action sheet (sheet.html) must hold:

- its parts: the children of <body>, each with an id (livret/finishing/tags.py makes one element of
  each part's pages; livret/rendering/fit.py finds the theme openers, the thanks and the back
  cover);
- its cards: an element whose classes include `card` and whose id is `action-<slug>`, a part
  (livret/rendering/fit.py fits each one to whole pages);
- in a booklet or excerpt, `data-copyfit` on <body> (copyfitting asks for it) and the
  `<!-- livret:notes -->` marker (livret/rendering/pageplan.py puts the press file's Notes pages
  there).

`read` parses the HTML once (any attribute order or quoting) and gives where each of these
is; `check` says, in the user's language, which layout breaks which promise and what to do.
A broken layout fails the build before anything is laid out, with every problem at once:
left unchecked, it would silently turn copyfitting off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

from ..errors import Problem
from ..i18n import _

NOTES = "livret:notes"  # the comment's text: <!-- livret:notes -->
CARD_CLASS = "card"
CARD_PREFIX = "action-"
VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip


@dataclass(frozen=True)
class Element:
    """An element of the HTML, with its offsets in it."""

    tag: str
    id: str | None
    classes: tuple[str, ...]
    start: int  # of its start tag's "<"
    name_end: int  # just after its start tag's name: where an attribute can be inserted
    end: int | None  # just after its end tag; None when it is never closed
    part: bool  # a child of <body>


@dataclass(frozen=True)
class Layout:
    """Where the code's landmarks are in a document's HTML."""

    html_tag: str | None  # the <html> start tag, as written
    body_tag: str | None  # the <body> start tag, as written
    body: dict[str, str | None]  # the body's attributes
    parts: tuple[Element, ...]  # the children of <body>, in order
    cards: tuple[Element, ...]  # the elements of class `card` with an id action-…, in order
    card_like: tuple[Element, ...]  # every element of class `card`, whatever its id
    notes: tuple[int, int] | None  # the Notes marker's offsets (start, end)

    @property
    def copyfit(self) -> bool:
        """Whether the document asks for its cards to be fitted to their pages."""
        return "data-copyfit" in self.body

    def part(self, ident: str) -> Element | None:
        return next((p for p in self.parts if p.id == ident), None)


class _Reader(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        # HTMLParser counts lines at "\n" only (not at the other line ends str.splitlines knows)
        self.lines = [0] + [m.end() for m in re.finditer("\n", text)]
        self.html_tag: str | None = None
        self.body_tag: str | None = None
        self.body: dict[str, str | None] = {}
        self.stack: list[list] = []  # [tag, start, name_end, id, classes, part]
        self.closed: list[Element] = []
        self.open_depth = -1  # the stack's length at <body>; -1 outside it
        self.notes: tuple[int, int] | None = None

    def position(self) -> int:
        line, col = self.getpos()
        return self.lines[line - 1] + col

    def handle_starttag(self, tag, attrs):
        start = self.position()
        if tag == "html" and self.html_tag is None:
            self.html_tag = self.get_starttag_text()
        if tag == "body" and self.body_tag is None:
            self.body_tag = self.get_starttag_text()
            self.body = dict(attrs)
        values = dict(attrs)
        item = [
            tag,
            start,
            start + 1 + len(tag),
            values.get("id"),
            tuple((values.get("class") or "").split()),
            self.body_tag is not None and len(self.stack) == self.open_depth,
        ]
        if tag in VOID:
            self._close(item, start + len(self.get_starttag_text() or ""))
            return
        self.stack.append(item)
        if tag == "body":
            self.open_depth = len(self.stack)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:  # <div/>: closed at once
            item = self.stack.pop()
            self._close(item, item[1] + len(self.get_starttag_text() or ""))

    def handle_endtag(self, tag):
        if not any(item[0] == tag for item in self.stack):
            return  # a stray end tag
        start = self.position()
        close = self.text.find(">", start)
        end = len(self.text) if close < 0 else close + 1
        while self.stack:
            item = self.stack.pop()
            if item[0] == tag:
                self._close(item, end)
                break
            self._close(item, None)  # implied end (<p>, <li>): not a part or a card anyway
        if tag == "body":
            self.open_depth = -1

    def _close(self, item: list, end: int | None) -> None:
        tag, start, name_end, ident, classes, part = item
        self.closed.append(Element(tag, ident, classes, start, name_end, end, part))

    def handle_comment(self, data):
        if data.strip() == NOTES and self.notes is None:
            start = self.position()
            self.notes = (start, start + len(data) + len("<!---->"))

    def result(self) -> Layout:
        while self.stack:  # never closed
            self._close(self.stack.pop(), None)
        elements = sorted(self.closed, key=lambda e: e.start)
        card_like = tuple(e for e in elements if CARD_CLASS in e.classes)
        return Layout(
            self.html_tag,
            self.body_tag,
            self.body,
            tuple(e for e in elements if e.part),
            tuple(e for e in card_like if (e.id or "").startswith(CARD_PREFIX)),
            card_like,
            self.notes,
        )


@lru_cache(maxsize=4)
def read(html: str) -> Layout:
    """The landmarks of `html` (a rendered document). Cached: a render reads its document
    several times (copyfitting, the page plan, the tags)."""
    parser = _Reader(html)
    parser.feed(html)
    parser.close()
    return parser.result()


def slug_of(card: Element) -> str:
    return (card.id or "").removeprefix(CARD_PREFIX)


def describe(element: Element) -> str:
    """How a person finds an element in a layout: `<article class="card">`."""
    classes = f' class="{" ".join(element.classes)}"' if element.classes else ""
    return f"<{element.tag}{classes}>"


# What each layout that renders a whole document promises: the book (the booklet and its
# excerpts) and the single-action sheet. The web edition has no such promise.
BOOK = "booklet.html"
SHEET = "sheet.html"
TEMPLATES = (BOOK, SHEET)


def check(
    html: str,
    template: str,
    themes: Sequence[tuple[str, Sequence[str]]],
    layout: Callable[[Sequence[str]], str] = lambda names: f"layouts/{names[0]}",
) -> list[Problem]:
    """Every promise of the layouts that `html`, rendered from `template`, breaks: [] when
    it keeps them all. `themes`: (theme slug, its cards' slugs) as the document shows them.
    `layout(names)` names the layout file to blame among `names` (the likeliest first; the
    project's own file when it has one)."""
    if template not in TEMPLATES:
        return []
    doc = read(html)
    problems: list[Problem] = []

    def problem(names: Sequence[str], message: str) -> None:
        problems.append(Problem(layout(names), None, None, message))

    if doc.body_tag is None:
        problem(
            ("base.html", template),
            _("the document has no <body>: every layout's content goes inside <body>."),
        )
        return problems
    book = template == BOOK
    if book and not doc.copyfit:
        problem(
            ("base.html", template),
            _(
                "the booklet's <body> has no data-copyfit attribute, so its cards would not "
                "be fitted to their pages: write <body … data-copyfit> for the booklet and its "
                "excerpts, as livret's base.html does."
            ),
        )
    by_id = {c.id: c for c in doc.cards}
    slugs = [slug for _theme, cards in themes for slug in cards]
    for n, slug in enumerate(slugs):
        card = by_id.get(CARD_PREFIX + slug)
        if card is None:
            other = doc.card_like[n] if n < len(doc.card_like) else None
            found = (
                _("the card found there is {element} with id « {id} »").format(
                    element=describe(other), id=other.id or ""
                )
                if other is not None
                else _("no element has the class card")
            )
            problem(
                ("card.html", template),
                _(
                    "the card « {slug} » has no element of class card with id action-{slug} "
                    '({found}): open it as livret\'s card.html does, <article class="card" '
                    'id="action-…"> (any attribute order).'
                ).format(slug=slug, found=found),
            )
        elif not card.part:
            problem(
                ("card.html", template),
                _(
                    "the card « {slug} » ({element} id action-{slug}) is inside another "
                    "element: it must be a child of <body>, a part of its own."
                ).format(slug=slug, element=describe(card)),
            )
        elif card.end is None:
            problem(
                ("card.html", template),
                _("the card « {slug} » ({element}) is never closed: close it.").format(
                    slug=slug, element=describe(card)
                ),
            )
    for part in doc.parts:
        if not part.id:
            problem(
                (template,),
                _(
                    "{element}, a child of <body>, has no id: give each part of the document "
                    "an id of its own (the PDF's tags make one element of each part)."
                ).format(element=describe(part)),
            )
    if book:
        wanted = [(f"theme-{theme}", "opener.html") for theme, _cards in themes]
        wanted += [("thanks", "thanks.html"), ("back", "back.html")]
        for ident, name in wanted:
            if doc.part(ident) is None:
                problem(
                    (name, template),
                    _(
                        "no part has the id « {id} »: the press file's spreads are planned from "
                        'it; give that part (a child of <body>) id="{id}".'
                    ).format(id=ident),
                )
        if doc.notes is None:
            problem(
                (template,),
                _(
                    "the marker <!-- livret:notes --> is missing: the press file's Notes pages "
                    "go there; write it before the back cover."
                ),
            )
    return problems
