"""The tag tree a screen reader follows, read back from the real PDFs (pikepdf)."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

import pikepdf
import pytest
from conftest import CONTENT
from pdftext import norm
from pikepdf import Array, Dictionary

from livret.finishing.tags import read_layout
from livret.reading.loader import load_site

SITE = load_site(CONTENT)


def _kids(element) -> list:
    k = element.get("/K")
    if k is None:
        return []
    return list(k) if isinstance(k, Array) else [k]


def walk(element, ancestors=()):
    """(element, its ancestors' tags) for every structure element below `element`."""
    for kid in _kids(element):
        if isinstance(kid, Dictionary) and "/S" in kid:
            yield kid, ancestors
            yield from walk(kid, (*ancestors, str(kid.S)))


@pytest.fixture(scope="module")
def trees(built):
    out, _, results = built
    opened = {r.path.name: pikepdf.open(r.path) for r in results}
    yield opened
    for pdf in opened.values():
        pdf.close()


def _document(pdf):
    return _kids(pdf.Root.StructTreeRoot)[0]


def _cards(name: str) -> int:
    for t in SITE.themes:
        if name.endswith(f"-{t.slug}.pdf"):
            return len(t.actions)
    return len(SITE.actions)


def test_one_art_per_card_over_all_its_pages(trees):
    for name, pdf in trees.items():
        tags = Counter(str(e.S) for e, _ in walk(_document(pdf)))
        assert tags["/Art"] == _cards(name), (name, tags["/Art"])
        # each card's Art opens with its title
        for element, _ in walk(_document(pdf)):
            if element.S == "/Art":
                first = next(walk(element))[0]
                assert str(first.S) in ("/NonStruct", "/H2"), (name, first.S)


def test_contents_is_a_toc_with_one_item_per_entry(trees):
    for name, pdf in trees.items():
        elements = list(walk(_document(pdf)))
        tocs = [e for e, _ in elements if e.S == "/TOC"]
        assert len(tocs) == 1, name
        items = [k for k in _kids(tocs[0]) if isinstance(k, Dictionary) and k.get("/S") == "/TOCI"]
        themes = 1 if name != "retour-experience-01.pdf" else len(SITE.themes)
        assert len(items) == 2 + themes + _cards(name), name  # + introduction, thanks
        assert all(len([e for e, _ in walk(item) if e.S == "/Link"]) == 1 for item in items)


def test_no_link_inside_a_link_and_every_annotation_in_a_link(trees):
    for name, pdf in trees.items():
        links = 0
        for element, ancestors in walk(_document(pdf)):
            if element.S == "/Link":
                links += 1
                assert "/Link" not in ancestors, name
            objrs = [k for k in _kids(element) if isinstance(k, Dictionary) and "/Obj" in k]
            if objrs:
                assert element.S == "/Link", (name, element.S)
        annots = [a for page in pdf.pages for a in page.obj.get("/Annots", [])]
        assert links and len(annots) >= links, name


def test_link_descriptions_are_words_not_ids(trees, built):
    out, _, _ = built
    for name, pdf in trees.items():
        for page in pdf.pages:
            for annot in page.obj.get("/Annots", []):
                words = str(annot.get("/Contents", ""))
                assert not re.fullmatch(r"[#\w:.@-]*", words), (name, words)
                if "/Dest" in annot:
                    assert words.startswith("Aller à : "), (name, words)
                    assert str(annot.Dest) not in words


def test_layout_titles_name_every_internal_link():
    """The layouts give every link to a part a title (read by livret/finishing/tags.py)."""
    from livret.building.outputs import plan
    from livret.rendering.render import render_html

    html = render_html(SITE, plan(SITE)[0])
    parts, titles, _ = read_layout(html)
    assert parts[:2] == ["cover", "contents"] and parts[-1] == "back"
    hrefs = set(re.findall(r'<a href="(#[^"]+)"', html))
    assert hrefs and hrefs <= set(titles)


def _words(text: str) -> list[str]:
    from livret.finishing.linebreaks import WORD

    return [w.lower() for w in WORD.findall(text.replace("\u2019", "'"))]


@pytest.fixture(scope="module")
def source_words():
    """The words of the booklet's content, as rendered into its HTML (no layout yet)."""
    from livret.building.outputs import plan
    from livret.rendering.render import render_html

    _, _, text = read_layout(render_html(SITE, plan(SITE)[0]))
    return set(_words(text))


# Words the layout adds around the content: "p. 5" in the openers, the running footers,
# the heading of the deliberate Notes pages.
# "numéro 1", "page 6": how "#01" and "p. 6" are read out.
GENERATED = {"p", "retour", "d'expérience", "sommaire", "notes", "numéro", "page"}


def test_tagged_text_reads_the_words_of_the_content(built, source_words):
    """No word glued to the next at a line end ("sur latransition"), none cut by the hyphen
    of automatic hyphenation ("solida-" + "rités"), every word of the content there."""
    from pdftext import tagged_text

    out, _, _ = built
    words = _words(tagged_text(out / "retour-experience-01.pdf"))
    strangers = sorted({w for w in words if w not in source_words | GENERATED})
    assert strangers == [], strangers[:20]
    assert source_words <= set(words), sorted(source_words - set(words))[:20]


def test_pdftotext_reads_the_words_of_the_content(built, source_words):
    out, _, _ = built
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out / "retour-experience-01.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # A real hyphen at a line end stays ("Hauts-de-" / "France"): join those lines only.
    words = _words(re.sub(r"([-\u2010])\n", r"\1", text))
    strangers = sorted({w for w in words if w not in source_words | GENERATED})
    assert strangers == [], strangers[:20]
    assert source_words <= set(words), sorted(source_words - set(words))[:20]


def test_headings_hold_words_not_decorative_glyphs(built):
    """The card's arrow and the initiatives' bullets are painted, not heading text."""
    from pdftext import tagged_text

    out, _, _ = built
    levels = {"/H1", "/H2", "/H3", "/H4", "/H5", "/H6"}
    headings = [
        h.strip() for h in tagged_text(out / "retour-experience-01.pdf", levels).split("\n")
    ]
    headings = [h for h in headings if h]
    titles = {norm(a.title) for a in SITE.actions}
    assert len(headings) > 30
    assert not [h for h in headings if h[0] in "→•·-–—>"], headings
    for title in titles:  # each card's heading starts with its title, nothing before
        assert any(norm(h).startswith(title) for h in headings), title


def test_an_untagged_pdf_goes_through_unchanged():
    """A variant without tags (a press PDF) is not the tag pass's business."""
    import io

    from livret.finishing.tags import finish

    pdf = pikepdf.new()
    pdf.add_blank_page()
    data = io.BytesIO()
    pdf.save(data)
    assert finish(data.getvalue(), [set()], "<body><p id='x'>a</p></body>") == data.getvalue()


def _rect(annot) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in annot.Rect)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _overlap(a, b) -> float:
    """The area two rectangles share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def test_one_annotation_per_line_of_a_link_none_overlapping(trees):
    """A keyboard stops once per line of a link: WeasyPrint wrote one annotation per box
    (p. 2, the GAS 18 entry: 6 of them, one over the whole line; 115 for 40 links)."""
    for name, pdf in trees.items():
        for n, page in enumerate(pdf.pages, 1):
            boxes = [_rect(a) for a in page.obj.get("/Annots", [])]
            for i, a in enumerate(boxes):
                for b in boxes[i + 1 :]:
                    assert _overlap(a, b) < 0.01, (name, n, a, b)
        where = {
            a.objgen: n for n, page in enumerate(pdf.pages) for a in page.obj.get("/Annots", [])
        }
        links = 0
        for element, _ in walk(_document(pdf)):
            if element.S != "/Link":
                continue
            links += 1
            annots = [k.Obj for k in _kids(element) if isinstance(k, Dictionary) and "/Obj" in k]
            assert annots, name
            lines = Counter((where[a.objgen], round(_rect(a)[1])) for a in annots)
            assert max(lines.values()) == 1, (name, lines)
        annots = sum(len(page.obj.get("/Annots", [])) for page in pdf.pages)
        assert links <= annots <= links * 1.25, (name, links, annots)  # few links wrap
    contents = trees["retour-experience-01.pdf"].pages[1].obj.Annots
    gas = [a for a in contents if str(a.get("/Dest")) == "action-gas-18"]
    assert len(gas) == 1, [_rect(a) for a in gas]


HEADING_TAGS = {"/H", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6"}


def _heading_texts(pdf) -> list[tuple[str, str, str]]:
    """(tag, its words, the tag of its top-level part) for every heading, in reading order."""
    from tagtree import Reader

    reader = Reader(pdf)
    out = []
    for part in _kids(_document(pdf)):
        if isinstance(part, Dictionary) and "/S" in part:
            for element, _ in walk(part):
                if element.S in HEADING_TAGS:
                    out.append((str(element.S), norm(reader.text(element)), str(part.S)))
    return out


def test_no_heading_inside_a_heading(trees):
    """The cover's title holds its subtitle, a block span: WeasyPrint tagged the title's text
    a second H1 inside the first. A heading holds words (Span, Link), never a block."""
    for name, pdf in trees.items():
        for element, ancestors in walk(_document(pdf)):
            if set(ancestors) & HEADING_TAGS:
                assert element.S not in HEADING_TAGS | {"/P", "/Div"}, (name, ancestors, element.S)
        headings = _heading_texts(pdf)
        cover = [h for h in headings if h[1].startswith(norm(SITE.edition.title))]
        assert len(cover) == 1, (name, cover)
        assert cover[0][0] == "/H1" and cover[0][1].endswith(norm(SITE.edition.subtitle)), cover


def test_back_cover_heading_is_not_a_part_of_the_thanks(trees):
    """After "Remerciements" (H1), the back cover's heading was an H2: announced as a group
    of the thanks. It opens a part of its own."""
    for name, pdf in trees.items():
        headings = _heading_texts(pdf)
        heading = norm(SITE.edition.back_cover.heading)
        back = [h for h in headings if h[1] == heading]
        assert len(back) == 1, (name, [h for h in headings if "Club" in h[1]])
        assert back[0][0] == "/H1", (name, back)
        thanks = [n for n, h in enumerate(headings) if h[1] == norm(SITE.thanks.title)]
        assert thanks and thanks[0] < headings.index(back[0]), name


def test_a_rail_sub_group_is_a_list_inside_its_fact(trees):
    """ "dont moyens humains :" and its items were a Div + P beside "Coût total du projet":
    now a list (L/LI/Lbl/LBody) inside that fact, and every list is L > LI > Lbl, LBody."""
    from tagtree import Reader

    sub_labels = {
        "dont moyens humains", "dont cofinanceurs", "dont autofinancement", "autres indirects",
        "à noter",
    }  # fmt: skip
    for name, pdf in trees.items():
        reader = Reader(pdf)
        found = 0
        for element, ancestors in walk(_document(pdf)):
            if element.S == "/L":
                assert {str(k.S) for k in _kids(element)} <= {"/LI", "/Caption"}, name
            if element.S == "/LI":
                tags = [str(k.S) for k in _kids(element)]
                assert tags in (["/Lbl", "/LBody"], ["/LBody"]), (name, tags)
            if element.S != "/P":
                continue
            words = norm(reader.text(element)).rstrip(" :")
            if words not in sub_labels:
                continue
            found += 1
            assert ancestors[-4:] == ("/Div", "/L", "/LI", "/LBody"), (name, words, ancestors)
        assert found >= 3, (name, found)


def test_en_savoir_plus_without_a_link_does_not_look_like_one(built, trees):
    """ "→ En savoir plus." on the first opener: an arrow and the words of a link, and no link
    (the source lost it). It is printed as the plain remark it is: no arrow, no annotation."""
    out, _, _ = built
    path = out / "retour-experience-01.pdf"
    pages = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\f")
    first = next(n for n, text in enumerate(pages) if "En savoir plus." in text)
    line = next(x for x in pages[first].splitlines() if "En savoir plus." in x)
    assert line.strip() == "En savoir plus.", line
    pdf = trees["retour-experience-01.pdf"]
    from tagtree import Reader

    reader = Reader(pdf)
    for element, ancestors in walk(_document(pdf)):
        if element.S == "/LI" and norm(reader.text(element)).endswith("En savoir plus."):
            assert "/Link" not in ancestors
            labels = [k for k in _kids(element) if k.get("/S") == "/Lbl"]
            assert not labels or "→" not in reader.text(labels[0])
            break
    else:
        raise AssertionError("no list item 'En savoir plus.'")


def test_arrow_labels_are_drawn_not_read(trees):
    """The "→" before each opener entry and initiative was a list label read "flèche droite"
    22 times in the booklet: decoration, now a Layout artifact, the item without a label."""
    from tagtree import Reader, sequences

    for name, pdf in trees.items():
        reader = Reader(pdf)
        for element, _ in walk(_document(pdf)):
            if element.S == "/Lbl":
                assert "→" not in reader.text(element), name
        drawn = [s for s in sequences(pdf) if s.properties.get("/Type") == "/Layout"]
        assert len(drawn) >= 3 + 2, (name, len(drawn))  # an opener's entries, its initiatives


def test_numbers_and_page_numbers_read_as_words(built):
    """ "#01" is read "numéro 1" (the cover, the colophon), "p. 6" is read "page 6" (the
    openers' entries): their ActualText, what a screen reader speaks."""
    from pdftext import tagged_text

    out, _, results = built
    for result in results:
        spoken = " ".join(tagged_text(result.path).split())
        assert "#01" not in spoken, result.path.name
        assert not re.search(r"\bp\.\s*\d", spoken), re.findall(r".{20}\bp\.\s*\d+", spoken)
        assert "numéro 1" in spoken and re.search(r"\bpage \d+", spoken), result.path.name
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-f", "1", "-l", "1", str(results[0].path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "#01" in text  # printed as it was


def test_first_use_of_each_acronym_in_a_card_is_spelled_out(trees):
    """edition.yaml's acronyms: in each card, the first use of each is a Span whose /E is what
    it stands for (DREETS, BRSA, QPV…), once; the words printed stay as they were."""
    from tagtree import Reader

    acronyms = dict(SITE.edition.acronyms)
    assert len(acronyms) >= 40
    for name, pdf in trees.items():
        reader = Reader(pdf)
        cards = [e for e, _ in walk(_document(pdf)) if e.S == "/Art"]
        assert len(cards) == _cards(name)
        expanded_somewhere = set()
        for card in cards:
            leaves = [
                e
                for e, _ in walk(card)
                if not any(isinstance(k, Dictionary) and "/S" in k for k in _kids(e))
            ]
            text = " ".join(reader.text(e) for e in leaves)
            used = {a for a in acronyms if re.search(rf"(?<!\w){re.escape(a)}(?!\w)", text)}
            spelled = [(reader.text(e), str(e.E)) for e, _ in walk(card) if "/E" in e]
            assert sorted(spelled) == sorted((a, acronyms[a]) for a in used), (name, text[:60])
            expanded_somewhere |= used
        if name == "retour-experience-01.pdf":
            assert {"DREETS", "BRSA", "QPV"} <= expanded_somewhere


def test_an_actual_text_never_hides_the_words_of_elements_inside(trees):
    """An /ActualText replaces everything inside its element for a screen reader: one set on
    an element that holds other elements (a link holding an acronym's <abbr>) hid the link's
    words (the Mobilités opener read « , page 26 » for a whole card title)."""
    for name, pdf in trees.items():
        for element, _ in walk(pdf.Root.StructTreeRoot):
            if "/ActualText" in element:
                inner = [k for k in _kids(element) if isinstance(k, Dictionary) and "/S" in k]
                assert not inner, (name, str(element.S), str(element.ActualText))
