"""What the code needs of the layouts (livret/rendering/contracts.py): a project's own layout that
keeps it in its own way works, one that breaks it fails loudly, naming the layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT

from livret.building.outputs import KINDS
from livret.building.pipeline import build
from livret.cli import main
from livret.errors import LivretError
from livret.reading.loader import load_site
from livret.rendering import contracts, fit, pageplan
from livret.rendering.render import check_design, render_html

LAYOUTS = ROOT / "layouts"
CARD_TAG = (
    '<article class="card" id="action-{{ action.slug }}" style="--theme: {{ theme.colour }}">'
)


def project(tmp_path: Path, **layouts: str) -> Path:
    """A project folder beside a copy of edition #01, with its own `layouts/` (name → text)."""
    content = tmp_path / "project" / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    own = content.parent / "layouts"
    own.mkdir()
    for name, text in layouts.items():
        (own / f"{name}.html").write_text(text, encoding="utf-8")
    return content


def shipped(name: str, old: str = "", new: str = "") -> str:
    text = (LAYOUTS / f"{name}.html").read_text(encoding="utf-8")
    assert old in text, f"layouts/{name}.html changed: {old!r} not found"
    return text.replace(old, new, 1)


def booklet_html(content: Path) -> str:
    site = load_site(content)
    return render_html(site, KINDS["booklet"].output(site, site.edition.slug))


def test_a_card_written_another_way_is_still_fitted(tmp_path):
    """`<article id=… class='card'>`: the attributes in another order, other quotes. The
    regex livret used to find cards with saw no card there, and silently fitted none."""
    reordered = (
        "<article id='action-{{ action.slug }}' style=\"--theme: {{ theme.colour }}\" class='card'>"
    )
    content = project(tmp_path, card=shipped("card", CARD_TAG, reordered))
    check_design(load_site(content))  # no problem
    html = booklet_html(content)
    assert "<article id='action-adie'" in html
    asked: list[str] = []
    fit.apply(html, lambda _head, card: asked.append(card) or [])
    assert len(asked) == 10 and asked[0].startswith("<article id='action-adil-31'")
    assert all(card.endswith("</article>") for card in asked)
    # Its copyfit goes into the card's own start tag, whatever the attributes' order.
    tight = fit.treated(asked[0], "tight", False)
    assert tight.startswith("<article data-copyfit=\"tight\" id='action-adil-31'")


def test_a_project_layout_that_breaks_the_contracts_fails_with_every_problem(tmp_path, french):
    content = project(
        tmp_path,
        card=shipped("card", 'id="action-{{ action.slug }}"', 'id="fiche-{{ action.slug }}"'),
        base=shipped("base", "{% if book %} data-copyfit{% endif %}"),
        booklet=shipped("booklet", "<!-- livret:notes -->"),
    )
    own = content.parent / "layouts"
    with pytest.raises(LivretError) as caught:
        check_design(load_site(content))
    lines = [str(p) for p in caught.value.problems]
    card = [line for line in lines if line.startswith(f"{own / 'card.html'}: la fiche « adie »")]
    assert len(card) == 1, lines
    assert "action-adie" in card[0] and "« fiche-adie »" in card[0], card
    # One per card (the sheet's card says what the booklet's did: said once).
    assert sum("card.html" in line for line in lines) == 10, lines
    assert any(
        line.startswith(f"{own / 'base.html'}: ") and "data-copyfit" in line for line in lines
    ), lines
    assert any(
        line.startswith(f"{own / 'booklet.html'}: ") and "livret:notes" in line for line in lines
    ), lines


def test_check_and_build_stop_at_a_broken_layout(tmp_path, capsys, french):
    content = project(
        tmp_path, card=shipped("card", 'class="card" ', 'class="fiche" ')
    )  # no class card: the layout's cards are invisible to the code
    assert main(["check", "--content", str(content)]) == 1
    err = capsys.readouterr().err
    assert "card.html: la fiche « adie » n'a pas d'élément de classe card" in err, err
    assert "aucun élément n'a la classe card" in err, err
    assert "Traceback" not in err
    out = tmp_path / "out"
    with pytest.raises(LivretError):
        build(content, out, jobs=1)
    assert not list(out.glob("*.pdf"))  # nothing laid out, no PDF written


def test_the_shipped_layouts_keep_every_contract():
    site = load_site(CONTENT)
    check_design(site)
    doc = contracts.read(booklet_html(CONTENT))
    assert doc.copyfit and doc.notes is not None
    assert [p.id for p in doc.parts][:3] == ["cover", "contents", "introduction"]
    assert len(doc.cards) == 10 and all(card.part for card in doc.cards)


def test_the_reader_finds_what_the_code_needs_however_written():
    html = (
        "<!DOCTYPE html><html lang=fr><head><title>t</title></head>\n"
        "<BODY data-copyfit class=doc>\n<section id=cover><p>un<p>deux</section>"
        "<div class='x card' id=action-b><section class='section'><br>x</section></div>"
        "<!--livret:notes--><section id=back><img src=a.png></section></body></html>"
    )
    doc = contracts.read(html)
    assert doc.html_tag == "<html lang=fr>" and doc.body_tag == "<BODY data-copyfit class=doc>"
    assert doc.copyfit and [p.id for p in doc.parts] == ["cover", "action-b", "back"]
    (card,) = doc.cards
    assert html[card.start : card.end].startswith("<div class='x card'")
    assert html[card.start : card.end].endswith("</section></div>")
    assert html[card.start : card.name_end] == "<div"
    assert html[doc.notes[0] : doc.notes[1]] == "<!--livret:notes-->"
    assert pageplan.plan(html, 3).count('class="notes-page"') == 1
    assert fit.head_of(html) == (
        '<!DOCTYPE html><html lang=fr><head><meta charset="utf-8"></head>'
        "<BODY data-copyfit class=doc>"
    )
