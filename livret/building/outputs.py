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

from .. import __version__
from ..errors import LivretError, Problem
from ..i18n import N_, _
from ..reading.model import Site, Theme
from ..rendering import design
from .writer import read_small_regular_file


@dataclass(frozen=True)
class Output:
    kind: str  # a key of KINDS: "booklet" | "theme" | "action" | "web"
    theme: str | None
    action: str | None
    filename: str
    title: str


@dataclass(frozen=True)
class Made:
    """What a kind's own writer made (manifest fields): pages, bytes, sha256."""

    pages: int
    bytes: int
    sha256: str


class Kind:
    """One kind of output and everything the build, the command line, the mail and the
    preview need to know about it: the one place that knows the kinds. Adding a kind is one
    subclass below, one entry in KINDS and its layout (or its own module)."""

    name: str  # the manifest's and the JSON summary's "kind"
    template: str  # the layout that renders it
    # The command-line option that names outputs of this kind by slug (repeatable), with its
    # help; None: the kind is chosen as a whole (--only).
    option: str | None = None
    help: str = ""
    only: str  # the --only choice, and the keyword of plan() and of the build's selection
    default = False  # built when the command line names nothing
    planned = False  # built when plan() is not told about this kind
    imposable = False  # folded into a booklet on an office printer (--impose)
    preview_rank = 9  # the preview builds and shows the lowest first
    # Rendered by WeasyPrint in the render pool and shown by the preview as page images; else
    # written by the kind's own module (write()) after the PDFs, which it may link to.
    pdf = True
    # The `only` of a kind this one is made from: planned with it (the EPUB: the booklet).
    needs: str | None = None
    # The PDF variants a build writes this kind with (a kind that is not a PDF may need the
    # tagged booklet: the EPUB is not made by a print build).
    variants: tuple[str, ...] = ("accessible", "archive", "print")
    # A book document (livret/rendering/compose.py): laid out part by part, in one worker with the
    # other book documents of the build, which reuse its parts' layouts.
    book = False
    # An excerpt of the booklet: its parts keep the booklet's folios (an offprint).
    offprint = False

    def filename(self, output: Output, variant: str) -> str:
        """The file written for `output` in this PDF variant."""
        if variant == "accessible" or not self.pdf:
            return output.filename
        return output.filename.removesuffix(".pdf") + f"-{variant}.pdf"

    def design(self, name: str) -> bool:
        """Whether the design file `name` ("layouts/card.html") shapes this kind's outputs: a
        folder named after a kind ("layouts/web/") belongs to that kind alone."""
        parts = name.split("/")
        return len(parts) < 3 or parts[1] not in KINDS or parts[1] == self.name

    def intact(self, target: Path, entry: dict) -> bool:
        """Whether the output the manifest's `entry` describes is still whole on the disk: the
        bytes it lists (size, then sha256: a damaged file of the same size is not intact)."""
        data = read_small_regular_file(target, entry["bytes"])
        return (
            data is not None
            and len(data) == entry["bytes"]
            and hashlib.sha256(data).hexdigest() == entry["sha256"]
        )

    def linked(self, site: Site, entries: list[dict]) -> dict[str, str]:
        """Inputs besides files, for a kind written after the PDFs (what it links to)."""
        return {}

    def write(self, site: Site, output: Output, out_dir: Path, entries: list[dict]) -> Made:
        """Write a kind that is not a PDF (`pdf` False), given the manifest's entries."""
        raise NotImplementedError

    def preview_link(self, output: Output) -> str | None:
        """Where the preview links to an output it does not show as page images (a path
        under its /site/), or None."""
        return None

    def served(self, out_dir: Path, path: str) -> tuple[Path, str] | None:
        """The file the preview serves at /site/`path`, and its media type, if it is one of
        this kind's (only files a build listed); else None."""
        return None

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

    def weight(self, site: Site, output: Output) -> int:
        """How long it takes to make, relatively: the heaviest of a kind starts first."""
        return 0

    def mail_slug(self, entry: dict) -> str | None:
        """The slug a recipient asks for to get this manifest entry attached (the booklet,
        a theme's slug), or None: the mail never attaches outputs of this kind."""
        return None


class WholeEdition(Kind):
    """A kind with one output per edition, made from every content file: the booklet, the
    EPUB, the web edition (`path`: where it is written)."""

    def path(self, edition) -> str:
        raise NotImplementedError

    def slugs(self, site):
        return [site.edition.slug]

    def output(self, site, slug):
        ed = site.edition
        return Output(self.name, None, None, self.path(ed), f"{ed.full_title} — {ed.title}")

    def inputs(self, site, output):
        return list(site.files)

    def view(self, site, output):
        ed = site.edition
        return site.themes, f"{ed.title} — {ed.subtitle}"


class Booklet(WholeEdition):
    name, template, only = "booklet", "booklet.html", "booklet"
    default = planned = imposable = book = True
    preview_rank = 1  # the longest: it starts at once on the other worker

    def mail_slug(self, entry):
        return "booklet"

    def path(self, edition):
        return f"{edition.slug}.pdf"


class ThemeExcerpt(Kind):
    name, template, only = "theme", "booklet.html", "themes"
    option, help = "--theme", N_("build this theme's excerpt (repeatable)")
    default = imposable = book = offprint = True
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

    def weight(self, site, output):
        return len(site.theme(_slug(output.theme)).actions)

    def mail_slug(self, entry):
        return entry.get("theme") or None

    def unknown(self, slug, valid):
        return _('unknown theme "{slug}"; valid themes: {valid}').format(
            slug=slug, valid=", ".join(valid)
        )


class ActionSheet(Kind):
    name, template, only = "action", "sheet.html", "actions"
    option, help = "--action", N_("build this action's sheet (repeatable)")
    preview_rank = 0  # the edited card's sheet first: a page or two, fast

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


class EpubEdition(WholeEdition):
    """The booklet as an EPUB 3 (livret/building/epub/): written after the booklet, whose tagged PDF
    gives its page list, and before the web edition, which offers it for download."""

    name, template, only = "epub", "booklet.html", "epub"
    default = True
    pdf = False
    needs = "booklet"
    variants = ("accessible", "archive")  # the page list is read from a tagged booklet
    preview_rank = 4

    def path(self, edition):
        return f"{edition.slug}.epub"

    def _booklet(self, site: Site, entries: list[dict]) -> dict | None:
        """The manifest's entry of this edition's tagged booklet (accessible first)."""
        found = [
            e
            for e in entries
            if e.get("kind") == "booklet"
            and e.get("edition") == site.edition.slug
            and e.get("variant", "accessible") in self.variants
        ]
        found.sort(key=lambda e: self.variants.index(e.get("variant", "accessible")))
        return found[0] if found else None

    def linked(self, site, entries):
        from .epub import code_hash

        booklet = self._booklet(site, entries)
        return {
            "source": booklet["path"] if booklet else "",
            "source sha256": booklet["sha256"] if booklet else "",
            "livret epub code": code_hash(),
        }

    def write(self, site, output, out_dir, entries):
        from .epub import build_epub

        booklet = self._booklet(site, entries)
        if booklet is None:  # never: a build of the EPUB plans the booklet
            raise LivretError(Problem("epub", None, None, _("the EPUB needs the booklet")))
        made = build_epub(site, out_dir / booklet["path"], out_dir / output.filename)
        return Made(made.pages, made.bytes, made.sha256)


class WebEdition(WholeEdition):
    """The edition as a static web site, output/web/ (livret/building/web/): written after the PDFs,
    whose sizes its download links give."""

    name, template, only = "web", "web/base.html", "web"
    default = True
    pdf = False
    preview_rank = 3

    def path(self, edition):
        from .web import home_path

        return home_path(edition)

    def design(self, name):
        return name.startswith(("layouts/web/", "styles/web/", "styles/fonts/"))

    def intact(self, target, entry):
        from .web import intact

        return intact(target, entry)

    def linked(self, site, entries):
        from .web import linked

        return linked(site, entries)

    def write(self, site, output, out_dir, entries):
        from .web import write

        return write(site, output, out_dir, entries)

    def preview_link(self, output):
        return output.filename.removeprefix("web/").removesuffix("index.html")

    def served(self, out_dir, path):
        from .web import served

        return served(out_dir, path)


# In this order in the manifest; rendered in this order too, the biggest first, so that the
# booklet does not start last and finish alone.
KINDS: dict[str, Kind] = {
    k.name: k for k in (Booklet(), ThemeExcerpt(), ActionSheet(), EpubEdition(), WebEdition())
}
IMPOSITION = "imposition"  # the manifest's kind of an imposed PDF (livret/finishing/impose.py)
RANK = {name: i for i, name in enumerate((*KINDS, IMPOSITION))}
# The order the preview builds in (the edited card's sheet first).
PREVIEW_ORDER = {k.name: k.preview_rank for k in KINDS.values()}


def _slug(value: str | None) -> str:
    assert value is not None, "an output of this kind always has this slug"
    return value


Wanted = bool | Collection[str] | None


def plan(site: Site, **wanted: Wanted) -> list[Output]:
    """The outputs asked for, in a stable order; unknown slugs → one error listing valid ones.

    One keyword per kind (its `only`: booklet=, themes=, actions=…): True for all of its
    outputs, a list of slugs, or False; a kind not named is built when it is `planned`."""
    unknown = set(wanted) - {k.only for k in KINDS.values()}
    if unknown:
        raise TypeError(f"plan(): no kind is selected by {', '.join(sorted(unknown))}")
    wanted = dict(wanted)
    for kind in KINDS.values():  # a kind made from another plans that one too
        if kind.needs and wanted.get(kind.only, kind.planned) and not wanted.get(kind.needs):
            wanted[kind.needs] = True
    bad, out = [], []
    for kind in KINDS.values():
        valid = kind.slugs(site)
        asked = wanted.get(kind.only, kind.planned)
        named: Collection[str] = valid if asked is True else (asked or ())
        bad += [
            Problem(kind.option or "--only", None, None, kind.unknown(s, valid))
            for s in named
            if s not in valid
        ]
        out += [kind.output(site, s) for s in valid if s in named]
    if bad:
        raise LivretError(bad)
    return out


def shared_inputs(site: Site) -> dict[str, Path]:
    """Layouts, stylesheets and fonts (the project's own or livret's): inputs of every
    output, by the name they are looked up with."""
    return design.for_content(site.root).files()


def kind_of(name: str) -> Kind:
    """The kind of a manifest entry; an imposed PDF is checked as a PDF."""
    return KINDS.get(name) or KINDS["booklet"]


def content_inputs(site: Site, output: Output) -> list[Path]:
    """The content files an output is made from."""
    return site.with_images(KINDS[output.kind].inputs(site, output))


# Every distribution whose version can change the bytes of a PDF: what makes the HTML
# (Markdown, Jinja2, PyYAML), WeasyPrint and what it prints with (tinyhtml5 parses the HTML,
# tinycss2/cssselect2 the CSS, Pyphen hyphenates, fontTools subsets the fonts, Pillow decodes
# images, pydyf writes the PDF), and pikepdf, which re-saves every PDF (tags, line ends, the
# press file) with the qpdf it bundles, and lxml, which writes the press file's XMP. Each is
# locked in constraints.txt (scripts/lock.sh). System libraries (Pango, HarfBuzz) are not
# covered.
SHAPING = (
    "weasyprint",
    "pydyf",
    "tinyhtml5",
    "tinycss2",
    "cssselect2",
    "pyphen",
    "fonttools",
    "pillow",
    "pikepdf",
    "lxml",
    "markdown",
    "jinja2",
    "pyyaml",
    "segno",  # the back cover's QR code (livret/rendering/qr.py)
)
PACKAGE = Path(__file__).resolve().parent.parent  # livret's own code


def _dist_key(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def installed_versions(names: tuple[str, ...] = SHAPING) -> dict[str, str]:
    """{name: version} of installed distributions, from the names of the *.dist-info
    folders on sys.path: one directory listing each, where importlib.metadata reads every
    distribution's metadata, on the path of every no-change build (benchmarks/README.md)."""
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
# scaffolding a new edition. Named by folder or file, wherever it sits in the package.
NOT_PDF_CODE = frozenset(
    {
        "mail",
        "preview",
        "conformance",
        "htmlexport.py",
        "scaffold.py",
        "equivalence.py",
        "__pycache__",
    }
) | {k.name for k in KINDS.values() if not k.pdf}  # the kinds written by their own module


@lru_cache(maxsize=4)
def code_hash(package: Path = PACKAGE, part: str | None = None) -> str:
    """sha256 of livret's own Python code that makes PDFs (not the mail code): a change to
    it (a typography rule, a render step) makes every PDF out of date. With `part` (a folder
    or file name: "web"), the code of that part alone, wherever it sits in the package."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if part not in rel.parts if part else NOT_PDF_CODE.intersection(rel.parts):
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
        kind = KINDS[output.kind]
        out.update((name, h) for name, h in self._shared.items() if kind.design(name))
        out.update(self.versions)
        if not kind.pdf:  # its own code, which the PDFs' "livret code" leaves out
            out[f"livret {kind.name} code"] = code_hash(PACKAGE, kind.name)
        return out

    def _rel(self, path: Path) -> str:
        """A content file's name relative to the project folder ("content/edition.yaml")."""
        path = path.resolve()
        try:
            return path.relative_to(self._project).as_posix()
        except ValueError:
            return path.as_posix()
