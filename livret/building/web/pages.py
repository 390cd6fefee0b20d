"""The web edition's pages: one Jinja2 layout per page type (layouts/web/), filled from the
content model with the PDFs' own Markdown and typography filters."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

from jinja2 import TemplateError

from ...reading import markup
from ...reading.model import SIDEBAR_SUBFIELDS, Action, Contact, Site, Theme
from ...rendering.design import for_content
from ...rendering.render import date_fr, environment, layout_error
from . import FORMATS, assets, downloads

THANKS = "remerciements"
DOWNLOADS = "telechargements"
CATALOGUE = "catalogue"
SEARCH_INDEX = f"{CATALOGUE}/recherche.json"
# An <img> whose src is relative to the content folder (not a URL, not data:).
_IMG_SRC = re.compile(r'(<img\b[^>]*?\ssrc=")(?![A-Za-z][A-Za-z0-9+.-]*:|/|#)')


def edition_dir(number: int) -> str:
    return f"{number:02d}"


def size_fr(n: int) -> str:
    """118 ko, 1,2 Mo: as the download links say it (the pages are in French)."""
    value, unit = n / 1000, "ko"
    if value >= 1000:
        value, unit = value / 1000, "Mo"
    digits = 1 if unit == "Mo" and value < 10 else 0
    text = f"{value:.{digits}f}".replace(".", ",")
    return f"{text}\u00a0{unit}"


@dataclass
class Download:
    label: str  # « Télécharger la fiche »
    path: str  # under web/: 01/telechargements/x.pdf
    format: str  # PDF, EPUB
    size: str  # 118 ko
    mime: str


@dataclass
class Page:
    path: str  # under web/: "01/actions/adie/index.html"
    template: str
    title: str  # for <title>, plain text
    crumbs: list[tuple[str, str]]  # (label, path) from the home to the parent
    context: dict = field(default_factory=dict)
    downloads: list[Download] = field(default_factory=list)
    colour: str | None = None
    prev: tuple[str, str] | None = None  # (label, path)
    next: tuple[str, str] | None = None


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def card_text(action: Action) -> str:
    """Everything a card says, as plain text: what the search looks in."""
    parts = [action.title, action.organisation]
    for _key, _label, value in action.sidebar():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, tuple):
            parts += [str(v) for v in value]
        elif isinstance(value, Contact):
            parts += [value.name, *value.emails, *value.phones]
    parts += [_plain(markup.html_of(s.markdown)) for s in action.sections]
    return " ".join(parts)


def card_path(site: Site, action: Action) -> str:
    return f"{edition_dir(site.edition.number)}/actions/{action.slug}/index.html"


def theme_path(site: Site, theme: Theme) -> str:
    return f"{edition_dir(site.edition.number)}/{theme.slug}/index.html"


def catalogue_cards(site: Site) -> list[dict]:
    ed = site.edition
    return [
        {
            "edition": ed.number,
            "edition_label": ed.full_title,
            "path": card_path(site, a),
            "title": a.title,
            "organisation": a.organisation,
            "theme": t.slug,
            "theme_title": t.title,
            "place": a.place or "",
            "publics": list(a.publics_direct + a.publics_indirect),
            "text": card_text(a),
        }
        for t in site.themes
        for a in t.actions
    ]


def edition_home(site: Site) -> dict:
    ed = site.edition
    return {
        "number": ed.number,
        "label": ed.full_title,
        "title": ed.title,
        "subtitle": ed.subtitle,
        "date": date_fr(ed.date),
        "path": f"{edition_dir(ed.number)}/index.html",
        "themes": [t.title for t in site.themes],
        "cards": len(site.actions),
    }


# --- links -------------------------------------------------------------------------------


def href(source: str, target: str, address: str | None = None) -> str:
    """The link from page `source` to file `target` (both under web/): relative, a folder's
    index as the folder ("../adie/"); absolute under the web edition's address if it has one
    (downloads)."""
    if address:
        return urljoin(address, _folder(target))
    rel = posixpath.relpath(target, posixpath.dirname(source) or ".")
    return _folder(rel)


def _folder(path: str) -> str:
    if path == "index.html":
        return "./"
    return path[: -len("index.html")] if path.endswith("/index.html") else path


# --- the pages ---------------------------------------------------------------------------


class Builder:
    def __init__(self, site: Site, entries: list[dict]):
        self.site = site
        self.ed = site.edition
        self.dir = edition_dir(self.ed.number)
        self.address = self.ed.web_address
        self.entries = downloads(site, entries)
        self.env = environment(for_content(site.root).layouts)

    # downloads
    def _download(self, label: str, entry: dict) -> Download:
        name = str(entry["path"])
        suffix = Path(name).suffix
        mime = "application/pdf" if suffix == ".pdf" else "application/epub+zip"
        return Download(
            label,
            f"{self.dir}/{DOWNLOADS}/{name}",
            FORMATS[suffix],
            size_fr(int(entry.get("bytes") or 0)),
            mime,
        )

    def _find(self, kind: str, **match) -> dict | None:
        for e in self.entries:
            if e.get("kind") == kind and all(e.get(k) == v for k, v in match.items()):
                return e
        return None

    def offers(self, theme: Theme | None = None, action: Action | None = None) -> list[Download]:
        out = []
        if action and (e := self._find("action", action=action.slug)):
            out.append(self._download("Télécharger la fiche", e))
        if theme and (e := self._find("theme", theme=theme.slug)):
            out.append(self._download(f"Télécharger l’extrait « {theme.title} »", e))
        if e := self._find("booklet"):
            out.append(self._download("Télécharger le livret complet", e))
        epub = next((e for e in self.entries if e["path"] == f"{self.ed.slug}.epub"), None)
        if epub:
            out.append(self._download("Télécharger le livret au format EPUB", epub))
        return out

    # the pages, in reading order
    def pages(self) -> list[Page]:
        ed, site = self.ed, self.site
        home = f"{self.dir}/index.html"
        crumbs = [("Accueil", "index.html")]
        edition_crumb = (ed.full_title, home)
        out = [
            Page(
                home,
                "web/home.html",
                f"{ed.full_title} — {ed.title}",
                crumbs,
                downloads=self.offers(),
            )
        ]
        for theme in site.themes:
            out.append(
                Page(
                    theme_path(site, theme),
                    "web/theme.html",
                    f"{theme.title} — {ed.full_title}",
                    [*crumbs, edition_crumb],
                    {"theme": theme},
                    self.offers(theme),
                    theme.colour,
                )
            )
            for action in theme.actions:
                out.append(
                    Page(
                        card_path(site, action),
                        "web/card.html",
                        f"{action.title}, {action.organisation} — {ed.full_title}",
                        [*crumbs, edition_crumb, (theme.title, theme_path(site, theme))],
                        {"theme": theme, "action": action},
                        self.offers(theme, action),
                        theme.colour,
                    )
                )
        out.append(
            Page(
                f"{self.dir}/{THANKS}/index.html",
                "web/thanks.html",
                f"{site.thanks.title} — {ed.full_title}",
                [*crumbs, edition_crumb],
                downloads=self.offers(),
            )
        )
        for before, after in zip(out, out[1:], strict=False):
            before.next = (self.label(after), after.path)
            after.prev = (self.label(before), before.path)
        return out

    def label(self, page: Page) -> str:
        if "action" in page.context:
            a = page.context["action"]
            return f"{a.title}, {a.organisation}"
        if "theme" in page.context:
            return page.context["theme"].title
        if page.template == "web/home.html":
            return f"Accueil de l’édition {self.ed.number_label}"
        return self.site.thanks.title

    def render(self, page: Page, **extra) -> bytes:
        source = page.path

        def url(target: str) -> str:
            return href(source, target)

        def download_url(target: str) -> str:
            return href(source, target, self.address)

        try:
            html = self.env.get_template(page.template).render(
                site=self.site,
                edition=self.ed,
                page=page,
                url=url,
                download_url=download_url,
                subfields=SIDEBAR_SUBFIELDS,
                edition_dir=self.dir,
                plain=markup.plain_text,
                canonical=urljoin(self.address, _folder(page.path)) if self.address else None,
                **page.context,
                **extra,
            )
        except TemplateError as exc:
            raise layout_error(exc, page.template) from None
        # Pictures are written relative to the content folder ("images/x.png"): their copies
        # are under NN/, where the page's links must find them.
        prefix = posixpath.relpath(self.dir, posixpath.dirname(source) or ".") + "/"
        html = _IMG_SRC.sub(lambda m: m[1] + prefix, html)
        return html.encode("utf-8")

    def pictures(self) -> dict[str, bytes]:
        """The content's pictures (and logos) the pages show, under NN/."""
        root = Path(self.site.root).resolve()
        found = {p for paths in self.site.images.values() for p in paths}
        found |= {(root / logo.file).resolve() for logo in self.ed.logos}
        out = {}
        for path in sorted(found):
            if path.is_relative_to(root) and path.is_file():
                out[f"{self.dir}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
        return out


def edition_files(site: Site, entries: list[dict], out_dir: Path) -> dict[str, bytes]:
    """This edition's files under web/: its pages and its downloads."""
    b = Builder(site, entries)
    files = {p.path: b.render(p) for p in b.pages()}
    files.update(b.pictures())
    for e in b.entries:
        files[f"{b.dir}/{DOWNLOADS}/{e['path']}"] = (out_dir / str(e["path"])).read_bytes()
    return files


def _editions(web: Path) -> list[dict]:
    """Every edition written under web/, by number: what its listing says."""
    out = []
    for listing in sorted(web.glob(f"*/{'edition.json'}")):
        try:
            data = json.loads(listing.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("home"), dict):
            out.append(data)
    return sorted(out, key=lambda d: d.get("number", 0))


def shared_files(site: Site, web: Path, out_dir: Path, entries: list[dict]) -> dict[str, bytes]:
    """What every edition shares: the home, the catalogue and its index, the assets."""
    editions = _editions(web)
    b = Builder(site, [])
    files: dict[str, bytes] = {}
    cards = [c for ed in editions for c in ed.get("cards", [])]
    if len(editions) == 1 and editions[0]["number"] == site.edition.number:
        # One edition: the site's home is the edition's home.
        with_entries = Builder(site, entries)
        home = with_entries.pages()[0]
        home.path, home.crumbs, home.prev = "index.html", [], None
        files["index.html"] = with_entries.render(home, is_root=True)
    else:
        page = Page("index.html", "web/editions.html", "Les éditions", [])
        files["index.html"] = b.render(page, editions=[e["home"] for e in editions])
    page = Page(f"{CATALOGUE}/index.html", "web/catalogue.html", "Catalogue des fiches", [])
    page.crumbs = [("Accueil", "index.html")]
    files[page.path] = b.render(page, cards=cards, filters=_filters(cards))
    index = [
        {"path": c["path"], "text": c["text"], "title": c["title"], "org": c["organisation"]}
        for c in cards
    ]
    files[SEARCH_INDEX] = (json.dumps(index, ensure_ascii=False, sort_keys=True) + "\n").encode()
    files.update(assets.files(site, out_dir))
    return files


def _filters(cards: list[dict]) -> dict[str, list[tuple[str, str]]]:
    themes = {c["theme"]: c["theme_title"] for c in cards}
    places = sorted({c["place"] for c in cards if c["place"]})
    publics = sorted({p for c in cards for p in c["publics"]})
    return {
        "theme": sorted(themes.items(), key=lambda kv: kv[1]),
        "place": [(p, p) for p in places],
        "public": [(p, p) for p in publics],
    }
