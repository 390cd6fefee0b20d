"""What can be built from a site: the booklet, one excerpt per theme, one sheet per action,
and which files each one is made from (its inputs, for the incremental build)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import LivretError, Problem
from .model import Site

PROJECT = Path(__file__).resolve().parent.parent
LAYOUTS = PROJECT / "layouts"
STYLES = PROJECT / "styles"
# Order matters: later sheets refine earlier ones.
STYLESHEETS = ("fonts.css", "page.css", "typography.css", "cover.css", "contents.css",
               "opener.css", "card.css", "thanks.css")


@dataclass(frozen=True)
class Output:
    kind: str  # "booklet" | "theme" | "action"
    theme: str | None
    action: str | None
    filename: str
    title: str


def plan(site: Site, *, booklet: bool = True, themes=None, actions=None) -> list[Output]:
    """The outputs asked for, in a stable order; unknown slugs → one error listing valid ones."""
    ed = site.edition
    valid_themes = [t.slug for t in site.themes]
    valid_actions = [a.slug for a in site.actions]
    bad = []
    for s in themes or ():
        if s not in valid_themes:
            bad.append(Problem("--theme", None, None,
                               f'unknown theme "{s}"; valid themes: {", ".join(valid_themes)}'))
    for s in actions or ():
        if s not in valid_actions:
            bad.append(Problem("--action", None, None,
                               f'unknown action "{s}"; valid actions: {", ".join(valid_actions)}'))
    if bad:
        raise LivretError(bad)
    out = []
    if booklet:
        out.append(Output("booklet", None, None, f"{ed.slug}.pdf", f"{ed.full_title} — {ed.title}"))
    for t in site.themes:
        if t.slug in (themes or ()):
            out.append(Output("theme", t.slug, None, f"{ed.slug}-{t.slug}.pdf",
                              f"{ed.full_title} — {t.title}"))
    for a in site.actions:
        if a.slug in (actions or ()):
            out.append(Output("action", a.theme, a.slug, f"{ed.slug}-action-{a.slug}.pdf",
                              f"{ed.full_title} — {a.title}, {a.organisation}"))
    return out


def input_files(site: Site, output: Output) -> list[Path]:
    """Content files an output is made from; layouts, styles and fonts count for every output."""
    root = site.root
    common = sorted(p for d in (LAYOUTS, STYLES) for p in d.rglob("*")
                    if p.is_file() and not p.name.startswith(".") and "mail" not in p.parts)
    if output.kind == "booklet":
        content = list(site.files)
    elif output.kind == "theme":
        theme = site.theme(output.theme)
        content = [root / "edition.yaml", root / "introduction.md", root / "thanks.yaml",
                   theme.path, *(a.path for a in theme.actions)]
    else:
        action = site.action(output.action)
        content = [root / "edition.yaml", site.theme(action.theme).path, action.path]
    return [*content, *common]


def fingerprint(site: Site, output: Output, versions: dict[str, str],
                cache: dict[Path, str] | None = None) -> dict[str, str]:
    """sha256 of every input, keyed by project-relative path, plus tool versions."""
    cache = {} if cache is None else cache
    out = {}
    for path in input_files(site, output):
        if path not in cache:
            cache[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        out[_rel(path)] = cache[path]
    out.update(versions)
    return out


def _rel(path: Path) -> str:
    path = path.resolve()
    for base in (PROJECT, Path.cwd().resolve()):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()
