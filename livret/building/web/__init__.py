"""The web edition (`--only web`): the edition as a static site in output/web/.

    web/index.html                the home: the edition's own when it is the only one,
                                  else the list of editions
    web/catalogue/index.html      every card of every edition, filterable, searchable
    web/catalogue/recherche.json  the search index, built here (no server, no binary)
    web/NN/index.html             edition NN's home: cover facts, introduction, contents
    web/NN/<theme>/index.html     a theme: key notions, initiatives, quotes
    web/NN/actions/<card>/index.html
    web/NN/remerciements/index.html
    web/NN/telechargements/…      the PDFs (and EPUB) of the manifest, copied
    web/NN/edition.json           this edition's files and cards (the catalogue reads them)
    web/assets/…                  style sheet, script, Lato as WOFF2 subsets

Made from the same model (livret/reading/model.py) and the same Markdown and typography filters
(livret/reading/markup.py, through render.environment) as the PDFs. A file is written only when its
bytes change, so a card edit rewrites only the pages it changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...reading.model import Site
from ..outputs import Made, Output
from ..writer import write_atomic

# pages.py (Jinja2, Markdown, the QR code…) is imported by what writes pages: a build with
# nothing to do only reads the listing and the manifest (benchmarks/README.md).

ROOT = "web"
LISTING = "edition.json"
FORMATS = {".pdf": "PDF", ".epub": "EPUB"}  # what the pages offer for download


def edition_dir(number: int) -> str:
    return f"{number:02d}"


def home_path(edition) -> str:
    """The web output's manifest path: its edition's home page."""
    return f"{ROOT}/{edition_dir(edition.number)}/index.html"


def _listing(target: Path) -> dict | None:
    try:
        data = json.loads((target.parent / LISTING).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None


def intact(target: Path, entry: dict) -> bool:
    """Every file the edition's listing names is there, with its size."""
    listing = _listing(target)
    if listing is None:
        return False
    web = target.parent.parent
    for rel, (size, _sha) in listing["files"].items():
        path = web / rel
        if not path.is_file() or path.stat().st_size != size:
            return False
    return all((web / rel).is_file() for rel in listing.get("shared", ()))


def downloads(site: Site, entries: list[dict]) -> list[dict]:
    """The manifest's entries of this edition the pages offer: accessible PDFs and the EPUB."""
    out = []
    for e in entries:
        path = str(e.get("path", ""))
        if (
            e.get("edition") == site.edition.slug
            and "/" not in path
            and Path(path).suffix in FORMATS
            and e.get("variant", "accessible") == "accessible"
            and e.get("kind") in ("booklet", "theme", "action", "epub")
        ):
            out.append(e)
    return out


def linked(site: Site, entries: list[dict]) -> dict[str, str]:
    """What the pages link to, beside the content: the downloads, by sha256."""
    return {f"download {e['path']}": str(e.get("sha256")) for e in downloads(site, entries)}


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomic(path, data, durable=False)
    return True


def write(site: Site, output: Output, out_dir: Path, entries: list[dict]) -> Made:
    from . import pages

    web = out_dir / ROOT
    files = pages.edition_files(site, entries, out_dir)
    home = web / output.filename.removeprefix(f"{ROOT}/")
    before = _listing(home) or {"files": {}}
    listing: dict[str, list] = {}
    for rel, data in files.items():
        _write_if_changed(web / rel, data)
        listing[rel] = [len(data), hashlib.sha256(data).hexdigest()]
    for rel in before["files"]:  # pages of cards or themes that are gone
        if rel not in listing and rel.startswith(f"{edition_dir(site.edition.number)}/"):
            (web / rel).unlink(missing_ok=True)
    shared = pages.shared_files(site, web, out_dir, entries)
    data_file = {
        "number": site.edition.number,
        "shared": sorted(shared),
        "cards": pages.catalogue_cards(site),
        "home": pages.edition_home(site),
        "files": listing,
    }
    encoded = (json.dumps(data_file, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    _write_if_changed(home.parent / LISTING, encoded)
    # What every edition shares: the home, the catalogue, the assets (again: the home and the
    # catalogue list this edition once its listing is written).
    for rel, data in pages.shared_files(site, web, out_dir, entries).items():
        _write_if_changed(web / rel, data)
    digest = hashlib.sha256(encoded).hexdigest()
    html_pages = sum(1 for rel in listing if rel.endswith(".html"))
    return Made(html_pages, sum(size for size, _ in listing.values()), digest)


TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".epub": "application/epub+zip",
}


def served(out_dir: Path, url_path: str) -> tuple[Path, str] | None:
    """The file of the web edition at `url_path` (relative to web/; a folder means its
    index.html) and its media type, when a build listed it; None otherwise. No path from the
    URL is ever joined to a folder unchecked: only the listings' names are."""
    rel = url_path if url_path and not url_path.endswith("/") else url_path + "index.html"
    web = out_dir / ROOT
    for listing in sorted(web.glob(f"*/{LISTING}")):
        data = _listing(listing.parent / "index.html")
        if data and (rel in data["files"] or rel in data.get("shared", ())):
            path = web / rel
            if path.is_file() and Path(rel).suffix in TYPES:
                return path, TYPES[Path(rel).suffix]
    return None
