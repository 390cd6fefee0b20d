"""The booklet as a designed publication: spreads, page count, measure, clean breaks, contrast.

Read back from the real PDFs (pypdf for pages and hyphenation, poppler for the lines)."""

from __future__ import annotations

import re
import subprocess
from html import unescape

import pytest
import yaml
from conftest import CONTENT, ROOT
from pdftext import page_texts
from pypdf import PdfReader

from livret.rendering import pageplan

STYLES = ROOT / "styles"


@pytest.fixture(scope="module")
def outputs(built):
    out, _, _ = built
    return sorted(out.glob("*.pdf"))


def _starts(reader: PdfReader) -> tuple[list[int], list[int]]:
    """Page numbers (from 1) of the theme openers (outline level 1 under a theme) and cards."""
    openers, cards = [], []
    for item in reader.outline:
        if isinstance(item, list):
            cards += [reader.get_destination_page_number(x) + 1 for x in item]
        else:
            openers.append(reader.get_destination_page_number(item) + 1)
    return openers, cards


def test_a_book_for_the_screen(outputs):
    """The screen PDFs need no spreads (the press file keeps them, tests/test_fit.py): every
    theme and card opens on a page of its own, the back cover is the last page."""
    for path in outputs:
        reader = PdfReader(path)
        openers, cards = _starts(reader)
        assert cards, path.name
        assert len(set(openers + cards)) == len(openers + cards), (path.name, openers, cards)
        last = page_texts(path)[-1]
        assert "rejoignez le Club des territoires" in last, path.name


def test_blank_pages_are_notes_pages(outputs):
    """A page with (almost) nothing on it is a deliberate Notes page."""
    for path in outputs:
        for n, page in enumerate(page_texts(path), 1):
            text = page.strip()
            if len(text) < 15:
                assert text == "Notes", (path.name, n, text)


def test_the_page_plan_pads_to_a_multiple_of_4():
    html = f"<body><p>x</p>{pageplan.MARK}<section class=back></section></body>"
    assert pageplan.notes_needed(36) == 0 and pageplan.notes_needed(34) == 2
    assert pageplan.plan(html, 36) is None
    assert pageplan.plan(html, 34).count('class="notes-page"') == 2
    assert pageplan.plan("<body>sheet</body>", 3) is None  # no place for notes: left alone


def _lines(path) -> list[str]:
    xml = subprocess.run(
        ["pdftotext", "-bbox-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    lines = []
    for line in re.findall(r"<line [^>]*>(.*?)</line>", xml, re.S):
        words = re.findall(r"<word [^>]*>([^<]*)</word>", line)
        text = unescape(" ".join(words))
        if ". . ." not in text:  # contents leaders are not text lines
            lines.append(text)
    return lines


def test_body_measure(outputs):
    """90 % of the lines at most 95 characters long (they ran to 120–132 beside the sidebar)."""
    for path in outputs:
        lines = _lines(path)
        short = sum(len(line) <= 95 for line in lines)
        assert short / len(lines) >= 0.9, (path.name, short / len(lines))


def _hyphenated(path) -> list[tuple[str, str]]:
    text = "\n".join(page_texts(path))
    return re.findall(r"(\w+)-\n(\w+)", text)


def test_names_are_not_hyphenated(outputs):
    for path in outputs:
        cut = [(a, b) for a, b in _hyphenated(path) if a[:1].isupper()]
        assert len(cut) <= 2, (path.name, cut)
    text = "\n".join(page_texts(outputs[0]))
    assert "Hauts-de-\nFrance" not in text and "Hauts-\nde-France" not in text


# --- colours -----------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _css_vars() -> dict[str, str]:
    css = (STYLES / "page.css").read_text(encoding="utf-8")
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", css))


def test_contrast_of_text_colours():
    """WCAG AA (4.5:1) wherever a colour carries text: theme colours on white and on the
    sidebar tint (labels, headings), white on the theme colours (card headers, openers)."""
    colours = _css_vars()
    white, tint = "#ffffff", colours["--paper-tint"]
    themes = {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))["colour"]
        for p in (CONTENT / "themes").glob("*.yaml")
    }
    assert themes
    for name, colour in {**themes, "brand": colours["--brand"]}.items():
        assert contrast(colour, white) >= 4.5, name
        assert contrast(colour, tint) >= 4.5, name
    for name in ("--ink", "--muted"):
        assert contrast(colours[name], white) >= 4.5 and contrast(colours[name], tint) >= 4.5


def test_the_sidebar_is_visible():
    """A tint of at least 1.2:1 against the paper, or a rule around it."""
    tint = _css_vars()["--paper-tint"]
    card = (STYLES / "card.css").read_text(encoding="utf-8")
    facts = re.search(r"\.facts \{([^}]*)\}", card).group(1)
    assert contrast(tint, "#ffffff") >= 1.2 or re.search(r"border-(top|bottom|left)\s*:", facts)
    assert re.search(r"font-size:\s*(9|9\.\d|1\d)pt", facts)  # and readable: at least 9 pt


# --- pictures and logos from the content ---------------------------------------------------


def _png(path, size=(120, 80), colour=(200, 80, 20)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, "PNG")


def _check(content_copy, monkeypatch, capsys) -> tuple[int, str]:
    from livret.cli import main

    monkeypatch.chdir(content_copy.parent)  # problems read content/actions/adie.md:…
    capsys.readouterr()
    rc = main(["check", "--content", "content"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out + err


def _append(path, text: str) -> int:
    old = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    path.write_text(old + "\n" + text + "\n", encoding="utf-8")
    return old.count("\n") + 2


def test_a_picture_without_alternative_text_is_a_check_error(content_copy, monkeypatch, capsys):
    _png(content_copy / "images/four.png")
    line = _append(content_copy / "actions/adie.md", '![](images/four.png "Le four solaire")')
    rc, out = _check(content_copy, monkeypatch, capsys)
    assert rc == 1
    assert f"content/actions/adie.md:{line}:" in out and "alternative text" in out, out


def test_a_picture_is_a_figure_with_its_caption_downsampled_on_screen_only(content_copy):
    from livret.building.outputs import plan
    from livret.building.pipeline import run
    from livret.reading.loader import load_site
    from livret.rendering.render import render_html

    _png(content_copy / "images/four.png", size=(3000, 2000))
    _append(content_copy / "actions/adie.md", '![Un four solaire](images/four.png "Le four")')
    site = load_site(content_copy)
    html = render_html(site, plan(site, booklet=False, actions=["adie"])[0])
    assert '<figure class="figure"><img alt="Un four solaire" src="images/four.png">' in html
    assert "<figcaption>Le four</figcaption>" in html
    widths = {}
    for variant in ("accessible", "print"):
        _, results = run(
            content_copy, content_copy.parent / variant, booklet=False, themes=[],
            actions=["adie"], variant=variant,
        )  # fmt: skip
        reader = PdfReader(results[0].path)
        images = [img for page in reader.pages for img in page.images]
        assert images, variant
        widths[variant] = max(img.image.size[0] for img in images)
    assert widths["print"] == 3000  # the press gets every pixel
    assert widths["accessible"] < 3000  # the screen PDF at 200 dpi at most


def test_logos_are_optional_checked_and_printed(content_copy, monkeypatch, capsys):
    from livret.building.outputs import plan
    from livret.reading.loader import load_site
    from livret.rendering.render import render_html

    edition = content_copy / "edition.yaml"
    assert load_site(content_copy).edition.logos == ()  # edition #01 lists none
    _png(content_copy / "logos/club.png")
    _append(edition, "logos:\n  - file: logos/club.png\n    alt: Club des territoires")
    site = load_site(content_copy)
    assert [logo.alt for logo in site.edition.logos] == ["Club des territoires"]
    html = render_html(site, plan(site)[0])
    assert html.count('src="logos/club.png" alt="Club des territoires"') == 2  # cover, back

    text = edition.read_text(encoding="utf-8")
    edition.write_text(text.replace("    alt: Club des territoires\n", ""), encoding="utf-8")
    rc, out = _check(content_copy, monkeypatch, capsys)
    line = text.count("\n") - 1  # the line of "- file:", the logo without its alt
    assert rc == 1 and f"content/edition.yaml:{line}: logos no. 1, alt:" in out, out

    edition.write_text(text.replace("logos/club.png", "../secret.png"), encoding="utf-8")
    rc, out = _check(content_copy, monkeypatch, capsys)
    assert rc == 1 and "inside the content folder" in out, out


def test_continuation_pages_name_their_card(outputs):
    """A running head on every page of a card but its first: the card's organisation."""
    from livret.reading.loader import load_site

    site = load_site(CONTENT)
    orgs = {a.title.replace("'", "’"): a.organisation.replace("'", "’") for a in site.actions}
    booklet = next(p for p in outputs if p.name == "retour-experience-01.pdf")
    reader = PdfReader(booklet)
    pages = page_texts(booklet)
    openers, cards = _starts(reader)
    titles = [x.title.replace("'", "’") for item in reader.outline if isinstance(item, list)
              for x in item]  # fmt: skip
    bounds = [*cards[1:], len(pages) + 1]
    checked = 0
    for title, first, nxt in zip(titles, cards, bounds, strict=True):
        org = next(o for t, o in orgs.items() if title.startswith(t))
        for n in range(first + 1, nxt):
            text = pages[n - 1].strip()
            if text in ("", "Notes") or n in openers:
                break  # the card is over (a Notes page or the next opener)
            assert org in text, (title, n)
            checked += 1
    assert checked >= 8
