"""The tag tree WeasyPrint writes, finished for screen readers (pikepdf, after WeasyPrint).

WeasyPrint 70 builds the structure tree page by page: a part that runs over three pages is
three sibling elements (three Art for one card), a known upstream limitation
(Kozea/WeasyPrint#2902, #2903). It also ignores a link's `title` (the annotation's
description is the raw target, "action-adie") and has no TOC/TOCI. The layouts say what is
meant; this pass writes it down, without touching what is drawn:

- each part (a child of <body>, every one with an id) is ONE element holding all its pages;
  inside it, the wrappers cut by the page break (div, section, list, list item) are joined;
- the contents (<nav id="contents">) is a TOC with one TOCI per entry;
- a link annotation's /Contents is its <a title="…">, the words a reader needs;
- a heading holds words, not blocks: a block inside <h1> (the cover's subtitle) made WeasyPrint
  tag the heading's text as a second H1 inside the first; its blocks are read as spans of it;
- a list item holding blocks (a rail's sub-group: its label, then its own list) is Lbl +
  LBody, its nested list inside its LBody: WeasyPrint tags the blocks beside the Lbl and the
  nested list as a sibling of the item;
- a link has one annotation per line it covers (WeasyPrint writes one per box: the line, the
  <b> and <i> inside it, each piece of text; a keyboard stopped up to 7 times on one link);
- a list label that is only an arrow is decoration: a Layout artifact, not "flèche droite";
- line ends read as words, not glued or cut by a hyphen (livret/finishing/linebreaks.py);
- "#01" reads "numéro 1", "p. 6" reads "page 6" (ActualText; printed as before);
- an acronym's first use in a card (<abbr title>, livret/rendering/acronyms.py) has its expansion,
/E;
- page furniture (running heads, folios, the Notes pages' label: the @page margin boxes) is a
  Pagination artifact: WeasyPrint tags it Span under elements that belong to no tree
  (Kozea/WeasyPrint#1836), marked content a reader meets nowhere, or out of place.

The passes walk the tree and the pages as read once (linebreaks.read_tree, linebreaks.Pages),
not the file: the same bytes as a pass reading the file each time, in half the time.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from ..errors import shape_changed
from ..i18n import _
from ..rendering import contracts
from . import linebreaks
from .linebreaks import Element, read_tree

# Wrappers joined when a page break cut them in two. Not P, H or Link: they hold the marked
# content itself, and two paragraphs in a row are as likely as one cut paragraph.
JOINABLE = {"/Div", "/NonStruct", "/Sect", "/Art", "/L", "/LI", "/LBody", "/BlockQuote"}
HEADINGS = {"/H", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6"}


class _Layout(HTMLParser):
    """What the HTML says: each link's title, the body's text, the abbreviations (the parts
    are read by livret/rendering/contracts.py)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = -1  # depth below <body>; -1 outside it
        self.titles: dict[str, str] = {}
        self.text: list[str] = []
        self.abbrs: dict[str, str] = {}  # <abbr title="…">: the words → their expansion
        self._abbr: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href") and a.get("title"):
            self.titles[a["href"]] = a["title"]
        if tag == "abbr" and a.get("title"):
            self._abbr = a["title"]
        if tag in self.VOID:
            return
        if tag == "body":
            self.depth = 0
        elif self.depth >= 0:
            self.depth += 1

    def handle_data(self, data):
        if self.depth >= 0:
            self.text.append(data)
        if self._abbr is not None:
            self.abbrs[" ".join(data.split())] = self._abbr
            self._abbr = None

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if tag == "body":
            self.depth = -1
        elif self.depth > 0:
            self.depth -= 1


def read_layout(html: str) -> tuple[list[str], dict[str, str], str]:
    """→ (ids of the parts in order, {href: title} of the links, the body's text)."""
    parser = _read(html)
    return _parts(html), parser.titles, " ".join(parser.text)


def read_abbreviations(html: str) -> dict[str, str]:
    """{words: expansion} of the <abbr title="…"> of the layout (livret/rendering/acronyms.py)."""
    return _read(html).abbrs


def _read(html: str) -> _Layout:
    """The HTML read once for all that finish() needs of it but the parts."""
    parser = _Layout()
    parser.feed(html)
    return parser


def _parts(html: str, layout: contracts.Layout | None = None) -> list[str]:
    """The ids of the parts in order (livret/rendering/contracts.py's read, or `layout`, what
    it gave the caller already)."""
    return [part.id for part in (layout or contracts.read(html)).parts if part.id]


def _starts_anew(element: Element) -> bool:
    """A fragment that opens with a heading or a list label is a new element, not the rest
    of the one before the page break."""
    kids = element.elements()
    return bool(kids) and kids[0].s in HEADINGS | {"/Lbl"}


def _join(first: Element, second: Element) -> None:
    """Move `second`'s children into `first`; then the pair cut at the same break inside."""
    tail = first.elements()
    head = second.elements()
    moved = second.kids
    for kid in moved:
        if isinstance(kid, Element):
            kid.obj.P = first.obj
    first.set_kids(first.kids + moved)
    if tail and head:
        a, b = tail[-1], head[0]
        if (
            a.s == b.s
            and a.s in JOINABLE
            and not a.holds_content()
            and not b.holds_content()
            and not _starts_anew(b)
        ):
            _join(a, b)
            first.set_kids([k for k in first.kids if k is not b])


def finish(
    data: bytes,
    anchors: list[set[str]],
    html: str,
    also=None,
    *,
    layout: contracts.Layout | None = None,
) -> bytes:
    """The PDF with its tag tree finished. `anchors`: the anchor names on each page
    (WeasyPrint's Page.anchors), to know on which page each part starts; `also(pdf)`: what
    else the caller has to change in the file (pikepdf.Pdf), before it is saved once;
    `layout`: contracts.read(html), when the caller has it."""
    pdf = pikepdf.open(io.BytesIO(data))
    if "/StructTreeRoot" not in pdf.Root:  # an untagged variant (print): nothing to finish
        return data
    parts = _parts(html, layout)
    read = _read(html)
    titles, source = read.titles, " ".join(read.text)
    pages = linebreaks.Pages(pdf)
    keys = _parent_keys(pdf)  # each page's entry in the parent tree, as the file says

    # Where each part starts: the first page holding its anchor.
    start: dict[str, int] = {}
    for n, names in enumerate(anchors):
        for name in names:
            start.setdefault(name, n)
    starts_on = [0] * len(pdf.pages)
    for part in parts:
        if part in start:
            starts_on[start[part]] += 1
    contents_page = start.get("contents")

    root = pdf.Root.StructTreeRoot
    tree = read_tree(root, pages.index)  # the structure tree, walked from here on
    document = tree.kids[0]
    top = document.kids
    on_page = Counter(_page(e) for e in top)
    merged: list = []
    toc = None
    previous_page = None
    index = 0  # of the element among the top-level elements of its page
    for element in top:
        page = _page(element)
        index = index + 1 if page == previous_page else 0
        previous_page = page
        # More top-level elements on a page than parts starting on it: the first ones are the
        # rest of the part that the page break cut — its text, and the rest of a floated
        # sidebar, which WeasyPrint lifts out of the part (a NonStruct of its own).
        if page >= 0 and index < on_page[page] - starts_on[page] and merged:
            part = merged[-1]
            if element.s != part.s:
                asides = [k for k in part.elements() if k.s == element.s]
                if asides:
                    _join(asides[-1], element)
                    continue
            _join(part, element)
            continue
        merged.append(element)
        if page == contents_page and toc is None:
            toc = element  # the <nav id="contents">
    document.set_kids(merged)

    if toc is not None:
        _make_toc(toc)
    nums = root.ParentTree.Nums
    parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
    _lift_annotations(document, None, parents)
    _join_links(document, parents, keys)
    _one_annotation_per_line(pdf, document, parents)
    _inline_in_headings(document)
    _nest_lists(pdf, document)
    texts = _Texts(pages)
    decorative = _decorative_labels(document, texts)
    _paginate(pages, tree, parents, decorative, keys)
    root.ParentTree.Nums = Array([x for key, value in parents.items() for x in (key, value)])

    for pdf_page in pdf.pages:
        for annot in pdf_page.obj.get("/Annots", []):
            if annot.get("/Subtype") != Name.Link:
                continue
            if "/Dest" in annot:
                href = "#" + str(annot.Dest)
            elif "/A" in annot and "/URI" in annot.A:
                href = str(annot.A.URI)
            else:
                continue
            if href in titles:
                annot.Contents = String(titles[href])

    linebreaks.fix(pdf, document, source, pages)
    _spoken(document, texts, str(pdf.Root.get("/Lang", "fr")))
    for element, abbrs in _part_abbreviations(merged, html, layout, read.abbrs):
        _expansions(element, texts, abbrs)
    if also is not None:
        also(pdf)

    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def _page(element: Element) -> int:
    return element.page if element.page is not None else -1


def _parent_keys(pdf) -> dict:
    """{page objgen: its /StructParents}: where the parent tree lists the owners of a page's
    marked content. Read from each page (not assumed to be the page's index)."""
    keys = {}
    for n, page in enumerate(pdf.pages, 1):
        key = page.obj.get("/StructParents")
        if not isinstance(key, int):
            raise shape_changed(_("page {n} of a tagged PDF has no /StructParents").format(n=n))
        keys[page.obj.objgen] = int(key)
    return keys


def _parent_key(annot) -> int:
    """An annotation's entry in the parent tree (its /StructParent), as the file says."""
    key = annot.get("/StructParent")
    if not isinstance(key, int):
        raise shape_changed(_("a tagged link annotation has no /StructParent"))
    return int(key)


def _make_toc(nav: Element) -> None:
    """The contents' list as TOC, its items as TOCI (their body a plain grouping)."""
    for element in nav.elements():
        if element.s == "/L":
            element.set_type("/TOC")
            for item in element.elements():
                if item.s == "/LI":
                    item.set_type("/TOCI")
                    for part in item.elements():
                        if part.s == "/LBody":
                            part.set_type("/NonStruct")


def _lift_annotations(element: Element, link: Element | None, parents: dict) -> None:
    """An inline element inside a link (<a><i>…</i></a>) gets a link annotation of its own,
    tagged in that element: move it up to the Link, where PDF/UA wants every link (and point
    the annotation's entry of the parent tree at the Link too)."""
    for kid in element.elements():
        inner = kid if kid.s == "/Link" else link
        if link is not None and kid.s != "/Link":
            objrs = [k for k in kid.kids if isinstance(k, Dictionary) and k.get("/Type") == "/OBJR"]
            if objrs:
                moved = {k.objgen for k in objrs}
                kid.set_kids([k for k in kid.kids if not _is(k, moved)])
                link.set_kids(link.kids + objrs)
                for objr in objrs:
                    key = _parent_key(objr.Obj)
                    if key in parents:
                        parents[key] = link.obj
        _lift_annotations(kid, inner, parents)


def _is(obj, objgens: set) -> bool:
    """`obj` (a kid: an Element or a pikepdf object) is one of the indirect objects `objgens`."""
    if isinstance(obj, Element):
        return obj.objgen != (0, 0) and obj.objgen in objgens
    return isinstance(obj, Dictionary) and obj.is_indirect and obj.objgen in objgens


def link_target(link) -> str | None:
    """Where a Link structure element (pikepdf) leads: "#dest" for a link inside the
    document, else its URI."""
    k = link.get("/K")
    return _target([] if k is None else list(k) if isinstance(k, Array) else [k])


def _target(kids: list) -> str | None:
    """link_target of the Link whose kids are `kids`."""
    for kid in kids:
        if isinstance(kid, Dictionary) and "/Obj" in kid:
            annot = kid.Obj
            if "/Dest" in annot:
                return "#" + str(annot.Dest)
            if "/A" in annot and "/URI" in annot.A:
                return str(annot.A.URI)
    return None


def _join_links(element: Element, parents: dict, keys: dict) -> None:
    """A link that wraps onto a second line is two boxes, so two Link elements side by side:
    one Link, one description for a reader (same target, same page)."""
    kept: list = []
    for kid in element.kids:
        previous = kept[-1] if kept else None
        if (
            isinstance(kid, Element)
            and kid.s == "/Link"
            and isinstance(previous, Element)
            and previous.s == "/Link"
            and _target(kid.kids) is not None
            and _target(kid.kids) == _target(previous.kids)
            and kid.pg == previous.pg
        ):
            mcids = parents.get(keys[kid.pg])
            for item in kid.kids:
                if isinstance(item, int) and mcids is not None:
                    mcids[item] = previous.obj
                elif isinstance(item, Dictionary) and "/Obj" in item:
                    key = _parent_key(item.Obj)
                    if key in parents:
                        parents[key] = previous.obj
                elif isinstance(item, Element):
                    item.obj.P = previous.obj
            previous.set_kids(previous.kids + kid.kids)
            continue
        kept.append(kid)
        if isinstance(kid, Element):
            _join_links(kid, parents, keys)
    if len(kept) != len(element.kids):
        element.set_kids(kept)


# What WeasyPrint tags a block box inside a heading (its anonymous block: the heading's tag).
BLOCKS_IN_HEADINGS = HEADINGS | {"/P", "/Div"}


def _inline_in_headings(element: Element, inside: bool = False) -> None:
    """A heading holds one heading's words: the blocks in it become Spans."""
    for kid in element.elements():
        if inside and kid.s in BLOCKS_IN_HEADINGS:
            kid.set_type("/Span")
        _inline_in_headings(kid, inside or kid.s in HEADINGS)


def _nest_lists(pdf, element: Element) -> None:
    """In every list: an item's blocks after its label go in one LBody, and a list that
    follows an item goes inside that item's LBody."""
    kids = element.kids
    if element.s == "/L":
        kept: list = []
        for kid in kids:
            previous = kept[-1] if kept else None
            if (
                isinstance(kid, Element)
                and kid.s == "/L"
                and isinstance(previous, Element)
                and previous.s == "/LI"
            ):
                body = _body(pdf, previous)
                if body is not None:
                    body.set_kids([*body.kids, kid])
                    kid.obj.P = body.obj
                    continue
            kept.append(kid)
        if len(kept) != len(kids):
            element.set_kids(kept)
    for kid in element.elements():
        _nest_lists(pdf, kid)


def _body(pdf, item: Element) -> Element | None:
    """The LBody of a list item, made from its blocks after the Lbl when it has none; None
    when the item holds marked content of its own (page-bound, left as it is)."""
    kids = item.kids
    bodies = [k for k in kids if isinstance(k, Element) and k.s == "/LBody"]
    if bodies:
        return bodies[-1]
    if item.holds_content():
        return None
    rest = [k for k in kids if k.s != "/Lbl"]
    obj = pdf.make_indirect(
        Dictionary(Type=Name.StructElem, S=Name.LBody, P=item.obj, K=Array([k.obj for k in rest]))
    )
    if item.pg is not None:
        obj.Pg = item.obj.Pg
    body = Element(obj, "/LBody", rest, item.pg, item.page, None)
    for kid in rest:
        kid.obj.P = obj
    item.set_kids([k for k in kids if k.s == "/Lbl"] + [body])
    return body


def _box(annot) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in annot.Rect)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _same_line(a, b) -> bool:
    """Two boxes of one line: their heights overlap by more than half the smaller one."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap > 0.5 * min(a[3] - a[1], b[3] - b[1])


def _walk(element: Element):
    """`element` and every element below it (depth first, the last kid first)."""
    stack = [element]
    while stack:
        element = stack.pop()
        stack.extend(element.elements())
        yield element


def _one_annotation_per_line(pdf, document: Element, parents: dict) -> None:
    """Each Link's annotations on one line of one page become one, over their union; the
    others leave the page, the Link and the parent tree."""
    on_page = {
        annot.objgen: n
        for n, page in enumerate(pdf.pages)
        for annot in page.obj.get("/Annots", [])
        if annot.is_indirect
    }
    dropped: set = set()
    for element in _walk(document):
        if element.s != "/Link":
            continue
        lines: list[tuple[int, Any, list[float]]] = []  # (page, kept annotation, union)
        for objr in element.kids:
            if not (isinstance(objr, Dictionary) and "/Obj" in objr):
                continue
            annot = objr.Obj
            box = _box(annot)
            page = on_page.get(annot.objgen, -1)
            for n, _kept, union in lines:
                if n == page and _same_line(union, box):
                    union[:] = [
                        min(union[0], box[0]), min(union[1], box[1]),
                        max(union[2], box[2]), max(union[3], box[3]),
                    ]  # fmt: skip
                    dropped.add(annot.objgen)
                    parents.pop(_parent_key(annot), None)
                    break
            else:
                lines.append((page, annot, list(box)))
        for _n, kept, union in lines:
            kept.Rect = Array(union)
            if "/QuadPoints" in kept:
                del kept["/QuadPoints"]
        element.set_kids(
            [
                k
                for k in element.kids
                if not (isinstance(k, Dictionary) and _is(k.get("/Obj"), dropped))
            ]
        )
    for page in pdf.pages:
        if dropped and "/Annots" in page.obj:
            page.obj.Annots = Array([a for a in page.obj.Annots if not _is(a, dropped)])


# A marked-content sequence as WeasyPrint (pydyf) writes it: tag, property list, BDC.
MARKED = re.compile(rb"/[^\s/<>\[\]()]+\s*<</MCID (\d+)>>(\s*BDC)")
FIRST_Y = re.compile(rb"[-\d.]+ [-\d.]+ [-\d.]+ [-\d.]+ [-\d.]+ ([-\d.]+) Tm")
# WeasyPrint's page: y down from the top (1 0 0 -1 0 h cm), then CSS px to points (0.75).
PAGE_SCALE = re.compile(rb"\A\s*1 0 0 -1 0 [\d.]+ cm\s+q\s+([\d.]+) 0 0 \1 0 0 cm")


def _reachable(root: Element) -> set:
    """The objgens of the structure elements a reader meets: those below the root."""
    seen: set = set()
    stack = [root]
    while stack:
        for kid in stack.pop().elements():
            if kid.objgen not in seen:
                seen.add(kid.objgen)
                stack.append(kid)
    return seen


def _paginate(
    pages: linebreaks.Pages, root: Element, parents: dict, decorative: set, keys: dict
) -> None:
    """Marked content whose element is in no tree (the margin boxes: running heads, folios,
    the Notes label) becomes a Pagination artifact, a header or a footer after its place on
    the page; its entry of the parent tree goes (the orphan elements with it). The elements
    of `decorative` (objgens, taken out of the tree) become Layout artifacts."""
    reachable = _reachable(root)
    for n, page in enumerate(pages.pages):
        mcids = parents.get(keys[page.obj.objgen])
        if not isinstance(mcids, Array):
            continue
        owners = list(mcids)
        orphans = {
            k
            for k, owner in enumerate(owners)
            if isinstance(owner, Dictionary) and owner.objgen not in reachable
        }
        if not orphans:
            continue
        layout = {k for k in orphans if owners[k].objgen in decorative}
        content = _as_artifacts(pages.content(n), orphans, layout, page)
        pages.rewrite(n, content, artifacts=orphans)
        for k in orphans:
            mcids[k] = None


def _as_artifacts(content: bytes, orphans: set[int], layout: set[int], page) -> bytes:
    """`content` with the sequences of `orphans` (MCIDs) made artifacts: Layout for those of
    `layout`, else Pagination: a header above the middle of the page, a footer below."""
    scale = PAGE_SCALE.match(content)
    middle = float(page.mediabox[3]) / 2 / (float(scale.group(1)) if scale else 1.0)

    found: set[int] = set()

    def artifact(m: re.Match) -> bytes:
        if int(m.group(1)) not in orphans:
            return m.group(0)
        found.add(int(m.group(1)))
        if int(m.group(1)) in layout:
            return b"/Artifact <</Type /Layout>>%s" % m.group(2)
        y = FIRST_Y.search(content, m.end(), content.find(b"EMC", m.end()))
        where = b""
        if y and scale:
            where = b" /Subtype /Header" if float(y.group(1)) < middle else b" /Subtype /Footer"
        return b"/Artifact <</Type /Pagination%s>>%s" % (where, m.group(2))

    out = MARKED.sub(artifact, content)
    if found != orphans:  # the parent tree names marked content the regex did not find
        raise shape_changed(
            _("marked content {mcids} not found in a page's content stream").format(
                mcids=", ".join(str(n) for n in sorted(orphans - found))
            )
        )
    return out


class _Texts:
    """The words of structure elements, from the marked content of their pages: each page as
    it was when first asked for here (its pieces kept, as the passes after change them)."""

    def __init__(self, pages: linebreaks.Pages):
        self.pages = pages
        self.pieces: dict[int, dict] = {}

    def own(self, element: Element) -> list[str]:
        """The text of each MCID directly in `element`."""
        n = element.page
        if n is None:
            return []
        if n not in self.pieces:
            self.pieces[n] = self.pages.pieces(n)
        return [self.pieces[n].get(k, ("", 0))[0] for k in element.kids if isinstance(k, int)]

    def text(self, element: Element) -> str:
        """What a reader gets: the ActualText, else the marked content and the children's."""
        if element.actual is not None:
            return element.actual
        if not element.elements():
            return "".join(self.own(element))
        out = []
        own = iter(self.own(element))
        for kid in element.kids:
            if isinstance(kid, int):
                out.append(next(own, ""))
            elif isinstance(kid, Element):
                out.append(self.text(kid))
        return "".join(out)


# List labels that are drawn for the eye only: an arrow is read "flèche droite" at each item.
DECORATIVE_LABELS = {"→", "➜", "➔", "▸", "►"}


def _decorative_labels(document: Element, texts: _Texts) -> set:
    """Each list label that is only an arrow leaves its item (the item keeps its LBody); →
    the objgens of the elements taken out, whose marked content _paginate makes artifacts."""
    out: set = set()
    for element in _walk(document):
        if element.s != "/LI":
            continue
        labels = [
            k
            for k in element.elements()
            if k.s == "/Lbl" and texts.text(k).strip() in DECORATIVE_LABELS
        ]
        if not labels:
            continue
        gone = {label.objgen for label in labels}
        element.set_kids([k for k in element.kids if not _is(k, gone)])
        for label in labels:
            out.add(label.objgen)
            out |= {kid.objgen for kid in _walk(label) if kid is not label}
    return out


# What a number sign and a page abbreviation are read as, by language.
SPOKEN = {
    "fr": ((re.compile(r"#0*(\d+)"), r"numéro \1"), (re.compile(r"\bp\.[\s]*(\d+)"), r"page \1")),
    "en": ((re.compile(r"#0*(\d+)"), r"number \1"), (re.compile(r"\bp\.[\s]*(\d+)"), r"page \1")),
}


def _spoken(document: Element, texts: _Texts, language: str) -> None:
    """ "#01" read "numéro 1", "p. 6" read "page 6": the ActualText of the element holding the
    words (every element with marked content of its own, after the line ends are set)."""
    rules = SPOKEN.get(language.split("-")[0].lower(), SPOKEN["fr"])
    for element in _walk(document):
        if not any(isinstance(k, int) for k in element.kids) or element.elements():
            continue
        text = texts.text(element)
        spoken = text
        for pattern, words in rules:
            spoken = pattern.sub(words, spoken)
        if spoken != text:
            element.set_actual_text(spoken)


def _part_abbreviations(
    elements: list[Element], html: str, layout: contracts.Layout | None, abbrs: dict[str, str]
) -> list[tuple[Element, dict[str, str]]]:
    """Each part's element and the <abbr title> of that part (`abbrs`: the document's): an
    acronym is expanded where livret/rendering/acronyms.py spelled it out (its first use in a
    card), in that part only, however the document is laid out and written (whole, or part
    by part: livret/finishing/assemble.py). When the elements are not one per part, the
    whole document's abbreviations apply to all of it."""
    if not abbrs:
        return []
    found = (layout or contracts.read(html)).parts
    if len(found) != len(elements) or any(p.end is None for p in found):
        return [(element, abbrs) for element in elements]
    if len(found) == 1:
        return [(elements[0], abbrs)]
    return [
        (e, read_abbreviations(html[p.start : p.end])) for e, p in zip(elements, found, strict=True)
    ]


def _expansions(document: Element, texts: _Texts, abbrs: dict[str, str]) -> None:
    """An <abbr title> (an acronym's first use in a card, livret/rendering/acronyms.py) is tagged as
    WeasyPrint tags an unknown element, NonStruct: a Span with its expansion, /E."""
    if not abbrs:
        return
    stack = [document]
    while stack:
        element = stack.pop()
        if element.s in ("/NonStruct", "/Span"):
            words = " ".join(texts.text(element).split())
            if words in abbrs:
                element.set_type("/Span")
                element.obj.E = String(abbrs[words])
                continue  # its words are expanded once, not again in its spans
        stack.extend(element.elements())
