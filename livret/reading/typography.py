"""French typography for every text the booklet prints.

Content is kept as people type it (ordinary spaces, straight apostrophes); the build
applies the rules of French typesetting at render time:

* a narrow no-break space (U+202F) before ``; : ! ?``, replacing the space typed
  before them — where no space was typed, nothing is added (``10:30``, ``13/14``,
  ``https://``, ``?!`` stay as they are);
* a narrow no-break space inside « guillemets », replacing the space typed there or
  inserted where there was none (``«Et maintenant»`` → ``« Et maintenant »``);
* thousands: ``1 000 000 €`` — a group of 1 to 3 digits then groups of exactly 3, each
  separated by one space — is joined by narrow no-break spaces; a 4-digit year before a
  number stays apart (``2023 : 1 400 000 €``);
* a no-break space (U+00A0) before ``€`` and ``%`` when a space was typed before them
  (``25 000€`` and ``12%`` stay without one: facts are kept as printed);
* French phone numbers (``05 61 29 07 62``, ``+33 5 61 29 07 62``) are joined by
  no-break spaces so that they never break across lines;
* the apostrophe ``'`` becomes ``’`` (U+2019), in words too (``l’habitat``, ``Coop’Alim``,
  ``MaPrimeRénov’``).

Nothing else changes: ``...`` stays three dots, no letter, digit or punctuation mark is
added or removed. Only spaces are replaced, inserted or (for runs of several spaces before
a mark) merged, and ``'`` is mapped to ``’``. Newlines are never touched. The functions
are idempotent: ``french(french(s)) == french(s)``.

URLs (``https://…``, ``www.…``, ``mailto:…``, bare domains like ``reseau-cocagne.org``) and
e-mail addresses found in the text are left exactly as they are.

``french_html`` applies the same rules to the text of an HTML fragment that we generate
(from Markdown): never inside tags or attribute values, nor in ``<code>``, ``<pre>``,
``<kbd>``, ``<samp>``, ``<textarea>``, ``<script>``, ``<style>``. Inline elements (``<a>``,
``<em>``, ``<strong>`` …) do not interrupt the text, so ``«<em>quoi</em>»`` is spaced
like ``«quoi»``; block elements and ``<br>`` do. Character references are understood
(``&nbsp;:`` is a space before a colon, ``&#39;`` an apostrophe) and kept as written unless
a rule changes them; ``&amp;``, ``&lt;`` … are never altered.
"""

from __future__ import annotations

import bisect
import html as _html
import re

__all__ = ["NBSP", "NNBSP", "NAME_CLASS", "COMPOUND_CLASS", "french", "french_html"]

NBSP = "\u00a0"  # no-break space: before € and %, inside phone numbers
NNBSP = "\u202f"  # narrow no-break space: before ; : ! ?, inside « », thousands

# Horizontal spaces a person may have typed (or a previous pass produced). Newlines are
# deliberately absent: a rule never joins two lines.
_H = "[ \t\u00a0\u202f\u2009]"
_SEP = "[ \u00a0\u202f\u2009]"  # one separator between digit groups

# Every pattern runs in time linear in the text (no paragraph can hang a build): a run of
# spaces is tried from its first space only, and possessive quantifiers (++, *+) never
# re-scan what they matched; a domain label is at most 63 characters, as in DNS.
_APOSTROPHE = re.compile("'")
_BEFORE_MARK = re.compile(rf"(?<!{_H}){_H}++(?=[;:!?])")
_BEFORE_UNIT = re.compile(rf"(?<!{_H}){_H}++(?=[€%])")
_AFTER_OPEN = re.compile(rf"«({_H}*)(?=\S)")
_BEFORE_CLOSE = re.compile(rf"(?<=\S)({_H}*)»")
# 1–3 digits then groups of exactly 3; not inside a longer number (so "2023 400" is not
# read as one), not after a decimal separator ("0,5 000"), not followed by more digits.
_THOUSANDS = re.compile(rf"(?<![\d,.])\d{{1,3}}(?:{_SEP}\d{{3}})+(?!\d)")
_PHONE = re.compile(
    rf"(?<![\d+])(?:0[1-9]|\+33{_SEP}?(?:\(0\){_SEP}?)?[1-9])(?:{_SEP}\d{{2}}){{4}}(?!\d)"
)
_SPACE = re.compile(_SEP)

# Spans of text that are left alone: URLs, e-mail addresses, bare domain names.
_PROTECTED = re.compile(
    r"""
    (?:https?|ftp)://[^\s<>"«»]+
  | (?:mailto|tel):[^\s<>"«»]+
  | www\.[^\s<>"«»]+
  | (?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+
  | (?<![\w@.+-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+
      (?:fr|org|com|net|eu|info|gouv|io|coop|asso)\b(?:/[^\s<>"«»]*)?
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _edits(s: str) -> dict[int, str]:
    """What each character of ``s`` becomes, for those that change.

    A value is the replacement text of that one character: ``""`` deletes it (extra
    spaces of a run), a longer string inserts a space beside it (``"«\u202f"``).
    """
    edits: dict[int, str] = {}

    def run(start: int, end: int, space: str) -> None:
        # A run of typed spaces becomes exactly one `space`.
        edits[start] = space
        for i in range(start + 1, end):
            edits[i] = ""

    for m in _APOSTROPHE.finditer(s):
        edits[m.start()] = "\u2019"
    for m in _THOUSANDS.finditer(s):
        for sp in _SPACE.finditer(s, m.start(), m.end()):
            edits[sp.start()] = NNBSP
    for m in _PHONE.finditer(s):
        for sp in _SPACE.finditer(s, m.start(), m.end()):
            edits[sp.start()] = NBSP
    for m in _BEFORE_MARK.finditer(s):
        run(m.start(), m.end(), NNBSP)
    for m in _BEFORE_UNIT.finditer(s):
        run(m.start(), m.end(), NBSP)
    # Guillemets last: a space they insert must be the one a second pass would keep.
    for m in _AFTER_OPEN.finditer(s):
        if m.group(1):
            run(m.start(1), m.end(1), NNBSP)
        else:
            edits[m.start()] = "«" + NNBSP
    for m in _BEFORE_CLOSE.finditer(s):
        if m.group(1):
            run(m.start(1), m.end(1), NNBSP)
        elif s[m.start() - 1] != "«":  # "«»": the space was already added after «
            edits[m.start()] = NNBSP + "»"

    for m in _PROTECTED.finditer(s):
        for i in range(m.start(), m.end()):
            edits.pop(i, None)
    return edits


def french(text: str) -> str:
    """``text`` (plain text, not HTML) with French typography applied."""
    edits = _edits(text)
    if not edits:
        return text
    return "".join(edits.get(i, c) for i, c in enumerate(text))


# --- HTML ------------------------------------------------------------------------------

# Names are not hyphenated (« Tou-louse », « INGUE-NAUD »), compound names are not broken at
# their hyphens (« Hauts-de- / France »). French typesetting does not cut a proper noun; we
# cannot tell every proper noun from other words, so every word that starts with a capital
# (a name, an acronym, a word in capitals, also the first word of a sentence) is kept whole.
# Words of 4 letters or fewer are left alone: they are never hyphenated (hyphenate-limit).
NAME_CLASS = "nh"  # styles/typography.css: hyphens: manual
COMPOUND_CLASS = "nb"  # styles/typography.css: hyphens: manual; white-space: nowrap
_WORD = r"[A-ZÀ-ÖØ-ÞŒ]\w*(?:[-'’]\w+)*"  # "Hauts-de-France", "Aujourd’hui": one word
# A name of several words ("Annie ROUX-CATALANO") is one match, kept in one span: two spans
# side by side would leave their space alone between them, and WeasyPrint draws a lone space
# as nothing at all (the tagged text would read "AnnieROUX-CATALANO"). Linear: each repetition
# starts at a space followed by a capital, which no part of a word can match.
# An elided article or preposition stays with its name, in the same span ("d’Achat",
# "l’Emploi"): the name is kept whole and its words are not cut from their apostrophe.
_NAME = re.compile(rf"(?<![\w'’-])(?:[^\W\d_]{{1,2}}['’])?{_WORD}(?:[ \u00a0]{_WORD})*")
_COMPOUND = re.compile(r"\S*-\S*")
_NAME_OPEN = f'<span class="{NAME_CLASS}">'
_COMPOUND_OPEN = f'<span class="{COMPOUND_CLASS}">'


def _keep_name(m: re.Match) -> str:
    name = m.group()
    if " " not in name and "\u00a0" not in name:
        if "-" in name:
            return f"{_COMPOUND_OPEN}{name}</span>"
        return f"{_NAME_OPEN}{name}</span>" if len(name) > 4 else name
    inner = _COMPOUND.sub(lambda c: f"{_COMPOUND_OPEN}{c.group()}</span>", name)
    return f"{_NAME_OPEN}{inner}</span>"


def _keep_names(text: str) -> str:
    return _NAME.sub(_keep_name, text)


_TOKEN = re.compile(
    r"""
    (?P<comment><!--.*?-->)
  | (?P<other><!\[CDATA\[.*?\]\]>|<![^>]*>|<\?.*?>)
  | (?P<tag></?(?P<name>[A-Za-z][A-Za-z0-9:-]*)
        (?:\s+[^\s"'>/=<]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*+
        \s*/?>)
    """,
    re.DOTALL | re.VERBOSE,
)
_UNIT = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|.", re.DOTALL)
_OPAQUE = "\ufffc"  # stands for a reference that is not one character

# Elements whose content is never touched. script/style are raw text (may hold "<").
_RAW = {"script", "style"}
_VERBATIM = {"code", "pre", "kbd", "samp", "textarea", "tt"}
# Elements that do not interrupt a line of text: rules see through them.
_INLINE = {
    "a",
    "abbr",
    "b",
    "bdi",
    "bdo",
    "cite",
    "data",
    "del",
    "dfn",
    "em",
    "font",
    "i",
    "ins",
    "label",
    "mark",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "time",
    "u",
    "var",
    "wbr",
}


class _Run:
    """Text units between two block boundaries, with the inline tags among them."""

    def __init__(self, out: list[str], keep_names: bool = False) -> None:
        self.out = out
        self.keep_names = keep_names
        self.pieces: list[tuple[str, str | None]] = []  # (source, char or None for tags)

    def text(self, source: str) -> None:
        if "&" not in source:  # the usual case: one piece for the whole text, not per char
            self.pieces.append((source, source))
            return
        for m in _UNIT.finditer(source):
            unit = m.group()
            if len(unit) == 1:
                self.pieces.append((unit, unit))
            else:
                char = _html.unescape(unit)
                self.pieces.append((unit, char if len(char) == 1 else _OPAQUE))

    def tag(self, source: str) -> None:
        self.pieces.append((source, None))

    def flush(self) -> None:
        if not self.pieces:
            return
        joined = "".join(c for _, c in self.pieces if c is not None)
        edits = _edits(joined)
        where = sorted(edits)
        i = 0
        inside_name = False  # right after one of our own name spans: a second pass
        for source, plain in self.pieces:
            if plain is None:
                self.out.append(source)
                inside_name = source in (_NAME_OPEN, _COMPOUND_OPEN)
                continue
            if source is plain:  # a run of plain text: edit only the characters that change
                end = i + len(plain)
                if bisect.bisect_left(where, i) < bisect.bisect_left(where, end):
                    text = "".join(edits.get(i + k, c) for k, c in enumerate(plain))
                else:
                    text = plain
                # Edits only ever produce characters, never markup: the names can be wrapped.
                self.out.append(_keep_names(text) if self.keep_names and not inside_name else text)
                i = end
            else:  # one character written as an entity
                self.out.append(edits.get(i, source))
                i += 1
        self.pieces = []


def french_html(html: str, keep_names: bool = False) -> str:
    """``html`` (a fragment we generate) with French typography applied to its text.

    ``keep_names``: also wrap every word that starts with a capital in a span that is never
    hyphenated (``NAME_CLASS``), and compound names (``Hauts-de-France``) in one that is
    never broken (``COMPOUND_CLASS``). Idempotent too: our own spans are not wrapped again.
    """
    out: list[str] = []
    run = _Run(out, keep_names)
    verbatim = 0  # depth inside <code>, <pre> …
    pos = 0
    last = html.rfind(">") + 1  # no token ends after the last ">": never search past it
    while True:
        m = _TOKEN.search(html, pos, last) if pos < last else None
        end = m.start() if m else len(html)
        if end > pos:
            if verbatim:
                out.append(html[pos:end])
            else:
                run.text(html[pos:end])
        if not m:
            break
        pos = m.end()
        token = m.group()
        name = (m.group("name") or "").lower()
        closing = token.startswith("</")
        if m.group("comment"):
            (out.append if verbatim else run.tag)(token)
        elif name in _INLINE and not verbatim:
            run.tag(token)
        else:
            run.flush()
            out.append(token)
            if name in _RAW and not closing and not token.endswith("/>"):
                close = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(html, pos)
                stop = close.end() if close else len(html)
                out.append(html[pos:stop])
                pos = stop
            elif name in _VERBATIM and not token.endswith("/>"):
                verbatim = max(0, verbatim + (-1 if closing else 1))
    run.flush()
    return _LONE_SPACE.sub(r"\1\3\2", "".join(out))


# A space alone between two inline elements ("</span> <em>") is a text box of its own, which
# WeasyPrint draws as nothing: the tagged text would read "CocagneGrand". Moved to the end of
# the text before it ("Cocagne </span><em>"), it is drawn (or dropped and restored at a line
# end, see linebreaks.py). Not into a link: its underline would run under the space.
_LONE_SPACE = re.compile(
    r"([^<>\s])((?:</(?:span|em|i|b|strong|small|sub|sup)>)+)([ \u00a0\u202f]+)(?=<(?!/))"
)
