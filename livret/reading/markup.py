"""Text → HTML: Markdown, e-mail links and French typography, each text converted once.

Both converters are memoised: the booklet and its excerpts share most texts, and a worker
process renders several documents, so a text is converted once per process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from markupsafe import Markup, escape

from .fields import check_email
from .typography import french, french_html

if TYPE_CHECKING:
    from markdown import Markdown


@lru_cache(maxsize=1)
def _converter() -> Markdown:
    """Python-Markdown, imported when a text is first converted: a build with nothing to do
    converts none (memo.py) and does not pay for its import (benchmarks/README.md).
    Extension instances, not names: looking names up (entry points) and loading "extra" cost
    a sizeable part of livret's own share of a build, per process (benchmarks/README.md)."""
    from markdown import Markdown
    from markdown.extensions.sane_lists import SaneListExtension
    from markdown.extensions.tables import TableExtension

    return Markdown(extensions=[TableExtension(), SaneListExtension()], output_format="html")


# Text outside tags and outside <a>…</a>: where a bare e-mail address becomes a mailto link.
# (Parts at most 64 characters long, as in any real address: each try is bounded, so the
# scan stays linear. A "%" is quoted in the link, so it cannot smuggle in a "?bcc=".)
_EMAIL = re.compile(r"(?<![\w.@/:%-])([\w.%+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+)(?![\w@%-])")
_TAG = re.compile(r"<[^>]+>")
_LINK_OPEN = re.compile(r"<a\b")
# A picture alone in its paragraph is a figure; its Markdown title ("…") is the caption:
# ![what it shows](images/x.png "Caption") → <figure><img …><figcaption>Caption</figcaption>.
# The alternative text is mandatory (policy.py); images are only read from content/.
_FIGURE = re.compile(r'<p>(<img alt="[^"]*" src="[^"]*")(?: title="([^"]*)")?\s*/?>\s*</p>')


def figures(html: str) -> str:
    def figure(m: re.Match) -> str:
        caption = f"<figcaption>{m[2]}</figcaption>" if m[2] else ""
        return f'<figure class="figure">{m[1]}>{caption}</figure>'

    return _FIGURE.sub(figure, html)


def _mailto(match: re.Match) -> str:
    written = match.group(1)
    address = check_email(written)[0]  # ASCII form: élysée.fr → xn--lyse-9oad.fr
    if address is None:
        return written  # not an address after all (a..b@example.org): left as text
    # Quoted: "%" or "?" in a link would let the text smuggle in ?bcc= or other headers.
    return f'<a href="mailto:{quote(address, safe="@")}">{written}</a>'


def link_emails(html: str) -> str:
    """Bare e-mail addresses in the text (outside tags and outside <a>…</a>) become links.

    One left-to-right pass: a tag is searched only where a ">" is left to close it, and an
    <a> skips to the next "</a>" only when there is one, so no text is scanned twice."""
    out: list[str] = []
    pos = 0
    end = html.rfind(">") + 1  # no tag can start after the last ">"
    last_close = html.rfind("</a>")
    while pos < end:
        m = _TAG.search(html, pos, end)
        if not m:
            break
        stop = m.end()
        if m.start() + 2 <= last_close and _LINK_OPEN.match(html, m.start()):
            stop = html.find("</a>", m.start() + 2) + 4
        out.append(_EMAIL.sub(_mailto, html[pos : m.start()]))
        out.append(html[m.start() : stop])
        pos = stop
    out.append(_EMAIL.sub(_mailto, html[pos:]))
    return "".join(out)


@lru_cache(maxsize=8192)
def html_of(text: str, inline: bool = False) -> str:
    """Markdown → the HTML the booklet prints, before typography: what the content policy
    (policy.py) inspects, and what block() and inline() then set — one conversion per text
    and process. May raise RecursionError on absurdly nested text."""
    html = link_emails(_converter().reset().convert(text))
    if inline:
        html = re.sub(r"^<p>(.*)</p>$", r"\1", html.strip(), flags=re.S)
    return html


@lru_cache(maxsize=4096)
def block(text: str, shift: int = 0) -> Markup:
    """Markdown block text → HTML; `shift` lowers heading levels to fit the page outline."""
    html = html_of(text)
    if shift:
        html = re.sub(r"<(/?)h([1-6])\b", lambda m: f"<{m[1]}h{min(6, int(m[2]) + shift)}", html)
    return Markup(french_html(figures(html), keep_names=True))


@lru_cache(maxsize=8192)
def inline(text: str) -> Markup:
    """One line of inline Markdown (a sidebar item, a title) → HTML without the <p>."""
    return Markup(french_html(html_of(text, inline=True), keep_names=True))


@lru_cache(maxsize=8192)
def plain(text: str) -> Markup:
    """Text printed as is (names, titles): escaped, then French spacing."""
    return Markup(french_html(str(escape(text)), keep_names=True))


def plain_text(text: str) -> str:
    """For PDF metadata and bookmarks: French spacing, no HTML."""
    return french(text)
