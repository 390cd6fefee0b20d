"""The EPUB 3 edition of the booklet: the same text as the PDF, reflowable, accessible.

Entry points: `page_map(pdf_bytes, part_ids)` (pagemap.py) reads where the printed booklet's
pages start from its tagged PDF; `write_epub(site, target, page_map)` writes the EPUB.
`build_epub(site, booklet_pdf, target)` does both. Made from the booklet's own HTML
(content.py), its layouts' `epub/` folder (package, navigation, part skeleton) and
`styles/epub/epub.css`, with the Lato files and their licence (OFL.txt) as they are (a subset
would be a Modified Version, which the OFL forbids to call Lato).

Reproducible: the same inputs give the same bytes (the zip's dates are the edition's, its
entries in a fixed order, `mimetype` first and stored, as EPUB wants).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ...reading.model import Site

if TYPE_CHECKING:
    from .content import Part
    from .pagemap import PageMap

# content.py and pagemap.py (and the modules they use) are imported by what makes an EPUB:
# a build with nothing to do only needs code_hash() (benchmarks/README.md).

__all__ = ["EpubResult", "build_epub", "design_files", "make_epub", "page_map", "write_epub"]

MIMETYPE = b"application/epub+zip"
ROOT = "EPUB"  # the publication's folder inside the container
# The faces epub.css uses, copied as they are, and their licence.
FONTS = ("Lato-Regular.ttf", "Lato-Italic.ttf", "Lato-Bold.ttf")
LICENCE = "OFL.txt"
LAYOUTS = ("epub/container.xml", "epub/package.xml", "epub/nav.html", "epub/part.html")
STYLESHEET = "epub/epub.css"
MEDIA_TYPES = {
    ".xhtml": "application/xhtml+xml",
    ".css": "text/css",
    ".ttf": "font/ttf",
    ".txt": "text/plain",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
# Where the booklet shows its pages in the EPUB when a part is not a document of its own.
NAV = "nav.xhtml"


@dataclass(frozen=True)
class EpubResult:
    path: Path
    bytes: int
    sha256: str
    pages: int  # pages of the print edition the page list maps


@dataclass(frozen=True)
class _Item:
    id: str
    href: str  # relative to the package document
    media_type: str
    properties: str = ""


def design_files(site: Site) -> dict[str, Path]:
    """The EPUB's own design files (by the name they are looked up with): its inputs besides
    the booklet's."""
    from ...rendering.design import for_content

    design = for_content(site.root)
    out = {}
    for name in LAYOUTS:
        out[f"layouts/{name}"] = _layout(design, name)
    for name in (STYLESHEET, *(f"fonts/{f}" for f in (*FONTS, LICENCE))):
        out[f"styles/{name}"] = design.stylesheet(name)
    return out


def _layout(design, name: str) -> Path:
    for folder in design.layouts:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(2, "layout not found", f"layouts/{name}")


def part_ids(site: Site) -> list[str]:
    """The ids of the booklet's parts, in order (as tags.py makes them, one element each)."""
    from ...finishing.tags import read_layout

    return read_layout(_booklet_html(site))[0]


def _booklet_html(site: Site) -> str:
    from ...rendering.render import render_html
    from ..outputs import KINDS

    booklet = KINDS["booklet"]
    return render_html(site, booklet.output(site, site.edition.slug))


def page_map(pdf_data: bytes, part_ids: list[str], source: str = "") -> PageMap:
    """Where the printed booklet's pages start, read from its tagged PDF (pagemap.py)."""
    from .pagemap import page_map as read

    return read(pdf_data, part_ids, source)


def build_epub(site: Site, booklet_pdf: Path, target: Path) -> EpubResult:
    """The EPUB of `site`, its page list read from the booklet's tagged PDF."""
    from ...finishing.tags import read_layout

    html = _booklet_html(site)
    ids, _titles, source = read_layout(html)
    pages = page_map(Path(booklet_pdf).read_bytes(), ids, source)
    return write_epub(site, target, pages, html=html, print_source=Path(booklet_pdf).name)


def write_epub(
    site: Site,
    target: Path,
    page_map: PageMap,
    *,
    html: str | None = None,
    print_source: str | None = None,
) -> EpubResult:
    """Write the EPUB to `target` (atomically) and say what was written."""
    from ..writer import write_atomic

    data = make_epub(site, page_map, html=html, print_source=print_source)
    write_atomic(Path(target), data)
    return EpubResult(
        Path(target), len(data), hashlib.sha256(data).hexdigest(), len(page_map.breaks)
    )


def make_epub(
    site: Site, page_map: PageMap, *, html: str | None = None, print_source: str | None = None
) -> bytes:
    """The EPUB's bytes."""
    from xml.etree import ElementTree as ET

    from markupsafe import Markup

    from ...rendering.design import for_content
    from ...rendering.render import environment
    from .content import add_page_references, clean, mark_pages, page_break, parts_of

    design = for_content(site.root)
    env = environment(design.layouts)
    ed = site.edition
    html = html if html is not None else _booklet_html(site)
    parts = parts_of(html)
    files: dict[str, str] = {}
    for part in parts:
        for el in part.element.iter():
            if isinstance(el.tag, str) and el.get("id"):
                files.setdefault(el.get("id", ""), part.file)
    by_part: dict[str, list] = {}
    for b in page_map.breaks:
        by_part.setdefault(b.part, []).append(b)
    in_nav = [b for part, found in by_part.items() if part not in files for b in found]
    entries: dict[str, bytes] = {}
    images: dict[str, Path] = {}
    for part in parts:
        clean(part, files)
        add_page_references(part, page_map)
        mark_pages(part, by_part.get(part.id, []))
        _take_images(part, Path(site.root), images)
        body = Markup(ET.tostring(part.element, encoding="unicode"))
        text = env.get_template("epub/part.html").render(edition=ed, title=part.title, body=body)
        entries[f"text/{part.file}"] = text.encode("utf-8")

    page_file = {part: f"text/{files[part]}" for part in files}
    pages = [
        {"label": b.label, "href": f"{page_file.get(b.part, NAV)}#page-{b.label}"}
        for b in page_map.breaks
    ]
    nav = env.get_template("epub/nav.html").render(
        edition=ed,
        site=site,
        pages=pages,
        markers=Markup(
            "".join(ET.tostring(page_break(b.label), encoding="unicode") for b in in_nav)
        ),
    )
    entries[NAV] = nav.encode("utf-8")
    entries["styles/epub.css"] = design.stylesheet(STYLESHEET).read_bytes()
    for name in (*FONTS, LICENCE):
        entries[f"fonts/{name}"] = design.stylesheet(f"fonts/{name}").read_bytes()
    for name, path in images.items():
        entries[name] = path.read_bytes()

    items = [_Item("nav", NAV, MEDIA_TYPES[".xhtml"], "nav")]
    ids = {NAV: "nav"}
    for name in sorted(entries):
        if name == NAV:
            continue
        item_id = _item_id(name)
        ids[name] = item_id
        items.append(_Item(item_id, name, MEDIA_TYPES[PurePosixPath(name).suffix.lower()]))
    spine = [ids[f"text/{parts[0].file}"], "nav", *(ids[f"text/{p.file}"] for p in parts[1:])]
    features = [
        "structuralNavigation",
        "tableOfContents",
        "readingOrder",
        "pageBreakMarkers",
        "pageNavigation",
        "displayTransformability",
    ]
    if images:
        features.append("alternativeText")
    import uuid

    opf = env.get_template("epub/package.xml").render(
        edition=ed,
        identifier=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'livret:{ed.series}:{ed.slug}')}",
        title=f"{ed.full_title} — {ed.title}",
        modified=_utc(ed.pdf_modified).strftime("%Y-%m-%dT%H:%M:%SZ"),
        print_source=print_source or f"{ed.slug}.pdf",
        access_modes=["textual", *(["visual"] if images else [])],
        features=features,
        certified_by=ed.publisher,
        items=items,
        spine=spine,
    )
    container = env.get_template("epub/container.xml").render()
    return _zip(
        {
            "META-INF/container.xml": container.encode("utf-8"),
            f"{ROOT}/package.opf": opf.encode("utf-8"),
            **{f"{ROOT}/{name}": data for name, data in sorted(entries.items())},
        },
        ed.pdf_modified,
    )


def _take_images(part: Part, root: Path, images: dict[str, Path]) -> None:
    """The content's pictures a part shows, into the EPUB's images/ folder."""
    for img in part.element.iter("img"):
        src = img.get("src") or ""
        path = (root / src).resolve()
        if not src or not path.is_relative_to(root.resolve()) or not path.is_file():
            continue
        name = f"images/{path.relative_to(root.resolve()).as_posix()}"
        images[name] = path
        img.set("src", f"../{name}")


def _item_id(name: str) -> str:
    stem = PurePosixPath(name)
    return f"{stem.parent.name}-{stem.name}".replace(".", "-").replace("/", "-")


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _zip(entries: dict[str, bytes], when: dt.datetime) -> bytes:
    """The container: `mimetype` first, stored; then every entry in the given order, with
    the edition's date (zip dates are local times of 1980 or later, no time zone)."""
    import zipfile

    stamp = _utc(when).timetuple()[:6]
    stamp = max(stamp, (1980, 1, 1, 0, 0, 0))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in (("mimetype", MIMETYPE), *entries.items()):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.create_system = 3
            if name == "mimetype":
                info.compress_type = zipfile.ZIP_STORED
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9 if name != "mimetype" else None)
    return out.getvalue()


# livret's code that shapes the EPUB besides the booklet's (which the booklet's inputs cover):
# an input of the EPUB ("livret epub code"), not of the PDFs. Named by folder or file,
# wherever it sits in the package.
CODE = frozenset({"epub", "equivalence.py"})
PACKAGE = Path(__file__).resolve().parent.parent.parent  # livret/


@lru_cache(maxsize=2)
def code_hash(package: Path = PACKAGE) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        if CODE.intersection(path.relative_to(package).parts):
            rel = path.relative_to(package).as_posix()
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
