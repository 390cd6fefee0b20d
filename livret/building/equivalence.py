"""Proof of equivalence (RGAA 13.4): an HTML or EPUB rendition says what the PDF says.

Both sides are read as the same thing: each part of the booklet (a card, the introduction,
a theme's opener…) as its ordered *blocks* — headings, paragraphs, list items, alternative
texts, link targets. The PDF side is its tag tree (StructTreeRoot, read with pikepdf: what a
screen reader gets), the other side a parsed HTML or XHTML element (what a browser or an
e-reader gets). Then the two lists are compared block by block, and every difference is
reported with its part and block number.

One walker reads both trees (`_Walker`), through an adapter per format that only says what
role an element plays; so a rule (a list item's label is not text, a link inside a paragraph
counts as a block after it) is the same rule on both sides. The text is normalized only where
the two formats must differ: runs of white space (no-break spaces included), soft hyphens, and
words split across a line end of the PDF that its tag tree does not join
(livret/finishing/linebreaks.py joins those inside a page; this module, with the same rule, those
across a page break).
"""

from __future__ import annotations

import difflib
import io
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..i18n import _

HEADING, PARAGRAPH, ITEM, ALT, LINK = "heading", "paragraph", "item", "alt", "link"
KIND_NAMES = {
    HEADING: "titre",
    PARAGRAPH: "paragraphe",
    ITEM: "élément de liste",
    ALT: "texte alternatif",
    LINK: "lien",
}
TEXT_BLOCKS = {HEADING, PARAGRAPH, ITEM}
# Roles an adapter gives an element: one of the block kinds, FIGURE (alternative text, when it
# has one), LIST (a list or table: blocks inside a text block, never text of it), SKIP (not
# read: a list label, a page-break marker, hidden content) or OTHER (a container between
# blocks, plain text inside one).
FIGURE, LIST, SKIP, OTHER = "figure", "list", "skip", "other"

SOFT_HYPHEN = "\u00ad"
_SPACES = re.compile(r"\s+")  # \s covers U+00A0, U+202F and the other Unicode spaces


def normalize(text: str) -> str:
    """What may differ between two renditions of one text without changing what it says."""
    return _SPACES.sub(" ", text.replace(SOFT_HYPHEN, "")).strip()


@dataclass(frozen=True)
class Block:
    kind: str
    text: str

    def key(self) -> tuple[str, str]:
        """What is compared: the kind and the words as read aloud — the PDF reads "#01" and
        "p. 6" as "numéro 1" and "page 6" (their /ActualText, livret/finishing/tags.py), which says
        what the printed form says."""
        return self.kind, spoken(self.text)


def spoken(text: str, language: str = "fr") -> str:
    from ..finishing.tags import SPOKEN

    for pattern, words in SPOKEN.get(language, SPOKEN["fr"]):
        text = pattern.sub(words, text)
    return text


class Piece(str):
    """A piece of text as drawn in the PDF: with its page and baseline (None elsewhere), and
    whether linebreaks.py already decided how it joins the next piece (an /ActualText)."""

    page: int | None = None
    y: float = 0.0
    fixed: bool = False

    @classmethod
    def make(cls, text: str, page: int | None, y: float = 0.0, fixed: bool = False) -> Piece:
        p = cls(text)
        p.page, p.y, p.fixed = page, y, fixed
        return p


@dataclass
class Found:
    """A block as the walker finds it: the block, the element that holds it (for a text
    block) and, for a PDF, where each page starts in it (word index, page index)."""

    block: Block
    source: Any = None
    pages: list[tuple[int, int]] = field(default_factory=list)


class Adapter:
    """What a walker needs to know about one kind of tree."""

    def role(self, node) -> str:
        raise NotImplementedError

    def children(self, node) -> Iterable:
        """Text (str or Piece) and child nodes, in reading order."""
        raise NotImplementedError

    def alt(self, node) -> str | None:
        raise NotImplementedError

    def target(self, node) -> str | None:
        raise NotImplementedError


class _Walker:
    def __init__(self, adapter: Adapter, join: Callable[[str, Piece, Piece], str] | None = None):
        self.a = adapter
        self.join = join
        self.out: list[Found] = []

    def walk(self, node) -> list[Found]:
        self._container(node)
        return self.out

    def _container(self, node) -> None:
        run: list = []
        for child in self.a.children(node):
            role = OTHER if isinstance(child, str) else self.a.role(child)
            if isinstance(child, str) or role == LINK:
                run.append(child)
                continue
            if role == OTHER and self._inline_only(child):
                run.append(child)
                continue
            self._text_block(PARAGRAPH, run, node)
            run = []
            self._visit(child, role)
        self._text_block(PARAGRAPH, run, node)

    def _inline_only(self, node) -> bool:
        """An element with text and no block inside (a <span> between blocks): a paragraph
        of its own with the text around it."""
        for child in self.a.children(node):
            if isinstance(child, str):
                continue
            role = self.a.role(child)
            if role in TEXT_BLOCKS or role in (LIST, FIGURE) or not self._inline_only(child):
                return False
        return True

    def _visit(self, node, role: str) -> None:
        if role == SKIP:
            return
        if role in TEXT_BLOCKS:
            self._text_block(role, list(self.a.children(node)), node)
        elif role == FIGURE and self.a.alt(node) is not None:
            self.out.append(Found(Block(ALT, normalize(self.a.alt(node) or ""))))
        else:
            self._container(node)

    def _text_block(self, kind: str, items: list, source) -> None:
        pieces: list[str] = []
        after: list[Found] = []  # links and alternative texts inside, after the text
        nested: list = []  # blocks inside (a list inside a list item): after those
        self._inline(items, pieces, after, nested, kind)
        text, pages = self._joined(pieces)
        text = normalize(text)
        if text:
            self.out.append(Found(Block(kind, text), source, pages))
        self.out += after
        for node, role in nested:
            self._visit(node, role)

    def _inline(self, items: Iterable, pieces: list, after: list, nested: list, kind: str) -> None:
        for item in items:
            if isinstance(item, str):
                pieces.append(item)
                continue
            role = self.a.role(item)
            if role == SKIP:
                continue
            if role == HEADING == kind:
                # WeasyPrint tags a block box inside a heading (its subtitle) as a heading:
                # one heading for a reader, as in the HTML.
                self._inline(self.a.children(item), pieces, after, nested, kind)
            elif role in TEXT_BLOCKS or role == LIST:
                nested.append((item, role))
            elif role == FIGURE and self.a.alt(item) is not None:
                after.append(Found(Block(ALT, normalize(self.a.alt(item) or ""))))
            elif role == LINK:
                target = self.a.target(item)
                if target is not None:
                    known = [f.block.text for f in after if f.block.kind == LINK]
                    if not known or known[-1] != target:  # a link cut in two boxes: once
                        after.append(Found(Block(LINK, target)))
                self._inline(self.a.children(item), pieces, after, nested, kind)
            else:
                self._inline(self.a.children(item), pieces, after, nested, kind)

    def _joined(self, pieces: list[str]) -> tuple[str, list[tuple[int, int]]]:
        """The pieces as one text, and where each page starts in it (word index, page)."""
        text = ""
        pages: list[tuple[int, int]] = []
        previous: str | None = None
        for piece in pieces:
            if not piece:
                continue
            if self.join is not None and isinstance(previous, Piece) and isinstance(piece, Piece):
                text = self.join(text, previous, piece)
            page = piece.page if isinstance(piece, Piece) else None
            if page is not None and piece.strip() and (not pages or pages[-1][1] != page):
                words = len(normalize(text).split())
                if text and not text[-1].isspace() and not piece[0].isspace():
                    words -= 1  # the page starts inside a word: at that word
                pages.append((max(words, 0), page))
            text += piece
            previous = piece
        return text, pages


# --- the PDF side: the tag tree ----------------------------------------------------------

PDF_ROLES = {
    **dict.fromkeys(("/H", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6"), HEADING),
    "/P": PARAGRAPH,
    "/Caption": PARAGRAPH,
    "/LI": ITEM,
    "/TOCI": ITEM,
    "/Figure": FIGURE,
    "/Link": LINK,
    "/L": LIST,
    "/TOC": LIST,
    "/Table": LIST,
    "/Lbl": SKIP,
    "/Artifact": SKIP,
}


class PdfNode:
    """A structure element with the page its marked content is on (inherited /Pg)."""

    __slots__ = ("element", "page")

    def __init__(self, element, page: int | None):
        self.element, self.page = element, page


class PdfAdapter(Adapter):
    def __init__(self, pdf):
        from ..finishing import linebreaks

        self.pdf = pdf
        self.pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
        self._pieces: dict[int, dict[int, tuple[str, float]]] = {}
        self._fonts: dict = {}
        self._page_pieces = linebreaks.page_pieces

    def node(self, element, page: int | None = None) -> PdfNode:
        if "/Pg" in element:
            page = self.pages.get(element.Pg.objgen, page)
        return PdfNode(element, page)

    def piece(self, page: int, mcid: int) -> tuple[str, float]:
        if page not in self._pieces:
            self._pieces[page] = self._page_pieces(self.pdf.pages[page], self._fonts)
        return self._pieces[page].get(mcid, ("", 0.0))

    def role(self, node: PdfNode) -> str:
        return PDF_ROLES.get(str(node.element.get("/S")), OTHER)

    def children(self, node: PdfNode) -> Iterator:
        from pikepdf import Array, Dictionary

        element = node.element
        kids = element.get("/K")
        kids = [] if kids is None else list(kids) if isinstance(kids, Array) else [kids]
        if "/ActualText" in element:  # what a reader gets for the element and all inside
            yield Piece.make(str(element.ActualText), node.page, fixed=True)
            return
        for kid in kids:
            if isinstance(kid, int):
                if node.page is not None:
                    text, y = self.piece(node.page, kid)
                    yield Piece.make(text, node.page, y)
            elif isinstance(kid, Dictionary) and "/S" in kid:
                yield self.node(kid, node.page)
            elif isinstance(kid, Dictionary) and kid.get("/Type") == "/MCR":
                page = self.pages.get(kid.Pg.objgen, node.page) if "/Pg" in kid else node.page
                if page is not None:
                    text, y = self.piece(page, int(kid.MCID))
                    yield Piece.make(text, page, y)

    def all_text(self) -> str:
        """Every piece of text of the document, for its vocabulary."""
        texts = []
        for n in range(len(self.pdf.pages)):
            self.piece(n, -1)
            texts += [text for text, _y in self._pieces[n].values()]
        return " ".join(texts)

    def alt(self, node: PdfNode) -> str | None:
        alt = node.element.get("/Alt")
        return None if alt is None else str(alt)

    def target(self, node: PdfNode) -> str | None:
        from ..finishing.tags import link_target

        return link_target(node.element)


def _line_end_join(vocabulary: tuple[set[str], set[str]]) -> Callable[[str, Piece, Piece], str]:
    """Where a page break cut a line that linebreaks.py left as drawn (it joins the line ends
    of one page): the same rule — the space the line break ate comes back, an automatic
    hyphen goes when the two halves make a word of the document."""
    from ..finishing.linebreaks import HYPHENS, WORD

    words, tokens = vocabulary

    def join(text: str, previous: Piece, piece: Piece) -> str:
        if previous.fixed or previous.page == piece.page:
            return text  # decided by linebreaks.py, or inside a page
        if not text or text[-1].isspace() or piece[0].isspace():
            return text
        if text[-1] in HYPHENS:
            left, right = WORD.findall(text[:-1]), WORD.findall(piece)
            if left and right and text[:-1].endswith(left[-1]):
                joined = (left[-1] + right[0]).lower()
                if joined in words and f"{left[-1]}-{right[0]}".lower() not in words:
                    return text[:-1]
            return text
        tail, head = text.split()[-1], piece.split()[0]
        return text if tail + head in tokens else text + " "

    return join


def pdf_parts(pdf_data: bytes, part_ids: list[str], source: str = "") -> dict[str, list[Found]]:
    """The blocks of each part of a tagged PDF, by part id (the ids of the parts in the
    order of the document: livret's tag pass makes each part one element, tags.py).
    `source`: the document's text (its words tell a hyphenated word across a page break)."""
    import pikepdf

    from ..finishing import linebreaks

    pdf = pikepdf.open(io.BytesIO(pdf_data))
    adapter = PdfAdapter(pdf)
    root = pdf.Root.get("/StructTreeRoot")
    if root is None:
        raise ValueError("untagged PDF")  # the print variant
    document = adapter.node(_first(root.K))
    parts = [c for c in adapter.children(document) if isinstance(c, PdfNode)]
    # Each element is the part whose anchor is on the page it starts on, or this is not the
    # document the ids describe.
    anchors = named_pages(pdf_data)
    if len(parts) != len(part_ids) or any(
        anchors.get(part_id, node.page) != node.page
        for part_id, node in zip(part_ids, parts, strict=True)
    ):
        raise ValueError("the PDF's parts are not the layout's")
    join = _line_end_join(linebreaks.vocabulary(source or adapter.all_text()))
    return {
        part_id: _Walker(adapter, join).walk(node)
        for part_id, node in zip(part_ids, parts, strict=False)
    }


def _first(k):
    from pikepdf import Array

    return k[0] if isinstance(k, Array) else k


def named_pages(pdf_data: bytes) -> dict[str, int]:
    """The PDF's named destinations (the HTML ids) → the page index each is on."""
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(pdf_data))
    pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
    out: dict[str, int] = {}
    names = pdf.Root.Names.get("/Dests") if "/Names" in pdf.Root else None
    stack = [names] if names is not None else []
    while stack:
        node = stack.pop()
        if "/Names" in node:
            pairs = list(node.Names)
            for name, dest in zip(pairs[::2], pairs[1::2], strict=True):
                if isinstance(dest, pikepdf.Dictionary):
                    dest = dest.D
                out[str(name)] = pages.get(dest[0].objgen, -1)
        stack += list(node.get("/Kids", []))
    return out


# --- the HTML side: any HTML or XHTML element ----------------------------------------------

HTML_ROLES = {
    **dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), HEADING),
    **dict.fromkeys(("p", "figcaption", "caption", "dt", "dd"), PARAGRAPH),
    "li": ITEM,
    "img": FIGURE,
    **dict.fromkeys(("ul", "ol", "dl", "table", "menu"), LIST),
    **dict.fromkeys(("script", "style", "template", "head", "noscript"), SKIP),
}


def local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def same_document(href: str) -> str:
    """A link inside the publication → "#id", as the PDF names its own anchors; any other
    address as written."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return href
    return "#" + unquote(parts.fragment) if parts.fragment else href


class HtmlAdapter(Adapter):
    def __init__(self, resolve: Callable[[str], str] = same_document):
        self.resolve = resolve

    def role(self, node) -> str:
        tag = local(node.tag)
        if not tag:
            return SKIP  # a comment or processing instruction
        attrib = {local(k): v for k, v in node.attrib.items()}
        if (
            attrib.get("aria-hidden") == "true"
            or "hidden" in attrib
            or attrib.get("role") in ("doc-pagebreak", "presentation", "none")
            and tag != "img"
            or attrib.get("type") == "pagebreak"
        ):
            return SKIP
        if tag == "a" and attrib.get("href"):
            return LINK
        return HTML_ROLES.get(tag, OTHER)

    def children(self, node) -> Iterator:
        if local(node.tag) == "br":
            yield " "
        if node.text:
            yield node.text
        for child in node:
            yield child
            if child.tail:
                yield child.tail

    def alt(self, node) -> str | None:
        return node.get("alt")

    def target(self, node) -> str | None:
        href = node.get("href")
        return None if href is None else self.resolve(href)


def html_blocks(element, resolve: Callable[[str], str] = same_document) -> list[Block]:
    """The ordered blocks of one part of an HTML or XHTML document (an ElementTree element:
    from `parse_html`, `parse_xhtml` or any ElementTree-compatible parser). `resolve` turns
    an href into what the PDF would name as its target (default: "#id" for a link inside the
    publication, any other address as is)."""
    return [f.block for f in html_found(element, resolve)]


def html_found(element, resolve: Callable[[str], str] = same_document) -> list[Found]:
    return _Walker(HtmlAdapter(resolve)).walk(element)


def parse_xhtml(data: bytes):
    """An XHTML document (an EPUB's content document) → its root element."""
    from defusedxml.ElementTree import fromstring

    return fromstring(data)


def parse_html(data: bytes | str):
    """An HTML document (a web page) → its root element (HTML5 parsing rules)."""
    import tinyhtml5  # type: ignore[import-untyped]

    return tinyhtml5.parse(data)


def find_id(root, element_id: str):
    for element in root.iter():
        if element.get("id") == element_id:
            return element
    return None


# --- comparing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    part: str
    block: int  # 1-based, in the PDF's order (or where the missing block would be)
    pdf: Block | None
    other: Block | None
    other_name: str

    def __str__(self) -> str:
        if self.pdf is None and self.other is None:
            return _("{part}: missing from the {other}").format(
                part=self.part, other=self.other_name
            )
        if self.pdf is None:
            assert self.other is not None
            return _("{part}: block {n}: {other} « {text} » is not in the PDF").format(
                part=self.part, n=self.block, other=self.other_name, text=self.other.text
            )
        if self.other is None:
            return _("{part}: block {n}: PDF « {text} » is not in the {other}").format(
                part=self.part, n=self.block, other=self.other_name, text=self.pdf.text
            )
        left, right = _window(self.pdf.text, self.other.text)
        if self.pdf.kind != self.other.kind:
            left = f"({KIND_NAMES[self.pdf.kind]}) « {left} »"
            right = f"({KIND_NAMES[self.other.kind]}) « {right} »"
        else:
            left, right = f"« {left} »", f"« {right} »"
        return _("{part}: block {n}: PDF {pdf} ≠ {other} {text}").format(
            part=self.part, n=self.block, pdf=left, other=self.other_name, text=right
        )


def _window(a: str, b: str, context: int = 40) -> tuple[str, str]:
    """Two long texts cut around where they differ, so that the difference shows."""
    if len(a) <= 2 * context + 20 and len(b) <= 2 * context + 20:
        return a, b
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    lo = max(0, start - context)

    def cut(s: str) -> str:
        hi = min(len(s), len(s) - end + context)
        return ("…" if lo else "") + s[lo:hi] + ("…" if hi < len(s) else "")

    return cut(a), cut(b)


def compare(part: str, pdf: list[Block], other: list[Block], other_name: str) -> list[Difference]:
    """Every difference between the PDF's blocks of a part and another rendition's."""
    a, b = [x.key() for x in pdf], [x.key() for x in other]
    out: list[Difference] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = max(i2 - i1, j2 - j1)
        for k in range(pairs):
            i, j = i1 + k, j1 + k
            out.append(
                Difference(
                    part,
                    min(i, i2) + 1 if i < i2 else i2 + 1,
                    pdf[i] if i < i2 else None,
                    other[j] if j < j2 else None,
                    other_name,
                )
            )
    return out


# --- the booklet and its EPUB -----------------------------------------------------------------

# Parts compared: all but the contents, which the EPUB gives as its navigation document (a
# list of links without page numbers), checked by EPUBCheck.
NOT_COMPARED = {"contents"}


def part_label(part_id: str) -> str:
    """The name a report gives a part: a card by its slug ("adie"), others by their id."""
    return part_id.removeprefix("action-")


def compare_documents(
    pdf_parts_: dict[str, list[Found]],
    other: Callable[[str], list[Block] | None],
    other_name: str,
) -> list[Difference]:
    """Each part of the PDF against `other(part_id)` (None: the part is missing)."""
    out: list[Difference] = []
    for part_id, found in pdf_parts_.items():
        if part_id in NOT_COMPARED:
            continue
        blocks = other(part_id)
        label = part_label(part_id)
        if blocks is None:
            out.append(Difference(label, 0, None, None, other_name))
            continue
        out += compare(label, [f.block for f in found], blocks, other_name)
    return out


def epub_documents(epub: Path | bytes) -> list:
    """The root elements of an EPUB's content documents, in spine order."""
    import zipfile

    from defusedxml.ElementTree import fromstring

    data = epub if isinstance(epub, bytes) else Path(epub).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        container = fromstring(z.read("META-INF/container.xml"))
        opf_path = next(e for e in container.iter() if local(e.tag) == "rootfile").get(
            "full-path", ""
        )
        opf = fromstring(z.read(opf_path))
        base = opf_path.rpartition("/")[0]
        items = {e.get("id"): e.get("href", "") for e in opf.iter() if local(e.tag) == "item"}
        spine = [e.get("idref") for e in opf.iter() if local(e.tag) == "itemref"]
        roots = []
        for idref in spine:
            href = items.get(idref)
            if href is None:
                continue
            name = f"{base}/{unquote(href)}" if base else unquote(href)
            roots.append(parse_xhtml(z.read(name)))
        return roots


def check_epub(pdf_data: bytes, epub: Path | bytes, part_ids: list[str]) -> list[Difference]:
    """The booklet's PDF against its EPUB, part by part."""
    documents = epub_documents(epub)

    def other(part_id: str) -> list[Block] | None:
        for root in documents:
            element = find_id(root, part_id)
            if element is not None:
                return html_blocks(element)
        return None

    return compare_documents(pdf_parts(pdf_data, part_ids), other, "EPUB")


# --- the booklet and its web edition ---------------------------------------------------------

WEB = "web"  # the name the reports give it: « PDF … ≠ web … »
# A fact's label and values, as the web card gives them (a description list, livret/building/web):
# the label is the PDF's label paragraph « Lieu : », each value one of its list items.
_FACT_LABEL = "\u202f:"
# The printed page reference after a link of a theme opener (« … , GAS 18 p. 23 »): where
# the link leads in print; the web page's link is where it leads on the web.
_PAGE_REFERENCE = re.compile(r"\s*\b(?:p\.|page)\s*\d+$")


def web_pages(site) -> dict[str, str]:
    """Each compared part of the booklet → the web page that gives it (a path under web/).
    On its page, the part is the element with the part's id, as in the EPUB."""
    from .web import pages

    home = f"{pages.edition_dir(site.edition.number)}/index.html"
    out = {"cover": home, "introduction": home, "back": home}
    for theme in site.themes:
        out[f"theme-{theme.slug}"] = pages.theme_path(site, theme)
        for action in theme.actions:
            out[f"action-{action.slug}"] = pages.card_path(site, action)
    out["thanks"] = f"{pages.edition_dir(site.edition.number)}/{pages.THANKS}/index.html"
    return out


def web_resolver(pages: dict[str, str], page: str) -> Callable[[str], str]:
    """An href of the web page `page` → what the PDF names as its target: a page of a part
    → "#<part id>" (its anchor in the booklet), "#id" inside a page → "#id", any other
    address as written."""
    by_page: dict[str, str] = {}
    for part_id, path in pages.items():
        by_page.setdefault(path, part_id)

    def resolve(href: str) -> str:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            return href
        if parts.fragment:
            return "#" + unquote(parts.fragment)
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
        if href.endswith("/") or not posixpath.splitext(target)[1]:
            target += "/index.html"
        return "#" + by_page[target] if target in by_page else href

    return resolve


def web_form(element):
    """A copy of a web part where its facts say it the PDF's way, the information unchanged:
    a description list's term is the label paragraph « Lieu : », each description one of its
    list items; the contact's name (`dd.contact-name`) ends the label paragraph, as the PDF
    prints « Contact : Yves JARLAND… »; « — » for a fact left empty (`dd.fact-none`) is
    nothing, as in the PDF. Any other element, and every word, stays as it is."""
    import copy

    element = copy.deepcopy(element)
    for dl in element.iter():
        if local(dl.tag) != "dl":
            continue
        ns = dl.tag[: -len("dl")]
        for group in [dl, *(c for c in dl if local(c.tag) == "div")]:
            label = None
            for child in list(group):
                tag, classes = local(child.tag), child.get("class", "").split()
                if tag == "dt":
                    child.tag = ns + "p"
                    _append_text(child, _FACT_LABEL)
                    label = child
                elif tag == "dd" and "fact-none" in classes:
                    _remove(group, child)
                elif tag == "dd" and "contact-name" in classes and label is not None:
                    _append_text(label, " " + "".join(child.itertext()))
                    _remove(group, child)
                elif tag == "dd":
                    child.tag = ns + "li"
        dl.tag = ns + "div"
    return element


def _append_text(element, text: str) -> None:
    if len(element):
        last = element[-1]
        last.tail = (last.tail or "") + text
    else:
        element.text = (element.text or "") + text


def _remove(parent, child) -> None:
    """Remove `child`, its tail kept."""
    if child.tail:
        index = list(parent).index(child)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def without_page_references(found: list[Found]) -> list[Found]:
    """The PDF's blocks with the page reference printed after a link to a part of the
    booklet taken out (only there: a page number anywhere else is compared)."""
    out = list(found)
    for i, f in enumerate(out[:-1]):
        after = out[i + 1].block
        if f.block.kind == ITEM and after.kind == LINK and after.text.startswith("#"):
            text = _PAGE_REFERENCE.sub("", f.block.text)
            out[i] = Found(Block(ITEM, text), f.source, f.pages)
    return out


def check_web(pdf_data: bytes, web_dir: Path, site, part_ids: list[str]) -> list[Difference]:
    """The booklet's PDF against its web edition (`web_dir`: output/web), part by part."""
    pages = web_pages(site)
    roots: dict[str, Any] = {}

    def other(part_id: str) -> list[Block] | None:
        page = pages.get(part_id)
        if page is None:
            return None
        if page not in roots:
            try:
                roots[page] = parse_html((Path(web_dir) / page).read_bytes())
            except OSError:
                roots[page] = None
        element = None if roots[page] is None else find_id(roots[page], part_id)
        if element is None:
            return None
        return html_blocks(web_form(element), web_resolver(pages, page))

    parts = {k: without_page_references(v) for k, v in pdf_parts(pdf_data, part_ids).items()}
    return compare_documents(parts, other, WEB)


def check_build(content_dir: Path, output_dir: Path) -> tuple[dict[str, list[Difference]], int]:
    """Build the booklet, its EPUB and its web edition (what is out of date) into
    `output_dir`, then compare the PDF with each: (the differences by rendition, "EPUB" and
    "web", the number of parts compared)."""
    from ..reading.loader import load_site
    from .epub import part_ids
    from .outputs import KINDS
    from .pipeline import run
    from .web import ROOT

    site = load_site(content_dir)
    run(
        content_dir,
        output_dir,
        site=site,
        booklet=True,
        themes=[],
        actions=[],
        epub=True,
        web=True,
    )
    booklet = Path(output_dir) / KINDS["booklet"].output(site, site.edition.slug).filename
    ids = part_ids(site)
    try:
        pdf = booklet.read_bytes()
        epub = Path(output_dir) / KINDS["epub"].output(site, site.edition.slug).filename
        differences = {
            "EPUB": check_epub(pdf, epub, ids),
            WEB: check_web(pdf, Path(output_dir) / ROOT, site, ids),
        }
    except ValueError:
        from ..errors import LivretError, Problem, display_path

        raise LivretError(
            Problem(
                display_path(booklet),
                None,
                None,
                _(
                    "not the tagged booklet of this content: build it again with "
                    "python build.py --only booklet --force"
                ),
            )
        ) from None
    return differences, len([p for p in ids if p not in NOT_COMPARED])


def command(args) -> int:
    """`livret check-equivalence`: every difference between the booklet's PDF and its EPUB,
    then its web edition, one a line, then a count for each; status 1 when there is one."""
    import sys

    from ..errors import printable
    from ..i18n import ngettext

    found, parts = check_build(args.content, args.output)
    for differences in found.values():
        for difference in differences:
            print(printable(str(difference)))
    for other, differences in found.items():
        summary = ngettext(
            "equivalence (RGAA 13.4), PDF and {other}: {n} difference in {parts} parts",
            "equivalence (RGAA 13.4), PDF and {other}: {n} differences in {parts} parts",
            len(differences),
        ).format(other=other, n=len(differences), parts=parts)
        print(printable(summary), file=sys.stderr if differences else sys.stdout)
    return 1 if any(found.values()) else 0
