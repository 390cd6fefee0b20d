"""The booklet's parts as XHTML content documents: the same HTML as the PDF, reflowable.

The EPUB is not written from a second copy of the layouts: the booklet's own HTML (the same
layouts, content model, Markdown and French typography as the PDF, livret/rendering/render.py) is
parsed (HTML5 rules, tinyhtml5: WeasyPrint's parser), cut into its parts (the children of
<body>: cover, introduction, each theme's opener, each card, thanks, back cover), and each
part becomes one XHTML document. What only paper needs goes: the print layout's hooks
(inline styles, data-* attributes), the painted-only elements (aria-hidden), the contents
(the EPUB's navigation document replaces it). What the EPUB needs comes in: links to other
parts point at their document, the printed page breaks are marked where the booklet's pages
start (pagemap.py), and a page reference ("p. 12") follows a link to a card as the print
layout's style sheet prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from ...reading.typography import NAME_CLASS
from ..equivalence import HtmlAdapter, html_found, local
from .pagemap import PageBreak, PageMap

EPUB_TYPE = "epub:type"
# Parts the EPUB gives in another way: the contents is its navigation document.
REPLACED = {"contents"}
# What the print layout's style sheet prints after a link to a part (opener.css:
# `.opener-actions li::after { content: "\a0p. " target-counter(…) }`): "\u00a0p. 12".
PAGE_REFERENCES = {"opener-actions"}
LISTS = {"ul", "ol", "dl", "table", "tbody", "thead", "tr", "menu"}


@dataclass
class Part:
    id: str
    file: str  # the document's name inside the EPUB's text folder
    element: ET.Element
    title: str


def strip_namespaces(element: ET.Element) -> ET.Element:
    for el in element.iter():
        if isinstance(el.tag, str):
            el.tag = local(el.tag)
            el.attrib = {local(k): v for k, v in el.attrib.items()}
    return element


def parts_of(html: str) -> list[Part]:
    """The parts of the booklet's HTML, in order (each child of <body> with an id)."""
    import tinyhtml5  # type: ignore[import-untyped]

    root = strip_namespaces(tinyhtml5.parse(html))
    body = next(el for el in root.iter() if el.tag == "body")
    out = []
    for child in body:
        if not isinstance(child.tag, str) or child.get("aria-hidden") == "true":
            continue
        part_id = child.get("id")
        if part_id and part_id not in REPLACED:
            out.append(Part(part_id, f"{part_id}.xhtml", child, _title(child)))
    return out


def _title(element: ET.Element) -> str:
    heading = next((el for el in element.iter() if el.tag in ("h1", "h2")), None)
    text = "".join((heading if heading is not None else element).itertext())
    return " ".join(text.split()) or element.get("aria-label", "")


def clean(part: Part, files: dict[str, str]) -> None:
    """Print-only hooks out; links to other parts to their documents. `files`: id → the
    document that holds it."""
    for parent in list(part.element.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and (
                child.get("aria-hidden") == "true" or "print-only" in child.get("class", "").split()
            ):
                parent.remove(child)  # painted only (the cover's stripes), or for print only
    unwrap_names(part.element)
    for el in part.element.iter():
        if not isinstance(el.tag, str):
            continue
        for name in list(el.attrib):
            if name == "style" or name.startswith("data-"):
                del el.attrib[name]
        href = el.get("href")
        if el.tag == "a" and href and href.startswith("#"):
            target = href[1:]
            if target in files:
                el.set("href", f"{files[target]}#{target}")


def unwrap_names(element: ET.Element) -> None:
    """The typography's <span class="nh"> around a name (typography.py: no automatic hyphen
    inside it on paper) is for the print layout: out, its text kept where it was."""
    for parent in list(element.iter()):
        index = 0
        while index < len(parent):
            child = parent[index]
            if child.tag != "span" or child.attrib != {"class": NAME_CLASS}:
                index += 1
                continue
            inner = list(child)
            _append_text(parent, index, child.text or "")
            tail = child.tail or ""
            parent.remove(child)
            for offset, grandchild in enumerate(inner):
                parent.insert(index + offset, grandchild)
            _append_text(parent, index + len(inner), tail)
            # The same index again: a name inside a name is unwrapped too.


def _append_text(parent: ET.Element, index: int, text: str) -> None:
    """Append `text` where the child at `index` of `parent` would start."""
    if not text:
        return
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        previous = parent[index - 1]
        previous.tail = (previous.tail or "") + text


def add_page_references(part: Part, page_map: PageMap) -> None:
    """After each link to a part in the lists the print layout numbers (the openers' list of
    cards), the printed page it starts on, as the PDF prints it."""
    for ul in part.element.iter("ul"):
        if not set((ul.get("class") or "").split()) & PAGE_REFERENCES:
            continue
        for li in ul.findall("li"):
            link = li.find("a")
            target = (link.get("href") or "").partition("#")[2] if link is not None else ""
            page = page_map.starts.get(target)
            if page is None:
                continue
            span = ET.SubElement(li, "span", {"class": "page-ref"})
            span.text = f"\u00a0p. {page}"


def page_break(label: str) -> ET.Element:
    return ET.Element(
        "span",
        {
            EPUB_TYPE: "pagebreak",
            "role": "doc-pagebreak",
            "id": f"page-{label}",
            "aria-label": label,
        },
    )


def mark_pages(part: Part, breaks: list[PageBreak]) -> None:
    """A page-break marker where each printed page of `breaks` starts in this part."""
    if not breaks:
        return
    found = html_found(part.element)
    sources = [f.source for f in found]
    parents = {child: parent for parent in part.element.iter() for child in parent}
    groups: dict[tuple[int, int], list[PageBreak]] = {}
    for b in breaks:
        groups.setdefault((b.block, b.word), []).append(b)
    # From the end: an insertion never moves a place still to mark.
    for (block, word), group in sorted(groups.items(), reverse=True):
        markers = [page_break(b.label) for b in group]
        if block < 0 or block >= len(sources) or sources[block] is None:
            part.element.extend(markers)  # after the last block (or a block not found)
            continue
        source = sources[block]
        if block == 0 and word == 0:
            _insert_at(part.element, 0, markers)
        elif word == 0 and parents.get(source) is not None and parents[source].tag not in LISTS:
            parent = parents[source]
            _insert_at(parent, list(parent).index(source), markers)
        else:
            _insert_in_text(source, word, markers)


def _insert_at(parent: ET.Element, index: int, markers: list[ET.Element]) -> None:
    if index == 0 and parent.text and parent.text.strip():
        # Text before the first child: the markers go before it.
        markers[-1].tail, parent.text = parent.text, None
    for offset, marker in enumerate(markers):
        parent.insert(index + offset, marker)


def _insert_in_text(element: ET.Element, word: int, markers: list[ET.Element]) -> None:
    """Before the `word`-th word of the element's own text (not of the blocks inside it)."""
    adapter = HtmlAdapter()
    count = 0
    previous_space = True

    def split(owner: ET.Element, attribute: str, parent: ET.Element, index: int) -> bool:
        nonlocal count, previous_space
        text = getattr(owner, attribute) or ""
        for i, char in enumerate(text):
            space = char.isspace()
            if not space and previous_space:
                if count == word:
                    setattr(owner, attribute, text[:i])
                    markers[-1].tail = text[i:]
                    for offset, marker in enumerate(markers):
                        parent.insert(index + offset, marker)
                    return True
                count += 1
            previous_space = space
        return False

    def walk(el: ET.Element) -> bool:
        if split(el, "text", el, 0):
            return True
        for child in list(el):
            inline = isinstance(child.tag, str) and adapter.role(child) in ("other", "link")
            if inline and walk(child):
                return True
            if split(child, "tail", el, list(el).index(child) + 1):
                return True
        return False

    if not walk(element):
        element.extend(markers)
