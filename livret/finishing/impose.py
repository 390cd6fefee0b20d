"""Imposition for an office printer: a finished PDF → the sheets of a saddle-stitched booklet.

Each side of a sheet carries two pages side by side on a landscape sheet; printed on both
sides (flip on the short edge), folded in the middle, nested and stapled on the fold, the
sheets read in order. For N pages (a multiple of 4), sheet k (from 1) carries

    front: [N - 2k + 2, 2k - 1]        back: [2k, N - 2k + 1]

i.e. sheet 1 = [N, 1] / [2, N - 1], sheet 2 = [N - 2, 3] / [4, N - 3], …

Two sheets: "a4" (A4 landscape: A4 pages shrunk to A5, an A5 booklet from an office printer)
and "a3" (A3 landscape: an A4 booklet, at 97 %). An office printer cannot print to the edge
of the sheet: the pages are scaled to leave 5 mm blank there (they meet at the fold). A
document whose page count is not a multiple of 4 gets blank pages before its last page (the
back cover stays on the back).

Each page is placed as a form XObject (pikepdf's `Page.as_form_xobject`), cut to its TrimBox,
so the press variant's bleed and marks are left out. The imposed file keeps the document
information (title, author, subject…) and the language, not the tags: it is for printing, not
for reading on screen. Same input, same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pikepdf

MM = 72 / 25.4
# Sheet (landscape) width and height in millimetres, and the booklet it makes once folded.
SHEETS: dict[str, tuple[float, float]] = {"a4": (297, 210), "a3": (420, 297)}
FOLDED = {"a4": "A5", "a3": "A4"}
# An office printer cannot print the last few millimetres of a sheet: the pages are scaled
# to leave this much blank at the sheet's edges (they meet at the fold, where it is folded).
MARGIN = 5 * MM
BODY_PT = 10  # the booklet's body text (styles/typography.css), to tell its imposed size
READABLE_PT = 8  # under this, body text is hard to read: a warning points to --impose a3


def shrink(sheet: str, page: tuple[float, float] = (210 * MM, 297 * MM)) -> float:
    """The scale of a `page` (width, height in points; A4 by default) on `sheet`: two pages
    side by side, MARGIN blank at the sheet's edges."""
    width, height = (v * MM for v in SHEETS[sheet])
    return min((width / 2 - MARGIN) / page[0], (height - 2 * MARGIN) / page[1])


def body_size(sheet: str) -> float:
    """The body text's size in points once imposed on `sheet` (10 pt at full size)."""
    return BODY_PT * shrink(sheet)


# Document information kept from the source; the dates come from the edition (reproducible).
INFO_KEYS = ("/Title", "/Author", "/Subject", "/Keywords", "/Creator", "/CreationDate", "/ModDate")


@dataclass(frozen=True)
class Imposition:
    data: bytes  # the imposed PDF
    pages: int  # pages of the source document
    blanks: int  # blank pages added to reach a multiple of 4

    @property
    def sides(self) -> int:
        """Pages of the imposed PDF: two sides per sheet."""
        return (self.pages + self.blanks) // 2

    @property
    def sheets(self) -> int:
        return self.sides // 2


def padded(pages: int) -> list[int | None]:
    """Page numbers (from 1) in reading order, with None for the blank pages added before
    the last page to reach a multiple of 4."""
    blanks = -pages % 4
    numbers: list[int | None] = list(range(1, pages + 1))
    if pages < 2:
        return numbers + [None] * blanks
    return numbers[:-1] + [None] * blanks + numbers[-1:]


def saddle_order(count: int) -> list[tuple[int, int]]:
    """(left, right) positions (from 1) in a document of `count` pages, a multiple of 4, for
    each side of each sheet in printing order: front of sheet 1, its back, front of sheet 2…"""
    if count <= 0 or count % 4:
        raise ValueError(f"saddle stitch needs a multiple of 4 pages, not {count}")
    sides = []
    for k in range(count // 4):
        sides.append((count - 2 * k, 1 + 2 * k))  # front
        sides.append((2 + 2 * k, count - 1 - 2 * k))  # back
    return sides


def impose(data: bytes, sheet: str) -> Imposition:
    """The saddle-stitch imposition of the PDF `data` on `sheet` ("a4" or "a3") sheets."""
    import pikepdf  # here, not at the top: the command line reads SHEETS without importing it

    width, height = (v * MM for v in SHEETS[sheet])
    with pikepdf.open(io.BytesIO(data)) as src, pikepdf.new() as out:
        pages = len(src.pages)
        order = padded(pages)
        forms: dict[int, pikepdf.Object] = {}
        for left, right in saddle_order(len(order)):
            side = out.add_blank_page(page_size=(width, height))
            for position, half in ((left, 0), (right, 1)):
                number = order[position - 1]
                if number is None:
                    continue  # a blank page: nothing to draw
                if number not in forms:
                    # The page as a form XObject: its bounding box is the page's TrimBox
                    # (qpdf), so the press variant's bleed and marks are left out.
                    form = src.pages[number - 1].as_form_xobject()
                    forms[number] = out.copy_foreign(form)
                _place(side, forms[number], f"/P{number}", half, width, height)
        _keep_metadata(src, out)
        buffer = io.BytesIO()
        out.save(
            buffer,
            deterministic_id=True,
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
        )
    return Imposition(buffer.getvalue(), pages, len(order) - pages)


def _place(
    side: pikepdf.Page, form: pikepdf.Object, name: str, half: int, width: float, height: float
) -> None:
    """Draw `form` on the left (0) or right (1) half of the sheet side, against the fold,
    centred in height, scaled to leave MARGIN blank at the sheet's edges (what an office
    printer cannot print stays blank: the covers' colour stops short of the edge).
    (Page.add_overlay would name the resource at random: not reproducible.)"""
    import pikepdf

    placed = side.add_resource(form, pikepdf.Name.XObject, pikepdf.Name(name))
    x0, y0, x1, y1 = (float(v) for v in form.BBox)
    scale = min((width / 2 - MARGIN) / (x1 - x0), (height - 2 * MARGIN) / (y1 - y0))
    left = width / 2 - (x1 - x0) * scale if half == 0 else width / 2
    bottom = (height - (y1 - y0) * scale) / 2
    matrix = f"{scale:.6f} 0 0 {scale:.6f} {left - x0 * scale:.3f} {bottom - y0 * scale:.3f}"
    side.contents_add(f"q\n{matrix} cm\n{placed} Do\nQ\n".encode())


def _keep_metadata(src: pikepdf.Pdf, out: pikepdf.Pdf) -> None:
    """The document information and the language; not the XMP metadata, which claims the
    source's conformance (PDF/UA, PDF/A, PDF/X) that the imposed file does not have."""
    import pikepdf

    info = src.trailer.get("/Info")
    if info is not None:
        kept = {key: info[key] for key in INFO_KEYS if key in info}
        out.trailer.Info = out.make_indirect(pikepdf.Dictionary(kept))
    if "/Lang" in src.Root:
        out.Root.Lang = src.Root.Lang
    # A PDF viewer's title bar shows the title, not the file name.
    out.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
