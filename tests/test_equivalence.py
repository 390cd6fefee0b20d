"""Proof of equivalence (RGAA 13.4): the booklet's PDF (its tag tree), its EPUB and its web
edition say the same, block by block; a changed paragraph is reported with its card and block."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import CONTENT

from livret.building import equivalence as eq
from livret.building.epub import part_ids
from livret.building.pipeline import run
from livret.cli import main
from livret.finishing.linebreaks import vocabulary
from livret.reading.loader import load_site

EPUB = "retour-experience-01.epub"
BOOKLET = "retour-experience-01.pdf"


@pytest.fixture(scope="module")
def epub_build(built, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("equivalence") / "out"
    shutil.copytree(built[0], out)
    run(CONTENT, out, booklet=True, themes=[], actions=[], epub=True, web=True)
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
    assert capsys.readouterr().out.strip().splitlines() == [
        "équivalence (RGAA 13.4), PDF et EPUB : 0 différence sur 17 parties",
        "équivalence (RGAA 13.4), PDF et web : 0 différence sur 17 parties",
    ]
    assert (out / EPUB).is_file() and (
        out / "web" / "01" / "actions" / "adie" / "index.html"
    ).is_file()


@pytest.mark.slow  # the edition built again, with a web address
def test_with_a_web_address_the_three_versions_say_the_same(addressed_build, tmp_path, capsys):
    """The back cover's web address (edition.yaml web_address) reads the same in the PDF, the
    EPUB and the web edition: its label, then the address (a block link split the paragraph
    and read the address first; the press file's QR code is not in the EPUB)."""
    content = addressed_build[0].with_name("content")  # the session's, with the address: read only
    assert "web_address: https://www.exemple.gouv.fr/retour-experience/" in (
        content / "edition.yaml"
    ).read_text(encoding="utf-8")
    out = tmp_path / "out"
    shutil.copytree(addressed_build[0], out)  # its booklet, built: the EPUB and web made here
    code = main(["check-equivalence", "--content", str(content), "--output", str(out)])
    said = capsys.readouterr().out
    assert code == 0, said
    assert said.count("0 differences in 17 parts") == 2, said


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


# --- the web edition ---------------------------------------------------------------------------

SITE_WEB = "web"


def test_the_booklet_and_its_web_edition_say_the_same(epub_build, ids):
    site = load_site(CONTENT)
    pdf = (epub_build / BOOKLET).read_bytes()
    assert eq.check_web(pdf, epub_build / SITE_WEB, site, ids) == []
    # Every part but the contents has its page and its element there, read block by block.
    pages = eq.web_pages(site)
    assert set(pages) == set(ids) - eq.NOT_COMPARED
    page = pages["action-adie"]
    assert page == "01/actions/adie/index.html"
    root = eq.parse_html((epub_build / SITE_WEB / page).read_bytes())
    adie = eq.html_blocks(
        eq.web_form(eq.find_id(root, "action-adie")), eq.web_resolver(pages, page)
    )
    assert eq.Block(eq.PARAGRAPH, "Contact : Yves JARLAND et Elliott INGUENAUD") in adie
    assert eq.Block(eq.LINK, "mailto:yjarland@adie.org") in adie
    assert sum(b.kind == eq.ITEM for b in adie) > 20
    # The opener's links lead to the cards: the booklet's anchors.
    page = pages["theme-mobilites"]
    root = eq.parse_html((epub_build / SITE_WEB / page).read_bytes())
    opener = eq.html_blocks(eq.find_id(root, "theme-mobilites"), eq.web_resolver(pages, page))
    assert [b.text for b in opener if b.kind == eq.LINK] == [
        "#action-apfe",
        "#action-adie",
        "#action-gas-18",
        "#action-mde-marseille",
    ]


def _web_copy(epub_build: Path, tmp_path: Path, page: str, old: str, new: str) -> Path:
    web = tmp_path / SITE_WEB
    shutil.copytree(epub_build / SITE_WEB, web)
    path = web / page
    html = path.read_text(encoding="utf-8")
    assert html.count(old) == 1
    path.write_text(html.replace(old, new), encoding="utf-8")
    return web


def test_a_changed_paragraph_of_a_web_card_is_reported_with_its_card_and_block(
    epub_build, ids, tmp_path, french
):
    site = load_site(CONTENT)
    pdf = (epub_build / BOOKLET).read_bytes()
    web = _web_copy(
        epub_build,
        tmp_path,
        "01/actions/adie/index.html",
        "<p>En effet, les difficultés d’accès à un véhicule",
        "<p>En effet, les difficultés d’accès à une voiture",
    )
    (difference,) = eq.check_web(pdf, web, site, ids)
    blocks = [f.block for f in eq.pdf_parts(pdf, ids)["action-adie"]]
    said = "En effet, les difficultés d’accès à un véhicule représentent une source"
    assert difference.part == "adie" and blocks[difference.block - 1].text.startswith(said)
    shown = "En effet, les difficultés d’accès à {} représentent une source de précarité e…"
    assert str(difference) == (
        f"adie: bloc {difference.block} : PDF « {shown.format('un véhicule')} » ≠ "
        f"web « {shown.format('une voiture')} »"
    )


def test_a_changed_fact_a_changed_link_and_a_missing_page_are_reported(
    epub_build, ids, tmp_path, french
):
    """The facts' form is read the PDF's way; what they say is still compared."""
    site = load_site(CONTENT)
    pdf = (epub_build / BOOKLET).read_bytes()
    card = "01/actions/adie/index.html"
    web = _web_copy(epub_build, tmp_path, card, "<dt>Lieu</dt>", "<dt>Lieux</dt>")
    assert [str(d) for d in eq.check_web(pdf, web, site, ids)] == [
        "adie: bloc 4 : PDF « Lieu : » ≠ web « Lieux : »"
    ]
    web = _web_copy(epub_build, tmp_path / "b", card, ">Yves JARLAND</span>", ">Yves JARLAN</span>")
    assert [str(d) for d in eq.check_web(pdf, web, site, ids)] == [
        "adie: bloc 10 : PDF « Contact : Yves JARLAND et Elliott INGUENAUD » ≠ "
        "web « Contact : Yves JARLAN et Elliott INGUENAUD »"
    ]
    web = _web_copy(
        epub_build,
        tmp_path / "c",
        "01/mobilites/index.html",
        'href="../actions/gas-18/"',
        'href="../actions/apfe/"',
    )
    assert [str(d) for d in eq.check_web(pdf, web, site, ids)] == [
        "theme-mobilites: bloc 7 : PDF « #action-gas-18 » ≠ web « #action-apfe »"
    ]
    (web / "01" / "remerciements" / "index.html").unlink()
    assert "thanks: partie absente de la version web" in [
        str(d) for d in eq.check_web(pdf, web, site, ids)
    ]


def test_web_form_reads_a_description_list_as_the_pdf_prints_its_facts():
    page = """<!DOCTYPE html><html lang="fr"><head><title>x</title></head><body>
    <article id="a"><dl>
      <div class="fact"><dt>Lieu</dt><dd>Toulouse</dd><dd>Albi</dd></div>
      <div class="fact"><dt>Contact</dt><dd class="contact-name">Ada L.</dd>
        <dd><a href="mailto:a@b.fr">a@b.fr</a></dd></div>
      <div class="fact"><dt>Public</dt><dd class="fact-none">—</dd></div>
      <dt>Date</dt><dd>2023</dd>
    </dl></article></body></html>"""
    element = eq.find_id(eq.parse_html(page), "a")
    assert eq.html_blocks(eq.web_form(element)) == [
        eq.Block(eq.PARAGRAPH, "Lieu :"),
        eq.Block(eq.ITEM, "Toulouse"),
        eq.Block(eq.ITEM, "Albi"),
        eq.Block(eq.PARAGRAPH, "Contact : Ada L."),
        eq.Block(eq.ITEM, "a@b.fr"),
        eq.Block(eq.LINK, "mailto:a@b.fr"),
        eq.Block(eq.PARAGRAPH, "Public :"),
        eq.Block(eq.PARAGRAPH, "Date :"),
        eq.Block(eq.ITEM, "2023"),
    ]
    # The page itself is left as it is.
    assert "".join(element.itertext()).count("—") == 1


def test_only_a_link_s_page_reference_is_left_out_for_the_web():
    def found(*blocks: tuple[str, str]) -> list[eq.Found]:
        return [eq.Found(eq.Block(kind, text)) for kind, text in blocks]

    said = eq.without_page_references(
        found(
            (eq.ITEM, "Garage associatif, GAS 18 p. 23"),
            (eq.LINK, "#action-gas-18"),
            (eq.ITEM, "Une aide de 23 € page 4"),  # no link after it: compared as printed
            (eq.ITEM, "Voir p. 12"),
            (eq.LINK, "https://example.org/"),  # not a page of the booklet
        )
    )
    assert [f.block.text for f in said] == [
        "Garage associatif, GAS 18",
        "#action-gas-18",
        "Une aide de 23 € page 4",
        "Voir p. 12",
        "https://example.org/",
    ]
