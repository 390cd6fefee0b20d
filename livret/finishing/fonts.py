"""One embedded program per font: the subsets that the parts of an assembled PDF embed, merged.

A booklet assembled from parts that WeasyPrint wrote separately holds one subset of a font per
part that uses it (85 subsets of 6 fonts in a 30-page booklet: half the file). WeasyPrint
subsets with HarfBuzz keeping the font's glyph ids (HB_SUBSET_FLAGS_RETAIN_GIDS) up to the last
glyph the part uses: below that, glyph N is glyph N of the font in every subset, and the glyphs
the part does not use are empty. Above it come the components of composite glyphs (é = e +
accent) that lie further in the font, renumbered from there on ("extras"): these are appended to
the merged program and the composites that use them pointed to their new place. The codes in the
content streams, which are glyph ids (Identity-H, /CIDToGIDMap /Identity), do not change: nothing
is redrawn.

Two levels. The font programs (nearly all the bytes) of subsets that agree on every glyph they
share become one program, with one descriptor. The font dictionaries over it are merged too
when their widths and Unicode mappings agree; they stay apart where they do not: WeasyPrint
writes the widths from each part's font size, rounded (626 in one part, 627 in another), and the
glyph positions in the content streams are relative to them; and a part may map the space glyph
to U+00A0 where another maps it to U+0020.

Only what is certainly one font is merged: the same name after the subset tag, the same kind (a
Type0 font over a CIDFontType2 with a TrueType program), the same descriptor but for what a
subset changes (name, box, program, CIDSet), programs whose tables are the same but for those a
subset changes. Anything else is left as it is.

`merge_subsets(pdf)` is called on an assembled document just before it is saved; the objects it
replaces are no longer referenced, and pikepdf does not write them.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, reduce
from operator import or_
from typing import Any

import pikepdf
from fontTools.ttLib import TTFont, TTLibError
from fontTools.ttLib.tables.DefaultTable import DefaultTable
from pikepdf import Array, Dictionary, Name

Glyph = tuple[bytes, int, int]  # (outline as in glyf, advance, left side bearing)

# The tables a merge rebuilds from the glyphs of the subsets.
GLYPH_TABLES = {"glyf", "loca", "hmtx", "cmap"}
# Fields of font-wide tables that a subset may change: (offset, struct format, how they merge;
# None: set by the merge). Read and written as bytes (fontTools warns when it decompiles the
# creation date HarfBuzz writes). Every other byte of these tables must be the same in all the
# subsets.
MERGED_FIELDS: dict[str, list[tuple[int, str, Callable[[Any, Any], Any] | None]]] = {
    "head": [
        (8, ">L", None),  # checkSumAdjustment: written by fontTools
        (36, ">h", min), (38, ">h", min), (40, ">h", max), (42, ">h", max),  # the glyphs' box
        (50, ">h", None),  # indexToLocFormat
    ],
    "hhea": [
        (10, ">H", max), (12, ">h", min), (14, ">h", min), (16, ">h", max),  # extents
        (34, ">H", None),  # numberOfHMetrics
    ],
    "maxp": [(4, ">H", None)] + [(6 + 2 * n, ">H", max) for n in range(13)],  # numGlyphs, maxima
    "OS/2": [
        (42, ">L", or_), (46, ">L", or_), (50, ">L", or_), (54, ">L", or_),  # ulUnicodeRange
        (64, ">H", min), (66, ">H", max),  # usFirstCharIndex, usLastCharIndex
    ],
}  # fmt: skip
# Tables copied as they are: byte for byte the same in all the subsets. A subset with any other
# table (glyph names by glyph, kerning, device metrics…) is left as it is.
SAME_TABLES = {"name", "post", "gasp", "cvt ", "fpgm", "prep"}
KNOWN_TABLES = GLYPH_TABLES | MERGED_FIELDS.keys() | SAME_TABLES
CMAP_FORMATS = {0, 4, 6, 12}  # character map subtables that are a plain code point → glyph map

# The entries the merge knows in each dictionary of a font; a font with any other is left alone.
TYPE0_KEYS = {"/Type", "/Subtype", "/BaseFont", "/Encoding", "/DescendantFonts", "/ToUnicode"}
CIDFONT_KEYS = {
    "/Type", "/Subtype", "/BaseFont", "/CIDSystemInfo", "/CIDToGIDMap", "/W", "/DW",
    "/FontDescriptor",
}  # fmt: skip
# Descriptor entries a subset changes; every other entry must be the same in all the subsets.
DESCRIPTOR_MERGED = {"/FontName", "/FontBBox", "/FontFile2", "/CIDSet"}
SUBSET_NAME = re.compile(r"/[A-Z]{6}\+(.+)")
BFCHAR = re.compile(rb"(\d+) beginbfchar\s(.*?)endbfchar\s*", re.S)
BFCHAR_ENTRY = re.compile(rb"\s*<([0-9A-Fa-f]{4})>\s*<((?:[0-9A-Fa-f]{4})+)>")
# Composite glyph flags (OpenType glyf): the size of each component record.
ARG_WORDS, SCALE, MORE, XY_SCALE, TWO_BY_TWO = 0x0001, 0x0008, 0x0020, 0x0040, 0x0080
COMPOSITE = b"\xff\xff"  # numberOfContours -1


@dataclass(frozen=True, eq=False)
class Program:
    """What a subset's TrueType program holds, read once per program (`read_program`).

    Compared by identity: `read_program` gives the same object for the same bytes (and `split`
    the same split of it), so splits are cheap keys for the merged program's cache."""

    data: bytes
    glyphs: dict[int, Glyph]  # the glyphs with an outline or metrics (a space has no outline)
    cmaps: dict[tuple[int, int, int, int], dict[int, int]]  # subtable → {code point: glyph id}
    tables: dict[str, bytes]  # the font-wide tables of MERGED_FIELDS
    same: tuple  # everything that must be the same in subsets of one font


@dataclass(frozen=True, eq=False)
class Split:
    """A program's glyphs below `limit` (their ids are the font's) and above (the extras)."""

    program: Program
    limit: int  # 1 + the last glyph id the text uses
    kept: dict[int, Glyph]  # below: as compared with other subsets (references to extras masked)
    extras: list[int]  # the glyph ids above


@dataclass
class Subset:
    """One embedded subset, as the PDF describes it: its Type0 font and what a merge needs."""

    font: Dictionary
    name: str  # the font's name without its subset tag: "Livret-Lato-Bold"
    same: tuple  # everything that must be the same in subsets of one font (with Program.same)
    widths: dict[int, Any]  # CID → width, from /W (values as written)
    to_unicode: dict[int, bytes]  # CID → the hex digits of its text, from /ToUnicode
    frame: tuple[bytes, bytes]  # the ToUnicode CMap before and after its bfchar blocks
    box: list  # /FontBBox
    cid_set: bytes | None
    program: Program
    program_id: tuple[int, int]  # the program stream's object: shared by merged fonts
    limit: int  # 1 + the last glyph id used by the fonts over this program (`_subsets`)

    @property
    def split(self) -> Split:
        return split(self.program, self.limit)


def merge_subsets(pdf: pikepdf.Pdf) -> None:
    """Replace the subsets of each font embedded in `pdf` by one program holding their union
    (and as few font dictionaries as their widths allow), and point every resource dictionary
    that named a subset to its replacement.

    Pure on the document: the same bytes in, the same bytes out. Subsets that cannot be shown to
    be of one font, or that disagree, are left as they are."""
    resources = list(_font_resources(pdf))
    replaced: dict[tuple[int, int], Dictionary] = {}
    for group in _groups(_subsets(resources)):
        for cluster in _clusters(group, _agree_on_glyphs):
            if len({s.program_id for s in cluster}) > 1:  # one program: merged already
                replaced.update(_merged_fonts(pdf, cluster))
    _repoint(resources, replaced)


# --- where fonts are named -------------------------------------------------------------------


def _font_resources(pdf: pikepdf.Pdf) -> Iterator[Dictionary]:
    """Every /Font dictionary of a resource dictionary: of pages and page tree nodes, form
    XObjects (annotation appearances, soft masks), patterns, Type3 fonts, the form's /DR.
    Each indirect object is looked at once: nothing missed, no walk of the object graph."""
    seen: set[tuple[int, int]] = set()
    for obj in pdf.objects:
        if not isinstance(obj, Dictionary | pikepdf.Stream):
            continue
        for key in ("/Resources", "/DR"):
            if key not in obj:  # `in` first: most objects (structure elements) have neither
                continue
            resources = obj[key]
            fonts = resources.get("/Font") if isinstance(resources, Dictionary) else None
            if not isinstance(fonts, Dictionary):
                continue
            if fonts.is_indirect:
                if fonts.objgen in seen:
                    continue
                seen.add(fonts.objgen)
            yield fonts


def _repoint(resources: list[Dictionary], replaced: dict[tuple[int, int], Dictionary]) -> None:
    """Name each replacement wherever the font it replaces was named."""
    for fonts in resources:
        for key in sorted(fonts.keys()):
            font = fonts[key]
            if font.is_indirect and font.objgen in replaced:
                fonts[key] = replaced[font.objgen]


# --- reading a subset ------------------------------------------------------------------------


def _subsets(resources: list[Dictionary]) -> list[Subset]:
    """The fonts named in `resources` that can take part in a merge, each once, in the order
    they are first named (a stable order: same document, same merge). Fonts over one program
    (merged already) share its limit: the glyphs past the last one any of them uses."""
    seen: set[tuple[int, int]] = set()
    found = []
    for fonts in resources:
        for key in sorted(fonts.keys()):
            font = fonts[key]
            if not font.is_indirect or font.objgen in seen:
                continue
            seen.add(font.objgen)
            subset = _read_subset(font)
            if subset is not None:
                found.append(subset)
    limits: dict[tuple[int, int], int] = {}
    for subset in found:
        limits[subset.program_id] = max(limits.get(subset.program_id, 0), subset.limit)
    for subset in found:
        subset.limit = limits[subset.program_id]
    return found


def _parts(font: Any) -> tuple[Dictionary, Dictionary, pikepdf.Stream, pikepdf.Stream] | None:
    """(CIDFont, descriptor, program, ToUnicode) of a Type0 font of the one kind the merge
    knows (Identity-H over a CIDFontType2 with a TrueType program and /CIDToGIDMap /Identity,
    no entry it does not know), or None."""
    if not isinstance(font, Dictionary) or font.get("/Subtype") != Name.Type0:
        return None
    if not set(font.keys()) <= TYPE0_KEYS or font.get("/Encoding") != Name("/Identity-H"):
        return None
    descendants = font.get("/DescendantFonts")
    if not isinstance(descendants, Array) or len(descendants) != 1:
        return None
    cidfont = descendants[0]
    if not isinstance(cidfont, Dictionary) or not set(cidfont.keys()) <= CIDFONT_KEYS:
        return None
    if cidfont.get("/Subtype") != Name.CIDFontType2 or cidfont.get("/CIDToGIDMap") != Name.Identity:
        return None
    descriptor = cidfont.get("/FontDescriptor")
    if not isinstance(descriptor, Dictionary):
        return None
    program, to_unicode = descriptor.get("/FontFile2"), font.get("/ToUnicode")
    if not isinstance(program, pikepdf.Stream) or not isinstance(to_unicode, pikepdf.Stream):
        return None
    return cidfont, descriptor, program, to_unicode


def _read_subset(font: Any) -> Subset | None:
    """The subset `font` embeds, or None when it is not one the merge knows or cannot be read
    (it is then left as it is)."""
    try:
        return _subset(font)
    except (struct.error, IndexError, ValueError, TypeError):
        return None


def _subset(font: Any) -> Subset | None:
    parts = _parts(font)
    if parts is None:
        return None
    cidfont, descriptor, program_stream, to_unicode_stream = parts
    name = _untagged(font, cidfont, descriptor)
    to_unicode = _read_to_unicode(to_unicode_stream.read_bytes())
    program = read_program(program_stream.read_bytes())
    widths = _read_widths(cidfont.get("/W", Array()))
    if name is None or to_unicode is None or program is None or not widths:
        return None
    cid_set = descriptor.get("/CIDSet")
    return Subset(
        font=font,
        name=name,
        same=(
            name,
            repr(cidfont.get("/CIDSystemInfo")),
            repr(cidfont.get("/DW")),
            cid_set is not None,
            tuple(
                (key, repr(descriptor[key]))
                for key in sorted(descriptor.keys())
                if key not in DESCRIPTOR_MERGED
            ),
        ),
        widths=widths,
        to_unicode=to_unicode[0],
        frame=to_unicode[1],
        box=list(descriptor.get("/FontBBox", Array())),
        cid_set=cid_set.read_bytes() if isinstance(cid_set, pikepdf.Stream) else None,
        program=program,
        program_id=program_stream.objgen,
        limit=max([*widths, *to_unicode[0]]) + 1,
    )


def _untagged(font: Dictionary, cidfont: Dictionary, descriptor: Dictionary) -> str | None:
    """The font's name without its subset tag, when its three dictionaries give one name."""
    names = {str(font.get("/BaseFont")), str(cidfont.get("/BaseFont"))}
    names.add(str(descriptor.get("/FontName")))
    match = SUBSET_NAME.fullmatch(names.pop()) if len(names) == 1 else None
    return match.group(1) if match else None


def _read_widths(widths: Any) -> dict[int, Any]:
    """/W as {CID: width}: `c [w1 w2 …]` and `c_first c_last w` runs."""
    items, i = list(widths), 0
    found: dict[int, Any] = {}
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], Array):
            found.update((first + n, w) for n, w in enumerate(items[i + 1]))
            i += 2
        else:
            found.update(dict.fromkeys(range(first, int(items[i + 1]) + 1), items[i + 2]))
            i += 3
    return found


def _read_to_unicode(text: bytes) -> tuple[dict[int, bytes], tuple[bytes, bytes]] | None:
    """A ToUnicode CMap made of bfchar blocks (as WeasyPrint writes it) → ({CID: hex digits},
    (the text before the blocks, the text after)); None for any other shape (ranges…)."""
    blocks = list(BFCHAR.finditer(text))
    if not blocks or b"bfrange" in text:
        return None
    if any(a.end() != b.start() for a, b in zip(blocks, blocks[1:], strict=False)):
        return None  # something between two blocks
    found: dict[int, bytes] = {}
    for block in blocks:
        entries = BFCHAR_ENTRY.findall(block.group(2))
        if len(entries) != int(block.group(1)) or BFCHAR_ENTRY.sub(b"", block.group(2)).strip():
            return None
        found.update((int(code, 16), digits.lower()) for code, digits in entries)
    return found, (text[: blocks[0].start()], text[blocks[-1].end() :])


# --- reading a font program ------------------------------------------------------------------


@lru_cache(maxsize=512)
def read_program(data: bytes) -> Program | None:
    """A subset's TrueType program, read: its glyphs, character maps and font-wide tables; None
    when it holds a table the merge does not know, or cannot be read.

    Cached by bytes: the parts of a warm worker are the same from one assembly to the next."""
    try:
        font = _open(data)
        tags = set(font.keys()) - {"GlyphOrder"}
        if not tags <= KNOWN_TABLES or not KNOWN_TABLES - SAME_TABLES <= tags:
            return None
        tables = {tag: font.getTableData(tag) for tag in MERGED_FIELDS}
        (count,) = struct.unpack_from(">H", tables["maxp"], 4)
        (long_metrics,) = struct.unpack_from(">H", tables["hhea"], 34)
        font.setGlyphOrder(list(_glyph_names(count)))  # names by id: none from post or cmap
        cmaps = _read_cmaps(font)
        glyphs = _read_glyphs(font, count, long_metrics, tables["head"][50:52] == b"\0\1")
    except (TTLibError, struct.error, KeyError, ValueError, IndexError):
        return None
    if cmaps is None:
        return None
    same = tuple(sorted((tag, _masked(tag, data)) for tag, data in tables.items()))
    same += tuple((tag, font.getTableData(tag)) for tag in sorted(tags & SAME_TABLES))
    return Program(data=data, glyphs=glyphs, cmaps=cmaps, tables=tables, same=same)


def _open(data: bytes) -> TTFont:
    """A TrueType program, read lazily, written back with its timestamps and boxes as read."""
    return TTFont(io.BytesIO(data), lazy=True, recalcBBoxes=False, recalcTimestamp=False)


def _masked(tag: str, data: bytes) -> bytes:
    """A font-wide table with the fields a subset may change zeroed."""
    table = bytearray(data)
    for offset, kind, _ in MERGED_FIELDS[tag]:
        if offset + struct.calcsize(kind) <= len(table):
            struct.pack_into(kind, table, offset, 0)
    return bytes(table)


def _read_cmaps(font: TTFont) -> dict[tuple[int, int, int, int], dict[int, int]] | None:
    """The character map subtables as {code point: glyph id}; None for a kind of subtable
    that is not a plain map (variation sequences…)."""
    found = {}
    for table in font["cmap"].tables:
        if table.format not in CMAP_FORMATS:
            return None
        key = (table.platformID, table.platEncID, table.format, table.language)
        found[key] = {code: font.getGlyphID(name) for code, name in table.cmap.items()}
    return found


def _read_glyphs(
    font: TTFont, count: int, long_metrics: int, long_offsets: bool
) -> dict[int, Glyph]:
    """The glyphs the program holds, from the raw glyf, loca and hmtx tables (decompiling every
    glyph would cost more than the whole merge): {glyph id: (outline, advance, left side
    bearing)} for the glyphs with an outline or metrics (a space has no outline)."""
    offsets = _big_endian("I" if long_offsets else "H", font.getTableData("loca"))
    scale = 1 if long_offsets else 2
    outlines, metrics = font.getTableData("glyf"), font.getTableData("hmtx")
    ends = zip(offsets, offsets[1:], strict=False)
    present = {gid for gid, (start, end) in enumerate(ends) if end != start}
    present.update(gid for gid, raw in enumerate(array("I", metrics[: 4 * long_metrics])) if raw)
    (last_advance,) = struct.unpack_from(">H", metrics, 4 * (long_metrics - 1))
    sides = array("H", metrics[4 * long_metrics :][: 2 * (count - long_metrics)])
    present.update(long_metrics + n for n, raw in enumerate(sides) if raw or last_advance)
    glyphs = {}
    for gid in sorted(present):
        if gid < long_metrics:
            advance, side = struct.unpack_from(">Hh", metrics, 4 * gid)
        else:
            advance = last_advance
            (side,) = struct.unpack_from(">h", metrics, 2 * (long_metrics + gid))
        glyphs[gid] = (outlines[offsets[gid] * scale : offsets[gid + 1] * scale], advance, side)
    return glyphs


def _big_endian(kind: str, data: bytes) -> array:
    """An array of big-endian integers (as in font tables), read."""
    values = array(kind, data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


@lru_cache(maxsize=8)
def _glyph_names(count: int) -> list[str]:
    """Names for glyph ids 0…count-1: fontTools works with names, the PDF with ids."""
    return [".notdef"] + [f"g{gid}" for gid in range(1, count)]


@lru_cache(maxsize=512)
def split(program: Program, limit: int) -> Split:
    """`program`'s glyphs below `limit` and above; below, a composite glyph's references to
    extras masked (0xFFFF): the same glyph in two subsets refers to its extras by different ids."""
    extras = sorted(gid for gid in program.glyphs if gid >= limit)
    masks = dict.fromkeys(extras, 0xFFFF)
    kept = {}
    for gid, (outline, advance, side) in program.glyphs.items():
        if gid < limit:
            masked = _renumber(outline, masks) if outline.startswith(COMPOSITE) else outline
            kept[gid] = (masked, advance, side)
    return Split(program, limit, kept, extras)


def _renumber(outline: bytes, new_ids: dict[int, int]) -> bytes:
    """A composite glyph with its components' glyph ids replaced as `new_ids` says."""
    data = bytearray(outline)
    position, flags = 10, MORE
    while flags & MORE:
        flags, component = struct.unpack_from(">HH", data, position)
        struct.pack_into(">H", data, position + 2, new_ids.get(component, component))
        position += 4 + (4 if flags & ARG_WORDS else 2)
        position += (
            2 if flags & SCALE else 4 if flags & XY_SCALE else 8 if flags & TWO_BY_TWO else 0
        )
    return bytes(data)


# --- which subsets merge ---------------------------------------------------------------------


def _groups(subsets: list[Subset]) -> list[list[Subset]]:
    """The subsets by font: same name, same descriptor, same font-wide tables."""
    groups: dict[tuple, list[Subset]] = {}
    for subset in subsets:
        groups.setdefault((subset.same, subset.split.program.same), []).append(subset)
    return list(groups.values())


@dataclass
class _Union:
    """What a set of agreeing subsets holds together: name → the union of their maps."""

    maps: dict[str, dict] = field(default_factory=dict)
    members: list[Subset] = field(default_factory=list)


def _agree_on_glyphs(subset: Subset) -> dict[str, dict]:
    """What must agree for two subsets to share a program: glyphs, character maps."""
    maps: dict[str, dict] = {"glyphs": subset.split.kept}
    for key, cmap in subset.split.program.cmaps.items():
        maps[f"cmap {key}"] = {c: g for c, g in cmap.items() if g < subset.split.limit}
    return maps


def _agree_on_text(subset: Subset) -> dict[str, dict]:
    """What must agree for two subsets to share a ToUnicode CMap: their Unicode mappings."""
    return {"to_unicode": subset.to_unicode, "frame": {0: subset.frame}}


def _agree_on_widths(subset: Subset) -> dict[str, dict]:
    """What must agree for two subsets (sharing a CMap) to share a font dictionary: widths."""
    return {"widths": subset.widths}


def _clusters(group: list[Subset], what: Callable[[Subset], dict[str, dict]]) -> list[list[Subset]]:
    """`group` split into sets whose members agree on `what` (every map gives the same value
    for every key both hold, and the same maps): each subset joins the first set it agrees with."""
    unions: list[_Union] = []
    for subset in group:
        maps = what(subset)
        union = next((u for u in unions if _agree(u.maps, maps)), None)
        if union is None:
            union = _Union()
            unions.append(union)
        for name, values in maps.items():
            union.maps.setdefault(name, {}).update(values)
        union.members.append(subset)
    return [u.members for u in unions]


def _agree(mine: dict[str, dict], theirs: dict[str, dict]) -> bool:
    """Whether two sets of maps have the same names, and agree on every key they share."""
    if mine.keys() != theirs.keys():
        return False
    for name, values in theirs.items():
        held = mine[name]
        if any(held.get(key, value) != value for key, value in values.items()):
            return False
    return True


# --- the merged fonts ------------------------------------------------------------------------


def _merged_fonts(pdf: pikepdf.Pdf, cluster: list[Subset]) -> Iterator[tuple[tuple, Dictionary]]:
    """For each subset of `cluster`, (its object id, the font that replaces it): fonts over one
    merged program and descriptor, one ToUnicode CMap per set of subsets that agree on text, one
    font per set of these that agree on widths."""
    program = merge_programs(tuple(dict.fromkeys(s.split for s in cluster)))  # each once
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(program).digest()[:6])
    name = Name(f"/{tag}+{cluster[0].name}")
    descriptor = pdf.make_indirect(_descriptor(pdf, cluster, name, program))
    for texts in _clusters(cluster, _agree_on_text):
        to_unicode: dict[int, bytes] = {}
        for subset in texts:
            to_unicode.update(subset.to_unicode)
        cmap = _stream(pdf, _to_unicode_text(to_unicode, texts[0].frame))
        for members in _clusters(texts, _agree_on_widths):
            font = _font(pdf, members, name, descriptor, cmap)
            for subset in members:
                yield subset.font.objgen, font


def _descriptor(pdf: pikepdf.Pdf, cluster: list[Subset], name: Name, program: bytes) -> Dictionary:
    """The first subset's descriptor, naming `name`, with the merged program, box and CIDSet."""
    first = cluster[0].font.DescendantFonts[0].FontDescriptor
    descriptor = Dictionary({key: first[key] for key in first.keys()})
    descriptor.FontName = name
    descriptor.FontFile2 = _stream(pdf, program, Length1=len(program))
    boxes = [s.box for s in cluster if len(s.box) == 4]
    if boxes:
        corners = [min(b[i] for b in boxes) for i in (0, 1)] + [
            max(b[i] for b in boxes) for i in (2, 3)
        ]
        descriptor.FontBBox = Array(corners)
    cid_sets = [s.cid_set for s in cluster if s.cid_set is not None]
    if cid_sets:
        descriptor.CIDSet = _stream(pdf, _union_bits(cid_sets))
    return descriptor


def _font(
    pdf: pikepdf.Pdf,
    members: list[Subset],
    name: Name,
    descriptor: Dictionary,
    to_unicode: pikepdf.Stream,
) -> Dictionary:
    """A Type0 font over `descriptor` and `to_unicode`, with the union of the members' widths."""
    first = members[0].font
    widths: dict[int, Any] = {}
    for subset in members:
        widths.update(subset.widths)
    cidfont = Dictionary(
        {key: first.DescendantFonts[0][key] for key in first.DescendantFonts[0].keys()}
    )
    cidfont.BaseFont = name
    cidfont.W = _widths_array(widths)
    cidfont.FontDescriptor = descriptor
    font = Dictionary({key: first[key] for key in first.keys()})
    font.BaseFont = name
    font.DescendantFonts = Array([pdf.make_indirect(cidfont)])
    font.ToUnicode = to_unicode
    return pdf.make_indirect(font)


def _stream(pdf: pikepdf.Pdf, data: bytes, **entries: Any) -> pikepdf.Stream:
    """A Flate-compressed stream of `data` (compressed here: the same bytes whatever the
    options the document is saved with)."""
    return pikepdf.Stream(pdf, zlib.compress(data), Filter=Name.FlateDecode, **entries)


def _union_bits(bit_sets: list[bytes]) -> bytes:
    """CIDSet bit strings OR-ed together."""
    length = max(len(bits) for bits in bit_sets)
    value = reduce(or_, (int.from_bytes(bits.ljust(length, b"\0"), "big") for bits in bit_sets))
    return value.to_bytes(length, "big")


def _widths_array(widths: dict[int, Any]) -> Array:
    """{CID: width} → /W, one `c [w1 w2 …]` run per range of consecutive CIDs."""
    items: list[Any] = []
    for cid in sorted(widths):
        if cid - 1 not in widths:
            items += [cid, []]
        items[-1].append(widths[cid])
    return Array(items)


def _to_unicode_text(to_unicode: dict[int, bytes], frame: tuple[bytes, bytes]) -> bytes:
    """The ToUnicode CMap: the subsets' frame around bfchar blocks of at most 100 entries
    (PDF's limit) in CID order."""
    entries = [b"<%04x> <%s>" % (cid, to_unicode[cid]) for cid in sorted(to_unicode)]
    blocks = [
        b"%d beginbfchar\n%s\nendbfchar\n" % (len(chunk), b"\n".join(chunk))
        for chunk in (entries[i : i + 100] for i in range(0, len(entries), 100))
    ]
    return frame[0] + b"".join(blocks) + frame[1]


# --- the merged program ----------------------------------------------------------------------


@lru_cache(maxsize=64)
def merge_programs(splits: tuple[Split, ...]) -> bytes:
    """The TrueType program holding every glyph of `splits` (subsets of one font that agree):
    the largest subset's tables with glyf, loca and hmtx rebuilt from the union of the glyphs
    (the extras appended, the composites pointed to them), cmap from the union of the maps
    (but for the extras: their ids are their subset's own; PDF text does not use cmap),
    head's box and MERGED_FIELDS merged by their rule.

    Cached: an excerpt's parts are the booklet's, and in a warm worker the parts that did not
    change are the same objects from one assembly to the next."""
    glyphs, count = _union_glyphs(splits)
    names = _glyph_names(count)
    base = max(splits, key=lambda s: len(s.program.glyphs)).program
    font = _open(base.data)
    font.setGlyphOrder(list(names))
    outlines, offsets, long_offsets = _glyf_and_loca(glyphs, count)
    font["glyf"] = _raw_table("glyf", outlines)
    font["loca"] = _raw_table("loca", offsets)
    font["hmtx"] = _raw_table("hmtx", b"".join(struct.pack(">Hh", *g[1:]) for g in glyphs))
    set_by_merge = {"head": {50: int(long_offsets)}, "hhea": {34: count}, "maxp": {4: count}}
    for tag in MERGED_FIELDS:
        tables = [s.program.tables[tag] for s in splits]
        font[tag] = _raw_table(
            tag, _merged_table(tag, base.tables[tag], tables, set_by_merge.get(tag, {}))
        )
    for table in font["cmap"].tables:
        key = (table.platformID, table.platEncID, table.format, table.language)
        merged: dict[int, int] = {}
        for s in splits:
            merged.update((c, g) for c, g in s.program.cmaps[key].items() if g < s.limit)
        table.cmap = {code: names[gid] for code, gid in sorted(merged.items())}
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _union_glyphs(splits: tuple[Split, ...]) -> tuple[list[Glyph], int]:
    """([glyph by id], count): each id below the largest limit from the first subset that holds
    it, then the subsets' extras (a simple glyph once, whichever subsets have it: each part
    brings the same accents); composites pointed to their extras' new ids."""
    count = max(s.limit for s in splits)
    glyphs: dict[int, Glyph] = {}
    appended: dict[Glyph, int] = {}  # a simple extra → its new id
    for s in splits:
        moved: dict[int, int] = {}
        for old in s.extras:
            glyph = s.program.glyphs[old]
            if glyph in appended:
                moved[old] = appended[glyph]
                continue
            moved[old] = count
            if not glyph[0].startswith(COMPOSITE):  # a composite's components are its own
                appended[glyph] = count
            count += 1
        for gid, (outline, advance, side) in s.program.glyphs.items():
            at = moved.get(gid, gid)
            if at not in glyphs:
                if outline.startswith(COMPOSITE) and moved:
                    outline = _renumber(outline, moved)
                glyphs[at] = (outline, advance, side)
    return [glyphs.get(gid, (b"", 0, 0)) for gid in range(count)], count


def _merged_table(tag: str, base: bytes, tables: list[bytes], values: dict[int, int]) -> bytes:
    """A font-wide table: `base` with each field of MERGED_FIELDS merged by its rule from
    `tables`, or set to `values`' (head's checksum left to fontTools)."""
    merged = bytearray(base)
    for offset, kind, rule in MERGED_FIELDS[tag]:
        if offset + struct.calcsize(kind) > len(merged):
            continue
        if rule is not None:
            value = reduce(rule, (struct.unpack_from(kind, t, offset)[0] for t in tables))
            struct.pack_into(kind, merged, offset, value)
        elif offset in values:
            struct.pack_into(kind, merged, offset, values[offset])
    return bytes(merged)


def _glyf_and_loca(glyphs: list[Glyph], count: int) -> tuple[bytes, bytes, bool]:
    """glyf and loca for `glyphs`: (glyf, loca, whether loca has long offsets). Outlines padded
    to an even length, as short offsets need."""
    parts, offsets, position = [], [0], 0
    for outline, _, _ in glyphs:
        if len(outline) % 2:
            outline += b"\0"
        parts.append(outline)
        position += len(outline)
        offsets.append(position)
    long_offsets = position > 0x1FFFE
    table = array("I", offsets) if long_offsets else array("H", (o // 2 for o in offsets))
    if sys.byteorder == "little":
        table.byteswap()
    return b"".join(parts), table.tobytes(), long_offsets


def _raw_table(tag: str, data: bytes) -> DefaultTable:
    """A table written as the bytes given."""
    table = DefaultTable(tag)
    table.data = data
    return table
