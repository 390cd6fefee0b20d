"""Reading our PDFs back the way a reader sees them (pypdf), normalised for comparisons."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader


def norm(text: str) -> str:
    """Typography-insensitive text: no-break spaces → spaces, ’ → ', no hyphens.

    Hyphens go entirely: at a line end one cannot tell a hyphenation point ("Tou-louse")
    from a real hyphen ("Hauts-de-France"), so both sides of a comparison drop them.
    """
    text = text.replace("\u202f", " ").replace("\u00a0", " ").replace("\u2019", "'")
    text = re.sub(r"[-\u2010]\n", "", text)
    text = text.replace("-", "").replace("\u2010", "")
    return re.sub(r"\s+", " ", text).strip()


_TEXTS: dict[tuple, list[str]] = {}


def page_texts(path: Path) -> list[str]:
    """Each page's text as pypdf extracts it (its line ends kept), read once per version of
    the file: the tests of a session build read the same PDFs again and again, and pypdf's
    extraction is slow (about 2 CPU-s for the booklet and its three excerpts)."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    if key not in _TEXTS:
        _TEXTS[key] = [p.extract_text() or "" for p in PdfReader(path).pages]
    return list(_TEXTS[key])


def pages_text(path: Path) -> list[str]:
    return [norm(text) for text in page_texts(path)]


def outline(path: Path) -> list:
    """[(title, [child titles])] for the two levels of bookmarks."""
    reader = PdfReader(path)
    out: list = []
    for item in reader.outline:
        if isinstance(item, list):
            out[-1][1].extend(x.title for x in item)
        else:
            out.append((item.title, []))
    return out


def contents_numbers(page_text: str, titles: list[str]) -> dict[str, int]:
    """The page number printed after each entry of a contents page ("title, organisation" for
    a card). The leader dots are painted, not text; old PDFs with dots still read."""
    found = {}
    for title in titles:
        m = re.search(re.escape(norm(title)) + r"(?: ?\.)* (\d+)\b", page_text)
        if m:
            found[title] = int(m.group(1))
    return found


def folio_index(path: Path, number: int) -> int:
    """The index of the page whose folio is `number`: the page labels say it (an excerpt
    keeps the booklet's folios, livret/rendering/compose.py), else the page count does."""
    import pikepdf

    with pikepdf.open(path) as pdf:
        labels = [page.label for page in pdf.pages]
    assert str(number) in labels, (path.name, number, labels)
    return labels.index(str(number))


def poppler_pages(path: Path) -> list[str]:
    """Page texts in reading order (poppler's pdftotext), where a page's heading comes first."""
    import subprocess

    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [norm(p) for p in text.split("\f")[:-1]]  # the text ends with a form feed


def contents_page(path: Path, page: int = 2) -> str:
    """A contents page as laid out (pdftotext -layout): each entry's number on its line, where
    reading order may put the footer between an entry and its right-aligned number."""
    import subprocess

    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-f", str(page), "-l", str(page), str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return norm("\n".join(line.strip() for line in text.splitlines()))


BLOCK_TAGS = {
    "/P", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6", "/LI", "/Lbl", "/LBody", "/TOCI",
    "/Caption", "/BlockQuote", "/Div", "/Sect", "/Art", "/L", "/TOC", "/Document",
}  # fmt: skip


def tagged_text(path: Path, only: set[str] | None = None) -> str:
    """The text in the order of the tag tree, as a screen reader gets it: each element's
    /ActualText when it has one, else its marked content; block elements on lines of their
    own, inline ones run together (a missing space at a line end glues two words).
    `only`: the text of these elements alone (e.g. {"/H1", "/H2"}), one per line."""
    import pikepdf

    from livret.finishing.linebreaks import page_pieces

    pdf = pikepdf.open(path)
    inside = [only is None]
    pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
    pieces: dict[int, dict] = {}
    out: list[str] = []

    def kids(element) -> list:
        k = element.get("/K")
        if k is None:
            return []
        return list(k) if isinstance(k, pikepdf.Array) else [k]

    def walk(element, page) -> None:
        if "/Pg" in element:
            page = pages[element.Pg.objgen]
        block = element.get("/S") in BLOCK_TAGS
        wanted = only is not None and element.get("/S") in only
        if wanted:
            inside.append(True)
        if block or wanted:
            out.append("\n")
        if "/ActualText" in element:
            if inside[-1]:
                out.append(str(element.ActualText))
        else:
            for kid in kids(element):
                if isinstance(kid, int):
                    if page not in pieces:
                        pieces[page] = page_pieces(pdf.pages[page])
                    if inside[-1]:
                        out.append(pieces[page].get(kid, ("", 0))[0])
                elif isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                    walk(kid, page)
        if block or wanted:
            out.append("\n")
        if wanted:
            inside.pop()

    walk(pdf.Root.StructTreeRoot, None)
    return "".join(out)
