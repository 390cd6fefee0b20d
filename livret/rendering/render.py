"""Stage 3 — render: a validated Site + an Output → one HTML string (Jinja2).

StrictUndefined: a typo in a layout is an error, not an empty string in the booklet.
Autoescape: content is text; only the Markdown/typography filters produce markup.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from .. import __version__
from ..building.outputs import KINDS, Output
from ..errors import LivretError, Problem, display_path
from ..i18n import _
from ..reading import markup
from ..reading.model import SIDEBAR_SUBFIELDS, Site, Theme
from . import acronyms, contracts, qr
from .design import Design, for_content

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def date_fr(value: dt.date) -> str:
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


@dataclass(frozen=True)
class DocView:
    kind: str
    title: str
    subject: str
    themes: tuple[Theme, ...]


@lru_cache(maxsize=4)
def environment(layouts: tuple[Path, ...]) -> Environment:
    """One Jinja2 environment per list of layout folders (the project's, then livret's)."""
    env = Environment(
        loader=FileSystemLoader([str(p) for p in layouts]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=markup.block, inline=markup.inline, text=markup.plain, date_fr=date_fr)
    # the web edition's address on the back cover (livret/rendering/qr.py)
    env.filters["qr_svg"] = qr.svg
    return env


def doc_view(site: Site, output: Output) -> DocView:
    themes, subject = KINDS[output.kind].view(site, output)
    return DocView(output.kind, markup.plain_text(output.title), markup.plain_text(subject), themes)


def render_html(site: Site, output: Output) -> str:
    template = KINDS[output.kind].template
    try:
        html = (
            environment(for_content(site.root).layouts)
            .get_template(template)
            .render(
                site=site,
                edition=site.edition,
                doc=doc_view(site, output),
                version=__version__,
                subfields=SIDEBAR_SUBFIELDS,
            )
        )
        # Each card's first use of an acronym spelled out for screen readers (acronyms.py).
        html = acronyms.mark(html, site.edition.acronyms)
    except TemplateError as exc:
        raise layout_error(exc, template) from None
    # What the code needs of the layouts (livret/rendering/contracts.py): a broken project layout
    # fails here, before any layout, with all its problems.
    problems = check_contracts(site, output, html)
    if problems:
        raise LivretError(problems)
    return html


def check_contracts(site: Site, output: Output, html: str) -> list[Problem]:
    """The promises of the layouts `html` (rendered for `output`) breaks (contracts.py)."""
    design = for_content(site.root)
    themes = [(t.slug, [a.slug for a in t.actions]) for t in doc_view(site, output).themes]
    return contracts.check(
        html, KINDS[output.kind].template, themes, lambda names: _blame(design, names)
    )


def _blame(design: Design, names) -> str:
    """The layout file to name among `names` (the likeliest first): the project's own one
    when it overrides any of them (what it changed is what broke), else the first."""
    own = design.layouts[:-1]  # the last folder is livret's own design
    for name in names:
        for folder in own:
            if (folder / name).is_file():
                return display_path(folder / name)
    return f"layouts/{names[0]}"


def check_design(site: Site) -> None:
    """The layouts checked as a build would check them, every problem at once: the booklet
    (all its cards) and a single-action sheet."""
    problems: list[Problem] = []
    outputs = [KINDS["booklet"].output(site, site.edition.slug)]
    if site.actions:
        outputs.append(KINDS["action"].output(site, site.actions[0].slug))
    for output in outputs:
        try:
            render_html(site, output)
        except LivretError as exc:
            problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise LivretError(problems)


def layout_error(exc: TemplateError, template: str) -> LivretError:
    """A layout bug, not a content one: the template and its line, for the developer."""
    name = getattr(exc, "filename", None) or getattr(exc, "name", None) or template
    return LivretError(
        Problem(
            display_path(name),
            getattr(exc, "lineno", None),
            None,
            _("layout error: {error}").format(error=exc.message or exc),
        )
    )
