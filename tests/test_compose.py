"""Each part laid out once (livret/rendering/compose.py): the composed booklet is the whole layout's
PDF, byte for byte; an excerpt reuses the booklet's parts (an offprint: its folios are the
booklet's) and says the same as a whole layout of it; a design that rules the composition
out is laid out whole, and the build says so once."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pikepdf
import pytest
from conftest import CONTENT, user_cache
from pdftext import norm, poppler_pages
from tagtree import Reader, document, walk

from livret.building.outputs import plan
from livret.finishing import assemble
from livret.reading.loader import load_site
from livret.rendering import compose
from livret.rendering.pdf import Printer
from livret.rendering.render import render_html

SITE = load_site(CONTENT)
BOOKLET = "retour-experience-01.pdf"
THEME = "retour-experience-01-precarite-energetique.pdf"


def _documents(site) -> dict[str, str]:
    return {o.filename: render_html(site, o) for o in plan(site, booklet=True, themes=True)}


class Counting(Printer):
    """A printer that records the part (or document) each of its layouts was for."""

    def __init__(self, root):
        super().__init__(root)
        self.laid: list[str] = []

    def _layout(self, html, variant, sheets=None):
        # not a card measured alone to fit it (livret/rendering/fit.py)
        if 'id="fit-top"' not in html:
            found = compose.split(html.replace(compose.PREFIX, ""))
            self.laid.append(found.parts[-1].ident if found else "?")
        return super()._layout(html, variant, sheets)


# make test-fast composes a project of two themes (6 cards: every kind of part, an excerpt
# whose thanks keep a folio past the other theme's cards, a third fewer pages); make test,
# edition #01 whole too.
@pytest.fixture(
    scope="module",
    params=["two themes", pytest.param("edition", marks=pytest.mark.slow)],
)
def rendered(request, tmp_path_factory):
    """The booklet and one excerpt, composed in one printer, and laid out whole in another;
    the parts each composed document laid out."""
    tmp = tmp_path_factory.mktemp("compose")
    # Its own user cache: the other project's cards, fitted first, are some of these.
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(user_cache(tmp / "user-cache")))
    request.addfinalizer(patch.undo)
    cache = tmp / "fit"
    root = CONTENT
    if request.param == "two themes":
        root = _project(tmp, "", themes=("precarite-energetique", "precarite-alimentaire"))
    site = load_site(root)
    docs = _documents(site)
    composed = Counting(Path(site.root))
    split = compose.split(docs[BOOKLET])
    assert split is not None
    out: dict = {"laid": {}, "html": {}, "written": {}}
    out["parts"], out["cards"] = len(split.parts), len(site.actions)
    for name in (BOOKLET, THEME):
        composed.laid.clear()
        frame = None if name == BOOKLET else docs[BOOKLET]
        before = set(composed.written)
        out[name] = composed.render(docs[name], "accessible", (), cache, frame, book=True)[0]
        out["written"][name] = len(set(composed.written) - before)
        out["laid"][name] = list(composed.laid)
        out["html"][name] = composed.laid_out
        assert composed.whole is None
    out["decisions"] = dict(composed.decisions.memory)
    out["assembled"] = composed.assembled  # documents assembled from their parts' files
    whole = Printer(Path(site.root))
    whole.composing = False
    for name in (BOOKLET, THEME):  # the same HTML as printed, laid out whole
        html = out["html"][name]
        out["whole " + name] = whole.render(html, "accessible", (), None, book=True, fitted=True)[0]
    return out


def _pixels(data: bytes, tmp: Path) -> list[bytes]:
    """Each page as a reader sees it: rasterised by poppler, grey, 40 dpi (a PGM file)."""
    import subprocess

    tmp.mkdir()
    source = tmp / "doc.pdf"
    source.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(source), str(tmp / "p")], check=True)
    return [page.read_bytes() for page in sorted(tmp.glob("p-*.pgm"))]


def _drawn_alike(mine: list[bytes], whole: list[bytes]) -> list[str]:
    """The pages that differ by more than the rasteriser's hinting: a part's file has font
    subsets of its own glyphs, and FreeType's hinting of a glyph depends a little on the
    other glyphs of its font (up to 57 grey levels on a few edge pixels of edition #01).
    A missing or moved glyph, rule, picture or colour differs by far more."""
    if len(mine) != len(whole):
        return [f"{len(mine)} pages against {len(whole)}"]
    bad = []
    for n, (a, b) in enumerate(zip(mine, whole, strict=True), 1):
        head_a, head_b = a.split(b"\n", 3)[:3], b.split(b"\n", 3)[:3]
        worst = max(
            (abs(x - y) for x, y in zip(a.split(b"\n", 3)[3], b.split(b"\n", 3)[3], strict=True)),
            default=0,
        )
        if head_a != head_b or worst > 64:
            bad.append(f"page {n}: {head_a} {head_b}, {worst} grey levels")
    return bad


def test_the_composed_booklet_is_its_whole_layout(rendered, tmp_path):
    # Written part by part and assembled (livret/finishing/assemble.py): the same pages as a
    # reader sees them; the same tag tree (elements, order, words, alternative texts); the
    # same bookmarks, destinations, links and page labels as one layout of the whole document.
    mine, whole = rendered[BOOKLET], rendered["whole " + BOOKLET]
    assert rendered["assembled"] == 2  # the booklet and the excerpt
    assert _drawn_alike(_pixels(mine, tmp_path / "a"), _pixels(whole, tmp_path / "b")) == []
    assert _said(mine) == _said(whole)
    assert _navigation(mine) == _navigation(whole)


def test_an_excerpt_lays_out_only_its_own_cover_and_contents(rendered):
    # Fitting decisions are cached (the booklet fitted the cards): only layouts of parts count.
    assert sorted(rendered["laid"][THEME]) == ["contents", "cover"]
    # and writes only these two: the other parts' files are the booklet's
    assert rendered["written"] == {BOOKLET: rendered["parts"], THEME: 2}  # 18 in edition #01
    # The booklet laid each of its parts out once, the fitting measuring the layouts it
    # prints; once more: the parts showing page numbers (contents, openers: the first build
    # has no page numbers to try first) and each card given a page break by the fitting.
    laid = rendered["laid"][BOOKLET]
    broken = sum(1 for breaks in rendered["decisions"].values() if breaks)
    numbered = {"contents"} | {p for p in laid if p.startswith("theme-")}
    assert {p for p in laid if laid.count(p) > 2} == set(), laid
    assert {p for p in laid if laid.count(p) == 2} - numbered == {
        p for p in laid if p.startswith("action-") and laid.count(p) == 2
    }
    cards = [p for p in laid if p.startswith("action-")]
    assert len(cards) == rendered["cards"] + broken, laid


@pytest.mark.slow  # three builds of an excerpt
def test_a_build_into_a_new_folder_lays_out_its_first_part_only(
    tmp_path, monkeypatch, fresh_user_cache
):
    # After a build elsewhere on this machine (livret/building/usercache.py: the fitting
    # decisions, the page numbers, the parts written: livret/rendering/partcache.py), a build
    # into an empty folder lays out the first part only (the document's metadata), and prints
    # the same bytes.
    html = _documents(SITE)[THEME]  # an excerpt as a book of its own: quicker than the booklet

    def build(folder: str) -> tuple[bytes, list[str]]:
        printer = Counting(Path(SITE.root))
        data = printer.render(html, "accessible", (), tmp_path / folder / "fit", book=True)[0]
        return data, printer.laid

    first, laid = build("one")
    assert len(laid) > len(set(laid))  # the first build: cards fitted, numbers settled
    again, laid = build("two")
    assert again == first
    assert laid == ["cover"], laid
    # A machine that never built it does it all again.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-user"))
    assert build("three")[1] != laid


def _labels(data: bytes) -> list[str]:
    import io

    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [page.label for page in pdf.pages]


def test_an_excerpt_keeps_the_booklet_folios_and_its_pages(rendered, tmp_path):
    booklet, excerpt = tmp_path / "b.pdf", tmp_path / "e.pdf"
    booklet.write_bytes(rendered[BOOKLET])
    excerpt.write_bytes(rendered[THEME])
    labels = _labels(rendered[THEME])
    assert labels[:3] == ["1", "2", "3"]
    assert labels != [str(i) for i in range(1, len(labels) + 1)]  # the thanks keep their folio
    book_pages, pages = poppler_pages(booklet), poppler_pages(excerpt)
    # Every page after its own cover and contents is the booklet's page of that folio.
    for index, label in enumerate(labels[2:], 2):
        assert pages[index] == book_pages[int(label) - 1], label
    thanks = norm("Remerciements")
    assert any(p.startswith(thanks) for p in pages)


def _said(data: bytes) -> list[tuple[str, str]]:
    """What a screen reader meets, in order: each element's tag and its text."""
    import io

    with pikepdf.open(io.BytesIO(data)) as pdf:
        reader = Reader(pdf)
        return [
            (str(e.S), " ".join(reader.text(e).split()), str(e.get("/Alt", "")))
            for e, _ancestors in walk(document(pdf))
        ]


def test_an_excerpt_reads_as_its_whole_layout(rendered):
    # The folios are page furniture (artifacts); the tag tree, its elements, their order,
    # words and alternative texts, is the whole layout's, but for the numbers its contents
    # and opener give (the booklet's: test_outputs.py checks them).
    def masked(said):
        return [(tag, re.sub(r"\d+", "N", text), alt) for tag, text, alt in said]

    mine, whole = _said(rendered[THEME]), _said(rendered["whole " + THEME])
    assert masked(mine) == masked(whole)
    assert mine != whole


def _navigation(data: bytes) -> dict:
    """What a reader navigates by, page indexes for pages: the bookmarks (level, title,
    page), the named destinations, each page's links (where to, and what they say) and
    the page labels; and whether each mark and link finds its element in the tag tree."""
    import io

    with pikepdf.open(io.BytesIO(data)) as pdf:
        index = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
        marks: list = []

        def bookmarks(item, level):
            while item is not None:
                marks.append((level, str(item.Title), index[item.Dest[0].objgen]))
                bookmarks(item.get("/First"), level + 1)
                item = item.get("/Next")

        bookmarks(pdf.Root.Outlines.get("/First"), 1)
        names = list(pdf.Root.Names.Dests.Names)
        dests = {str(k): index[v[0].objgen] for k, v in zip(names[::2], names[1::2], strict=True)}
        nums = pdf.Root.StructTreeRoot.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        links, found = [], []
        for page in pdf.pages:
            found.append(int(page.obj.StructParents) in parents)
            for annot in page.obj.get("/Annots", []):
                links.append(
                    (index[page.obj.objgen], str(annot.get("/Dest", "")), str(annot.Contents))
                )
                owner = parents.get(int(annot.StructParent))
                kids = owner.K if isinstance(owner.K, pikepdf.Array) else [owner.K]
                found.append(
                    any(k.get("/Obj") == annot for k in kids if isinstance(k, pikepdf.Dictionary))
                )
        return {
            "bookmarks": marks,
            "dests": dests,
            "links": links,
            "tagged": all(found),
            "labels": [p.label for p in pdf.pages],
        }


def test_an_excerpt_leads_where_its_whole_layout_does(rendered):
    # The excerpt wrote its own cover and contents and reused the booklet's parts' files
    # (livret/finishing/assemble.py): its bookmarks, destinations, links and labels are the
    # whole layout's, each mark and link has its element.
    mine, whole = _navigation(rendered[THEME]), _navigation(rendered["whole " + THEME])
    assert mine["tagged"] and whole["tagged"]
    assert mine["bookmarks"] == whole["bookmarks"]
    assert len(mine["bookmarks"]) >= 5
    assert {k: v for k, v in mine["dests"].items() if ".fit" not in k} == {
        k: v for k, v in whole["dests"].items() if ".fit" not in k
    }
    assert mine["links"] == whole["links"]
    assert all(mine["dests"].get(d) is not None for _p, d, _c in mine["links"] if d)
    assert mine["labels"][:3] == ["1", "2", "3"] and mine["labels"] != whole["labels"]


# --- the composition itself, on a layout that is not WeasyPrint's ---------------------------


class FakePage:
    def __init__(self, anchors):
        self.anchors = dict.fromkeys(anchors)


def _fake(pages: dict[str, int], calls: list):
    def lay_out(part, start, numbers):
        calls.append((part.ident, start, dict(numbers) if numbers else None))
        return [FakePage([part.ident] if i == 0 else []) for i in range(pages[part.ident])]

    return lay_out


HTML = (
    '<!DOCTYPE html><html lang="fr"><head><title>T</title></head><body data-copyfit>\n'
    '<nav id="contents"><li data-target="#b">B</li><li data-target="#c">C</li></nav>\n'
    '<article class="card" id="b"><p>b</p></article>\n'
    "<!-- a comment -->\n"
    '<article class="card" id="c"><p>c</p></article>\n'
    "</body></html>"
)


def test_page_numbers_settle_and_only_what_changed_is_laid_out_again():
    split = compose.split(HTML)
    assert split is not None and [p.ident for p in split.parts] == ["contents", "b", "c"]
    calls: list = []
    made = compose.compose(split, _fake({"contents": 1, "b": 3, "c": 2}, calls))
    assert made.starts == {"contents": 1, "b": 2, "c": 5}
    assert made.numbers == {"b": 2, "c": 5}
    # Round 1 guessed 0 for both numbers; round 2 laid out the contents with the right ones.
    assert calls[-3][0] == "contents" and calls[-3][2] == {"b": 2, "c": 5}
    # With the right guess, one round.
    calls.clear()
    compose.compose(split, _fake({"contents": 1, "b": 3, "c": 2}, calls), guess=made.numbers)
    assert len(calls) == 3


def test_an_offprint_keeps_the_frame_folios():
    split = compose.split(HTML)
    assert split is not None
    made = compose.compose(
        split, _fake({"contents": 1, "b": 3, "c": 2}, []), frame={"b": 10, "c": 20}
    )
    assert made.folios == [1, 10, 11, 12, 20, 21]
    assert made.offprint and compose.page_labels(made.folios) == [(0, 1), (1, 10), (4, 20)]


def test_what_rules_the_composition_out():
    assert compose.split(HTML.replace("<!-- a comment -->", "stray words")) is None
    assert compose.split(HTML.replace('id="b"', "")) is None
    assert compose.refusal(".x::after { content: counter(pages) }") == "counter(pages)"
    assert compose.refusal(".x::after { content: target-counter(attr(href url), page) }")
    assert compose.refusal(f".x::after {{ content: {compose.TARGET_COUNTER} }}") is None
    with pytest.raises(compose.MissingTarget):
        compose.compose(
            compose.split(HTML.replace('data-target="#c"', 'data-target="#z"')),  # type: ignore[arg-type]
            _fake({"contents": 1, "b": 3, "c": 2}, []),
        )


# --- a project's design that makes a part depend on what precedes it ----------------------


def _project(
    tmp_path: Path, css: str, themes: tuple[str, ...] | None = ("precarite-energetique",)
) -> Path:
    """A project with a stylesheet of its own, its content cut to `themes`, in that order (one
    theme, 3 cards, by default: what is checked is the design's, not the content's), or whole
    (`themes` None)."""
    project = tmp_path / "project"
    content = project / "content"
    shutil.copytree(CONTENT, content)
    (project / "styles").mkdir()
    (project / "styles" / "thanks.css").write_text(
        (Path(__file__).parent.parent / "styles" / "thanks.css").read_text() + css
    )
    if themes is None:
        return content
    for other in content.glob("themes/*.yaml"):
        if other.stem not in themes:
            other.unlink()
    for card in content.glob("actions/*.md"):
        if not any(f"\ntheme: {t}\n" in card.read_text(encoding="utf-8") for t in themes):
            card.unlink()
    edition = content / "edition.yaml"
    text = edition.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("themes:"))
    edition.write_text(text.replace(line, f"themes: [{', '.join(themes)}]"), encoding="utf-8")
    return content


@pytest.mark.parametrize(
    ("css", "why"),
    [
        # A running total: refused by reading the stylesheet.
        ("\n.thanks::after { content: counter(pages); }\n", "styles/thanks.css: counter(pages)"),
        # The thanks run on after the last card: found by comparing with a whole layout.
        ("\n.contents, .introduction, .thanks { break-before: auto; }\n", "design"),
    ],
    ids=["a page total", "a part that does not open a page"],
)
@pytest.mark.slow  # a design of its own, laid out whole (unit: test_what_rules_the_composition_out)
def test_a_design_that_rules_it_out_is_laid_out_whole(tmp_path, css, why):
    content = _project(tmp_path, css)
    site = load_site(content)
    docs = _documents(site)
    printer = Printer(content)
    printer.render(docs[BOOKLET], "accessible", (), tmp_path / "fit", book=True)
    assert printer.whole == why
    assert printer.composition is None
    # The next build knows it (kept beside the build's caches): one layout, the whole one.
    again = Counting(content)
    again.render(docs[BOOKLET], "accessible", (), tmp_path / "fit", book=True)
    assert again.whole == why and len(again.laid) == 1, again.laid


@pytest.mark.slow  # a design of its own, laid out whole
def test_the_build_says_once_why_it_laid_out_whole(tmp_path, capsys, monkeypatch):
    from livret.building.pipeline import run

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    content = _project(tmp_path, "\n.thanks::after { content: counter(pages); }\n")
    run(content, tmp_path / "out", booklet=True, themes=["precarite-energetique"], jobs=1)
    err = capsys.readouterr().err
    assert err.count("counter(pages)") == 1, err
    # A library call: the edition's date was the clock for the build only (issue #19).
    assert "SOURCE_DATE_EPOCH" not in os.environ


@pytest.mark.slow
def test_an_excerpt_is_written_again_when_its_folios_move(tmp_path):
    from livret.building.pipeline import run

    # Two themes suffice (a card of the last one edited, the other's excerpt unchanged).
    content = _project(tmp_path, "", themes=("precarite-energetique", "mobilites"))
    out = tmp_path / "out"
    run(content, out, booklet=True, themes=True)

    def thanks() -> int:
        """The folio of the excerpt's thanks, checked against the booklet's."""
        labels = _labels((out / THEME).read_bytes())
        pages = poppler_pages(out / THEME)
        at = next(i for i, p in enumerate(pages) if p.startswith(norm("Remerciements")))
        booklet = poppler_pages(out / BOOKLET)
        assert booklet[int(labels[at]) - 1].startswith(norm("Remerciements"))
        return int(labels[at])

    before = thanks()
    # A card of the last theme gains pages: the thanks of every excerpt move.
    card = content / "actions" / "adie.md"
    text = card.read_text(encoding="utf-8")
    first = next(p for p in text.split("\n\n") if p.startswith("Nous constatons"))
    card.write_text(text.replace(first, "\n\n".join([first] * 12)), encoding="utf-8")
    _, results = run(content, out, booklet=True, themes=True)
    assert {r.path.name: r.status for r in results} == {
        name: "built" for name in _documents(load_site(content))
    }
    assert thanks() > before


def test_fragments_of_another_shape_are_not_assembled(rendered):
    # A link to a name no fragment holds: refused (the document is then written whole), never
    # a file whose link leads nowhere.
    booklet = assemble.Fragment(rendered[BOOKLET])
    lonely = assemble.Fragment(rendered[THEME], borrowed=frozenset({"introduction"}))
    with pytest.raises(assemble.Unassembled, match="anchored nowhere"):
        assemble.assemble([lonely], [])
    assert assemble.assemble([booklet], [])[:8] == b"%PDF-1.7"


@pytest.mark.slow  # a design of its own, laid out whole
def test_a_document_its_parts_cannot_make_is_written_whole(tmp_path, monkeypatch):
    # Parts' files of a shape assemble.py refuses: the document is laid out and written
    # whole, the same bytes as the whole layout's (a one-theme project: 3 cards suffice).
    def refuse(*_args, **_kwargs):
        raise assemble.Unassembled("refused")

    monkeypatch.setattr(assemble, "assemble", refuse)
    content = _project(tmp_path, "")
    html = _documents(load_site(content))[BOOKLET]
    printer = Printer(content)
    data = printer.render(html, "accessible", (), tmp_path / "fit", book=True)[0]
    assert printer.assembled == 0 and printer.whole is None
    whole = Printer(content)
    whole.composing = False
    assert data == whole.render(printer.laid_out, "accessible", (), None, book=True, fitted=True)[0]


@pytest.mark.slow
def test_an_excerpt_built_alone_after_a_style_change_keeps_the_new_folios(tmp_path):
    # The booklet's folios are kept for an excerpt built alone (`--theme`), under a key of
    # its HTML and of its styles: a stylesheet that moves the pages gives folios anew.
    from livret.building.pipeline import run

    theme = "mobilites"  # the last: its folios follow the other theme's cards
    content = _project(tmp_path, "", themes=("precarite-energetique", theme))
    out = tmp_path / "out"
    run(content, out, booklet=True, themes=[theme], jobs=1)
    name = f"retour-experience-01-{theme}.pdf"
    before = _labels((out / name).read_bytes())
    sheet = content.parent / "styles" / "thanks.css"
    sheet.write_text(sheet.read_text() + "\n.card p { font-size: 1.5em; line-height: 2; }\n")
    run(content, out, booklet=False, themes=[theme], jobs=1)
    labels = _labels((out / name).read_bytes())
    run(content, tmp_path / "again", booklet=True, themes=[], jobs=1)
    pages = poppler_pages(out / name)
    booklet = poppler_pages(tmp_path / "again" / BOOKLET)
    thanks = next(i for i, p in enumerate(pages) if p.startswith(norm("Remerciements")))
    assert booklet[int(labels[thanks]) - 1].startswith(norm("Remerciements"))
    assert labels != before


def test_a_copy_of_livret_s_design_is_livret_s(tmp_path):
    # A project that copied a stylesheet unchanged (to start its own design) has no design of
    # its own yet: its documents are composed without the one-time whole layout that checks a
    # project's design; a changed copy is the project's own.
    same = Printer(_project(tmp_path / "a", ""))
    assert same._own_design() == []
    changed = Printer(_project(tmp_path / "b", "\n.thanks { color: red; }\n"))
    assert changed._own_design() == ["styles/thanks.css"]
