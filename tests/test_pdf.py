"""The printed booklet, read back from the real PDF."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT
from pdftext import (
    contents_numbers,
    contents_page,
    norm,
    outline,
    page_texts,
    pages_text,
    poppler_pages,
)
from pypdf import PdfReader

from livret.building.pipeline import run
from livret.errors import LivretError
from livret.reading.loader import load_site

SITE = load_site(CONTENT)


@pytest.fixture(scope="module")
def booklet(built):
    out, manifest, results = built
    return out / "retour-experience-01.pdf"


def test_page_count_is_sane(booklet):
    assert 20 <= len(PdfReader(booklet).pages) <= 60


def test_every_title_email_and_theme_is_printed(booklet):
    text = " ".join(pages_text(booklet))
    for theme in SITE.themes:
        assert norm(theme.title) in text
    for action in SITE.actions:
        assert norm(action.title) in text, action.slug
        for email in action.contact.emails if action.contact else ():
            assert norm(email) in text, (action.slug, email)
    assert norm(SITE.edition.contact_email) in text


def test_parts_in_order(booklet):
    pages = poppler_pages(booklet)
    assert "Retour d'expérience #01" in pages[0] and "27 novembre 2023" in pages[0]
    assert pages[1].startswith("Sommaire")
    order = ["Introduction", *(t.title for t in SITE.themes), "Remerciements"]
    firsts = [next(i for i, p in enumerate(pages) if p.startswith(norm(t))) for t in order]
    assert firsts == sorted(firsts)
    assert "rejoignez le Club des territoires" in pages[-1]


def test_contents_numbers_are_the_real_pages(booklet):
    pages = poppler_pages(booklet)
    titles = [
        "Introduction",
        *(t.title for t in SITE.themes),
        *(f"{a.title}, {a.organisation}" for a in SITE.actions),
        "Remerciements",
    ]
    printed = contents_numbers(contents_page(booklet), titles)
    assert set(printed) == set(titles), set(titles) - set(printed)
    for title, number in printed.items():
        page = pages[number - 1]
        head = norm(title)
        # Parts, openers and cards start with their title (the card's arrow is painted).
        assert page.startswith(head), (title, number, page[:80])


def test_opener_page_numbers_match_cards(booklet):
    pages = poppler_pages(booklet)
    for theme in SITE.themes:
        opener = next(p for p in pages if p.startswith(norm(theme.title) + " →"))
        for action in theme.actions:
            m = re.search(re.escape(norm(action.title)) + r".*?p\. (\d+)", opener)
            assert m, action.slug
            assert pages[int(m.group(1)) - 1].startswith(norm(action.title))


def test_outline_has_parts_themes_and_actions(booklet):
    tree = outline(booklet)
    titles = [t for t, _ in tree]
    assert titles == ["Sommaire", "Introduction", *(t.title for t in SITE.themes), "Remerciements"]
    for theme in SITE.themes:
        children = dict(tree)[theme.title]
        assert children == [f"{a.title}, {a.organisation}" for a in theme.actions]


def test_fonts_are_embedded_and_vendored(booklet):
    reader = PdfReader(booklet)
    seen = set()
    for page in reader.pages:
        fonts = page["/Resources"].get("/Font", {})
        for font in fonts.values():
            font = font.get_object()
            desc = font.get("/FontDescriptor")
            if desc is None:
                desc = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            desc = desc.get_object()
            assert any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")), font
            seen.add(str(font["/BaseFont"]).split("+")[-1])
    assert seen and all("Lato" in name for name in seen), seen


def test_pdf_ua_metadata_language_and_tags(booklet):
    reader = PdfReader(booklet)
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert 'pdfuaid:part="1"' in xmp
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "fr"
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    meta = reader.metadata
    assert meta.title.startswith("Retour d’expérience #01")
    assert meta["/Author"] == "Club des territoires (DGCS)"
    assert meta["/CreationDate"].startswith("D:20231127")
    assert "précarité énergétique" in meta["/Keywords"]


def test_links_mailto_and_web(booklet):
    reader = PdfReader(booklet)
    uris = set()
    internal = 0
    for page in reader.pages:
        for annot in page.get("/Annots", []) or []:
            a = annot.get_object()
            action = a.get("/A")
            if action and "/URI" in action:
                uris.add(str(action["/URI"]))
            elif "/Dest" in a or (action and "/D" in action):
                internal += 1
    assert "mailto:m.baillot@adil31.org" in uris
    assert "mailto:dgcs-club-des-territoires@social.gouv.fr" in uris
    assert any(u.startswith("http://reseau-cocagne.org") for u in uris)
    assert internal >= 16  # every contents entry and opener entry is a link


def test_french_typography_reaches_the_pdf(booklet):
    raw = " ".join(page_texts(booklet))
    assert "Contact\u202f:" in raw
    assert "«\u202fpaniers solidaires\u202f»" in raw
    # (the no-break space before € shares the space glyph, so it reads back as a space)
    assert "1\u202f000\u202f000 € de travaux" in raw
    assert "l’habitat" in raw


def _build_in_subprocess(out: Path, theme: str) -> bytes:
    env = {**os.environ}
    env.pop("SOURCE_DATE_EPOCH", None)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "build.py"),
            "--theme",
            theme,
            "-q",
            "--output",
            str(out),
            "--content",
            str(CONTENT),
        ],
        check=True,
        cwd=ROOT,
        env=env,
    )
    return (out / f"retour-experience-01-{theme}.pdf").read_bytes()


@pytest.mark.slow  # two builds, each in a process of its own
def test_two_builds_in_two_processes_are_byte_identical(tmp_path, built, fresh_user_cache):
    # The session's build (this process and its workers) and a fresh process, with a user's
    # cache of its own (each part laid out again); an excerpt is made by the same code as the
    # booklet, at a third of the cost.
    out, _, _ = built
    fresh = _build_in_subprocess(tmp_path / "a", "mobilites")
    assert fresh == (out / "retour-experience-01-mobilites.pdf").read_bytes()


# --- safety: hostile and bad content never reach the PDF nor replace a good one ------------

HOSTILE = {
    "web image": '<img src="https://example.com/pixel.png" alt="x">',
    "file outside": '<img src="file:///etc/passwd" alt="x">',
    "dot-dot escape": "![carte](../../../etc/hostname)",
    "css url": '<span style="background: url(http://example.com/a.png)">x</span>',
    "stylesheet": '<link rel="stylesheet" href="https://example.com/evil.css">',
}


@pytest.fixture(scope="module")
def adie_sheet(tmp_path_factory) -> Path:
    """The output folder with the adie sheet built from content/ (the same as a content_copy)."""
    out = tmp_path_factory.mktemp("adie")
    run(CONTENT, out, themes=[], booklet=False, actions=["adie"])
    return out


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_content_fails_cleanly_and_keeps_the_old_pdf(
    name, content_copy, tmp_path, adie_sheet
):
    out = tmp_path / "out"
    shutil.copytree(adie_sheet, out)
    _, results = run(content_copy, out, themes=[], booklet=False, actions=["adie"])
    assert [r.status for r in results] == ["up to date"]
    sheet = out / "retour-experience-01-action-adie.pdf"
    before = sheet.read_bytes()
    card = content_copy / "actions" / "adie.md"
    card.write_text(
        card.read_text(encoding="utf-8") + "\n" + HOSTILE[name] + "\n", encoding="utf-8"
    )
    with pytest.raises(LivretError) as err:
        run(content_copy, out, themes=[], booklet=False, actions=["adie"])
    message = str(err.value)
    assert "adie.md" in message, message
    assert sheet.read_bytes() == before
    assert not list(out.glob(".*.part"))


def test_bad_content_keeps_the_old_pdf_and_prints_lines(content_copy, built_copy, capsys):
    from livret.cli import main

    out = built_copy  # the booklet of the same content, already built
    assert (
        main(["--only", "booklet", "-q", "--content", str(content_copy), "--output", str(out)]) == 0
    )
    pdf = out / "retour-experience-01.pdf"
    before, mtime = pdf.read_bytes(), pdf.stat().st_mtime_ns
    card = content_copy / "actions" / "adie.md"
    card.write_text(
        card.read_text(encoding="utf-8").replace("yjarland@adie.org", "yjarland@adie"),
        encoding="utf-8",
    )
    assert (
        main(["--only", "booklet", "-q", "--content", str(content_copy), "--output", str(out)]) == 1
    )
    err = capsys.readouterr().err
    assert "adie.md:" in err and '"yjarland@adie" is not an e-mail address' in err
    assert "Traceback" not in err
    assert pdf.read_bytes() == before and pdf.stat().st_mtime_ns == mtime


def test_interrupted_render_leaves_the_previous_pdf(content_copy, tmp_path, monkeypatch):
    from livret.building import writer

    out = tmp_path / "out"
    run(content_copy, out, booklet=False, themes=[], actions=["cd41"])
    sheet = out / "retour-experience-01-action-cd41.pdf"
    before = sheet.read_bytes()

    real_fsync = os.fsync

    def die_mid_write(fd):  # the process is killed after part of the file was written
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.os, "fsync", die_mid_write)
    with pytest.raises(KeyboardInterrupt):
        run(content_copy, out, booklet=False, themes=[], actions=["cd41"], force=True, jobs=1)
    monkeypatch.setattr(writer.os, "fsync", real_fsync)
    assert sheet.read_bytes() == before
    assert not list(out.glob(".*.part"))


def test_weasyprint_warnings_fail_the_render():
    from livret.rendering.pdf import Printer

    printer = Printer(CONTENT)
    html = (
        '<html lang="fr"><head><title>t</title></head>'
        '<body><p style="colour: red">x</p></body></html>'
    )
    with pytest.raises(LivretError) as err:
        printer.render(html)
    assert "colour" in str(err.value)
    # and a clean document goes through
    data, pages = printer.render(html.replace("colour", "color"))
    assert data.startswith(b"%PDF") and pages == 1


@pytest.mark.parametrize(
    "variant,marker", [("archive", 'pdfaid:part="3"'), ("print", "GTS_PDFXVersion>PDF/X-4<")]
)
def test_variants(variant, marker, session_build):
    # The press sheet is tests/test_press.py's, built once for the session.
    name = "press-sheet" if variant == "print" else f"sheet-{variant}"
    _, _, results = session_build(name, booklet=False, themes=[], actions=["apfe"], variant=variant)
    path = results[0].path
    assert path.name == f"retour-experience-01-action-apfe-{variant}.pdf"
    reader = PdfReader(path)
    assert marker in reader.xmp_metadata.stream.get_data().decode()
    box = reader.pages[0].mediabox
    if variant == "print":  # 3 mm bleed on each side of A4 (+ room for the crop marks)
        assert float(box.width) > 595.3 + 2 * 8
        assert "/BleedBox" in reader.pages[0] or "/TrimBox" in reader.pages[0]
    else:
        assert abs(float(box.width) - 595.3) < 1


def test_no_text_outside_the_page_margins(built):
    """Every word of every output lies inside the page box, clear of the paper's edge."""
    out, _, _ = built
    word = re.compile(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<'
    )
    page = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
    for pdf in sorted(out.glob("*.pdf")):
        xml = subprocess.run(
            ["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout
        pages = page.findall(xml)
        assert pages
        for n, (width, height, body) in enumerate(pages, 1):
            for x0, y0, x1, y1, text in word.findall(body):
                # 8 mm (22.7 pt) from each edge at least: the smallest margin of any page
                assert float(x0) >= 22 and float(x1) <= float(width) - 22, (pdf.name, n, text)
                assert float(y0) >= 22 and float(y1) <= float(height) - 22, (pdf.name, n, text)


def test_an_openers_page_number_stays_on_its_entrys_line(booklet):
    """On the openers, "p. 20" ends its entry's last line: never on a line of its own (it
    dropped below the first Mobilités entry)."""
    pages = poppler_pages(booklet)
    openers = [n for n, p in enumerate(pages, 1) if any(p.startswith(norm(t.title) + " →")
               for t in SITE.themes)]  # fmt: skip
    assert len(openers) == 3
    word = re.compile(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<'
    )
    checked = 0
    for n in openers:
        xml = subprocess.run(
            ["pdftotext", "-bbox", "-f", str(n), "-l", str(n), str(booklet), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        words = [(float(a), float(b), float(y), t) for a, b, y, t in word.findall(xml)]
        for i, (x0, _x1, y, text) in enumerate(words[:-1]):
            if text == "p." and words[i + 1][3].isdigit() and x0 > 400:
                beside = [w for w in words if abs(w[2] - y) < 2 and w[1] < x0 - 20]
                assert beside, (n, text, words[i + 1][3], "alone on its line")
                checked += 1
    assert checked == len(SITE.actions)


def test_the_running_footer_has_the_texts_apostrophe(booklet):
    """The footer reads "Retour d’expérience", with the text's ’ (it was straight)."""
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(booklet), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert text.count("Retour d’expérience #01 ·") >= 20
    assert "d'expérience" not in text


def test_a_sidebar_sub_group_never_opens_a_page(booklet, tmp_path):
    """ "- dont cofinanceurs :" stood alone at the top of a page's sidebar: a sub-group keeps
    with the fact it details."""
    pages = len(PdfReader(booklet).pages)
    checked = 0
    for n in range(2, pages + 1):
        top = subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), "-x", "390", "-y", "40", "-W", "170"]
            + ["-H", "60", str(booklet), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if top:
            checked += 1
            assert not top.startswith(("- dont", "dont")), (n, top[:60])
    assert checked >= 10


def test_no_bullet_before_the_publisher_on_the_cover(booklet, tmp_path):
    """The cover's "Club des territoires" line: the navy runs right up to its first letter."""
    from PIL import Image

    xml = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(booklet), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    x0, y0, _x1, y1 = (
        float(v)
        for v in re.search(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">Club</word>',
            xml,
        ).groups()
    )
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "144", "-f", "1", "-l", "1", str(booklet), str(tmp_path / "c")],
        check=True,
    )
    (image,) = tmp_path.glob("c*.pgm")
    cover = Image.open(image).convert("L")
    left = [
        cover.getpixel((x, y))
        for x in range(round((x0 - 12) * 2), round((x0 - 0.5) * 2))
        for y in range(round(y0 * 2), round(y1 * 2))
    ]
    assert max(left) < 100, "something light left of the publisher's name"


def test_a_new_editions_empty_themes_print_no_empty_boxes(tmp_path, capsys):
    """A scaffolded edition: its themes without cards or take-aways print no empty list or
    "À retenir" box, and check warns of each theme without a card."""
    from livret.cli import main

    content = tmp_path / "edition-02"
    assert main(["new-edition", str(content), "--number", "2"]) == 0
    capsys.readouterr()
    assert main(["--content", str(content), "check"]) == 0
    err = capsys.readouterr()
    warned = err.out + err.err
    for theme in ("mobilites", "precarite-alimentaire"):
        assert f"themes/{theme}.yaml:" in warned and "the theme has no card yet" in warned
    assert "themes/precarite-energetique.yaml" not in warned
    _, results = run(content, tmp_path / "out", booklet=True, themes=[])
    texts = poppler_pages(results[0].path)
    assert "À retenir" not in " ".join(texts)
    for title in ("Précarité alimentaire", "Mobilités"):
        opener = next(t for t in texts if t.startswith(title))
        assert opener == title, opener  # the title band alone: no empty boxes
