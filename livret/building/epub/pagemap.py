"""Where the printed booklet's pages start, for the EPUB's page list (EPUB Accessibility:
page-break markers and page navigation that match the print edition).

Read from the booklet's PDF as laid out, not guessed: its tag tree (livret/finishing/tags.py makes
each part one element) gives every block in reading order with the page each piece of its text is
drawn on (livret/building/equivalence.py walks it). A page starts at the first piece of text drawn
on it: at a block, or inside one (a paragraph cut by the page break), counted in words. A page
with no text (a blank left-hand page, a Notes page) starts where the next one does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..equivalence import Found, named_pages, pdf_parts


@dataclass(frozen=True)
class PageBreak:
    label: str  # the printed page number
    part: str  # the id of the part where the page starts
    block: int  # the index of the block (equivalence's blocks of that part); -1: its end
    word: int  # words of that block before the page starts


@dataclass(frozen=True)
class PageMap:
    breaks: tuple[PageBreak, ...]
    starts: dict[str, str]  # part id → the printed page it starts on (the PDF's anchors)

    def at(self, part: str) -> list[PageBreak]:
        return [b for b in self.breaks if b.part == part]


def page_map(pdf_data: bytes, part_ids: list[str], source: str = "") -> PageMap:
    """The page map of a tagged booklet whose parts are `part_ids`, in order. Printed page
    numbers are the PDF's page numbers (the booklet's folios count from its cover)."""
    parts = pdf_parts(pdf_data, part_ids, source)
    count = _page_count(pdf_data)
    first: dict[int, tuple[str, int, int]] = {}
    for part_id, found in parts.items():
        for index, f in enumerate(found):
            for word, page in f.pages:
                first.setdefault(page, (part_id, index, word))
    last_part = next(reversed(parts)) if parts else ""
    breaks: list[PageBreak] = []
    for page in range(count):
        where = next((first[p] for p in range(page, count) if p in first), None)
        if where is None:  # blank pages after the last text: at the end of the last part
            where = (last_part, -1, 0)
        breaks.append(PageBreak(str(page + 1), *where))
    anchors = named_pages(pdf_data)
    starts = {p: str(anchors[p] + 1) for p in part_ids if anchors.get(p, -1) >= 0}
    return PageMap(tuple(breaks), starts)


def _page_count(pdf_data: bytes) -> int:
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf_data)) as pdf:
        return len(pdf.pages)


__all__ = ["Found", "PageBreak", "PageMap", "page_map"]
