"""Copyfitting (livret/rendering/fit.py): no page of a card is a leftover of a few lines.

Read back from the real booklet (poppler's word boxes), and the fitting itself on real
layouts of real cards: its decision, its cache, what invalidates it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import CONTENT, ROOT
from pdftext import contents_numbers, contents_page, norm, page_texts, poppler_pages
from pypdf import PdfReader

from livret.building.outputs import KINDS
from livret.reading.loader import load_site
from livret.rendering import contracts, fit
from livret.rendering.pdf import Printer
from livret.rendering.render import render_html

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
    blank = [text.strip() in ("", "Notes") for text in page_texts(path)]
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

    from livret.building.pipeline import FIT_CACHE

    out, _, _ = built
    decisions = [json.loads(p.read_text()) for p in (out / FIT_CACHE).glob("*.json")]
    assert len(decisions) == 10
    assert sorted(len(d) for d in decisions) == [0] * 5 + [1] * 5
    assert len(page_fills(out / "retour-experience-01.pdf")) == 30  # no Notes page


@pytest.fixture(scope="module")
def booklet_html():
    site = load_site(CONTENT)
    kind = KINDS["booklet"]
    return render_html(site, kind.output(site, kind.slugs(site)[0]))


@pytest.fixture(scope="module")
def excerpt_html():
    """The excerpt of adil-31 (which runs over) and cd41 (which fits), sos-taudis beside
    them: three cards to fit, where the booklet has ten fitted the same way."""
    site = load_site(CONTENT)
    kind = KINDS["theme"]
    return render_html(site, kind.output(site, "precarite-energetique"))


@pytest.fixture(scope="module")
def printer():
    return Printer(CONTENT)


def _card(html: str, slug: str) -> str:
    card = next(c for c in contracts.read(html).cards if c.id == f"action-{slug}")
    return html[card.start : card.end]


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


def test_decisions_are_cached_by_card_and_design(excerpt_html, tmp_path, monkeypatch):
    cache = tmp_path / "fit"
    first = Printer(CONTENT)
    fitted = first.fitted(excerpt_html, cache=cache)
    assert fitted.count(fit.BREAK) == 2  # adil-31 and sos-taudis ran over
    assert len(list(cache.glob("*.json"))) == 3  # one decision per card

    # A new process (an empty memory) with the same folder lays out no card again...
    def no_layout(*_args):
        raise AssertionError("a card was laid out again")

    monkeypatch.setattr(fit, "fit_card", no_layout)
    assert Printer(CONTENT).fitted(excerpt_html, cache=cache) == fitted

    # ...but an edited card is fitted again, alone.
    calls = []
    monkeypatch.setattr(fit, "fit_card", lambda _layout, _head, card: calls.append(card) or [])
    card = _card(excerpt_html, "adil-31")
    edited = excerpt_html.replace(card, card.replace("Toulouse", "Toulouse (31)"))
    Printer(CONTENT).fitted(edited, cache=cache)
    assert len(calls) == 1 and "Toulouse (31)" in calls[0]


def test_a_new_folder_takes_the_decisions_of_a_build_elsewhere_on_the_machine(
    excerpt_html, tmp_path, monkeypatch
):
    # livret/building/usercache.py: a build into another folder (a fresh output/, the
    # preview's) finds the decisions in the user's cache and keeps them in its own folder.
    fitted = Printer(CONTENT).fitted(excerpt_html, cache=tmp_path / "one")
    calls = []
    monkeypatch.setattr(fit, "fit_card", lambda _layout, _head, card: calls.append(card) or [])
    assert Printer(CONTENT).fitted(excerpt_html, cache=tmp_path / "two") == fitted
    assert calls == []
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    # A machine whose cache is empty (or unusable) fits the cards again.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-user"))
    Printer(CONTENT).fitted(excerpt_html, cache=tmp_path / "three")
    assert len(calls) == 3


def test_a_hostile_entry_in_the_user_cache_counts_as_absent(tmp_path, fresh_user_cache):
    # Read as the build's folder is (the same entries, the same check of their offsets): an
    # entry a build never writes is not taken, and the card is fitted again.
    from livret.building import usercache

    decisions = fit.Decisions(shared="fit")
    shared = usercache.folder("fit")
    shared.mkdir(parents=True)
    card = '<article class="card"><section class="section"><p>a</p></section></article>'
    valid = fit.breaks_of(card)
    hostile = ["[17]", '{"a": 1}', "[" + "1," * 9000 + "1]", "[]x"]  # no block's, huge, not JSON
    for n, text in enumerate(hostile):
        (shared / f"k{n}.json").write_text(text)
        assert decisions.get(f"k{n}", tmp_path / "folder", valid) is None, text
    (shared / "good.json").write_text("[]")
    assert decisions.get("good", tmp_path / "folder", valid) == []
    assert (tmp_path / "folder" / "good.json").read_text() == "[]"  # kept in the build's folder


def test_the_user_cache_keeps_its_newest_entries(tmp_path):
    import os

    from livret.building import usercache

    for n in range(120):
        entry = tmp_path / f"{n:03}.json"
        entry.write_text("[]")
        os.utime(entry, ns=(n * 10**9, n * 10**9))
    usercache.prune(tmp_path, cap=110)  # within a tenth over the cap: left alone
    assert len(list(tmp_path.iterdir())) == 120
    usercache.prune(tmp_path, cap=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n:03}.json" for n in range(20, 120)]


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
    own.write_text((ROOT / "styles" / "card.css").read_text())
    salt = Printer(project / "content")._fit_salt("accessible")
    own.write_text(own.read_text() + "\n.section { margin: 0 }\n")
    assert Printer(project / "content")._fit_salt("accessible") != salt


def test_only_the_documents_that_ask_are_fitted():
    """The booklet and excerpts ask (data-copyfit on <body>, base.html); a sheet does not."""
    site = load_site(CONTENT)
    sheet = KINDS["action"]
    html = render_html(site, sheet.output(site, "adil-31"))
    assert contracts.read(html).cards

    def never(_head, _card):
        raise AssertionError("a sheet was fitted")

    assert fit.apply(html, never) == html
    booklet = KINDS["booklet"]
    html = render_html(site, booklet.output(site, booklet.slugs(site)[0]))
    asked = []
    fit.apply(html, lambda _head, card: asked.append(card) or [])
    assert len(asked) == 10


def _texts(path) -> list[str]:
    """Each page's text in reading order (poppler), without the press file's slug line."""
    return [
        re.sub(
            r"Retour d'expérience #\d+ — [^·]* · PDF/X4 · FOGRA39 · page \d+ / \d+", "", page
        ).strip()
        for page in poppler_pages(path)
    ]


def _blank(texts: list[str]) -> list[int]:
    """Pages (from 1) left blank by the layout: nothing on them but the Notes label."""
    return [n for n, text in enumerate(texts, 1) if text in ("", "Notes")]


def _card_starts(path) -> list[tuple[int, str]]:
    reader = PdfReader(path)
    return [
        (reader.get_destination_page_number(x) + 1, x.title)
        for item in reader.outline
        if isinstance(item, list)
        for x in item
    ]


def _starts_with(text: str, title: str) -> bool:
    return text.startswith(norm(title))


def test_the_screen_pdfs_leave_no_page_blank_and_open_every_card_on_a_new_page(built):
    """The booklet e-mailed and read on screen needs no spreads: no Notes page at all (6 of
    36 before); each card still opens on a page of its own, its title at the top."""
    out, _, _ = built
    paths = [out / "retour-experience-01.pdf", *out.glob("retour-experience-01-*.pdf")]
    assert len(paths) == 4
    for path in paths:
        texts = _texts(path)
        assert _blank(texts) == [], path.name
        starts = _card_starts(path)
        assert starts, path.name
        for page, title in starts:
            assert _starts_with(texts[page - 1], title), (path.name, page, title)


@pytest.fixture(params=["excerpt", pytest.param("edition", marks=pytest.mark.slow)])
def press_pdfs(request) -> list:
    """The press files fitted to spreads: one excerpt's (make test-fast), then the booklet's
    and every excerpt's (make test: the booklet's press file is the longest build)."""
    if request.param == "excerpt":
        _, _, results = request.getfixturevalue("press_excerpt")
        assert len(results) == 1
    else:
        _, _, results = request.getfixturevalue("built_print")
        assert len(results) == 4
    return [r.path for r in results]


def test_the_press_file_keeps_spreads_with_at_most_two_blank_pages(press_pdfs):
    """The press file: every card opens on a left-hand (even) page, the back cover is the last
    page of a multiple of 4, and cards fitted to whole spreads leave at most 2 Notes pages
    (edition #01: 6 of 36 before), in the booklet and in each excerpt."""
    for path in press_pdfs:
        texts = _texts(path)
        assert len(texts) % 4 == 0, (path.name, len(texts))
        assert len(_blank(texts)) <= 2, (path.name, _blank(texts))
        starts = _card_starts(path)
        assert starts, path.name
        for page, title in starts:
            assert page % 2 == 0, (path.name, page, title)
            assert _starts_with(texts[page - 1], title), (path.name, page, title)
        assert "rejoignez le Club des territoires" in texts[-1], path.name


def test_the_press_files_contents_give_their_pages(press_pdfs):
    """The contents' page numbers are the press file's pages too (fitting moved them)."""
    site = load_site(CONTENT)
    for path in press_pdfs:
        themes = [t for t in site.themes if f"-{t.slug}-print" in path.name] or site.themes
        titles = [
            "Introduction",
            *(t.title for t in themes),
            *(f"{a.title}, {a.organisation}" for t in themes for a in t.actions),
            "Remerciements",
        ]
        texts = _texts(path)
        printed = contents_numbers(contents_page(path), titles)
        assert set(printed) == set(titles), (path.name, set(titles) - set(printed))
        for title, number in printed.items():
            assert texts[number - 1].startswith(norm(title)), (path.name, title, number)


def test_the_press_files_cards_are_at_least_40_percent_full(press_pdfs):
    """Fitting to spreads moves breaks and loosens type, never leaves a page of leftovers."""
    for path in press_pdfs:
        fills = page_fills(path, top_mm=18 + 15, bottom_mm=22 + 15, height_mm=297 + 30)
        blank = _blank(_texts(path))
        for pages in card_pages(path):
            for p in (p for p in pages if p + 1 not in blank):
                assert fills[p] >= fit.MIN_FILL, f"{path.name}: p. {p + 1} {fills[p]:.0%} full"


def test_simulate_counts_the_blank_pages_of_a_plan():
    # cover, contents, intro; opener on p. 4 (a spread: 4–5); cards of 2, 2, 1 pages; opener
    # on p. 11; cards of 2, 1 (then a blank page), 2; thanks; back cover.
    blanks, spreads, total = fit.simulate(3, [[2, 2, 1], [2, 1, 2]], 1)
    assert spreads == [True, False]
    assert blanks == 2 and total == 20  # p. 15 blank, and 19 pages → 20
    plan = fit.plan_spreads(
        3,
        [["a", "b", "c"], ["d", "e", "f"]],
        1,
        {
            **{s: [fit.Option(2)] for s in "abdf"},
            "c": [fit.Option(1)],
            "e": [fit.Option(1), fit.Option(2, "loose", breaks=(10,))],
        },
    )
    assert plan.choices["e"].pages == 2 and plan.blanks == 1  # 19 pages → 20


def test_without_a_home_folder_the_cache_is_the_process_own(monkeypatch):
    # A service account with no home and no XDG_CACHE_HOME: a private folder, never a shared
    # one another user could have filled.
    from pathlib import Path

    from livret.building import usercache

    monkeypatch.delenv("XDG_CACHE_HOME")

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    where = usercache.folder("fit")
    assert where == usercache.folder("fit") and where.parent.parent.is_dir()
    assert oct(where.parent.parent.stat().st_mode)[-3:] == "700"
