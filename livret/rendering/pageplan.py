"""The page plan of the press file's booklet or excerpt: a book in spreads, a multiple of 4
pages (the screen PDFs have no spreads and no blank page: the plan is for `--variant print`).

The stylesheets do most of it (styles/print.css): every card opens on a left-hand page (fitted
to whole spreads by livret/rendering/fit.py, so that few pages are left over); WeasyPrint leaves a
page in between blank and styles it as a deliberate "Notes" page (`@page :blank`).

What CSS cannot know is the total: a saddle-stitched booklet has a multiple of 4 pages, the
back cover last. So the document is laid out once, its pages counted, and when the count is
not a multiple of 4 the plan adds Notes pages before the back cover, where the layout
(booklet.html) marks their place, and the document is laid out again. Notes pages come after
every numbered page: the contents' page numbers do not move.
"""

from __future__ import annotations

from . import contracts

MARK = "<!-- livret:notes -->"  # where Notes pages go (layouts/booklet.html, before the back)
NOTES_PAGE = '<section class="notes-page" aria-hidden="true"></section>'


def notes_needed(pages: int) -> int:
    """How many Notes pages bring `pages` to a multiple of 4."""
    return -pages % 4


def plan(html: str, pages: int) -> str | None:
    """The HTML to lay out again, or None when the page count is right (or the document,
    a single-action sheet, has no place for Notes pages)."""
    extra = notes_needed(pages)
    # The marker found by parsing (livret/rendering/contracts.py): a comment, however spaced.
    where = contracts.read(html).notes if extra else None
    if where is None:
        return None
    return html[: where[0]] + NOTES_PAGE * extra + html[where[1] :]
