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
STYLESHEETS = (
    "fonts.css",
    "page.css",
    "typography.css",
    "cover.css",
    "contents.css",
    "opener.css",
    "card.css",
    "thanks.css",
)


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


def shared_inputs() -> list[Path]:
    """Layouts, stylesheets and fonts: inputs of every output (the mail templates are not)."""
    return sorted(
        p
        for d in (LAYOUTS, STYLES)
        for p in d.rglob("*")
        if p.is_file() and not p.name.startswith(".") and "mail" not in p.parts
    )


def content_inputs(site: Site, output: Output) -> list[Path]:
    """The content files an output is made from."""
    root = site.root
    if output.kind == "booklet":
        return site.with_images(site.files)
    if output.kind == "theme":
        theme = site.theme(output.theme)
        return site.with_images(
            [
                root / "edition.yaml",
                root / "introduction.md",
                root / "thanks.yaml",
                theme.path,
                *(a.path for a in theme.actions),
            ]
        )
    action = site.action(output.action)
    return site.with_images([root / "edition.yaml", site.theme(action.theme).path, action.path])


class Fingerprints:
    """sha256 of every input of each output, keyed by project-relative path, plus the tool
    versions. One per build: each file is listed, read and hashed once, however many outputs
    use it."""

    def __init__(self, site: Site, versions: dict[str, str]):
        self.site, self.versions = site, versions
        self._shared: list[Path] | None = None
        self._hashes: dict[Path, tuple[str, str]] = {}

    def _hash(self, path: Path) -> tuple[str, str]:
        if path not in self._hashes:
            # Content: the digest of the bytes the loader read and the build renders — a
            # save since then is a change for the next build, never "up to date".
            digest = self.site.digests.get(path.resolve())
            if digest is None:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            self._hashes[path] = (_rel(path), digest)
        return self._hashes[path]

    def recheck(self) -> set[str]:
        """Files the renderer reads from the disk itself (layouts, styles, fonts, images) whose
        bytes changed since they were hashed: the render may have used either version."""
        changed = set()
        texts = {p.resolve() for p in self.site.files}  # rendered from the bytes read
        for path, (rel, digest) in self._hashes.items():
            if path.resolve() in texts:
                continue
            try:
                now = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                now = None
            if now != digest:
                changed.add(rel)
        return changed

    def __call__(self, output: Output) -> dict[str, str]:
        if self._shared is None:
            self._shared = shared_inputs()
        out = dict(self._hash(p) for p in [*content_inputs(self.site, output), *self._shared])
        out.update(self.versions)
        return out


def _rel(path: Path) -> str:
    path = path.resolve()
    for base in (PROJECT, Path.cwd().resolve()):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()
