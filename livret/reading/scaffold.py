"""New editions and new cards, from templates: `livret new-edition DIR --number N` and
`livret new-action SLUG --theme THEME`.

What is written passes `livret check` at once and builds; every value still to write holds
the marker « À COMPLÉTER », which `check` and the build report (as warnings, with the line)
until it is replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import NoReturn

from ..errors import LivretError, Problem, display_path
from ..i18n import _
from . import fields as f
from .loader import load_site
from .model import CARD_FIELDS, CARD_SECTIONS, TODO
from .reader import read_text

EXAMPLE = "exemple-de-fiche"


def _q(text: str) -> str:
    """A YAML scalar in double quotes (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def edition_slug(series_slug: str, number: int) -> str:
    return f"{series_slug}-{number:02d}"


def _fail(path, message: str) -> NoReturn:
    raise LivretError(Problem(display_path(path), None, None, message))


def _edition_number(folder: Path) -> int | None:
    """The `number:` of the content folder's edition.yaml, read as plainly as possible (the
    folder may be unfinished: only its number matters here)."""
    from ..errors import Collector
    from .reader import read_yaml

    src = read_yaml(folder / "edition.yaml", Collector(), folder)
    data = src.data if src is not None else None
    number = data.get("number") if isinstance(data, dict) else None
    return int(number) if isinstance(number, str) and number.isdigit() else None


def _manifest_numbers(output: Path) -> dict[int, Path]:
    """Edition number → the manifest that lists PDFs of it, in the output folder."""
    manifest = Path(output) / "manifest.json"
    try:
        if not manifest.is_file() or manifest.stat().st_size > MAX_MANIFEST:
            return {}
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("outputs") if isinstance(data, dict) else None
    numbers = {data.get("number")} if isinstance(data, dict) else set()
    if isinstance(entries, list):
        numbers |= {e.get("number") for e in entries if isinstance(e, dict)}
    return {n: manifest for n in numbers if isinstance(n, int) and not isinstance(n, bool)}


MAX_MANIFEST = 16_000_000  # far more than any manifest; a bigger file is not one of ours


def existing_editions(target: Path, source: Path, output: Path | None) -> dict[int, Path]:
    """Edition number → where it already is: the edition started from, the content folders
    beside it or beside the new one (a folder holding an edition.yaml), and the PDFs listed
    in the output folder's manifest."""
    found: dict[int, Path] = {}
    folders = [source]
    for parent in dict.fromkeys((source.resolve().parent, target.resolve().parent)):
        try:
            folders += sorted(d for d in parent.iterdir() if d.is_dir())
        except OSError:
            continue
    for folder in folders:
        if folder.resolve() == target.resolve() or not (folder / "edition.yaml").is_file():
            continue
        number = _edition_number(folder)
        if number is not None:
            found.setdefault(number, folder / "edition.yaml")
    if output is not None:
        for number, manifest in _manifest_numbers(output).items():
            found.setdefault(number, manifest)
    return found


def new_edition(
    target: Path, number: int, source: Path = Path("content"), output: Path | None = None
) -> list[Path]:
    """A complete content folder for edition `number` in `target`, from the edition in
    `source`: same series, publisher, themes and colours; no card, introduction or thanks of
    the old edition, one example card instead. `output`: the output folder the editions
    share (its manifest knows the numbers already built)."""
    target, source = Path(target), Path(source)
    if number < 1:
        _fail(target, _("--number must be a whole number ≥ 1"))
    if target.exists() and any(target.iterdir()):
        _fail(
            target,
            _("the folder already exists and is not empty: choose a new folder name"),
        )
    site = load_site(source)
    taken = existing_editions(target, source, output)
    taken.setdefault(site.edition.number, site.edition.path)
    if number in taken:
        free = max(taken) + 1
        _fail(
            target,
            _(
                "edition no. {number} already exists ({where}): a second one would take the "
                "names of its PDFs and replace them in the output folder; choose a new "
                "number, e.g. --number {free}"
            ).format(number=number, where=display_path(taken[number]), free=free),
        )
    old = site.edition
    series_slug = re.sub(r"-\d+$", "", old.slug)
    slug = edition_slug(series_slug, number)
    today = dt.date.today()
    stamp = dt.datetime.combine(today, dt.time(9, 0), tzinfo=old.pdf_created.tzinfo)
    themes = [t.slug for t in site.themes]
    keywords = "".join(f"\n  - {_q(k)}" for k in old.keywords) or " []"
    bc = old.back_cover

    target.mkdir(parents=True, exist_ok=True)
    (target / "themes").mkdir()
    (target / "actions").mkdir()
    written = []

    def write(rel: str, text: str) -> None:
        path = target / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)

    write(
        "edition.yaml",
        f"""# Édition n° {number} de « {old.series} ». `python build.py check` signale chaque
# valeur encore à écrire, tant qu'il en reste.
series: {_q(old.series)}
number: {number}
# {TODO} : date de publication (AAAA-MM-JJ) ; la date du jour par défaut.
date: {today.isoformat()}
title: "{TODO} : titre de l'édition"
subtitle: "{TODO} : sous-titre"
tagline: "{TODO} : phrase d'accroche"
publisher: {_q(old.publisher)}
publisher_org: {_q(old.publisher_org)}
contact_email: {_q(old.contact_email)}
# Le nom des PDF : il doit finir par le numéro de l'édition sur deux chiffres.
slug: {slug}
language: {_q(old.language)}
keywords:{keywords}
# {TODO} : dates inscrites dans les PDF (création, dernière modification).
pdf_created: {stamp.isoformat()}
pdf_modified: {stamp.isoformat()}
themes: [{", ".join(themes)}]
back_cover:
  heading: {_q(bc.heading)}
  text: {_q(bc.text)}
  join: {_q(bc.join)}
""",
    )
    for i, theme in enumerate(site.themes):
        actions = f"\n  - {EXAMPLE}" if i == 0 else " []"
        write(
            f"themes/{theme.slug}.yaml",
            f"""title: {_q(theme.title)}
colour: {_q(theme.colour)}
# Les fiches du thème, dans l'ordre d'impression : une par fichier actions/NOM.md.
# Ajoutez-en une avec : python build.py new-action NOM --theme {theme.slug}
actions:{actions}
""",
        )
    write(f"actions/{EXAMPLE}.md", action_template(themes[0]))
    write(
        "introduction.md",
        f"""---
title: Introduction
---
## {TODO} : titre de la première partie

{TODO} : texte de l'introduction.
""",
    )
    write(
        "thanks.yaml",
        f"""title: Remerciements
groups:
  - title: "Intervenant·e·s"
    people:
      - name: "{TODO} : Prénom NOM"
        role: "{TODO} : organisation"
""",
    )
    for folder in ("images",):  # logos and pictures the layouts or cards may use
        if (source / folder).is_dir():
            shutil.copytree(source / folder, target / folder)
    return written


def _yaml_field(key: str, value, indent: str = "") -> str:
    """`key: value` as YAML lines: a text in double quotes, a list one item a line (`[]`
    when empty), a mapping one field a line."""
    if isinstance(value, dict):
        inner = "".join(_yaml_field(k, v, indent + "  ") for k, v in value.items())
        return f"{indent}{key}:\n{inner}"
    if isinstance(value, list):
        if not value:
            return f"{indent}{key}: []\n"
        return f"{indent}{key}:\n" + "".join(f"{indent}  - {_q(v)}\n" for v in value)
    return f"{indent}{key}: {_q(value)}\n"


def action_template(theme: str) -> str:
    """A new card: the fields and sections that model.CARD_FIELDS and CARD_SECTIONS give a
    template, each to complete."""
    front = "".join(
        f"{card.key}: {theme}\n" if card.kind == "slug" else _yaml_field(card.key, card.template)
        for card in CARD_FIELDS
        if card.template is not None
    )
    body = "\n".join(
        f"## {section.title}\n\n{TODO} : {section.template}\n"
        for section in CARD_SECTIONS
        if section.template is not None
    )
    return f"---\n{front}---\n{body}"


def new_action(slug: str, theme: str, content: Path = Path("content")) -> list[Path]:
    """actions/SLUG.md from the template, and SLUG appended to the theme's `actions:` list
    (the theme file is edited as text: its comments and layout stay as they are)."""
    content = Path(content)
    known = sorted(p.stem for p in (content / "themes").glob("*.yaml"))
    why = f.slug_problem(slug)
    if why is not None:
        _fail(slug, why)
    theme_path = content / "themes" / f"{theme}.yaml"
    # A theme is a file of content/themes/ named by its slug: never a path (../../x, /etc/x)
    # that would make this command edit a file elsewhere.
    inside = theme_path.resolve().parent == (content / "themes").resolve()
    if f.slug_problem(theme) is not None or not inside or not theme_path.is_file():
        _fail(
            theme_path if f.SLUG_RE.match(theme) else theme,
            _('unknown theme "{theme}" (themes: {known})').format(
                theme=theme, known=", ".join(known) or "—"
            ),
        )
    card = content / "actions" / f"{slug}.md"
    if card.exists():
        _fail(card, _("this card already exists: choose another name"))
    from ..errors import Collector

    problems = Collector()
    text = read_text(theme_path, problems)
    problems.raise_if_errors()
    assert text is not None
    new_text = add_to_list(text, "actions", slug)
    if new_text is None:
        _fail(
            theme_path,
            _("no « actions: » list in this file: add « actions: [{slug}] »").format(slug=slug),
        )
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(action_template(theme), encoding="utf-8")
    theme_path.write_text(new_text, encoding="utf-8")
    return [card, theme_path]


def add_to_list(text: str, key: str, item: str) -> str | None:
    """`key:`'s YAML list with `item` appended, written the way the list already is
    (`key: [a, b]` or one `- a` line per item); every other line untouched."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.match(rf"^{re.escape(key)}:\s*(.*?)\s*$", line)
        if not m:
            continue
        rest = m[1]
        if rest.startswith("[") and rest.endswith("]"):
            inside = rest[1:-1].strip()
            lines[i] = f"{key}: [{inside + ', ' if inside else ''}{item}]"
            return "\n".join(lines)
        if rest and not rest.startswith("#"):
            return None
        last, indent = i, "  "
        for j in range(i + 1, len(lines)):
            item_m = re.match(r"^(\s*)- ", lines[j])
            if item_m:
                last, indent = j, item_m[1]
            elif lines[j].strip() and not lines[j].lstrip().startswith("#"):
                if not lines[j].startswith((" ", "\t")):
                    break
        lines.insert(last + 1, f"{indent}- {item}")
        return "\n".join(lines)
    return None
