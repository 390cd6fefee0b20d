"""A book's file assembled from its parts' files (pikepdf).

A book document (the booklet, an excerpt) is a sequence of parts, each laid out once
(livret/rendering/compose.py). Each part is also *written* once: WeasyPrint writes its pages
as a file of their own, whose tag tree livret/finishing/tags.py finishes (a *fragment*). The
booklet and its excerpts are then these files put end to end:

- the pages, in order, each with its resources (a fragment's fonts are subsets for its own
  pages: what a file holds depends on its parts only, so an excerpt is the same bytes
  however it was built, and an edit rewrites only the fragments of the parts it changed);
- one Document element holding each fragment's elements (one per part), in order;
- one parent tree: each fragment's entries under keys that follow the previous ones
  (/StructParents of a page, /StructParent of an annotation), so that a reader finds the
  element of each mark and link;
- the named destinations of every fragment; a fragment links to names of other parts
  (`borrowed`: the contents leads to the cards), written with a stand-in destination that
  the real one replaces here;
- the outline (bookmarks), built from the whole document's bookmark tree as WeasyPrint
  builds it (`Document.make_bookmark_tree`), since a part alone cannot know the levels of
  the parts around it;
- the catalog of the first fragment (metadata, language, output intent), which was laid out
  with the document's own <head>;
- one font program per font: each fragment has subsets of its own glyphs, which
  livret/finishing/fonts.py merges (the file would otherwise be twice as large).

A file of another shape (a link to no destination, a parent tree in several nodes…) raises
Unassembled: the caller then writes the document whole.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from . import fonts


@dataclass(frozen=True)
class Fragment:
    """A part's pages as a finished tagged PDF, and the names it links to that other parts
    hold."""

    data: bytes
    borrowed: frozenset[str] = frozenset()


class Unassembled(Exception):
    """The fragments are not of the shape this module puts together (the message says how)."""


def assemble(
    fragments: Sequence[Fragment],
    bookmarks: list,
    also: Callable[[pikepdf.Pdf], None] | None = None,
) -> bytes:
    """The document made of `fragments`, in order. `bookmarks`: the whole document's bookmark
    tree, WeasyPrint's `Document.make_bookmark_tree(0.75, transform_pages=True)` (page
    indexes are the document's). `also(pdf)`: what else the caller changes before the file
    is saved once."""
    if not fragments:
        raise Unassembled("no fragment")
    out = pikepdf.open(io.BytesIO(fragments[0].data))
    document = _document(out)
    kids = list(_kids(document))
    nums = _nums(out)
    dests = _without(_dests(out), fragments[0].borrowed)
    for fragment in fragments[1:]:
        source = pikepdf.open(io.BytesIO(fragment.data))
        offset = max(nums, default=-1) + 1
        first = len(out.pages)
        with warnings.catch_warnings():
            # pikepdf warns that named destinations are not carried with the pages: they are,
            # below, as one document's names (its add_pages_from would rename a name two
            # fragments hold, where the stand-in must give way to the real one).
            warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
            out.pages.extend(source.pages)  # copied with their resources and annotations
        pages = list(out.pages)[first:]
        # The part's elements, detached from their Document while they are copied (its /P
        # would bring the fragment's tree root along); their /Pg, marks and annotations are
        # the pages just copied.
        for element in _kids(_document(source)):
            del element["/P"]
            copy = out.copy_foreign(element)
            copy.P = document
            kids.append(copy)
        for key, value in _nums(source).items():
            nums[key + offset] = (
                Array([out.copy_foreign(e) if isinstance(e, Dictionary) else e for e in value])
                if isinstance(value, Array)
                else out.copy_foreign(value)
            )
        for page in pages:
            page.obj.StructParents = int(page.obj.StructParents) + offset
            for annot in page.obj.get("/Annots", []):
                if "/StructParent" in annot:
                    annot.StructParent = int(annot.StructParent) + offset
        for name, target in _without(_dests(source), fragment.borrowed).items():
            if name not in dests:  # the first of two anchors of one name, as WeasyPrint does
                dests[name] = (
                    out.copy_foreign(target)
                    if target.is_indirect
                    else Array([out.copy_foreign(target[0]), *list(target)[1:]])
                )
    document.K = Array(kids)
    root = out.Root.StructTreeRoot
    root.ParentTree = out.make_indirect(
        Dictionary(Nums=Array([x for key in sorted(nums) for x in (key, nums[key])]))
    )
    if "/ParentTreeNextKey" in root:
        root.ParentTreeNextKey = max(nums) + 1
    _write_dests(out, dests)
    _write_outline(out, bookmarks)
    # Each part's file has its own subsets of the fonts: one program per font instead.
    fonts.merge_subsets(out)
    if also is not None:
        also(out)
    buffer = io.BytesIO()
    out.save(buffer, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return buffer.getvalue()


def _document(pdf: pikepdf.Pdf):
    kids = _kids(pdf.Root.get("/StructTreeRoot", Dictionary()))
    if len(kids) != 1 or kids[0].get("/S") != Name.Document:
        raise Unassembled("the tag tree has no single Document element")
    return kids[0]


def _kids(element) -> list:
    k = element.get("/K")
    if k is None:
        return []
    return list(k) if isinstance(k, Array) else [k]


def _nums(pdf: pikepdf.Pdf) -> dict[int, Any]:
    tree = pdf.Root.StructTreeRoot.ParentTree
    if "/Kids" in tree:
        raise Unassembled("the parent tree is not one flat list")
    nums = tree.get("/Nums", Array())
    return {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}


def _dests(pdf: pikepdf.Pdf) -> dict[str, Any]:
    dests = pdf.Root.get("/Names", Dictionary()).get("/Dests")
    if dests is None:
        return {}
    if "/Kids" in dests:
        raise Unassembled("the named destinations are not one flat list")
    names = list(dests.get("/Names", Array()))
    return {str(k): v for k, v in zip(names[::2], names[1::2], strict=True)}


def _without(dests: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in dests.items() if k not in names}


def _write_dests(out: pikepdf.Pdf, dests: dict[str, Any]) -> None:
    """The name tree of every destination, sorted, and a check that each link leads to one."""
    if dests:
        if "/Names" not in out.Root:
            out.Root.Names = Dictionary()
        out.Root.Names.Dests = Dictionary(
            Names=Array([x for name in sorted(dests) for x in (String(name), dests[name])])
        )
    for n, page in enumerate(out.pages, 1):
        for annot in page.obj.get("/Annots", []):
            if "/Dest" in annot and str(annot.Dest) not in dests:
                raise Unassembled(f"page {n} links to #{annot.Dest}, anchored nowhere")


def _write_outline(out: pikepdf.Pdf, bookmarks: list) -> None:
    """The outline, written as WeasyPrint writes one (weasyprint/pdf/anchors.py:
    add_outlines): each item's /Count its open descendants, negative when closed."""
    if "/Outlines" in out.Root:
        del out.Root["/Outlines"]
    pages = [page.obj for page in out.pages]

    def write(tree: list, parent) -> tuple[list, int]:
        made: list = []
        count = len(tree)
        for label, (page, x, y), children, state in tree:
            item = out.make_indirect(
                Dictionary(Title=String(label), Dest=Array([pages[page], Name.XYZ, x, y, 0]))
            )
            kids, kids_count = write(children, item)
            item.Count = -kids_count if state == "closed" else kids_count
            if state != "closed":
                count += kids_count
            if made:
                item.Prev = made[-1]
                made[-1].Next = item
            if kids:
                item.First, item.Last = kids[0], kids[-1]
            if parent is not None:
                item.Parent = parent
            made.append(item)
        return made, count

    made, count = write(bookmarks, None)
    if made:
        root = out.make_indirect(Dictionary(Count=count, First=made[0], Last=made[-1]))
        for item in made:
            item.Parent = root
        out.Root.Outlines = root
