"""The typed model of an edition: what every later stage (render, build, mail) works from.

Plain frozen dataclasses rather than pydantic: validation needs the file and line of every
field and must collect all problems (see loader.py), which pydantic's first-error, no-line
model does not give; and the stdlib keeps the no-change rebuild fast to start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

# Printed label of each sidebar field, in printed order; a card may override any of them
# (`labels:` in its front matter) without a special case in the code.
SIDEBAR_FIELDS: dict[str, str] = {
    "place": "Lieu",
    "date": "Date",
    "pilot": "Pilote",
    "contact": "Contact",
    "partners": "Partenaires",
    "publics_direct": "Publics directs",
    "publics_indirect": "autres indirects",
    "notes": "à noter",
    "cost_total": "Coût total du projet",
    "cost_human": "dont moyens humains",
    "cost_cofunders": "dont cofinanceurs",
    "cost_self_funding": "dont autofinancement",
}
# Fields printed as a sub-item ("- dont …") of the one before them.
SIDEBAR_SUBFIELDS = {
    "publics_indirect",
    "notes",
    "cost_human",
    "cost_cofunders",
    "cost_self_funding",
}


@dataclass(frozen=True)
class Contact:
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    slug: str
    markdown: str


@dataclass(frozen=True)
class Action:
    slug: str
    path: Path
    title: str
    organisation: str
    theme: str
    place: str | None
    date: str | None
    pilot: tuple[str, ...]
    contact: Contact | None
    partners: tuple[str, ...]
    publics_direct: tuple[str, ...]
    publics_indirect: tuple[str, ...]
    cost_total: tuple[str, ...]
    cost_human: tuple[str, ...]
    cost_cofunders: tuple[str, ...]
    cost_self_funding: tuple[str, ...]
    notes: tuple[str, ...]
    labels: dict[str, str]
    sections: tuple[Section, ...]
    shown: frozenset[str] = frozenset()  # sidebar fields written in the file, even if empty

    def label(self, key: str) -> str:
        return self.labels.get(key, SIDEBAR_FIELDS[key])

    def sidebar(self) -> list[tuple[str, str, object]]:
        """(field, printed label, value) for every sidebar field that has a value."""
        out = []
        for key in SIDEBAR_FIELDS:
            value = getattr(self, key)
            if value or key in self.shown:
                out.append((key, self.label(key), value))
        return out


@dataclass(frozen=True)
class Initiative:
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Theme:
    slug: str
    path: Path
    title: str
    colour: str
    action_slugs: tuple[str, ...]
    notions: tuple[str, ...]
    initiatives: tuple[Initiative, ...]
    callouts: tuple[str, ...]
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class BackCover:
    heading: str
    text: str
    join: str


@dataclass(frozen=True)
class Logo:
    """A logo of the cover and back cover: an image file inside the content folder."""

    file: str  # as written, relative to the content folder ("logos/club.png")
    alt: str  # what it shows, for screen readers and the tagged PDF


@dataclass(frozen=True)
class Edition:
    path: Path
    series: str
    number: int
    date: dt.date
    title: str
    subtitle: str
    tagline: str
    publisher: str
    publisher_org: str
    contact_email: str
    slug: str
    language: str
    keywords: tuple[str, ...]
    pdf_created: dt.datetime
    pdf_modified: dt.datetime
    theme_slugs: tuple[str, ...]
    back_cover: BackCover
    logos: tuple[Logo, ...] = ()  # publisher's and partners' logos (optional)
    # (acronym, what it stands for), spelled out at its first use in each card (optional)
    acronyms: tuple[tuple[str, str], ...] = ()

    @property
    def number_label(self) -> str:
        return f"#{self.number:02d}"

    @property
    def full_title(self) -> str:
        return f"{self.series} {self.number_label}"


@dataclass(frozen=True)
class Introduction:
    path: Path
    title: str
    markdown: str


@dataclass(frozen=True)
class Person:
    name: str
    role: str | None


@dataclass(frozen=True)
class ThanksGroup:
    title: str
    people: tuple[Person, ...]


@dataclass(frozen=True)
class Thanks:
    path: Path
    title: str
    groups: tuple[ThanksGroup, ...]


@dataclass(frozen=True)
class Site:
    """Everything read from one content folder, validated, cross-referenced."""

    root: Path  # the content folder
    edition: Edition
    introduction: Introduction
    themes: tuple[Theme, ...]
    thanks: Thanks
    files: tuple[Path, ...] = field(default=())  # every content file read
    warnings: tuple = field(default=())  # Problems that do not stop a build (« À COMPLÉTER »)
    # sha256 of the bytes each file had when it was read (resolved path → hex): the build
    # fingerprints what it rendered, not what is on the disk by then.
    digests: dict[Path, str] = field(default_factory=dict, compare=False)
    # content file → the image files its text shows (resolved paths)
    images: dict[Path, tuple[Path, ...]] = field(default_factory=dict, compare=False)

    def with_images(self, files) -> list[Path]:
        """`files` followed by the images they show, each once."""
        out = list(files)
        for path in files:
            out += [p for p in self.images.get(Path(path).resolve(), ()) if p not in out]
        return out

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for t in self.themes for a in t.actions)

    def theme(self, slug: str) -> Theme:
        return next(t for t in self.themes if t.slug == slug)

    def action(self, slug: str) -> Action:
        return next(a for a in self.actions if a.slug == slug)
