"""What an SVG picture of the content may hold, checked before WeasyPrint draws it.

WeasyPrint draws SVG itself (an XML tree, its own CSS, `<image>`, `<use>`, `@import`,
`@font-face`): a picture is a small document that could run scripts in a viewer, expand
entities without end, or load other files. So an SVG picture is accepted only when:

- it is well-formed XML whose root is `<svg>` (SVG namespace), parsed with defusedxml:
  no DOCTYPE, hence no entity (billion laughs) and no external entity (XXE);
- it holds no `<script>`, no `<foreignObject>` (HTML inside the picture) and no `<image>`
  (another picture file), no `on…` event attribute, and no processing instruction
  (`<?xml-stylesheet …?>`);
- every reference is to one of its own parts: `href`/`xlink:href` and every `url(…)` in
  an attribute or a style are `#name`; no `data:` either (an embedded picture or font would
  escape these checks); no `@import` or `@font-face` in its styles;
- it is bounded as WeasyPrint will draw it: at most MAX_BYTES, MAX_DEPTH levels of nesting;
  every reference expanded — `<use>`, and the markers (once per vertex of the shape), masks,
  clip paths, patterns and filters named by `url(#…)` in an attribute, a style or a style
  sheet — it draws at most MAX_ELEMENTS elements, MAX_PATH_DATA characters of path data and
  MAX_TEXT characters of text; no reference leads back to where it starts (WeasyPrint would
  draw it recursively); a name refers to the first element with that id, as WeasyPrint
  looks it up; no number is beyond ±MAX_NUMBER (a canvas or an offset of 1e30 makes a PDF
  that readers reject).

The renderer's fetcher (pdf.py) refuses anything else the picture might still ask for.
"""

from __future__ import annotations

import io
import re
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, feature_namespaces
from xml.sax.xmlreader import InputSource

from ..i18n import _
from .reader import MAX_DEPTH

SVG_NS = "http://www.w3.org/2000/svg"
MAX_BYTES = 5_000_000  # a logo or a chart is tens of kB; 5 MB is not a picture for a page
MAX_ELEMENTS = 50_000  # elements drawn, each copy counted (<use>, markers, masks…)
MAX_PATH_DATA = MAX_BYTES  # characters of path data drawn: a file's own, drawn once, fits
MAX_TEXT = 20_000  # characters of text drawn: a picture holds labels, not a page of text
MAX_NUMBER = 10_000_000  # coordinates, sizes, offsets: a map in metres (Lambert-93) is within
LIMITS = (MAX_ELEMENTS, MAX_PATH_DATA, MAX_TEXT)
# Attributes (and style properties) whose url(#name) WeasyPrint draws: a marker once per
# vertex of the shape, the others once.
MARKERS = frozenset({"marker", "marker-start", "marker-mid", "marker-end"})
DRAWN_REFS = MARKERS | {"mask", "clip-path", "filter", "fill", "stroke"}
SHAPES_WITH_VERTICES = frozenset({"path", "line", "polyline", "polygon"})
READ_NOT_DRAWN = frozenset({"linearGradient", "radialGradient", "filter"})
TEXT_TAGS = frozenset({"text", "tspan", "textPath"})
# Elements a style sheet's rule may give a marker, mask, clip path, pattern or filter.
GRAPHICS = frozenset(
    {"path", "line", "polyline", "polygon", "rect", "circle", "ellipse", "text", "use", "g"}
)
_NAME = re.compile(r"^[\w.:-]+$")
_FRAGMENT = re.compile(r"url\(\s*['\"]?#([^)]*?)['\"]?\s*\)", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_LONG_NUMBER = re.compile(r"\d{7}|\d[eE][-+]?\d|inf|nan", re.IGNORECASE)
_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}\b")
_NOT_FINITE = re.compile(r"(?<![A-Za-z])[-+]?(?:inf(?:inity)?|nan)(?![A-Za-z])", re.IGNORECASE)
_NOT_GEOMETRY = frozenset({"id", "class", "href", "font-family", "lang", "space"})
FORBIDDEN = frozenset({"script", "foreignObject", "image"})
URL_FUNCTIONS = frozenset({"url", "src"})
# An attribute is read as CSS (tinycss2, slow) only when it may hold another reference than
# a plain url(#name): a \ escape, or "url"/"src" left once those are taken out.
_PLAIN_URL = re.compile(r"url\(\s*#[^\s()'\"\\]*\s*\)", re.IGNORECASE)
_LOADS = re.compile(r"url|src", re.IGNORECASE)


def _css_references(text: str) -> list[tuple[int, str]]:
    """(line within `text`, target) for each url()/@import/@font-face of a CSS text."""
    import tinycss2

    found: list[tuple[int, str]] = []

    def walk(nodes) -> None:
        for node in nodes:
            if node.type == "url":
                found.append((node.source_line, node.value))
            elif node.type == "function":
                if node.lower_name in URL_FUNCTIONS:
                    args = [a for a in node.arguments if a.type not in ("whitespace", "comment")]
                    target = args[0].value if args and args[0].type == "string" else ""
                    found.append((node.source_line, target))
                walk(node.arguments)
            elif node.type == "at-keyword" and node.lower_value in ("import", "font-face"):
                found.append((node.source_line, "@" + node.lower_value))
            elif node.type in ("{} block", "[] block", "() block"):
                walk(node.content)

    walk(tinycss2.parse_component_value_list(text))
    return found


def _internal(target: str) -> bool:
    return target.startswith("#")


def _reference_problem(target: str) -> str:
    if target.startswith("@"):
        return _("SVG style rule {rule} is not allowed: it loads another file").format(rule=target)
    return _(
        'SVG reference "{url}" is not allowed: an SVG picture may only refer to its own parts '
        "(#name), never to another file, a web address or a data: URL"
    ).format(url=target)


def _style_declarations(text: str) -> list[tuple[str, str]]:
    """(property, value) of a style attribute or of a style sheet's rules, roughly: enough to
    find which properties name a url(#…)."""
    out = []
    for part in re.split(r"[;{}]", text):
        name, colon, value = part.partition(":")
        if colon:
            out.append((name.strip().lower(), value.strip()))
    return out


def _numbers_problem(value: str) -> str | None:
    """A number beyond ±MAX_NUMBER (or not finite) in an attribute value, or None."""
    value = _HEX_COLOUR.sub("", _FRAGMENT.sub("", value))
    if not _LONG_NUMBER.search(value):
        return None  # fast path: no number of 7 digits or more, no exponent
    for m in _NUMBER.finditer(value):
        if abs(float(m.group())) > MAX_NUMBER:
            return m.group()
    infinite = _NOT_FINITE.search(value)
    return infinite.group() if infinite else None


class _Node:
    """One element as WeasyPrint will draw it: its children, the elements it draws again
    (by name), and what it draws itself."""

    __slots__ = ("line", "id", "tag", "children", "refs", "own", "vertices", "end")

    def __init__(self, line: int, node_id: str | None, tag: str) -> None:
        self.line, self.id, self.tag = line, node_id, tag
        self.children: list[int] = []
        self.refs: list[tuple[str, str]] = []  # (property or "use", name)
        self.own = [1, 0, 0]  # elements, path data, text (LIMITS' order)
        self.vertices = 0
        self.end = 0  # the index after its last descendant (elements are in document order)


class _Reader(ContentHandler):
    """Collects the problems of one picture, and its elements and references to bound them."""

    def __init__(self) -> None:
        super().__init__()
        self.locator = None
        self.problems: list[tuple[int, str]] = []
        self.depth = 0
        self.too_deep = False
        self.root_seen = False
        self.nodes: list[_Node] = []
        self.stack: list[int] = []
        self.style: tuple[int, list[str]] | None = None  # (line, text) of an open <style>
        self.sheet_refs: list[tuple[str, str]] = []  # url(#…) of the style sheets' rules
        self.in_text = 0

    def setDocumentLocator(self, locator) -> None:  # noqa: N802 (SAX's name)
        self.locator = locator

    def line(self) -> int:
        return self.locator.getLineNumber() if self.locator else 1

    def _refs(self, node: _Node, name: str, value: str, line: int) -> None:
        """The url(#…) a drawn property names, bound to the element."""
        if name not in DRAWN_REFS:
            return
        for target in _FRAGMENT.findall(value):
            if _NAME.match(target):
                node.refs.append((name, target))
            else:
                self.problems.append((line, _bad_name(target)))

    def startElementNS(self, name, qname, attrs) -> None:  # noqa: N802
        namespace, tag = name
        line = self.line()
        if not self.root_seen:
            self.root_seen = True
            if (namespace, tag) != (SVG_NS, "svg"):
                self.problems.append(
                    (
                        line,
                        _(
                            "the root element is <{tag}>: an SVG picture starts with "
                            '<svg xmlns="http://www.w3.org/2000/svg">'
                        ).format(tag=qname or tag),
                    )
                )
        self.depth += 1
        if self.depth > MAX_DEPTH and not self.too_deep:
            self.too_deep = True
            self.problems.append(
                (line, _("SVG elements nested more than {max} levels deep").format(max=MAX_DEPTH))
            )
        if tag in FORBIDDEN:
            self.problems.append(
                (
                    line,
                    _(
                        "SVG element <{tag}> is not allowed in a picture (no script, no HTML "
                        "inside, no other picture file)"
                    ).format(tag=tag),
                )
            )
        node = _Node(line, attrs.get((None, "id")), tag)
        big = None
        for (_ns, attr), value in attrs.items():
            if attr.lower().startswith("on"):
                self.problems.append(
                    (
                        line,
                        _(
                            'SVG attribute {name}="{value}" is not allowed: event handlers are '
                            "scripts"
                        ).format(name=attr, value=value),
                    )
                )
            elif attr == "href":
                if not _internal(value):
                    self.problems.append((line, _reference_problem(value)))
                elif not _NAME.match(value[1:]):
                    self.problems.append((line, _bad_name(value[1:])))
                elif tag in ("use", "textPath", "pattern"):
                    # <use> draws its target; a pattern draws the one it inherits from
                    node.refs.append(("use" if tag == "use" else "href", value[1:]))
            if "\\" in value or _LOADS.search(_PLAIN_URL.sub("", value)):
                for _n, target in _css_references(value):
                    if not _internal(target):
                        self.problems.append((line, _reference_problem(target)))
            if attr == "style":
                for prop, text in _style_declarations(value):
                    self._refs(node, prop, text, line)
            else:
                self._refs(node, attr, value, line)
            if (
                big is None
                and attr not in _NOT_GEOMETRY
                and not attr.startswith(("data-", "aria-"))
            ):
                big = _numbers_problem(value)
            if attr in ("d", "points"):
                node.own[1] += len(value)
                node.vertices += len(_NUMBER.findall(value)) // 2 + 1
        if tag == "line":
            node.vertices = 2
        if tag not in SHAPES_WITH_VERTICES:
            node.vertices = 0
        if big is not None:
            self.problems.append((line, _big_number(big)))
        self.nodes.append(node)
        if self.stack:
            self.nodes[self.stack[-1]].children.append(len(self.nodes) - 1)
        self.stack.append(len(self.nodes) - 1)
        if tag == "style":
            self.style = (line, [])
        if tag in TEXT_TAGS:
            self.in_text += 1

    def endElementNS(self, name, qname) -> None:  # noqa: N802
        self.depth -= 1
        self.nodes[self.stack.pop()].end = len(self.nodes)
        if name[1] in TEXT_TAGS:
            self.in_text -= 1
        if name[1] == "style" and self.style is not None:
            first, text = self.style
            self.style = None
            sheet = "".join(text)
            for n, target in _css_references(sheet):
                if not _internal(target):
                    self.problems.append((first + n - 1, _reference_problem(target)))
            big = _numbers_problem(sheet)
            if big is not None:
                self.problems.append((first, _big_number(big)))
            probe = _Node(first, None, "style")
            for prop, value in _style_declarations(sheet):
                self._refs(probe, prop, value, first)
            self.sheet_refs += probe.refs

    def characters(self, content) -> None:
        if self.style is not None:
            self.style[1].append(content)
        elif self.in_text and self.stack:
            self.nodes[self.stack[-1]].own[2] += len(content)

    def processingInstruction(self, target, data) -> None:  # noqa: N802
        self.problems.append(
            (
                self.line(),
                _("processing instruction <?{target} …?> is not allowed in an SVG picture").format(
                    target=target
                ),
            )
        )

    def bound_drawing(self) -> None:
        """What WeasyPrint draws, every reference expanded: bounded, and acyclic."""
        ids: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            if node.id:
                ids.setdefault(node.id, i)  # the first one: WeasyPrint looks names up so

        def drawn_target(prop: str, target: str) -> int | None:
            """The element a reference draws: a gradient's stops or a filter's primitives
            are read, not drawn (and a gradient's href is only inherited attributes)."""
            d = ids.get(target)
            if d is None or (prop != "use" and self.nodes[d].tag in READ_NOT_DRAWN):
                return None
            return d

        def deps(i: int) -> list[tuple[int, int]]:
            """(element, times it is drawn) for everything element i draws."""
            node = self.nodes[i]
            out = [(c, 1) for c in node.children]
            for prop, target in node.refs:
                d = drawn_target(prop, target)
                if d is not None:
                    out.append((d, max(1, node.vertices) if prop in MARKERS else 1))
            if node.tag in GRAPHICS:
                # A style sheet's rule may apply to any element (its selector is not read):
                # counted for each, but for the elements inside what it names.
                for prop, target in self.sheet_refs:
                    d = drawn_target(prop, target)
                    if d is not None and not d <= i < self.nodes[d].end:
                        out.append((d, max(1, node.vertices) if prop in MARKERS else 1))
            return out

        drawn: dict[int, tuple[int, ...]] = {}
        active: set[int] = set()
        for start in range(len(self.nodes)):
            # Iteratively (deep chains must not exhaust Python's stack): post-order.
            todo = [(start, False)]
            while todo:
                i, expanded = todo.pop()
                if i in drawn:
                    continue
                if expanded:
                    active.discard(i)
                    total = list(self.nodes[i].own)
                    for d, times in deps(i):
                        for k, limit in enumerate(LIMITS):
                            total[k] = min(limit + 1, total[k] + times * drawn[d][k])
                    drawn[i] = tuple(
                        min(limit + 1, t) for t, limit in zip(total, LIMITS, strict=True)
                    )
                    continue
                active.add(i)
                todo.append((i, True))
                for d, _times in deps(i):
                    if d in active:
                        node = self.nodes[i]
                        target = next(
                            (t for _p, t in node.refs + self.sheet_refs if ids.get(t) == d),
                            self.nodes[d].id,
                        )
                        self.problems.append(
                            (
                                node.line,
                                (
                                    _('SVG <use> refers back to itself through "#{id}"')
                                    if node.tag == "use"
                                    else _(
                                        'SVG reference "#{id}" leads back to this element (a '
                                        "marker, mask, clip path or pattern drawn inside itself)"
                                    )
                                ).format(id=target),
                            )
                        )
                        return
                    todo.append((d, False))
        # Reported where a count first goes over: at the element whose parts are within.
        for k, limit in enumerate(LIMITS):
            for i, count in drawn.items():
                if count[k] > limit and all(drawn[d][k] <= limit for d, _t in deps(i)):
                    self.problems.append((self.nodes[i].line, _too_much(k)))
                    break


def _too_much(k: int) -> str:
    """The message for LIMITS[k] exceeded."""
    messages = (
        _(
            "the SVG picture draws more than {max} elements (each copy counted: <use>, "
            "markers, masks, patterns): too complex for a page"
        ),
        _(
            "the SVG picture draws more than {max} characters of path data (each copy "
            "counted): too complex for a page; simplify the drawing"
        ),
        _(
            "the SVG picture draws more than {max} characters of text: a picture holds "
            "labels; write the text in the card instead"
        ),
    )
    return messages[k].format(max=LIMITS[k])


def _big_number(number: str) -> str:
    return _(
        "SVG number {number} is beyond ±{max}: such a size or position makes a PDF that "
        "readers reject; export the picture again at a normal size"
    ).format(number=number, max=MAX_NUMBER)


def _bad_name(target: str) -> str:
    return _(
        'SVG name "#{name}" is not allowed: a name is made of letters, digits, "-", "_", "." '
        'and ":" only'
    ).format(name=target[:40])


def problems(data: bytes) -> list[tuple[int, str]]:
    """(line, message) for each problem of the SVG picture `data`; empty when it is safe."""
    from defusedxml import DefusedXmlException, DTDForbidden
    from defusedxml.sax import make_parser

    reader = _Reader()
    parser = make_parser()
    parser.forbid_dtd = True  # no DOCTYPE at all: no entity, internal or external
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(reader)
    source = InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        parser.parse(source)
    except DTDForbidden:
        reader.problems.append(
            (
                reader.line(),
                _(
                    "<!DOCTYPE …> is not allowed in an SVG picture: delete it (drawing programs "
                    "add it; the picture does not need it)"
                ),
            )
        )
    except DefusedXmlException as exc:  # entities, external references (after a DOCTYPE)
        reader.problems.append(
            (reader.line(), _("not allowed in an SVG picture: {why}").format(why=exc))
        )
    except SAXParseException as exc:
        reader.problems.append(
            (
                exc.getLineNumber() or 1,
                _("not an SVG picture: the XML is not well-formed ({why})").format(
                    why=exc.getMessage()
                ),
            )
        )
    else:
        if not reader.root_seen:
            reader.problems.append((1, _("not an SVG picture: no <svg> element")))
        elif len(reader.nodes) > MAX_ELEMENTS:
            reader.problems.append((1, _too_much(0)))
        else:
            reader.bound_drawing()
    return sorted(set(reader.problems))
