"""Stage 2 — load: a content folder → one validated `Site`, or every problem at once.

Pelican-style: everything is read and cross-checked into one context before anything is
rendered or written, so a bad edit never produces half a booklet.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from markupsafe import escape

from ..errors import Collector, LivretError, Problem
from ..finishing.impose import SHEETS
from ..i18n import N_, _
from . import fields as f
from . import memo
from .model import (
    CARD_FIELDS,
    CARD_SECTIONS,
    SIDEBAR_FIELDS,
    Action,
    BackCover,
    Contact,
    Edition,
    Initiative,
    Introduction,
    Logo,
    Person,
    Section,
    Site,
    Thanks,
    ThanksGroup,
    Theme,
)
from .policy import COMMON_ANCHORS, Policy
from .reader import Located, read_markdown, read_yaml

# Editors' leftovers beside the real files: backups (adie.md~, #adie.md#), locks (.#adie.md,
# ~$adie.md), swap files (.adie.md.swp) and Finder's .DS_Store. Ignored, never an error.
BACKUP_FILE = re.compile(r"^(?:\..*|.*~|#.*#|~\$.*|.*\.sw[a-p])$")


def is_backup_file(name: str) -> bool:
    """True for hidden files and the backup, lock and swap files editors leave beside a file."""
    return bool(BACKUP_FILE.match(name))


# A line Markdown prints as text: no <, [, & or @ (links, images, HTML, references,
# addresses), nor a block marker at its start (lists, quotes, headings, code). Most YAML
# values are such lines: they skip the Markdown conversion in check_markdown.
PLAIN_LINE = re.compile(r"^(?![\s>*+#=-]|\d+[.)])[^<\[&@>\n\r`]*$")
# Paragraphs and lists at most four levels deep, with none of those characters.
PLAIN_BLOCK = re.compile(r"^(?!.*^[ \t]{17})[^<\[&@>`]*\Z", re.S | re.M)


# A card prints on 2 to 4 pages: the longest of edition #01 is 8.3 kB. Twice that is
# worth a warning (the card will not fit); what could never be a card is refused before it
# is parsed, rendered, and rendered again on every save of the preview.
CARD_WARN_BYTES = 14_000  # of text below the front matter: the longest of #01 has 6.7 kB
MAX_CARD_BYTES = 64_000  # the whole file
# List items in a card's text (#01: at most 28) and in one field of its grey column (#01: 9).
CARD_WARN_ITEMS, MAX_CARD_ITEMS = 60, 300
SIDEBAR_WARN_ITEMS = 20
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def check_card_size(doc, path: Path, problems: Collector) -> bool:
    """A card prints on 2 to 4 pages: a warning well before it cannot, an error for what
    could never be a card, each at the line where the card passes the mark. True when the
    card is refused (its text is not worth parsing)."""
    size = items = 0
    fence = False
    warned = False
    for n, line in enumerate(doc.body.split("\n")):
        size += len(line.encode("utf-8")) + 1
        if size > CARD_WARN_BYTES and not warned:
            warned = True
            problems.warning(
                path,
                doc.body_line + n,
                "body",
                _(
                    "the card's text passes {max} kB here, twice the longest card of edition "
                    "#01: a card prints on 2 to 4 pages; shorten it"
                ).format(max=CARD_WARN_BYTES // 1000),
            )
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if fence or not _LIST_ITEM.match(line):
            continue
        items += 1
        if items == CARD_WARN_ITEMS + 1:
            problems.warning(
                path,
                doc.body_line + n,
                "body",
                _(
                    "more than {max} list items in the card's text (edition #01: at most 28): "
                    "a card prints on 2 to 4 pages; shorten the lists"
                ).format(max=CARD_WARN_ITEMS),
            )
        if items == MAX_CARD_ITEMS + 1:
            problems.error(
                path,
                doc.body_line + n,
                "body",
                _(
                    "more than {max} list items in the card's text: this cannot be printed on a "
                    "card of 2 to 4 pages; keep the essential ones"
                ).format(max=MAX_CARD_ITEMS),
            )
            return True
    for key in SIDEBAR_FIELDS:
        value = doc.fields.get(key)
        if isinstance(value, list) and SIDEBAR_WARN_ITEMS < len(value) <= f.MAX_ITEMS:
            problems.warning(
                path,
                doc.meta.line(f"{key}.{SIDEBAR_WARN_ITEMS}"),
                key,
                _(
                    "{count} items: the grey column of a card holds a few (edition #01: at "
                    "most 9); it will not fit beside the card's text"
                ).format(count=len(value)),
            )
    return False


# Python-Markdown's link parsing, and html.parser (Markdown's and ours), take time growing with
# the square of some inputs: thousands of "[" in one paragraph, or "<tag" never closed before
# the next "<". No booklet needs either; both are refused, after a linear scan, before any
# parser sees them.
MAX_BRACKETS = 100
MAX_TAGS = 200  # raw HTML tags in one text: a few <br> or <sup>, never thousands
_OPEN_TAG = re.compile(r"<[A-Za-z!/?][^<>]*(>)?")


def unbounded(text: str) -> tuple[int, str] | None:
    """(0-based line, why) when `text` would make the Markdown or HTML parsers slow; or None."""
    line = 0
    for block in re.split(r"(\n[ \t]*\n)", text):
        if block.count("[") > MAX_BRACKETS:
            return line, _(
                "more than {max} « [ » in one paragraph: write fewer links or brackets"
            ).format(max=MAX_BRACKETS)
        line += block.count("\n")
    for count, m in enumerate(_OPEN_TAG.finditer(text)):
        if count == MAX_TAGS:
            return text.count("\n", 0, m.start()), _(
                "more than {max} HTML tags in one text: write it in Markdown"
            ).format(max=MAX_TAGS)
        if m.group(1) is None:
            return text.count("\n", 0, m.start()), _(
                "« {start} » opens an HTML tag that is not closed by « > »: write the text "
                "without « < », or close the tag"
            ).format(start=m.group()[:20])
    return None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "section"


def check_markdown(
    text: str,
    path: Path,
    first_line: int,
    field: str | None,
    policy: Policy,
    inline: bool = False,
) -> None:
    """What the booklet would print from `text` follows the content policy (policy.py)."""
    if (PLAIN_LINE if inline else PLAIN_BLOCK).match(text):
        return  # text without any character that makes a link, an image or HTML
    refused = unbounded(text)
    if refused is not None:
        n, message = refused
        policy.problems.error(path, first_line + n, field, message)
        return
    kind = "markdown inline" if inline else "markdown"
    html = memo.lookup(kind, text)  # this text's HTML at the last build (memo.py)
    if html is None:
        from .markup import html_of  # with Markdown and the typography's rules: not before

        try:
            html = html_of(text, inline=inline)
        except RecursionError:
            policy.problems.error(
                path,
                first_line,
                field,
                _("nested too deeply (quotes or lists inside each other): simplify the text"),
            )
            return
        memo.keep(kind, text, html)
    policy.check(html, text, path, first_line, field)


def check_body(body: str, body_line: int, path: Path, policy: Policy, whole: bool) -> None:
    """The body as the layouts print it: whole (introduction) or section by section (cards,
    where a reference link's definition must be in the section that uses it)."""
    if whole:
        check_markdown(body, path, body_line, "body", policy)
        return
    start = 0
    lines = body.split("\n")
    for n, line in enumerate([*lines, "## "]):
        if line.startswith("## ") or n == len(lines):
            if n > start:
                check_markdown("\n".join(lines[start:n]), path, body_line + start, "body", policy)
            start = n + 1


def split_sections(
    body: str, body_line: int, path: Path, problems: Collector, require_heading: bool
) -> tuple[Section, ...]:
    sections: list[tuple[str, int, list[str]]] = []
    lead: list[str] = []
    for n, raw in enumerate(body.split("\n")):
        if raw.startswith("## "):
            sections.append((raw[3:].strip(), body_line + n, []))
        elif sections:
            sections[-1][2].append(raw)
        else:
            lead.append(raw)
    if "".join(lead).strip():
        if require_heading or sections:
            first = next(i for i, s in enumerate(lead) if s.strip())
            problems.error(
                path,
                body_line + first,
                "body",
                _('text before the first section: start the body with a "## Title" line'),
            )
        else:
            return (Section("", "", "\n".join(lead).strip()),)
    out = []
    seen: dict[str, int] = {}
    for title, line, lines in sections:
        text = "\n".join(lines).strip()
        if not title:
            problems.error(path, line, "body", _("section heading without a title"))
        if not text:
            problems.error(
                path,
                line,
                _("section « {title} »").format(title=title),
                _("empty section: write its text or remove the heading"),
            )
        slug = slugify(title)
        seen[slug] = seen.get(slug, 0) + 1
        out.append(Section(title, slug if seen[slug] == 1 else f"{slug}-{seen[slug]}", text))
    if require_heading and not out and not "".join(lead).strip():
        problems.error(path, body_line, "body", _("the card has no text: add its sections"))
    return tuple(out)


HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# The sections of a card (level 2, « ## ») and the questions of its « ## Bilan » (level 3):
# written at another level, they would print as the wrong kind of heading, silently.
SECTION_TITLES = tuple(section.title for section in CARD_SECTIONS)
BILAN_QUESTIONS = (
    "Quels sont les écarts observés entre objectifs et résultats",
    "Quels sont les impacts du projet observés",
    "Quels sont les impacts indirects identifiés",
    "Quels sont les facteurs clés de succès",
    "Quels sont les difficultés et freins rencontrés",
    "Quelles perspectives",
    "Dont enjeux transverses",
)


def _heading_key(title: str) -> str:
    return " ".join(title.split()).casefold().rstrip(" :?.")


_LEVEL_OF = {
    **{_heading_key(t): 2 for t in SECTION_TITLES},
    **{_heading_key(t): 3 for t in BILAN_QUESTIONS},
}


def _expected_level(title: str) -> int | None:
    key = _heading_key(title)
    for known, level in _LEVEL_OF.items():
        if key == known or (level == 3 and key.startswith(known)):
            return level
    return None


def check_headings(body: str, body_line: int, path: Path, problems: Collector) -> None:
    """Heading levels: « ## » sections, « ### » sub-sections (the questions of « ## Bilan »),
    « #### » only under a « ### »; « # » is the card's title, given by its `title:` field."""
    previous = 1
    fence = False
    for n, line in enumerate(body.split("\n")):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else HEADING_RE.match(line)
        if m is None:
            continue
        level, title = len(m[1]), m[2]
        where = body_line + n
        expected = _expected_level(title)
        right = "#" * (expected or min(max(level, 2), previous + 1, 4))
        if expected is not None and level != expected:
            problems.error(
                path,
                where,
                "body",
                _("« {typed} » must be a level-{level} heading: write « {right} {title} »").format(
                    typed=line.strip(), level=expected, right=right, title=title
                ),
            )
        elif level == 1:
            problems.error(
                path,
                where,
                "body",
                _(
                    "« # » is the level of the card's title (its « title: » field): write "
                    "« ## {title} » for a section, « ### {title} » inside a section"
                ).format(title=title),
            )
        elif level > previous + 1 or level > 4:
            problems.error(
                path,
                where,
                "body",
                _(
                    "« {typed} » skips a level after a « {above} » heading: write "
                    "« {right} {title} »"
                ).format(typed=line.strip(), above="#" * previous, right=right, title=title),
            )
        previous = max(2, min(level, 4)) if level > 1 else previous
        if level == 2:
            previous = 2


def _paragraphs(markdown: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", markdown):
        text = " ".join(para.split()).casefold()
        if len(text) >= 60 and not text.startswith("#"):
            out.append(text)
    return out


def _line_of_paragraph(path: Path, para: str) -> int | None:
    """The line where a (normalised) paragraph starts in its file."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    for n, line in enumerate(lines, 1):
        words = " ".join(line.split()).casefold()
        if words and para.startswith(words):
            return n
    return None


def check_copies(actions: list[Action], located: dict, problems: Collector) -> None:
    """A card copied from another and left unedited: same title and organisation, or a
    paragraph of its text that another card has word for word."""
    first_by_title: dict[tuple[str, str], Action] = {}
    first_by_para: dict[str, Action] = {}
    for action in sorted(actions, key=lambda a: a.slug):
        src = located.get(action.path)
        key = (action.title.casefold(), action.organisation.casefold())
        other = first_by_title.setdefault(key, action)
        if other is not action:
            problems.error(
                action.path,
                src.line("title") if src else None,
                "title",
                _(
                    "same title and organisation as actions/{other}.md: a card copied and not "
                    "yet rewritten? Give this card its own title, organisation and text"
                ).format(other=other.slug),
            )
        shared = set()
        for section in action.sections:
            for para in _paragraphs(section.markdown):
                other = first_by_para.setdefault(para, action)
                if other is not action and other.slug not in shared:
                    shared.add(other.slug)
                    problems.error(
                        action.path,
                        _line_of_paragraph(action.path, para),
                        _("section « {title} »").format(title=section.title)
                        if section.title
                        else "body",
                        _(
                            "a paragraph identical to one of actions/{other}.md: a card copied and "
                            "not yet rewritten? Write this card's own text"
                        ).format(other=other.slug),
                    )


# --- edition ---------------------------------------------------------------------------


_back_cover = f.record(
    {"heading": (f.text, True), "text": (f.text, True), "join": (f.text, True)},
    "back_cover",
    BackCover,
)


def _web_address(value, ctx, key):
    """Where output/web/ is published (the web edition, livret/building/web): an https address, with
    its final "/" added when it is missing; the pages then point to the PDFs there."""
    text = f.text(value, ctx, key)
    if text is None:
        return None
    if not (f.is_url(text) and text.startswith("https://")) or any(c in text for c in "?#"):
        ctx.error(
            key,
            _(
                "« {value} » is not a web address: write the address where the web edition "
                "(output/web/) is published, starting with https://, e.g. "
                "https://www.example.org/retour-experience/"
            ).format(value=text),
        )
        return None
    return text if text.endswith("/") else text + "/"


# An acronym as printed: capitals (and digits), two letters at least ("QPV", "DREETS").
ACRONYM = re.compile(r"[A-ZÀ-Ý][A-ZÀ-Ý0-9]+")


def _acronyms(value, ctx, key):
    """`acronyms:` — one « ACRONYM: what it stands for » line each."""
    if value is None:
        return ()
    data = f.mapping(value, ctx, key)
    if data is None:
        return None
    out = []
    ok = True
    for word, words in data.items():
        if not isinstance(word, str) or not ACRONYM.fullmatch(word):
            ctx.error(
                f"{key}.{word}",
                _(
                    "« {word} » is not an acronym as printed: write it in capitals, then « : » "
                    "and what it stands for, for example « QPV: quartier prioritaire de la "
                    "politique de la ville »"
                ).format(word=word),
            )
            ok = False
            continue
        expansion = f.text(words, ctx.sub(key), word)
        if expansion is None:
            ok = False
        elif expansion.upper() == expansion:
            ctx.error(
                f"{key}.{word}",
                _("« {words} »: write what {word} stands for in words, not another acronym").format(
                    words=expansion, word=word
                ),
            )
            ok = False
        else:
            out.append((word, expansion))
    return tuple(out) if ok else None


EDITION_SPEC = {
    "series": (f.text, True),
    "number": (f.integer, True),
    "date": (f.date, True),
    "title": (f.text, True),
    "subtitle": (f.text, True),
    "tagline": (f.text, True),
    "publisher": (f.text, True),
    "publisher_org": (f.text, True),
    "contact_email": (f.email, True),
    "slug": (f.slug, True),
    "language": (f.text, True),
    "keywords": (f.text_list, False),
    "pdf_created": (f.timestamp, True),
    "pdf_modified": (f.timestamp, True),
    "themes": (f.slug_list, True),
    "back_cover": (_back_cover, True),
    "web_address": (_web_address, False),
    "acronyms": (_acronyms, False),
    "logos": (
        f.records(
            {"file": (f.text, True), "alt": (f.text, True)},
            N_("logos"),
            N_("a logo"),
            "- file: logos/club.png, alt: Club des territoires",
            Logo,
            allow_empty=True,
        ),
        False,
    ),
}


def check_slug_number(slug: str, number: int, src: Located, problems: Collector) -> None:
    """The PDFs are named after the slug: an edition whose slug still ends with the previous
    edition's number would overwrite that edition's PDFs."""
    m = re.search(r"-(\d+)$", slug)
    if m and int(m[1]) == number:
        return
    expected = f"{slug[: m.start()] if m else slug}-{number:02d}"
    problems.error(
        src.path,
        src.line("slug"),
        "slug",
        _(
            "« {slug} » does not end with the edition's number ({number}): the PDFs are named "
            "after the slug; write « slug: {expected} »"
        ).format(slug=slug, number=number, expected=expected),
    )


def load_edition(
    root: Path, problems: Collector, located: dict | None = None, policy: Policy | None = None
) -> Edition | None:
    path = root / "edition.yaml"
    src = read_yaml(path, problems, root)
    if src is None:
        return None
    _check_inline_links(src, policy or Policy(root, problems))
    data = f.mapping(src.data, f.Ctx(src, problems), "edition") if src.data is not None else None
    if data is None:
        return None
    out = f.check_fields(data, f.Ctx(src, problems), EDITION_SPEC, "edition.yaml")
    if out is None:
        return None
    out["theme_slugs"] = out.pop("themes")
    out["logos"] = out["logos"] or ()
    out["acronyms"] = out["acronyms"] or ()
    # A logo is an image like any other (inside the content folder, a whole PNG/JPEG…): the
    # one image policy checks it, and counts it among the files the booklet is made from.
    checker = policy or Policy(root, problems)
    for i, logo in enumerate(out["logos"]):
        line = src.line(f"logos.{i}.file")
        img = f'<img src="{escape(logo.file)}" alt="{escape(logo.alt)}">'
        checker.check(img, logo.file, path, line, f"logos.{i}.file")
    check_slug_number(out["slug"], out["number"], src, problems)
    if located is not None:
        located[path] = src
    return Edition(path=path, **out)


# --- actions ---------------------------------------------------------------------------


_contact = f.record(
    {"name": (f.text, True), "emails": (f.email_list, False), "phones": (f.text_list, False)},
    "contact",
    Contact,
)
_labels = f.record(
    {k: (f.text, False) for k in SIDEBAR_FIELDS},
    "labels",
    lambda **given: {k: v for k, v in given.items() if v is not None},
)


# How each kind of card field (model.CARD_FIELDS) is validated.
_VALIDATORS = {
    "text": f.text,
    "list": f.text_list,
    "slug": f.slug,
    "contact": _contact,
    "labels": _labels,
}
ACTION_SPEC = {field.key: (_VALIDATORS[field.kind], field.required) for field in CARD_FIELDS}


def load_action(
    path: Path, problems: Collector, located: dict | None = None, policy: Policy | None = None
) -> Action | None:
    doc = read_markdown(path, problems, path.parent.parent, MAX_CARD_BYTES)
    if doc is None:
        return None
    policy = policy or Policy(path.parent.parent, problems)
    ctx = f.Ctx(doc.meta, problems)
    out = f.check_fields(doc.fields, ctx, ACTION_SPEC, N_("the card's front matter"))
    refused = check_card_size(doc, path, problems)
    _check_inline_links(doc.meta, policy)
    sections = split_sections(doc.body, doc.body_line, path, problems, require_heading=True)
    if not refused:
        check_headings(doc.body, doc.body_line, path, problems)
        check_body(doc.body, doc.body_line, path, policy, whole=False)
    if located is not None:
        located[path] = doc.meta
    if out is None:
        return None
    out["labels"] = out["labels"] or {}
    # A field written with no item ("cost_total: []") still prints its label, as the source
    # does when only the sub-items ("- dont moyens humains") are given.
    shown = frozenset(k for k in SIDEBAR_FIELDS if k in doc.fields)
    return Action(slug=path.stem, path=path, sections=sections, shown=shown, **out)


def _check_inline_links(src: Located, policy: Policy) -> None:
    """Every text of a YAML file, as one line of Markdown (how the layouts print them)."""

    def walk(value, dotted):
        if isinstance(value, str):
            check_markdown(value, src.path, src.line(dotted), dotted, policy, inline=True)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{dotted}.{i}")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{dotted}.{k}" if dotted else k)

    walk(src.data, "")


# --- themes ----------------------------------------------------------------------------

_initiatives = f.records(
    {"title": (f.text, True), "items": (f.text_list, False)},
    N_("initiatives"),
    N_("an initiative"),
    "- title: …, items: […]",
    Initiative,
    allow_empty=True,
)


THEME_SPEC = {
    "title": (f.text, True),
    "colour": (f.colour, True),
    "actions": (f.slug_list, True),
    "notions": (f.text_list, False),
    "initiatives": (_initiatives, False),
    "callouts": (f.text_list, False),
}


def load_theme(
    path: Path, problems: Collector, located: dict | None = None, policy: Policy | None = None
) -> Theme | None:
    src = read_yaml(path, problems, path.parent.parent)
    if src is None:
        return None
    policy = policy or Policy(path.parent.parent, problems)
    ctx = f.Ctx(src, problems)
    data = f.mapping(src.data, ctx, "theme")
    if data is None:
        return None
    out = f.check_fields(data, ctx, THEME_SPEC, N_("the theme file"))
    _check_inline_links(src, policy)
    if located is not None:
        located[path] = src
    if out is None:
        return None
    if not out["actions"]:  # its opener would print alone, an empty list of cards
        problems.warning(
            path,
            src.line("actions"),
            "actions",
            _(
                "the theme has no card yet: its opener would stand alone in the booklet; "
                "add one with: python build.py new-action NAME --theme {theme}"
            ).format(theme=path.stem),
        )
    return Theme(
        slug=path.stem,
        path=path,
        title=out["title"],
        colour=out["colour"],
        action_slugs=out["actions"],
        notions=out["notions"],
        initiatives=out["initiatives"] or (),
        callouts=out["callouts"],
    )


# --- introduction and thanks -------------------------------------------------------------


def load_introduction(
    root: Path, problems: Collector, policy: Policy | None = None
) -> Introduction | None:
    path = root / "introduction.md"
    doc = read_markdown(path, problems, root)
    if doc is None:
        return None
    policy = policy or Policy(root, problems)
    _check_inline_links(doc.meta, policy)
    out = f.check_fields(
        doc.fields,
        f.Ctx(doc.meta, problems),
        {"title": (f.text, True)},
        N_("the introduction's front matter"),
    )
    split_sections(doc.body, doc.body_line, path, problems, require_heading=False)
    check_headings(doc.body, doc.body_line, path, problems)
    check_body(doc.body, doc.body_line, path, policy, whole=True)
    if not doc.body.strip():
        problems.error(path, doc.body_line, "body", _("the introduction has no text"))
    if out is None:
        return None
    return Introduction(path, out["title"], doc.body.strip())


_people = f.records(
    {"name": (f.text, True), "role": (f.text, False)},
    N_("persons"),
    N_("a person"),
    "- name: …, role: …",
    Person,
)
_groups = f.records(
    {"title": (f.text, True), "people": (_people, True)},
    N_("groups"),
    N_("a group"),
    "- title: …, people: […]",
    ThanksGroup,
)


def load_thanks(root: Path, problems: Collector, policy: Policy | None = None) -> Thanks | None:
    path = root / "thanks.yaml"
    src = read_yaml(path, problems, root)
    if src is None:
        return None
    _check_inline_links(src, policy or Policy(root, problems))
    ctx = f.Ctx(src, problems)
    data = f.mapping(src.data, ctx, "thanks")
    if data is None:
        return None
    out = f.check_fields(
        data, ctx, {"title": (f.text, True), "groups": (_groups, True)}, "thanks.yaml"
    )
    return None if out is None else Thanks(path, out["title"], out["groups"])


# --- the whole site ----------------------------------------------------------------------


def _files(folder: Path, suffixes: tuple[str, ...], problems: Collector) -> dict[str, Path]:
    """slug → file; two files for one slug, or a file name that is not a slug, are errors."""
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        if is_backup_file(path.name) or not path.is_file():
            continue
        if path.suffix not in suffixes:
            problems.error(
                path,
                None,
                None,
                _("unexpected file: files here end with {suffixes}").format(
                    suffixes=_(" or ").join(suffixes)
                ),
            )
            continue
        if not f.SLUG_RE.match(path.stem):
            problems.error(
                path,
                None,
                None,
                _('the file name is the slug: lower-case letters, digits and "-" only'),
            )
            continue
        if f.WINDOWS_RESERVED.match(path.stem):
            problems.error(path, None, None, f.slug_problem(path.stem))
            continue
        if path.stem in out:
            problems.error(
                path,
                None,
                None,
                _('duplicate slug "{slug}": also {other}').format(
                    slug=path.stem, other=out[path.stem]
                ),
            )
            continue
        out[path.stem] = path
    return out


# What the build adds to a PDF's name for the other variants (pipeline.variant_filename: the
# names of pdf.VARIANTS but the default one) and for an imposition (pipeline.imposed_filename).
VARIANT_NAMES = ("archive", "print")
_NAME_SUFFIXES = (*VARIANT_NAMES, *(f"imposition-{sheet}" for sheet in SHEETS))


def name_clash(slug: str, kind: str) -> str | None:
    """Why the PDF named after this theme's or action's slug would have the name of another
    output (`retour-experience-01-action-adie.pdf` is adie's sheet: a theme « action-adie »
    would write over it), or None."""
    for suffix in _NAME_SUFFIXES:
        if slug == suffix or slug.endswith(f"-{suffix}"):
            return _(
                "« {slug} » ends with « {suffix} », which the build adds to the name of "
                "another PDF ({example}): its PDF would replace that one; rename the file "
                "and this line"
            ).format(slug=slug, suffix=suffix, example=f"…-{suffix}.pdf")
    if kind == "theme" and slug.startswith("action-"):
        return _(
            "« {slug} » starts with « action- », as the names of the cards' PDFs do "
            "(…-action-NAME.pdf): its excerpt could replace a card's PDF; rename the file "
            "and this line"
        ).format(slug=slug)
    return None


def load_site(root: Path | str = "content", cache: Path | None = None) -> Site:
    """Read and validate a content folder; raise LivretError with every problem found.

    `cache`: the file where the checks' results are kept between builds (memo.py)."""
    with memo.kept(cache):
        return _load_site(Path(root))


def _load_site(root: Path) -> Site:
    problems = Collector()
    if not root.is_dir():
        raise LivretError(
            Problem(
                str(root),
                None,
                None,
                _(
                    "content folder not found: looked for {path} from the folder {cwd}; run "
                    "the command from the project folder (the one that holds {name}/), or name "
                    "the content folder with --content FOLDER"
                ).format(path=root.absolute(), cwd=Path.cwd(), name=root.name or root),
            )
        )

    # file → its YAML with lines: cross-file problems, found after reading, point at a line too
    located: dict[Path, Located] = {}
    policy = Policy(root, problems)
    edition = load_edition(root, problems, located, policy)
    introduction = load_introduction(root, problems, policy)
    thanks = load_thanks(root, problems, policy)
    theme_files = _files(root / "themes", (".yaml",), problems)
    action_files = _files(root / "actions", (".md",), problems)
    themes = {slug: load_theme(p, problems, located, policy) for slug, p in theme_files.items()}
    actions = {slug: load_action(p, problems, located, policy) for slug, p in action_files.items()}

    def anchors_for(path: Path) -> frozenset[str]:
        """Anchors in every PDF that prints this file's text: a card's own in its sheet; a
        theme's opener and cards in its excerpt; the introduction and thanks everywhere."""
        if path.parent.name == "actions":
            return frozenset({f"action-{path.stem}"})
        theme = themes.get(path.stem) if path.parent.name == "themes" else None
        if theme is not None:
            members = {f"action-{a}" for a in theme.action_slugs if a in action_files}
            return COMMON_ANCHORS | {f"theme-{path.stem}"} | members
        return COMMON_ANCHORS

    policy.finish(anchors_for)

    def line_of(path: Path, dotted: str) -> int | None:
        src = located.get(path)
        return src.line(dotted) if src is not None else None

    if edition is not None:
        src_line = line_of(edition.path, "themes")
        for i, slug in enumerate(edition.theme_slugs):
            clash = name_clash(slug, "theme")
            if clash is not None:
                problems.error(
                    edition.path, line_of(edition.path, f"themes.{i}"), f"themes.{i}", clash
                )
            if slug not in theme_files:
                problems.error(
                    edition.path,
                    src_line,
                    "themes",
                    _(
                        'unknown theme "{slug}": no file themes/{slug}.yaml (themes: {known})'
                    ).format(slug=slug, known=", ".join(theme_files) or _("none")),
                )
        for slug, path in theme_files.items():
            if slug not in edition.theme_slugs:
                problems.error(
                    path,
                    None,
                    None,
                    _('theme "{slug}" is not listed in edition.yaml themes').format(slug=slug),
                )

    def theme_of(slug: str) -> str | None:
        """A card's theme, even when another field of the card is wrong: every problem of a
        card is reported at once, the cross-file ones too."""
        action = actions.get(slug)
        if action is not None:
            return action.theme
        src = located.get(action_files[slug])
        value = src.data.get("theme") if src is not None and isinstance(src.data, dict) else None
        return value if isinstance(value, str) and f.SLUG_RE.match(value) else None

    placed: dict[str, str] = {}
    for slug, theme in themes.items():
        if theme is None:
            continue
        members = []
        for i, a in enumerate(theme.action_slugs):
            line = line_of(theme.path, f"actions.{i}")
            if a not in action_files:
                problems.error(
                    theme.path,
                    line,
                    f"actions.{i}",
                    _(
                        'unknown action "{slug}": no file actions/{slug}.md (actions: {known})'
                    ).format(slug=a, known=", ".join(action_files) or _("none")),
                )
                continue
            if a in placed:
                problems.error(
                    theme.path,
                    line,
                    f"actions.{i}",
                    _('duplicate slug: action "{slug}" is already in theme "{theme}"').format(
                        slug=a, theme=placed[a]
                    ),
                )
                continue
            placed[a] = slug
            clash = name_clash(a, "action")
            if clash is not None:
                problems.error(theme.path, line, f"actions.{i}", clash)
            card_theme = theme_of(a)
            if card_theme is not None and card_theme != slug:
                problems.error(
                    action_files[a],
                    line_of(action_files[a], "theme"),
                    "theme",
                    _('"{theme}" but the card is listed in themes/{listed}.yaml').format(
                        theme=card_theme, listed=slug
                    ),
                )
            action = actions.get(a)
            if action is not None:
                members.append(action)
        themes[slug] = Theme(**{**theme.__dict__, "actions": tuple(members)})

    for slug, path in action_files.items():
        card_theme = theme_of(slug)
        if card_theme is None:
            continue  # no card, or no theme that could be one: already reported
        if card_theme in theme_files and themes.get(card_theme) is None:
            continue  # its theme file is broken: that problem is already reported
        if card_theme not in theme_files:
            problems.error(
                path,
                line_of(path, "theme"),
                "theme",
                _('unknown theme slug "{slug}" (themes: {known})').format(
                    slug=card_theme, known=", ".join(theme_files) or _("none")
                ),
            )
        elif slug not in placed:
            problems.error(
                path,
                line_of(path, "theme"),
                "theme",
                _(
                    'the action is in no theme: add "{slug}" to actions in themes/{theme}.yaml'
                ).format(slug=slug, theme=card_theme),
            )

    # Cards in no theme are reported above (and not printed): copies among the printed ones.
    check_copies(
        [a for s, a in actions.items() if a is not None and s in placed], located, problems
    )
    problems.raise_if_errors()
    # Each load_* returns None only after reporting an error: none is None here.
    assert edition is not None and introduction is not None and thanks is not None
    ordered = [t for t in (themes[s] for s in edition.theme_slugs) if t is not None]
    files = [
        root / "edition.yaml",
        root / "introduction.md",
        root / "thanks.yaml",
        *theme_files.values(),
        *action_files.values(),
    ]
    return Site(
        root=root,
        edition=edition,
        introduction=introduction,
        themes=tuple(ordered),
        thanks=thanks,
        files=tuple(files),
        warnings=tuple(p for p in problems.problems if p.severity == "warning"),
        digests=dict(problems.digests),
        images={k: tuple(v) for k, v in policy.images.items()},
    )
