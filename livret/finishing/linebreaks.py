"""The words a reader gets across line ends: no "sur latransition", no "solida-" + "rités".

WeasyPrint draws each piece of a line as one marked-content sequence (one MCID) and, at a line
end, drops the space where the line broke (the reader then glues the last word of a line to
the first of the next) or adds the hyphen of automatic hyphenation — the same glyph as a real
hyphen in the font, so its Unicode mapping cannot tell them apart (a word split at a real
hyphen, "Hauts-" + "de-France", must keep it). PDF says how: /ActualText. For each line end
inside a text block, this pass decodes the line's last piece and sets:

- on its structure element (what screen readers and tagged-text extraction read): the text
  with the space back, or without the automatic hyphen;
- on its marked content (what pdftotext reads): the line ending in U+002D when hyphenated
  automatically (poppler joins such lines) and in U+2010 when the hyphen is real (kept).

Automatic or real: the two halves joined must be a word of the document's own text.

The file as this pass and the tag pass (tags.py) read it, once: each page's marked text
(Pages, kept current through their edits) and the structure tree as Python objects (Element,
read_tree). Reading either again for each pass cost most of the tag pass (benchmarks/README.md,
« Tag pass benchmark »).
"""

from __future__ import annotations

import re
from collections.abc import Set

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from ..errors import shape_changed
from ..i18n import _

HYPHENS = "-\u2010\u00ad"
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
# Elements whose pieces are lines of one text block (inline elements are walked through).
# NonStruct is not one: WeasyPrint tags <i>, <b>, <em> NonStruct too.
BLOCKS = {
    "/P", "/H1", "/H2", "/H3", "/H4", "/H5", "/H6", "/LBody", "/Lbl", "/Caption",
    "/BlockQuote", "/TOCI", "/Div", "/Sect", "/Art", "/L", "/LI", "/TOC", "/Document",
}  # fmt: skip


def _cmap(font) -> dict[int, str]:
    """A font's ToUnicode as a str.translate table (WeasyPrint writes 2-byte codes, read as
    UTF-16 code units, in bfchar entries)."""
    table: dict[int, str] = {}
    if "/ToUnicode" not in font:
        return table
    text = font.ToUnicode.read_bytes().decode("latin-1")
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for code, uni in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            table[int(code, 16)] = bytes.fromhex(uni).decode("utf-16-be", "replace")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, uni in re.findall(
            r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block
        ):
            start, base = int(lo, 16), int(uni, 16)
            for n in range(int(hi, 16) - start + 1):
                table[start + n] = chr(base + n)
    return table


def _shared_cmap(font, shared: dict) -> dict[int, str]:
    """_cmap(font), read once per font object of the document."""
    if not font.is_indirect:
        return _cmap(font)
    if font.objgen not in shared:
        shared[font.objgen] = _cmap(font)
    return shared[font.objgen]


# WeasyPrint's content streams (pydyf), read with regular expressions: a parser walking every
# operator and every glyph string in Python costs several times the whole tag pass
# (benchmarks/README.md).
# A marked-content sequence, with the /ActualText a line end may have been given (_mark_content).
SEQUENCE = re.compile(rb"<</MCID (\d+)(?: /ActualText <([0-9a-fA-F]*)>)?>>\s*BDC(.*?)\bEMC", re.S)
# Any marked-content sequence with an MCID, however written: what SEQUENCE must all find.
ANY_MCID = re.compile(rb"/MCID\s")
# What matters in a sequence: where a line starts (Tm), a change of font (Tf), the glyph codes
# shown (hex strings), a TJ array of them read at once (one match per glyph cost a third more).
TEXT_OPS = re.compile(rb"([-\d.]+) Tm|/([^\s/<>\[\]()]+) [-\d.]+ Tf|<([0-9a-fA-F]*)>|\[([^\]]*)\]")
GLYPHS = re.compile(rb"<([0-9a-fA-F]*)>")


def _decode(run: list[bytes], font: dict[int, str]) -> str:
    codes = bytes.fromhex(b"".join(run).decode("ascii"))
    return codes.decode("utf-16-be", "surrogatepass").translate(font)


def page_pieces(page, shared: dict | None = None) -> dict[int, tuple[str, float]]:
    """{MCID: (text, baseline y)} for one page's marked text. `shared`: the fonts' tables
    already read on other pages of the document (WeasyPrint shares its fonts between pages)."""
    page.contents_coalesce()
    return _pieces(page.obj.Contents.read_bytes(), page, {} if shared is None else shared)


def _pieces(content: bytes, page, shared: dict) -> dict[int, tuple[str, float]]:
    """page_pieces of `content`, the page's content stream as it is now."""
    fonts = page.obj.get("/Resources", {}).get("/Font", {})
    cmaps: dict[bytes, dict[int, str]] = {}
    pieces: dict[int, tuple[str, float]] = {}
    for sequence in SEQUENCE.finditer(content):
        font: dict[int, str] = {}
        y = 0.0
        text: list[str] = []
        run: list[bytes] = []  # the glyph codes shown in one font, decoded at once
        for m in TEXT_OPS.finditer(sequence.group(3)):
            if m.lastindex == 4:
                run += GLYPHS.findall(m.group(4))
            elif m.lastindex == 3:
                run.append(m.group(3))
            elif m.lastindex == 1:
                y = float(m.group(1))
            else:
                text.append(_decode(run, font))
                run = []
                tf = m.group(2)
                if tf not in cmaps:
                    key = "/" + tf.decode("latin-1")
                    cmaps[tf] = _shared_cmap(fonts[key], shared) if key in fonts else {}
                font = cmaps[tf]
        text.append(_decode(run, font))
        actual = sequence.group(2)  # what a reader gets, when set
        said = bytes.fromhex(actual.decode()).decode("utf-16") if actual is not None else None
        pieces[int(sequence.group(1))] = (said if said is not None else "".join(text), y)
    if len(pieces) != len(ANY_MCID.findall(content)):  # marked text the regex cannot read
        raise shape_changed(
            _("page {n}: {read} of its {marked} marked-content sequences read").format(
                n=page.index + 1, read=len(pieces), marked=len(ANY_MCID.findall(content))
            )
        )
    return pieces


class Pages:
    """The pages of a tagged file, each content stream read and parsed once and kept current
    through the edits of the tag pass (tags.py) and of this one: parsing a page's marked text
    again after each edit is most of what these passes would cost. An edit only writes marked
    content's property lists (an artifact instead of an MCID, an /ActualText added), so the
    pieces after it are those before, less the MCIDs made artifacts, with the /ActualText set:
    what parsing the new stream gives (page_pieces)."""

    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.pages = list(pdf.pages)
        self.index = {page.obj.objgen: n for n, page in enumerate(self.pages)}
        self._content: dict[int, bytes] = {}
        self._pieces: dict[int, dict[int, tuple[str, float]]] = {}
        self._fonts: dict = {}  # each font's ToUnicode read once for the document

    def content(self, n: int) -> bytes:
        """Page `n`'s content stream (one stream: WeasyPrint writes one already)."""
        if n not in self._content:
            self.pages[n].contents_coalesce()
            self._content[n] = self.pages[n].obj.Contents.read_bytes()
        return self._content[n]

    def pieces(self, n: int) -> dict[int, tuple[str, float]]:
        """{MCID: (text, baseline y)} of page `n` as it is now (page_pieces). A new dict
        after each edit: one read before it keeps what it read."""
        if n not in self._pieces:
            self._pieces[n] = _pieces(self.content(n), self.pages[n], self._fonts)
        return self._pieces[n]

    def rewrite(
        self, n: int, content: bytes, artifacts: Set[int] = frozenset(), said: dict | None = None
    ) -> None:
        """Page `n`'s content is now `content`: the same but for the MCIDs of `artifacts`
        (made artifacts) and of `said` ({MCID: its /ActualText})."""
        self.pages[n].obj.Contents = pikepdf.Stream(self.pdf, content)
        self._content[n] = content
        if n in self._pieces:
            pieces = {k: v for k, v in self._pieces[n].items() if k not in artifacts}
            for mcid, text in (said or {}).items():
                pieces[mcid] = (text, pieces[mcid][1])
            self._pieces[n] = pieces


class Element:
    """A structure element as read once from the file (read_tree): its type, its kids in
    order (Elements, MCIDs, annotation references as pikepdf objects), its page. The passes
    walk these, not the file: each pikepdf access is a call into C++, and a walk of the tree
    reads thousands. Every change goes through the methods, which write the file too."""

    __slots__ = ("obj", "objgen", "s", "kids", "pg", "page", "actual", "_elements")

    def __init__(self, obj, s: str | None, kids: list, pg, page: int | None, actual):
        self.obj = obj  # the pikepdf Dictionary
        self.objgen = obj.objgen  # (0, 0) when direct
        self.s = s  # "/P", "/Link"…; None for the tree's root
        self.kids = kids
        self.pg = pg  # its page's objgen, None without /Pg
        self.page = page  # its page's index, None without /Pg or out of the document
        self.actual = actual  # its /ActualText, None without
        self._elements: list[Element] | None = None  # elements(), until the kids change

    def elements(self) -> list[Element]:
        """The structure elements among its kids (a walk asks each element several times)."""
        if self._elements is None:
            self._elements = [k for k in self.kids if isinstance(k, Element)]
        return self._elements

    def holds_content(self) -> bool:
        """Marked content (MCIDs) or annotations directly inside."""
        return any(not isinstance(k, Element) for k in self.kids)

    def set_kids(self, kids: list) -> None:
        self.kids = kids
        self._elements = None
        self.obj.K = Array([k.obj if isinstance(k, Element) else k for k in kids])

    def set_type(self, s: str) -> None:
        self.s = s
        self.obj.S = Name(s)

    def set_actual_text(self, text: str) -> None:
        self.actual = text
        self.obj.ActualText = String(text)


def read_tree(element, index: dict) -> Element:
    """The structure tree below `element` (a pikepdf structure element, or the root) as
    Elements, each read once (one Element per object, however often it is listed). `index`:
    {page objgen: page index}."""
    read: dict = {}

    def one(obj, keys) -> Element:
        # Each key asked for only when there: pikepdf's get() of a missing key costs six
        # times a present one's (benchmarks/README.md).
        pg = obj.get("/Pg").objgen if "/Pg" in keys else None
        return Element(
            obj,
            str(obj.get("/S")) if "/S" in keys else None,
            [],
            pg,
            index.get(pg) if pg is not None else None,
            str(obj.get("/ActualText")) if "/ActualText" in keys else None,
        )

    keys = element.keys()
    top = one(element, keys)
    stack = [(top, element, keys)]
    while stack:
        node, obj, keys = stack.pop()
        k = obj.get("/K") if "/K" in keys else None
        raw = [] if k is None else list(k) if isinstance(k, Array) else [k]
        for kid in raw:
            kid_keys = kid.keys() if isinstance(kid, Dictionary) else ()
            if "/S" not in kid_keys:  # an MCID, an annotation's reference
                node.kids.append(kid)
                continue
            objgen = kid.objgen
            known = read.get(objgen) if objgen != (0, 0) else None
            if known is None:
                known = one(kid, kid_keys)
                if objgen != (0, 0):
                    read[objgen] = known
                stack.append((known, kid, kid_keys))
            node.kids.append(known)
    return top


# A compound written with a hyphen ("socio-professionnel"): a word of its own, so that a line
# end at its hyphen keeps it even where the text also writes it solid ("socioprofessionnel").
COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+", re.UNICODE)


def vocabulary(text: str) -> tuple[set[str], set[str]]:
    """(the words of a text and its hyphenated compounds, lower case; its whitespace-separated
    tokens)."""
    words = {w.lower() for w in WORD.findall(text)}
    words |= {w.lower() for w in COMPOUND.findall(text)}
    return words, set(text.split())


def _lines(element: Element, out: list) -> None:
    """The MCIDs of a block in reading order, with the element that holds each."""
    for kid in element.kids:
        if isinstance(kid, int):
            out.append((kid, element))
        elif isinstance(kid, Element) and kid.s not in BLOCKS:
            _lines(kid, out)


def fix(pdf: pikepdf.Pdf, document, source: str, pages: Pages | None = None) -> None:
    """Set the ActualText of every line end that needs it (see the module's doc). `document`:
    the structure element to walk, an Element (read_tree) or a pikepdf one; `source`: the
    document's text, to tell a hyphenated word from a hyphenated compound; `pages`: the
    pages as the caller has read them (tags.py), else read here."""
    words, tokens = vocabulary(source)
    pages = Pages(pdf) if pages is None else pages
    if not isinstance(document, Element):
        document = read_tree(document, pages.index)
    content_fixes: dict[int, dict[int, str]] = {}

    def piece(n: int, mcid: int) -> tuple[str, float] | None:
        return pages.pieces(n).get(mcid)

    def visit(element: Element) -> None:
        if element.s in BLOCKS:
            order: list = []
            _lines(element, order)
            _fix_block(order)
        for kid in element.kids:
            if isinstance(kid, Element):
                visit(kid)

    def _fix_block(order: list) -> None:
        texts = []
        for mcid, owner in order:
            n = owner.page
            got = piece(n, mcid) if n is not None else None
            texts.append((mcid, owner, n, got))
        changed: dict = {}  # owner → (owner, {mcid: text})
        for (mcid, owner, n, got), (_mcid, _owner, n2, nxt) in zip(texts, texts[1:], strict=False):
            if n is None or got is None or nxt is None or n != n2 or abs(got[1] - nxt[1]) < 0.5:
                continue  # not a line end
            text, following = got[0], nxt[0]
            if not text or not following or text[-1].isspace() or following[0].isspace():
                continue
            if text[-1] in HYPHENS:
                left = WORD.findall(text[:-1])
                right = WORD.findall(following)
                if not left or not right or not text[:-1].endswith(left[-1]):
                    continue
                joined = (left[-1] + right[0]).lower()
                hyphenated = f"{left[-1]}-{right[0]}".lower()
                if joined in words and hyphenated not in words:
                    tagged, drawn = text[:-1], text[:-1] + "-"
                else:
                    tagged, drawn = text[:-1] + "-", text[:-1] + "\u2010"
                content_fixes.setdefault(n, {})[mcid] = drawn
            else:
                tail, head = text.split()[-1], following.split()[0]
                if tail + head in tokens:  # cut inside one token (an e-mail address)
                    continue
                tagged = text + " "
            changed.setdefault(id(owner), (owner, {}))[1][mcid] = tagged
        for owner, fixes in changed.values():
            n = owner.page
            if owner.elements():
                # Words of its own and elements inside (a link holding an <abbr>): an
                # ActualText on the element would hide its children's words; each line end
                # gets its own, on its marked content.
                for mcid, text in fixes.items():
                    content_fixes.setdefault(n, {})[mcid] = text
                continue
            whole = [
                fixes.get(k, (piece(n, k) or ("", 0))[0]) for k in owner.kids if isinstance(k, int)
            ]
            owner.set_actual_text("".join(whole))

    visit(document)
    for n, fixes in content_fixes.items():
        _mark_content(pages, n, fixes)


MARK = re.compile(rb"<</MCID (\d+)>>(\s*BDC)")


def _mark_content(pages: Pages, n: int, fixes: dict[int, str]) -> None:
    """Add /ActualText to the marked content of `fixes` ({MCID: text}) on page `n`. WeasyPrint
    (pydyf) writes each property list as `<</MCID n>>`: edited in place, nothing else reparsed."""

    def replace(m: re.Match) -> bytes:
        mcid = int(m.group(1))
        if mcid not in fixes:
            return m.group(0)
        actual = (b"\xfe\xff" + fixes[mcid].encode("utf-16-be")).hex().encode()
        return b"<</MCID %d /ActualText <%s>>>%s" % (mcid, actual, m.group(2))

    content = pages.content(n)
    found = {int(m.group(1)) for m in MARK.finditer(content)}
    if not fixes.keys() <= found:
        raise shape_changed(
            _("page {n}: marked content {mcids} not found to set its /ActualText").format(
                n=n + 1, mcids=", ".join(str(k) for k in sorted(fixes.keys() - found))
            )
        )
    pages.rewrite(n, MARK.sub(replace, content), said=fixes)
