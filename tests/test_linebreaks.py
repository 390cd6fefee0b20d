"""The file as the tag pass reads it once (livret/finishing/linebreaks.py: Pages, read_tree):
what it keeps through the edits is what reading the edited file again gives."""

from __future__ import annotations

import io

import pikepdf
from weasyprint import CSS, HTML

from livret.finishing import linebreaks, tags

PAGE = "@page { size: 105mm 148mm; margin: 10mm } body { font: 12pt/1.3 serif; margin: 0 }"
HTML_TEXT = (
    '<html lang="fr"><body><p style="width: 7em">la transition solidaire des territoires '
    "ruraux</p><ul><li>un</li><li>deux <a href='#x'>lien</a></li></ul><p id='x'>fin</p>"
    "</body></html>"
)


def tagged() -> bytes:
    document = HTML(string=HTML_TEXT).render(stylesheets=[CSS(string=PAGE)])
    return document.write_pdf(pdf_tags=True)


def shape(element: linebreaks.Element) -> tuple:
    """An element's type, words and kids, all the way down (MCIDs as numbers, the rest as
    their type of object)."""
    return (
        element.s,
        element.page,
        element.actual,
        [
            shape(k) if isinstance(k, linebreaks.Element) else k if isinstance(k, int) else "obj"
            for k in element.kids
        ],
    )


def test_pages_keep_what_parsing_the_edited_page_gives():
    """A page made artifacts and given /ActualText by the passes: the pieces kept for it are
    those of the page parsed anew; what a pass read before the edits stays as it read it."""
    with pikepdf.open(io.BytesIO(tagged())) as pdf:
        pages = linebreaks.Pages(pdf)
        before = pages.pieces(0)
        first, second, *_ = sorted(before)
        kept = dict(before)
        content = tags._as_artifacts(pages.content(0), {first}, set(), pdf.pages[0])
        pages.rewrite(0, content, artifacts={first})
        linebreaks._mark_content(pages, 0, {second: "transition "})

        assert pages.pieces(0) == linebreaks.page_pieces(pdf.pages[0])
        assert first not in pages.pieces(0)
        assert pages.pieces(0)[second][0] == "transition "
        assert before == kept, "the pieces read before the edits changed under their reader"


def test_the_tree_read_once_is_the_file_s_tree_after_the_changes():
    """Kids moved, a type changed, an /ActualText set through the Elements: the file says the
    same, read anew."""
    with pikepdf.open(io.BytesIO(tagged())) as pdf:
        pages = linebreaks.Pages(pdf)
        root = pdf.Root.StructTreeRoot
        tree = linebreaks.read_tree(root, pages.index)
        document = tree.kids[0]
        paragraph, listing = [e for e in document.elements() if e.s in ("/P", "/L")][:2]
        listing.set_kids(list(reversed(listing.kids)))
        paragraph.set_type("/Span")
        paragraph.set_actual_text("la transition solidaire des territoires ruraux")
        document.set_kids([k for k in document.kids if k is not listing])

        assert shape(linebreaks.read_tree(root, pages.index)) == shape(tree)
