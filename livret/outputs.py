"""What can be built from a site: the booklet, one excerpt per theme, one sheet per action,
and which files each one is made from (its inputs, for the incremental build)."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import __version__, design
from .errors import LivretError, Problem
from .model import Site


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
            bad.append(
                Problem(
                    "--theme",
                    None,
                    None,
                    f'unknown theme "{s}"; valid themes: {", ".join(valid_themes)}',
                )
            )
    for s in actions or ():
        if s not in valid_actions:
            bad.append(
                Problem(
                    "--action",
                    None,
                    None,
                    f'unknown action "{s}"; valid actions: {", ".join(valid_actions)}',
                )
            )
    if bad:
        raise LivretError(bad)
    out = []
    if booklet:
        out.append(Output("booklet", None, None, f"{ed.slug}.pdf", f"{ed.full_title} — {ed.title}"))
    for t in site.themes:
        if t.slug in (themes or ()):
            out.append(
                Output(
                    "theme", t.slug, None, f"{ed.slug}-{t.slug}.pdf", f"{ed.full_title} — {t.title}"
                )
            )
    for a in site.actions:
        if a.slug in (actions or ()):
            out.append(
                Output(
                    "action",
                    a.theme,
                    a.slug,
                    f"{ed.slug}-action-{a.slug}.pdf",
                    f"{ed.full_title} — {a.title}, {a.organisation}",
                )
            )
    return out


def shared_inputs(site: Site) -> dict[str, Path]:
    """Layouts, stylesheets and fonts (the project's own or livret's): inputs of every
    output, by the name they are looked up with."""
    return design.for_content(site.root).files()


def content_inputs(site: Site, output: Output) -> list[Path]:
    """The content files an output is made from."""
    root = site.root
    if output.kind == "booklet":
        return list(site.files)
    if output.kind == "theme":
        theme = site.theme(output.theme)
        return [
            root / "edition.yaml",
            root / "introduction.md",
            root / "thanks.yaml",
            theme.path,
            *(a.path for a in theme.actions),
        ]
    action = site.action(output.action)
    return [root / "edition.yaml", site.theme(action.theme).path, action.path]


# Every distribution whose version can change the bytes of a PDF: what makes the HTML
# (Markdown, Jinja2, PyYAML), WeasyPrint and what it prints with (tinyhtml5 parses the HTML,
# tinycss2/cssselect2 the CSS, Pyphen hyphenates, fontTools subsets the fonts, Pillow decodes
# images, pydyf writes the PDF). System libraries (Pango, HarfBuzz) are not covered.
SHAPING = (
    "weasyprint",
    "pydyf",
    "tinyhtml5",
    "tinycss2",
    "cssselect2",
    "pyphen",
    "fonttools",
    "pillow",
    "markdown",
    "jinja2",
    "pyyaml",
)
PACKAGE = Path(__file__).resolve().parent  # livret's own code


def _dist_key(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def installed_versions(names: tuple[str, ...] = SHAPING) -> dict[str, str]:
    """{name: version} of installed distributions, from the names of the *.dist-info
    folders on sys.path: one directory listing each (~1 ms), where importlib.metadata reads
    every distribution's metadata (~20 ms), on the path of every no-change build."""
    wanted = {_dist_key(n): n for n in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.scandir(entry or ".")
        except OSError:
            continue
        with listing:
            for item in listing:
                if not item.name.endswith(".dist-info"):
                    continue
                dist, _, version = item.name.removesuffix(".dist-info").partition("-")
                name = wanted.get(_dist_key(dist))
                if name and name not in found:  # the first on sys.path is the one imported
                    found[name] = version
    missing = [n for n in names if n not in found]
    if missing:  # egg-info and other installs: the slow, general way
        from importlib import metadata

        for name in missing:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "not installed"
    return {name: found[name] for name in names}


@lru_cache(maxsize=4)
def code_hash(package: Path = PACKAGE) -> str:
    """sha256 of livret's own Python code that makes PDFs (not the mail code): a change to
    it (a typography rule, a render step) makes every PDF out of date."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in ("mail", "__pycache__"):
            continue
        digest.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def tool_versions(variant: str) -> dict[str, str]:
    """What, besides the input files, shapes an output's bytes: livret's code and version,
    the versions of its dependencies, and the PDF variant."""
    return {
        "livret": __version__,
        "livret code": code_hash(PACKAGE),
        **installed_versions(),
        "variant": variant,
    }


class Fingerprints:
    """sha256 of every input of each output, keyed by project-relative path, plus the tool
    versions. One per build: each file is listed, read and hashed once, however many outputs
    use it."""

    def __init__(self, site: Site, versions: dict[str, str]):
        self.site, self.versions = site, versions
        self._shared: dict[str, str] | None = None
        self._hashes: dict[Path, str] = {}
        self._project = Path(site.root).resolve().parent

    def _hash(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._hashes[path]

    def __call__(self, output: Output) -> dict[str, str]:
        if self._shared is None:
            self._shared = {name: self._hash(p) for name, p in shared_inputs(self.site).items()}
        out = {self._rel(p): self._hash(p) for p in content_inputs(self.site, output)}
        out.update(self._shared)
        out.update(self.versions)
        return out

    def _rel(self, path: Path) -> str:
        """A content file's name relative to the project folder ("content/edition.yaml")."""
        path = path.resolve()
        try:
            return path.relative_to(self._project).as_posix()
        except ValueError:
            return path.as_posix()
