"""Copyfitting (livret/fit.py): no page of a card is a leftover of a few lines.

Read back from the real booklet (poppler's word boxes), and the fitting itself on real
layouts of real cards: its decision, its cache, what invalidates it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import CONTENT
from pypdf import PdfReader

from livret import fit
from livret.loader import load_site
from livret.outputs import KINDS
from livret.pdf import Printer
from livret.render import render_html

PT_PER_MM = 72 / 25.4
WORD = re.compile(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)"')


def page_fills(path, top_mm=18, bottom_mm=22, height_mm=297) -> list[float]:
    """Per page, how far down the page area its lowest word goes (0–1); running heads and
    folios, in the margins, do not count."""
    xml = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    top, bottom = top_mm * PT_PER_MM, (height_mm - bottom_mm) * PT_PER_MM
    fills = []
    for page in xml.split("<page ")[1:]:
        ys = [
            float(y1)
            for y0, y1 in WORD.findall(page)
            if float(y0) >= top - 2 and float(y1) <= bottom + 2
        ]
        fills.append(max(0.0, (max(ys) - top) / (bottom - top)) if ys else 0.0)
    return fills


def card_pages(path) -> list[list[int]]:
    """The pages (from 0) of each card of a booklet or excerpt: from its outline entry to the
    page before the next entry (Notes pages, ruled but left blank, excluded)."""
    reader = PdfReader(path)
    starts = []
    for item in reader.outline:
        if isinstance(item, list):
            starts += [reader.get_destination_page_number(x) for x in item]
    ends = [*starts[1:], len(reader.pages)]
    blank = [(page.extract_text() or "").strip() in ("", "Notes") for page in reader.pages]
    nexts = sorted(
        {reader.get_destination_page_number(x) for x in reader.outline if not isinstance(x, list)}
    )
    out = []
    for start, end in zip(starts, ends, strict=True):
        end = min([end, *[n for n in nexts if n > start]])
        out.append([p for p in range(start, end) if not blank[p]])
    return out


def test_every_page_of_every_card_is_at_least_40_percent_full(built):
    out, _, _ = built
    for path in [out / "retour-experience-01.pdf", *out.glob("retour-experience-01-*.pdf")]:
        fills = page_fills(path)
        cards = card_pages(path)
        assert len(cards) >= 2, path
        for pages in cards:
            for p in pages:
                assert fills[p] >= fit.MIN_FILL, f"{path.name}: p. {p + 1} {fills[p]:.0%} full"


def test_the_fitted_booklet_moves_breaks_only_where_a_page_was_short(built):
    """Edition #01: five cards ran a few lines onto their last page (12 %, 34 %, 34 %, 38 %,
    6 %); each of them, and no other, got one break. The build kept one decision per card (the
    booklet and the excerpts share them) in its output folder."""
    import json

    from livret.pipeline import FIT_CACHE

    out, _, _ = built
    decisions = [json.loads(p.read_text()) for p in (out / FIT_CACHE).glob("*.json")]
    assert len(decisions) == 10
    assert sorted(len(d) for d in decisions) == [0] * 5 + [1] * 5
    assert len(page_fills(out / "retour-experience-01.pdf")) == 36


@pytest.fixture(scope="module")
def booklet_html():
    site = load_site(CONTENT)
    kind = KINDS["booklet"]
    return render_html(site, kind.output(site, kind.slugs(site)[0]))


@pytest.fixture(scope="module")
def printer():
    return Printer(CONTENT)


def _card(html: str, slug: str) -> str:
    return next(m.group(0) for m in fit.CARD.finditer(html) if m.group(1) == slug)


def test_a_card_that_runs_over_gets_one_break_and_fits(booklet_html, printer):
    head = fit.head_of(booklet_html)
    card = _card(booklet_html, "adil-31")  # 1 page and 14 % of the next, unfitted

    def layout(doc):
        return printer._layout(doc, "accessible")

    cands = fit.candidates(card)
    before = fit.measure(layout, head, card, cands)
    assert len(before.fills) == 2 and before.fills[-1] < fit.MIN_FILL
    breaks = fit.fit_card(layout, head, card)
    assert len(breaks) == 1
    after = fit.measure(layout, head, card, cands, breaks=set(breaks))
    assert len(after.fills) == 2 and after.fills[-1] >= fit.MIN_FILL
    # The page breaks before a whole section: its start tag carries the mark.
    fitted = fit.mark(card, breaks, lambda _i: fit.BREAK)
    assert re.search(r'<section data-fit="break" class="section section--', fitted)
    # A card that fits is left alone.
    assert fit.fit_card(layout, head, _card(booklet_html, "cd41")) == []


def test_choose_keeps_both_pages_filled():
    cands = [fit.Candidate(i, rank) for i, rank in enumerate([0, 2, 0, 2, 0])]
    m = fit.Measure(
        fills=[1.0, 0.10],
        starts=[(0, 0.20), (0, 0.45), (0, 0.55), (0, 0.60), (1, 0.0)],
    )
    # 0.20 would leave page 1 a fifth full; 0.45 (a paragraph) and 0.60 (too) are ranked
    # after the section at 0.55, which leaves 55 % and 55 %.
    assert fit.choose(m, cands)[0] == 2
    assert 0 not in fit.choose(m, cands)
    assert fit.choose(fit.Measure([1.0, 0.5], m.starts), cands) == []  # already fits
    assert fit.choose(fit.Measure([0.9], [(0, 0.5)]), cands[:1]) == []  # one page


def test_decisions_are_cached_by_card_and_design(booklet_html, tmp_path, monkeypatch):
    cache = tmp_path / "fit"
    first = Printer(CONTENT)
    fitted = first.fitted(booklet_html, cache=cache)
    assert fitted.count(fit.BREAK) == 5
    assert len(list(cache.glob("*.json"))) == 10  # one decision per card

    # A new process (an empty memory) with the same folder lays out no card again...
    def no_layout(*_args):
        raise AssertionError("a card was laid out again")

    monkeypatch.setattr(fit, "fit_card", no_layout)
    assert Printer(CONTENT).fitted(booklet_html, cache=cache) == fitted

    # ...but an edited card is fitted again, alone.
    calls = []
    monkeypatch.setattr(fit, "fit_card", lambda _layout, _head, card: calls.append(card) or [])
    card = _card(booklet_html, "adil-31")
    edited = booklet_html.replace(card, card.replace("Toulouse", "Toulouse (31)"))
    Printer(CONTENT).fitted(edited, cache=cache)
    assert len(calls) == 1 and "Toulouse (31)" in calls[0]


def test_the_key_follows_pictures_and_styles(tmp_path):
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    (root / "images").mkdir()
    picture = root / "images" / "a.png"
    picture.write_bytes(b"one")
    card = '<article class="card" id="action-x"><img src="images/a.png"></article>'
    key = fit.Decisions.key("salt", "<body>", card, root)
    assert key == fit.Decisions.key("salt", "<body>", card, root)
    picture.write_bytes(b"two")
    assert key != fit.Decisions.key("salt", "<body>", card, root)
    assert key != fit.Decisions.key("other styles", "<body>", card, root)


def test_the_salt_follows_the_stylesheets(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(CONTENT, project / "content")
    (project / "styles").mkdir()
    own = project / "styles" / "card.css"  # the project's own card.css, as shipped at first
    own.write_text((CONTENT.parent / "styles" / "card.css").read_text())
    salt = Printer(project / "content")._fit_salt("accessible")
    own.write_text(own.read_text() + "\n.section { margin: 0 }\n")
    assert Printer(project / "content")._fit_salt("accessible") != salt


def test_only_the_documents_that_ask_are_fitted():
    """The booklet and excerpts ask (data-copyfit on <body>, base.html); a sheet does not."""
    site = load_site(CONTENT)
    sheet = KINDS["action"]
    html = render_html(site, sheet.output(site, "adil-31"))
    assert fit.CARD.search(html)

    def never(_head, _card):
        raise AssertionError("a sheet was fitted")

    assert fit.apply(html, never) == html
    booklet = KINDS["booklet"]
    html = render_html(site, booklet.output(site, booklet.slugs(site)[0]))
    asked = []
    fit.apply(html, lambda _head, card: asked.append(card) or [])
    assert len(asked) == 10
