"""The typed model of an edition: what every later stage (render, build, mail) works from.

Plain frozen dataclasses rather than pydantic: validation needs the file and line of every
field and must collect all problems (see loader.py), which pydantic's first-error, no-line
model does not give; and the stdlib keeps the no-change rebuild fast to start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CardField:
    """One field of a card's front matter, declared once (MkDocs' typed config options are
    the model): the loader validates it (loader.ACTION_SPEC), the layouts print it in the grey
    column in this order, `new-action` writes it into a new card (scaffold.action_template)
    and the guide's table of fields is this declaration (docs/content.md; a test compares)."""

    key: str
    kind: str  # how it is validated: "text", "list", "slug", "contact" or "labels"
    required: bool = False
    label: str | None = None  # printed label in the grey column (None: printed elsewhere)
    sub: bool = False  # printed as a sub-item (« - dont … ») of the field above
    where: str = ""  # the guide's « intitulé imprimé » of a field printed elsewhere
    guide: str = ""  # the guide's « contenu »: what to write
    # What a new card holds, with « À COMPLÉTER »: a text, a list of texts, or a mapping
    # (contact); None: not written in a new card.
    template: str | list | dict | None = None


TODO = "À COMPLÉTER"
CARD_FIELDS: tuple[CardField, ...] = (
    CardField(
        "title",
        "text",
        True,
        where="(titre de la fiche)",
        guide="obligatoire, un texte",
        template=f"{TODO} : titre de l'action",
    ),
    CardField(
        "organisation",
        "text",
        True,
        where="(sous le titre)",
        guide="obligatoire, un texte",
        template=f"{TODO} : structure qui porte l'action",
    ),
    CardField(
        "theme",
        "slug",
        True,
        where="Thématique (titre du thème)",
        guide="obligatoire, le slug d'un thème",
        template="",  # the theme given to new-action
    ),
    CardField("place", "text", label="Lieu", guide="un texte", template=f"{TODO} : lieu"),
    CardField(
        "date",
        "text",
        label="Date",
        guide="un texte (`Depuis mai 2023`)",
        template=f"{TODO} : depuis quand",
    ),
    CardField("pilot", "list", label="Pilote", guide="une liste", template=[f"{TODO} : pilote"]),
    CardField(
        "contact",
        "contact",
        label="Contact",
        guide="`name:` (un texte), `emails:` (liste d'adresses), `phones:` (liste)",
        template={"name": f"{TODO} : Prénom NOM", "emails": []},
    ),
    CardField(
        "partners",
        "list",
        label="Partenaires",
        guide="une liste",
        template=[f"{TODO} : partenaire"],
    ),
    CardField(
        "publics_direct",
        "list",
        label="Publics directs",
        guide="une liste",
        template=[f"{TODO} : publics"],
    ),
    CardField("publics_indirect", "list", label="autres indirects", sub=True, guide="une liste"),
    CardField("notes", "list", label="à noter", sub=True, guide="une liste"),
    CardField(
        "cost_total",
        "list",
        label="Coût total du projet",
        guide="une liste",
        template=[f"{TODO} : coût total"],
    ),
    CardField("cost_human", "list", label="dont moyens humains", sub=True, guide="une liste"),
    CardField("cost_cofunders", "list", label="dont cofinanceurs", sub=True, guide="une liste"),
    CardField(
        "cost_self_funding", "list", label="dont autofinancement", sub=True, guide="une liste"
    ),
    CardField("labels", "labels", where="—", guide="remplace l'intitulé imprimé d'un champ"),
)

# Printed label of each sidebar field, in printed order; a card may override any of them
# (`labels:` in its front matter) without a special case in the code.
SIDEBAR_FIELDS: dict[str, str] = {f.key: f.label for f in CARD_FIELDS if f.label is not None}
# Fields printed as a sub-item ("- dont …") of the one before them.
SIDEBAR_SUBFIELDS = {f.key for f in CARD_FIELDS if f.sub}


@dataclass(frozen=True)
class CardSection:
    """A « ## » section of a card, declared once: `check` knows its level, `new-action`
    writes it (when it has a template text), the guide lists it."""

    title: str
    template: str | None = None  # a new card's text for it, after « À COMPLÉTER : »
    guide: bool = True  # listed in the guide (not a variant spelling)


CARD_SECTIONS: tuple[CardSection, ...] = (
    CardSection("Contexte", "le contexte de l'action."),
    CardSection("Enjeux", "les enjeux."),
    CardSection("Objectifs opérationnels", "les objectifs."),
    CardSection("Nature des actions conduites"),
    CardSection("Description des actions", "ce qui est fait."),
    CardSection("Indicateurs de résultat et objectifs cibles", "les résultats."),
    CardSection("Documentation produite"),
    CardSection("Documentations produites", guide=False),
    CardSection("Bilan"),
)


def guide_field_table() -> str:
    """The guide's table of a card's fields (docs/content.md), as this declaration says."""
    rows = ["| champ | intitulé imprimé | contenu |", "| --- | --- | --- |"]
    for f in CARD_FIELDS:
        printed = f.where or (f"- {f.label}" if f.sub else f.label)
        rows.append(f"| `{f.key}` | {printed} | {f.guide} |")
    return "\n".join(rows)


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
    web_address: str | None = None  # where output/web/ is published (optional)
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
