"""Proof of equivalence (RGAA 13.4): the booklet's PDF (its tag tree) and its EPUB say the
same, block by block; a changed paragraph is reported with its card and block."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import CONTENT

from livret import equivalence as eq
from livret.cli import main
from livret.epub import part_ids
from livret.linebreaks import vocabulary
from livret.loader import load_site
from livret.pipeline import run

EPUB = "retour-experience-01.epub"
BOOKLET = "retour-experience-01.pdf"


@pytest.fixture(scope="module")
def epub_build(built, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("equivalence") / "out"
    shutil.copytree(built[0], out)
    run(CONTENT, out, booklet=True, themes=[], actions=[], epub=True)
    return out


@pytest.fixture(scope="module")
def ids() -> list[str]:
    return part_ids(load_site(CONTENT))


def test_the_booklet_and_its_epub_say_the_same(epub_build, ids):
    pdf = (epub_build / BOOKLET).read_bytes()
    assert eq.check_epub(pdf, epub_build / EPUB, ids) == []
    # …and the comparison saw every card, block by block.
    parts = eq.pdf_parts(pdf, ids)
    assert len([p for p in parts if p.startswith("action-")]) == 10
    adie = [f.block for f in parts["action-adie"]]
    assert adie[0] == eq.Block(eq.HEADING, adie[0].text) and "ADIE Occitanie" in adie[0].text
    assert eq.Block(eq.LINK, "mailto:yjarland@adie.org") in adie
    assert sum(b.kind == eq.ITEM for b in adie) > 20


def _altered(epub: Path, name: str, old: str, new: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(epub) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == name:
                text = data.decode("utf-8")
                assert text.count(old) == 1
                data = text.replace(old, new).encode("utf-8")
            dst.writestr(info, data)
    return out.getvalue()


def test_a_changed_paragraph_is_reported_with_its_card_and_block(epub_build, ids, french):
    pdf = (epub_build / BOOKLET).read_bytes()
    altered = _altered(
        epub_build / EPUB,
        "EPUB/text/action-adie.xhtml",
        "<p>En effet, les difficultés d’accès à un véhicule",
        "<p>En effet, les difficultés d’accès à une voiture",
    )
    differences = eq.check_epub(pdf, altered, ids)
    assert len(differences) == 1
    (difference,) = differences
    assert difference.part == "adie"
    blocks = [f.block for f in eq.pdf_parts(pdf, ids)["action-adie"]]
    said = "En effet, les difficultés d’accès à {} représentent une source de précarité"
    said += " et de stress de plus en plus importante pour les ménages modestes."
    assert blocks[difference.block - 1] == eq.Block(eq.PARAGRAPH, said.format("un véhicule"))
    # A long block is shown around its difference.
    shown = "En effet, les difficultés d’accès à {} représentent une source de précarité e…"
    assert str(difference) == (
        f"adie: bloc {difference.block} : PDF « {shown.format('un véhicule')} » ≠ "
        f"EPUB « {shown.format('une voiture')} »"
    )


def test_a_missing_block_and_a_missing_part_are_reported(epub_build, ids, french):
    pdf = (epub_build / BOOKLET).read_bytes()
    altered = _altered(
        epub_build / EPUB,
        "EPUB/text/action-adie.xhtml",
        "<li>Missions Locales</li>",
        "",
    )
    messages = [str(d) for d in eq.check_epub(pdf, altered, ids)]
    assert (
        len(messages) == 1 and "PDF « Missions Locales » absent de la version EPUB" in messages[0]
    )
    without = _altered(epub_build / EPUB, "EPUB/text/thanks.xhtml", 'id="thanks"', 'id="merci"')
    assert [str(d) for d in eq.check_epub(pdf, without, ids)] == [
        "thanks: partie absente de la version EPUB"
    ]


def test_check_equivalence_command(built, tmp_path, capsys, french):
    out = tmp_path / "out"
    shutil.copytree(built[0], out)
    assert main(["check-equivalence", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (
        "équivalence (RGAA 13.4), PDF et EPUB : 0 différence sur 17 parties"
    )
    assert (out / EPUB).is_file()


def test_the_html_side_reads_any_web_page():
    """The web edition's pages plug in as they are: an HTML document, the card's element, and
    how its links name the booklet's anchors."""
    page = """<!DOCTYPE html><html lang="fr"><head><title>x</title><style>p{}</style></head>
    <body><a class="skip" href="#main">Aller au contenu</a>
    <main id="main"><article class="card">
      <h1>Titre,  <span>Org</span></h1>
      <dl><dt>Lieu&#8239;:</dt><dd>Toulouse</dd></dl>
      <p>Un texte <a href="../gas-18/">lié</a> et so&shy;lidaire.<br>Suite</p>
      <ul><li>Un<ul><li>Deux</li></ul></li></ul>
      <figure><img src="x.png" alt="Une carte"><figcaption>Légende</figcaption></figure>
      <span role="doc-pagebreak" aria-label="3"></span><p hidden>Caché</p>
    </article></main></body></html>"""
    root = eq.parse_html(page)
    card = next(el for el in root.iter() if eq.local(el.tag) == "article")

    def resolve(href: str) -> str:
        return "#action-" + href.strip("./") if href.startswith("../") else href

    assert eq.html_blocks(card, resolve) == [
        eq.Block(eq.HEADING, "Titre, Org"),
        eq.Block(eq.PARAGRAPH, "Lieu :"),
        eq.Block(eq.PARAGRAPH, "Toulouse"),
        eq.Block(eq.PARAGRAPH, "Un texte lié et solidaire. Suite"),
        eq.Block(eq.LINK, "#action-gas-18"),
        eq.Block(eq.ITEM, "Un"),
        eq.Block(eq.ITEM, "Deux"),
        eq.Block(eq.ALT, "Une carte"),
        eq.Block(eq.PARAGRAPH, "Légende"),
    ]


def test_normalize_only_what_must_be():
    assert eq.normalize(" Lieu\u202f: le\u00a0 pro\u00adjet\n  solidaire ") == (
        "Lieu : le projet solidaire"
    )
    assert eq.normalize("socio-professionnel") == "socio-professionnel"  # a real hyphen stays


def test_a_hyphenated_compound_is_a_word_of_the_vocabulary():
    """Edition #01 writes both « socio-professionnel » and « socioprofessionnel »: cut at its
    hyphen by a line end, the first one kept its hyphen in the tag tree only once the compound
    was a word (the equivalence check found it, mde-marseille block 47)."""
    words, _tokens = vocabulary("acteurs socio-professionnel et socioprofessionnel")
    assert {"socio-professionnel", "socioprofessionnel"} <= words


def test_the_pdf_must_be_the_layout_s_document(epub_build, ids):
    """A PDF whose parts are not the ones named (another edition's, an excerpt) is refused,
    never compared part against the wrong part."""
    pdf = (epub_build / BOOKLET).read_bytes()
    with pytest.raises(ValueError):
        eq.pdf_parts(pdf, ids[:-1])
    swapped = [*ids[:4], ids[5], ids[4], *ids[6:]]
    with pytest.raises(ValueError):
        eq.pdf_parts(pdf, swapped)
