"""Acronyms spelled out for screen readers: the first use of each in a card, <abbr title>.

`edition.yaml` defines them once (`acronyms:`, checked by the loader); the rendered HTML gets,
in each card, its first use of each acronym wrapped in <abbr title="expansion">, which the tag
pass (livret/finishing/tags.py) writes as the /E of that word's element. The same words elsewhere in
the card are left as they are: read once in full, then as printed (WCAG 3.1.4, AAA).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

# The layout's HTML as tags and text (autoescape writes no bare "<" or ">" in a value).
PIECES = re.compile(r"(<[^>]*>)")
CARD = re.compile(r'<article\b[^>]*\bclass="card[\s"]')


def mark(html: str, acronyms: Iterable[tuple[str, str]]) -> str:
    """`html` with each acronym's first use in each card (<article class="card">) wrapped in
    <abbr title="…">. Text only: attributes, and words inside a longer one, are untouched."""
    expansions = dict(acronyms)
    if not expansions:
        return html
    words = re.compile(
        r"(?<!\w)("
        + "|".join(re.escape(k) for k in sorted(expansions, key=len, reverse=True))
        + r")(?![\w])"
    )
    out: list[str] = []
    seen: set[str] | None = None  # acronyms used in the current card; None outside a card
    depth = 0  # <article> nesting inside the card
    for piece in PIECES.split(html):
        if piece.startswith("<"):
            if CARD.match(piece):
                seen, depth = set(), 1
            elif seen is not None and piece.startswith("<article"):
                depth += 1
            elif seen is not None and piece.startswith("</article"):
                depth -= 1
                if depth == 0:
                    seen = None
            out.append(piece)
            continue
        if seen is None:
            out.append(piece)
            continue
        card_seen = seen

        def wrap(m: re.Match, card_seen: set[str] = card_seen) -> str:
            word = m.group(1)
            if word in card_seen:
                return word
            card_seen.add(word)
            return f'<abbr title="{escape(expansions[word])}">{word}</abbr>'

        out.append(words.sub(wrap, piece))
    return "".join(out)
