"""Acronyms (edition.yaml `acronyms:`): checked where they are written, spelled out once per
card in the HTML (<abbr title>), which the tag pass turns into /E (tests/test_tags.py)."""

from __future__ import annotations

import re

import pytest
from test_validation import EDITION, assert_refused, check, edit, line_of

from livret.building.outputs import plan
from livret.reading.loader import load_site
from livret.rendering.acronyms import mark
from livret.rendering.render import render_html


@pytest.fixture(autouse=True)
def _run_beside_content(content_copy, monkeypatch):
    monkeypatch.chdir(content_copy.parent)


def test_acronyms_are_optional(content_copy, capsys):
    text = (content_copy / "edition.yaml").read_text(encoding="utf-8")
    (content_copy / "edition.yaml").write_text(text.split("\n# Sigles")[0] + "\n", "utf-8")
    assert load_site(content_copy).edition.acronyms == ()
    assert check(content_copy, capsys)[0] == 0


def test_bad_acronyms_are_reported_with_their_line(content_copy, capsys):
    path = content_copy / "edition.yaml"
    edit(path, "  QPV: Quartier", "  qpv: Quartier")
    edit(path, "  ZRR: Zones de Revitalisation Rurale", "  ZRR:")
    edit(path, "  TUS: Transport d'Utilité Sociale", "  TUS: [Transport, Utilité]")
    edit(path, "  GES: gaz à effet de serre", "  GES: GES")
    lines = {w: line_of(path, f"  {w}:") for w in ("qpv", "ZRR", "TUS", "GES")}
    assert_refused(
        content_copy,
        capsys,
        [
            f"{EDITION}:{lines['qpv']}: acronyms.qpv: « qpv » is not an acronym as printed: "
            "write it in capitals, then « : » and what it stands for, for example « QPV: "
            "quartier prioritaire de la politique de la ville »",
            f"{EDITION}:{lines['ZRR']}: acronyms.ZRR: expected text, got nothing",
            f"{EDITION}:{lines['TUS']}: acronyms.TUS: expected one text, not a list: write the "
            "text on the same line, after the « : » of the field, without « - »",
            f"{EDITION}:{lines['GES']}: acronyms.GES: « GES »: write what GES stands for in "
            "words, not another acronym",
        ],
        exact=True,
    )


def test_acronyms_must_be_a_mapping(content_copy, capsys):
    path = content_copy / "edition.yaml"
    text = path.read_text(encoding="utf-8").split("\n# Sigles")[0]
    path.write_text(text + "\nacronyms:\n  - QPV\n", encoding="utf-8")
    assert_refused(
        content_copy,
        capsys,
        [
            f"{EDITION}:{line_of(path, 'acronyms:')}: acronyms: expected a mapping "
            "(field: value lines), got a list"
        ],
        exact=True,
    )


def test_the_first_use_in_each_card_is_marked_once(content_copy):
    site = load_site(content_copy)
    acronyms = dict(site.edition.acronyms)
    html = render_html(site, plan(site)[0])
    cards = re.findall(r'<article class="card".*?</article>', html, re.S)
    assert len(cards) == len(site.actions)
    for card in cards:
        marked = re.findall(r'<abbr title="([^"]+)">([^<]+)</abbr>', card)
        words = [w for _, w in marked]
        assert len(words) == len(set(words)), words
        assert all(acronyms[w] == escape_back(t) for t, w in marked)
        # the text of the card, each marked use flagged: the flag is on the first use
        text = re.sub(r"<abbr [^>]*>", "\x00", card)
        text = re.sub(r"<[^>]+>", " ", text)
        for word in acronyms:
            first = re.search(rf"(?<!\w)(\x00)?{word}(?!\w)", text)
            if first:
                assert first.group(1), (word, text[first.start() - 40 : first.end()])
            assert (first is not None) == (word in words), word
    assert "<abbr" not in html[: html.index('<article class="card"')]  # outside: as printed


def escape_back(value: str) -> str:
    import html

    return html.unescape(value)


def test_mark_touches_text_only():
    html = (
        '<p>QPV</p><article class="card" data-x="QPV"><h2 title="QPV">QPV, '
        "<i>XQPV QPV2 QPV</i></h2><p>QPV</p></article><p>QPV</p>"
        '<article class="card"><p>(QPV) QPV</p></article>'
    )
    out = mark(html, [("QPV", "quartier prioritaire de la ville")])
    abbr = '<abbr title="quartier prioritaire de la ville">QPV</abbr>'
    assert out == (
        f'<p>QPV</p><article class="card" data-x="QPV"><h2 title="QPV">{abbr}, '
        "<i>XQPV QPV2 QPV</i></h2><p>QPV</p></article><p>QPV</p>"
        f'<article class="card"><p>({abbr}) QPV</p></article>'
    )
    assert mark(html, []) == html


def test_a_quote_in_an_expansion_is_escaped():
    out = mark('<article class="card">ACI</article>', [("ACI", 'Atelier "Chantier" d\'Insertion')])
    assert 'title="Atelier &quot;Chantier&quot; d&#x27;Insertion"' in out
