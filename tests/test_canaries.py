"""Canaries: each pass after WeasyPrint run on a tiny inline document, in about a second.

The passes read what WeasyPrint and pydyf write (the structure tree page by page, the
content streams' marked content, the colour operators, `Page.anchors`) and what the layouts
write (livret/rendering/contracts.py). When an upgrade changes one of these shapes, the pass must
not silently do nothing: these tests say which shape changed, long before a booklet is built.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from weasyprint import CSS, HTML

from livret.finishing import linebreaks, press, tags
from livret.rendering import contracts, fit

PAGE = "@page { size: 105mm 148mm; margin: 10mm } body { font: 12pt/1.3 serif; margin: 0 }"


def layout(html: str, css: str = "", **options):
    return HTML(string=html).render(stylesheets=[CSS(string=PAGE + css)], **options)


def tagged(html: str, css: str = "") -> tuple[bytes, list[set[str]]]:
    """A tagged PDF of `html` and the anchors of each page, as livret's printer gets them."""
    document = layout(html, css)
    return document.write_pdf(pdf_tags=True), [set(p.anchors) for p in document.pages]


def kids(element) -> list:
    k = element.get("/K")
    return [] if k is None else list(k) if isinstance(k, pikepdf.Array) else [k]


def elements(element, tag: str | None) -> list:
    """The structure elements below `element` tagged `tag` (None: all of them)."""
    found, stack = [], [element]
    while stack:
        e = stack.pop()
        for kid in kids(e):
            if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                stack.append(kid)
                if tag is None or kid.S == tag:
                    found.append(kid)
    return found


LONG = " ".join(
    f"Phrase {n} d'un texte assez long pour remplir une page entière." for n in range(60)
)
PARTS = (
    '<html lang="fr"><body>'
    '<section id="one"><h1>Un</h1><p><a href="#two" title="Aller à la partie deux">deux</a></p>'
    "</section>"
    f'<article id="two" style="break-before: page"><h1>Deux</h1><p>{LONG}</p></article>'
    "</body></html>"
)


def test_tags_make_one_element_per_part_and_describe_links():
    data, anchors = tagged(PARTS)
    with pikepdf.open(io.BytesIO(data)) as raw:
        document = kids(raw.Root.StructTreeRoot)[0]
        pages, before = len(raw.pages), len(kids(document))
    assert pages >= 3, "the canary's second part should run over two pages at least"
    assert before > 2, (
        "WeasyPrint now writes one structure element per part over all its pages "
        f"({before} top-level elements for 2 parts): tags.finish's joining of parts "
        "(Kozea/WeasyPrint#2902) may no longer be needed; check its output"
    )
    finished = tags.finish(data, anchors, PARTS)
    with pikepdf.open(io.BytesIO(finished)) as pdf:
        document = kids(pdf.Root.StructTreeRoot)[0]
        top = [k.S for k in kids(document)]
        assert len(top) == 2, (
            f"tags.finish left {len(top)} top-level elements ({top}) for 2 parts: the shape of "
            "WeasyPrint's structure tree changed (elements per page, /Pg, /StructParents)"
        )
        descriptions = [
            str(a.get("/Contents")) for p in pdf.pages for a in p.obj.get("/Annots", [])
        ]
        assert descriptions == ["Aller à la partie deux"], (
            f"tags.finish did not give the link its title ({descriptions}): WeasyPrint's link "
            "annotations (/Dest, /A /URI) changed shape"
        )


WRAPPED = (
    '<html lang="fr"><body><section id="one"><p style="width: 6em">Voir '
    '<a href="#two" title="Aller à la partie deux">la partie deux du canari</a>.</p></section>'
    '<section id="two"><p>Deux</p></section></body></html>'
)


def rekeyed(data: bytes, shift: int) -> bytes:
    """The PDF with each page's /StructParents moved by `shift` (the parent tree with it)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        moved = {int(p.obj.StructParents): int(p.obj.StructParents) + shift for p in pdf.pages}
        nums = pdf.Root.StructTreeRoot.ParentTree.Nums
        pairs = sorted(
            (moved.get(int(nums[i]), int(nums[i])), nums[i + 1]) for i in range(0, len(nums), 2)
        )
        pdf.Root.StructTreeRoot.ParentTree.Nums = pikepdf.Array([x for pair in pairs for x in pair])
        for page in pdf.pages:
            page.obj.StructParents = moved[int(page.obj.StructParents)]
        pdf.Root.StructTreeRoot.ParentTreeNextKey = max(k for k, _v in pairs) + 1
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def test_tags_read_the_parent_tree_keys_from_the_file():
    """/StructParents is read from each page, not taken to be its index: a file whose pages
    say another key still has a wrapped link's two pieces joined, every piece of text owned
    by an element of the tree; a tagged page without one is refused."""
    data, anchors = tagged(WRAPPED)
    finished = tags.finish(rekeyed(data, 100), anchors, WRAPPED)
    with pikepdf.open(io.BytesIO(finished)) as pdf:
        root = pdf.Root.StructTreeRoot
        assert len(elements(root, "/Link")) == 1, "the wrapped link is still two Link elements"
        reachable = {e.objgen for e in elements(root, None)}  # every element of the tree
        nums = root.ParentTree.Nums
        for page in pdf.pages:
            entry = dict(zip(list(nums)[::2], list(nums)[1::2], strict=True))[
                int(page.obj.StructParents)
            ]
            lost = [n for n, e in enumerate(entry) if e is not None and e.objgen not in reachable]
            assert not lost, f"marked content {lost} owned by elements out of the tree"

    from livret.errors import LivretError

    with pikepdf.open(io.BytesIO(data)) as pdf:
        del pdf.pages[0].obj["/StructParents"]
        out = io.BytesIO()
        pdf.save(out)
    with pytest.raises(LivretError, match="page 1 of a tagged PDF has no /StructParents"):
        tags.finish(out.getvalue(), anchors, WRAPPED)


LINES = (
    '<html lang="fr"><body><p style="width: 7em">la transition solidaire des territoires '
    "ruraux</p></body></html>"
)


def test_line_ends_read_as_spaces():
    data, _anchors = tagged(LINES)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pieces = linebreaks.page_pieces(pdf.pages[0])
        assert len(pieces) >= 3, (
            f"linebreaks read {len(pieces)} marked-content sequences where WeasyPrint draws "
            "one per line: the content stream's marked content (pydyf) changed shape"
        )
        document = kids(pdf.Root.StructTreeRoot)[0]
        linebreaks.fix(pdf, document, "la transition solidaire des territoires ruraux")
        (paragraph,) = elements(document, "/P")
        pieces = linebreaks.page_pieces(pdf.pages[0])

        def read(element) -> str:  # what a screen reader gets
            if "/ActualText" in element:
                return str(element.ActualText)
            return "".join(
                pieces[k][0] if isinstance(k, int) else read(k)
                for k in kids(element)
                if isinstance(k, int) or "/S" in k
            )

        said = read(paragraph)
        assert said == "la transition solidaire des territoires ruraux", (
            f"linebreaks.fix gave the paragraph the words {said!r}: the line ends are not "
            "read as spaces any more (WeasyPrint's line pieces or marked content changed)"
        )


def test_line_ends_fail_loudly_on_an_unknown_shape():
    """Marked content written another way (`<< /MCID 0 >>`): the pass says so, rather than
    reading nothing and leaving the words glued."""
    data, _anchors = tagged(LINES)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[0]
        content = page.obj.Contents.read_bytes().replace(b"<</MCID ", b"<< /MCID ")
        page.obj.Contents = pikepdf.Stream(pdf, content)
        from livret.errors import LivretError

        with pytest.raises(LivretError, match=r"page 1: 0 of its \d+ marked-content sequences"):
            linebreaks.page_pieces(page)


def test_press_finish_leaves_no_rgb_and_adds_the_slug():
    html = '<body><p style="color: #c03a2b">Texte en couleur</p></body>'
    css = "@page { bleed: 3mm }"
    data = layout(html, css).write_pdf(pdf_variant="pdf/x-4")

    def slug(pages: int, width: float, height: float) -> bytes:
        return HTML(string=press.slug_html(pages)).write_pdf(
            stylesheets=[CSS(string=press.slug_css("canari", width, height))]
        )

    finished = press.finish(data, slug)
    with pikepdf.open(io.BytesIO(finished)) as pdf:
        page = pdf.pages[0]
        ops = [str(i.operator) for i in pikepdf.parse_content_stream(page)]
        assert "rg" not in ops and "RG" not in ops, (
            "press.finish left RGB colour operators: WeasyPrint's colour operators changed shape"
        )
        assert "k" in ops, "press.finish wrote no CMYK colour: the page's colours were not found"
        trim = [float(v) for v in page.obj.TrimBox]
        media = [float(v) for v in page.obj.MediaBox]
        assert media[2] - media[0] > trim[2] - trim[0] + 2 * press.SLUG, (
            "press.finish did not grow the page by the slug area (WeasyPrint's TrimBox?)"
        )
        assert "/LivretSlug" in page.obj.Resources.XObject, "no slug drawn on the page"


CARD_CSS = (
    ".card { display: block; break-before: page } .card p { margin: 0 0 1em }"
    '.card [data-fit="break"] { break-before: page }'
)
PARAGRAPH = "<p>" + " ".join(["Une ligne de texte du canari."] * 4) + "</p>"


def card(sections: int) -> str:
    body = "".join(
        f'<section class="section"><h3>Partie {n}</h3>{PARAGRAPH * 2}</section>'
        for n in range(sections)
    )
    return f'<article class="card" id="action-canari">{body}</article>'


def fit_layout(doc: str):
    return layout(doc, CARD_CSS)


HEAD = '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"></head><body data-copyfit>'


def test_fitting_reads_the_anchors_and_moves_a_short_last_page():
    text = card(2)  # a page and 12 % of the next
    cands = fit.candidates(text)
    assert len(cands) >= 5, "fit.candidates found no place to break the canary card"
    before = fit.measure(fit_layout, HEAD, text, cands)
    assert len(before.fills) == 2 and before.fills[-1] < fit.MIN_FILL, (
        f"the canary card should run a few lines onto a second page ({before.fills}): "
        "WeasyPrint's Page.anchors (positions of ids) may have changed shape"
    )
    breaks = fit.fit_card(fit_layout, HEAD, text)
    assert len(breaks) == 1, "fit.fit_card did not move the page break of a short last page"
    after = fit.measure(fit_layout, HEAD, text, cands, breaks=set(breaks))
    assert len(after.fills) == 2 and min(after.fills) >= fit.MIN_FILL, after.fills
    # apply() finds the card in the document and marks its break.
    html = HEAD + text + "</body></html>"
    fitted = fit.apply(html, lambda head, c: fit.fit_card(fit_layout, head, c))
    assert fitted.count(fit.BREAK) == 1, "fit.apply found no card in the document"


def test_contracts_see_a_broken_layout():
    good = (
        '<html><body data-copyfit><article id="action-a" class="card"></article>'
        '<section id="theme-t"></section><section id="thanks"></section>'
        '<!-- livret:notes --><section id="back"></section></body></html>'
    )
    assert contracts.check(good, "booklet.html", [("t", ["a"])]) == []
    broken = good.replace(" data-copyfit", "").replace('id="action-a"', 'id="a"')
    broken = broken.replace("<!-- livret:notes -->", "")
    problems = [str(p) for p in contracts.check(broken, "booklet.html", [("t", ["a"])])]
    assert [p.split(":")[0] for p in problems] == [
        "layouts/base.html",
        "layouts/card.html",
        "layouts/booklet.html",
    ], problems
