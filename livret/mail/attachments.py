"""Stage 3 — what each recipient gets: the edition, the PDFs listed in `output/manifest.json`
(see docs/manifest.md), and the campaign id that the journal keys deliveries on."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..building.outputs import KINDS
from ..errors import Collector, LivretError, Problem, display_path
from ..i18n import _
from ..reading.loader import load_edition
from ..reading.model import Edition as EditionModel
from .recipients import BOOKLET


@dataclass(frozen=True)
class Edition:
    """The validated edition (livret.reading.model.Edition, read by the same loader as the build),
    seen from the mail: what a recipient may ask for, and the fields templates may use."""

    model: EditionModel

    def __getattr__(self, name):  # slug, publisher, contact_email, language…
        return getattr(self.model, name)

    @property
    def slugs(self) -> tuple[str, ...]:
        """What a recipient may ask for, in the order attachments appear."""
        return (BOOKLET, *self.model.theme_slugs)

    def context(self) -> dict:
        ed = self.model
        return {
            "slug": ed.slug,
            "series": ed.series,
            "number": ed.number,
            "number_label": ed.number_label,
            "full_title": ed.full_title,
            "title": ed.title,
            "publisher": ed.publisher,
            "publisher_org": ed.publisher_org,
            "contact_email": ed.contact_email,
            "language": ed.language,
        }


def read_edition(content_dir: Path) -> Edition:
    """Only edition.yaml, checked field by field, before any build: the recipient list is
    validated against the real theme slugs even when the rest of the content is broken."""
    problems = Collector()
    edition = load_edition(Path(content_dir), problems)
    problems.raise_if_errors()
    assert edition is not None  # no error: an edition
    return Edition(edition)


@dataclass(frozen=True)
class Attachment:
    slug: str  # "booklet" or a theme slug
    path: Path  # the PDF on disk
    filename: str  # the name the recipient sees: readable, accents allowed
    title: str
    pages: int
    size: int  # bytes of the PDF
    sha256: str
    # What the PDF was built from, as manifest.json lists it ("content/edition.yaml", …):
    # a real send checks these files for text still to write.
    inputs: tuple[str, ...] = ()


def _of_edition(entry: dict, manifest: dict, edition: str | None, number: int | None) -> bool:
    """Whether a manifest entry is a PDF of this edition: editions share `output/`, and the
    booklet of #02 must never go out under the subject of #01. An entry names its edition
    (`edition`, `number`); one of an older manifest without them takes the manifest's."""
    if edition is None:
        return True
    if entry.get("edition", manifest.get("edition")) != edition:
        return False
    found = entry.get("number", manifest.get("number"))
    return number is None or found is None or found == number


def attachments_from_manifest(
    manifest: dict,
    output_dir: Path,
    slugs: Iterable[str],
    edition: str | None = None,
    number: int | None = None,
) -> dict[str, Attachment]:
    """slug → Attachment for every slug asked for; each must be listed and present, and be a
    PDF of `edition` (its slug; and `number`), whatever other editions `output/` holds."""
    where = display_path(Path(output_dir) / "manifest.json")
    by_slug: dict[str, dict] = {}
    entries = manifest.get("outputs", []) if isinstance(manifest, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not _of_edition(entry, manifest, edition, number):
            continue
        if entry.get("variant", "accessible") != "accessible":
            continue  # the print and archive variants are not for e-mail
        kind = KINDS.get(str(entry.get("kind")))  # the registry says what mail may attach
        slug = kind.mail_slug(entry) if kind else None
        if slug:
            by_slug[slug] = entry
    problems: list[Problem] = []
    out: dict[str, Attachment] = {}
    for slug in slugs:
        entry = by_slug.get(slug)
        if entry is None:
            problems.append(
                Problem(
                    where,
                    None,
                    slug,
                    _("no PDF of edition {edition} after the build").format(edition=edition or "?"),
                )
            )
            continue
        try:
            path = Path(output_dir) / entry["path"]
            title = str(entry.get("title") or "").strip()
            att = Attachment(
                slug=slug,
                path=path,
                filename=readable_filename(title, Path(entry["path"]).name),
                title=title or Path(entry["path"]).stem,
                pages=int(entry.get("pages") or 0),
                size=int(entry["bytes"]),
                sha256=str(entry["sha256"]).lower(),
                inputs=tuple(str(k) for k in (entry.get("inputs") or {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(
                Problem(
                    where,
                    None,
                    slug,
                    _("manifest entry is incomplete ({error}); run the build again").format(
                        error=exc
                    ),
                )
            )
            continue
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(
                Problem(
                    display_path(path),
                    None,
                    None,
                    _("listed in manifest.json but missing; run the build again"),
                )
            )
            continue
        if size != att.size:
            problems.append(
                Problem(
                    display_path(path),
                    None,
                    None,
                    _(
                        "{size} bytes on disk but {listed} in manifest.json: the file changed "
                        "after the build; run the build again"
                    ).format(size=size, listed=att.size),
                )
            )
            continue
        out[slug] = att
    if problems:
        raise LivretError(problems)
    return out


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def readable_filename(title: str, fallback: str, limit: int = 120) -> str:
    """The PDF's title as a file name that every system accepts: "Retour d'expérience #01 —
    Mobilités.pdf". Characters Windows or macOS refuse become spaces."""
    name = " ".join(_UNSAFE.sub(" ", unicodedata.normalize("NFC", title)).split()).strip(". ")
    if not name:
        return fallback
    if len(name) > limit:
        name = name[:limit].rsplit(" ", 1)[0].rstrip(" —-,;")
    return f"{name}.pdf"


def campaign_id(edition_slug: str, label: str, attachments: Sequence[Attachment]) -> str:
    """Same edition, same label, same PDF bytes → same campaign, so a re-run resumes.

    It is per attachment set rather than per run: adding someone who asks for another theme
    must not make everyone else's delivery look new, while a rebuilt PDF (new bytes) does
    make a new campaign for the people who get it.
    """
    h = hashlib.sha256(b"livret-mail/1\0")
    h.update(f"{edition_slug}\0{label}\0".encode())
    for att in sorted(attachments, key=lambda a: a.slug):
        h.update(f"{att.slug}={att.sha256}\0".encode())
    return h.hexdigest()[:16]


def message_id(campaign: str, recipient_key: str, domain: str) -> str:
    """Deterministic, so a resent message (after an unknown outcome) carries the same id and
    mail clients can show it once; and the journal can be matched with server logs."""
    who = hashlib.sha256(recipient_key.encode()).hexdigest()[:16]
    return f"<livret.{campaign}.{who}@{domain}>"
