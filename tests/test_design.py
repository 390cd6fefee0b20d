"""The booklet as a designed publication: spreads, page count, measure, clean breaks, contrast.

Read back from the real PDFs (pypdf for pages and hyphenation, poppler for the lines)."""

from __future__ import annotations

import re
import subprocess
from html import unescape

import pytest
import yaml
from conftest import CONTENT, ROOT
from pypdf import PdfReader

from livret import pageplan

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


def test_a_book_in_spreads(outputs):
    """Every card opens on a left-hand (even) page, every theme on a right-hand one, the page
    count is a multiple of 4 and the back cover is the last page."""
    for path in outputs:
        reader = PdfReader(path)
        assert len(reader.pages) % 4 == 0, (path.name, len(reader.pages))
        openers, cards = _starts(reader)
        assert cards, path.name
        assert all(n % 2 == 0 for n in cards), (path.name, cards)
        themes = [n for n in openers if any(c > n for c in cards)]
        assert all(n % 2 == 1 for n in themes[1:] if n > 3), (path.name, openers)
        last = reader.pages[-1].extract_text()
        assert "rejoignez le Club des territoires" in last, path.name


def test_blank_pages_are_notes_pages(outputs):
    """A page with (almost) nothing on it is a deliberate Notes page."""
    for path in outputs:
        for n, page in enumerate(PdfReader(path).pages, 1):
            text = (page.extract_text() or "").strip()
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
    text = "\n".join(p.extract_text() or "" for p in PdfReader(path).pages)
    return re.findall(r"(\w+)-\n(\w+)", text)


def test_names_are_not_hyphenated(outputs):
    for path in outputs:
        cut = [(a, b) for a, b in _hyphenated(path) if a[:1].isupper()]
        assert len(cut) <= 2, (path.name, cut)
    text = "\n".join(p.extract_text() or "" for p in PdfReader(outputs[0]).pages)
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
