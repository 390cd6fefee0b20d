"""Reading a tagged PDF back as assistive technology does (pikepdf): the structure tree from its
root, and every page's marked content with the element that owns it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary


def kids(element) -> list:
    k = element.get("/K")
    if k is None:
        return []
    return list(k) if isinstance(k, Array) else [k]


def walk(element, ancestors=()):
    """(element, its ancestors' tags) for every structure element below `element`."""
    for kid in kids(element):
        if isinstance(kid, Dictionary) and "/S" in kid:
            yield kid, ancestors
            yield from walk(kid, (*ancestors, str(kid.S)))


def document(pdf):
    return kids(pdf.Root.StructTreeRoot)[0]


def reachable(pdf) -> set:
    """The objgens of every structure element a reader meets (below the root)."""
    return {e.objgen for e, _ in walk(pdf.Root.StructTreeRoot)}


@dataclass
class Sequence:
    page: int  # 1-based
    tag: str
    properties: dict  # the BDC property list, as Python values
    inside_artifact: bool
    # the structure element the parent tree names for its MCID, or None
    owner: object = field(repr=False)

    @property
    def mcid(self) -> int | None:
        value = self.properties.get("/MCID")
        return None if value is None else int(value)


def _props(operands) -> dict:
    if len(operands) > 1 and isinstance(operands[1], Dictionary):
        return {str(k): v for k, v in operands[1].items()}
    return {}


def sequences(pdf) -> Iterator[Sequence]:
    """Every marked-content sequence of every page, parsed operator by operator."""
    root = pdf.Root.StructTreeRoot
    nums = root.ParentTree.Nums
    parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
    for n, page in enumerate(pdf.pages, 1):
        key = page.obj.get("/StructParents")
        owners = parents.get(int(key)) if key is not None else None
        stack: list[bool] = []  # one entry per open sequence: inside an artifact?
        for operands, op in pikepdf.parse_content_stream(page):
            name = str(op)
            if name in ("BDC", "BMC"):
                tag = str(operands[0])
                props = _props(operands) if name == "BDC" else {}
                inside = any(stack)
                owner = None
                mcid = props.get("/MCID")
                if mcid is not None and owners is not None and int(mcid) < len(owners):
                    found = owners[int(mcid)]
                    owner = found if isinstance(found, Dictionary) else None
                yield Sequence(n, tag, props, inside, owner)
                stack.append(inside or tag == "/Artifact")
            elif name == "EMC" and stack:
                stack.pop()


def orphans(pdf) -> list[Sequence]:
    """Marked content that is neither an artifact nor owned by an element of the tree: what a
    screen reader skips or reads out of place (Matterhorn 01-001/-002, WeasyPrint#1836)."""
    tree = reachable(pdf)
    return [
        s
        for s in sequences(pdf)
        if not s.inside_artifact
        and s.tag != "/Artifact"
        and (s.owner is None or s.owner.objgen not in tree)
    ]


class Reader:
    """The words of structure elements, as a screen reader gets them: an element's
    /ActualText when it has one, else its marked content and its children's, in order."""

    def __init__(self, pdf):
        self.pdf = pdf
        self.pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
        self._pieces: dict[int, dict] = {}

    def pieces(self, n: int) -> dict:
        from livret.finishing.linebreaks import page_pieces

        if n not in self._pieces:
            self._pieces[n] = page_pieces(self.pdf.pages[n])
        return self._pieces[n]

    def text(self, element, page: int | None = None) -> str:
        if "/Pg" in element:
            page = self.pages[element.Pg.objgen]
        if "/ActualText" in element:
            return str(element.ActualText)
        out = []
        for kid in kids(element):
            if isinstance(kid, int) and page is not None:
                out.append(self.pieces(page).get(kid, ("", 0))[0])
            elif isinstance(kid, Dictionary) and "/S" in kid:
                out.append(self.text(kid, page))
        return "".join(out)
