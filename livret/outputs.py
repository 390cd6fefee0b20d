"""What can be built from a site: the booklet, one excerpt per theme, one sheet per action,
and which files each one is made from (its inputs, for the incremental build)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from . import __version__, design
from .errors import LivretError, Problem
from .i18n import _
from .model import Site, Theme


@dataclass(frozen=True)
class Output:
    kind: str  # a key of KINDS: "booklet" | "theme" | "action"
    theme: str | None
    action: str | None
    filename: str
    title: str


class Kind:
    """One kind of output and everything the build needs to know about it. Adding a kind is
    one subclass below, one entry in KINDS and its layout."""

    name: str  # the manifest's and the JSON summary's "kind"
    template: str  # the layout that renders it
    option: str  # the command-line option that names outputs of this kind

    def slugs(self, site: Site) -> list[str]:
        """The outputs of this kind the site can make, by slug, in their order."""
        raise NotImplementedError

    def output(self, site: Site, slug: str) -> Output:
        raise NotImplementedError

    def inputs(self, site: Site, output: Output) -> list[Path]:
        """The content files the output is made from."""
        raise NotImplementedError

    def view(self, site: Site, output: Output) -> tuple[tuple[Theme, ...], str]:
        """The themes the document shows and its subject (PDF metadata)."""
        raise NotImplementedError

    def unknown(self, slug: str, valid: list[str]) -> str:
        """The message for a slug the site does not have (the booklet is chosen by a flag)."""
        raise NotImplementedError


class Booklet(Kind):
    name, template, option = "booklet", "booklet.html", "--only"
    preview_rank = 1  # in the preview, the longest starts at once beside the sheet

    def slugs(self, site):
        return [site.edition.slug]

    def output(self, site, slug):
        ed = site.edition
        return Output(self.name, None, None, f"{ed.slug}.pdf", f"{ed.full_title} — {ed.title}")

    def inputs(self, site, output):
        return list(site.files)

    def view(self, site, output):
        ed = site.edition
        return site.themes, f"{ed.title} — {ed.subtitle}"


class ThemeExcerpt(Kind):
    name, template, option = "theme", "booklet.html", "--theme"
    preview_rank = 2

    def slugs(self, site):
        return [t.slug for t in site.themes]

    def output(self, site, slug):
        ed, theme = site.edition, site.theme(slug)
        return Output(
            self.name, slug, None, f"{ed.slug}-{slug}.pdf", f"{ed.full_title} — {theme.title}"
        )

    def inputs(self, site, output):
        theme = site.theme(_slug(output.theme))
        root = site.root
        return [
            root / "edition.yaml",
            root / "introduction.md",
            root / "thanks.yaml",
            theme.path,
            *(a.path for a in theme.actions),
        ]

    def view(self, site, output):
        theme = site.theme(_slug(output.theme))
        return (theme,), f"{site.edition.title} — extrait : {theme.title}"

    def unknown(self, slug, valid):
        return _('unknown theme "{slug}"; valid themes: {valid}').format(
            slug=slug, valid=", ".join(valid)
        )


class ActionSheet(Kind):
    name, template, option = "action", "sheet.html", "--action"
    preview_rank = 0  # in the preview, the edited card's sheet first: a page or two

    def slugs(self, site):
        return [a.slug for a in site.actions]

    def output(self, site, slug):
        ed, action = site.edition, site.action(slug)
        return Output(
            self.name,
            action.theme,
            slug,
            f"{ed.slug}-action-{slug}.pdf",
            f"{ed.full_title} — {action.title}, {action.organisation}",
        )

    def inputs(self, site, output):
        action = site.action(_slug(output.action))
        return [site.root / "edition.yaml", site.theme(action.theme).path, action.path]

    def view(self, site, output):
        action = site.action(_slug(output.action))
        theme = site.theme(action.theme)
        # The sheet shows its theme with this one action.
        only = replace(theme, actions=(action,))
        subject = f"{site.edition.title} — fiche action : {action.title}, {action.organisation}"
        return (only,), subject

    def unknown(self, slug, valid):
        return _('unknown action "{slug}"; valid actions: {valid}').format(
            slug=slug, valid=", ".join(valid)
        )


# In this order in the manifest; rendered in this order too, the biggest first, so that the
# booklet does not start last and finish alone.
KINDS: dict[str, Kind] = {k.name: k for k in (Booklet(), ThemeExcerpt(), ActionSheet())}
RANK = {name: i for i, name in enumerate(KINDS)}


def _slug(value: str | None) -> str:
    assert value is not None, "an output of this kind always has this slug"
    return value


def plan(
    site: Site,
    *,
    booklet: bool = True,
    themes: Collection[str] | None = None,
    actions: Collection[str] | None = None,
) -> list[Output]:
    """The outputs asked for, in a stable order; unknown slugs → one error listing valid ones."""
    wanted: dict[str, Collection[str]] = {
        "booklet": [site.edition.slug] if booklet else [],
        "theme": themes or (),
        "action": actions or (),
    }
    bad, out = [], []
    for kind in KINDS.values():
        valid = kind.slugs(site)
        bad += [
            Problem(kind.option, None, None, kind.unknown(s, valid))
            for s in wanted[kind.name]
            if s not in valid
        ]
        out += [kind.output(site, s) for s in valid if s in wanted[kind.name]]
    if bad:
        raise LivretError(bad)
    return out


def shared_inputs(site: Site) -> dict[str, Path]:
    """Layouts, stylesheets and fonts (the project's own or livret's): inputs of every
    output, by the name they are looked up with."""
    return design.for_content(site.root).files()


def content_inputs(site: Site, output: Output) -> list[Path]:
    """The content files an output is made from."""
    return site.with_images(KINDS[output.kind].inputs(site, output))


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


# Code that never shapes a PDF's bytes: sending, previewing, validating, exporting HTML,
# scaffolding a new edition.
NOT_PDF_CODE = frozenset(
    {"mail", "preview", "conformance", "htmlexport.py", "scaffold.py", "__pycache__"}
)


@lru_cache(maxsize=4)
def code_hash(package: Path = PACKAGE) -> str:
    """sha256 of livret's own Python code that makes PDFs (not the mail code): a change to
    it (a typography rule, a render step) makes every PDF out of date."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in NOT_PDF_CODE:
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
        self._keys: dict[str, Path] = {}  # manifest key → file
        self._project = Path(site.root).resolve().parent

    def _hash(self, path: Path) -> str:
        if path not in self._hashes:
            # Content: the digest of the bytes the loader read and the build renders — a
            # save since then is a change for the next build, never "up to date".
            digest = self.site.digests.get(path.resolve())
            if digest is None:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            self._hashes[path] = digest
        return self._hashes[path]

    def recheck(self) -> set[str]:
        """Files the renderer reads from the disk itself (layouts, styles, fonts, images) whose
        bytes changed since they were hashed: the render may have used either version."""
        changed = set()
        texts = {p.resolve() for p in self.site.files}  # rendered from the bytes read
        for key, path in self._keys.items():
            if path.resolve() in texts:
                continue
            try:
                now = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                now = None
            if now != self._hashes[path]:
                changed.add(key)
        return changed

    def __call__(self, output: Output) -> dict[str, str]:
        if self._shared is None:
            shared = shared_inputs(self.site)
            self._keys.update(shared)
            self._shared = {name: self._hash(p) for name, p in shared.items()}
        files = {self._rel(p): p for p in content_inputs(self.site, output)}
        self._keys.update(files)
        out = {key: self._hash(p) for key, p in files.items()}
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
