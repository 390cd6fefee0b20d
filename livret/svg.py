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
- it is bounded: at most MAX_BYTES, MAX_DEPTH levels of nesting, MAX_ELEMENTS elements
  counting each `<use>` copy, and no `<use>` that refers back to itself (WeasyPrint draws
  both recursively).

The renderer's fetcher (pdf.py) refuses anything else the picture might still ask for.
"""

from __future__ import annotations

import io
import re
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, feature_namespaces
from xml.sax.xmlreader import InputSource

from .i18n import _
from .reader import MAX_DEPTH

SVG_NS = "http://www.w3.org/2000/svg"
MAX_BYTES = 5_000_000  # a logo or a chart is tens of kB; 5 MB is not a picture for a page
MAX_ELEMENTS = 50_000  # elements drawn, each <use> copy counted
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


class _Reader(ContentHandler):
    """Collects the problems of one picture, and its ids and <use> links to bound them."""

    def __init__(self) -> None:
        super().__init__()
        self.locator = None
        self.problems: list[tuple[int, str]] = []
        self.depth = 0
        self.too_deep = False
        self.root_seen = False
        # Each element: (line, id, children indexes, <use> target id); for the <use> count.
        self.nodes: list[tuple[int, str | None, list[int], str | None]] = []
        self.stack: list[int] = []
        self.style: tuple[int, list[str]] | None = None  # (line, text) of an open <style>

    def setDocumentLocator(self, locator) -> None:  # noqa: N802 (SAX's name)
        self.locator = locator

    def line(self) -> int:
        return self.locator.getLineNumber() if self.locator else 1

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
        use_target = None
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
                if _internal(value):
                    use_target = value[1:] if tag == "use" else None
                else:
                    self.problems.append((line, _reference_problem(value)))
            if "\\" in value or _LOADS.search(_PLAIN_URL.sub("", value)):
                for _n, target in _css_references(value):
                    if not _internal(target):
                        self.problems.append((line, _reference_problem(target)))
        node_id = attrs.get((None, "id"))
        self.nodes.append((line, node_id, [], use_target))
        if self.stack:
            self.nodes[self.stack[-1]][2].append(len(self.nodes) - 1)
        self.stack.append(len(self.nodes) - 1)
        if tag == "style":
            self.style = (line, [])

    def endElementNS(self, name, qname) -> None:  # noqa: N802
        self.depth -= 1
        self.stack.pop()
        if name[1] == "style" and self.style is not None:
            first, text = self.style
            self.style = None
            for n, target in _css_references("".join(text)):
                if not _internal(target):
                    self.problems.append((first + n - 1, _reference_problem(target)))

    def characters(self, content) -> None:
        if self.style is not None:
            self.style[1].append(content)

    def processingInstruction(self, target, data) -> None:  # noqa: N802
        self.problems.append(
            (
                self.line(),
                _("processing instruction <?{target} …?> is not allowed in an SVG picture").format(
                    target=target
                ),
            )
        )

    def bound_uses(self) -> None:
        """Elements drawn, each <use> drawing its target again: bounded, and acyclic."""
        ids = {node[1]: i for i, node in enumerate(self.nodes) if node[1]}

        def deps(i: int) -> list[int]:
            _line, _id, children, target = self.nodes[i]
            return children + ([ids[target]] if target is not None and target in ids else [])

        drawn: dict[int, int] = {}
        active: set[int] = set()
        for start in range(len(self.nodes)):
            # Iteratively (deep <use> chains must not exhaust Python's stack): post-order.
            todo = [(start, False)]
            while todo:
                i, expanded = todo.pop()
                if i in drawn:
                    continue
                if expanded:
                    active.discard(i)
                    drawn[i] = min(MAX_ELEMENTS + 1, 1 + sum(drawn[d] for d in deps(i)))
                    continue
                active.add(i)
                todo.append((i, True))
                for d in deps(i):
                    if d in active:
                        line, _id, _children, target = self.nodes[i]
                        self.problems.append(
                            (
                                line,
                                _('SVG <use> refers back to itself through "#{id}"').format(
                                    id=target
                                ),
                            )
                        )
                        return
                    todo.append((d, False))
        # Reported where the count first goes over: at the element whose parts are within.
        for i, count in drawn.items():
            if count > MAX_ELEMENTS and all(drawn[d] <= MAX_ELEMENTS for d in deps(i)):
                self.problems.append(
                    (
                        self.nodes[i][0],
                        _(
                            "the SVG picture draws more than {max} elements (each <use> copy "
                            "counted): too complex for a page"
                        ).format(max=MAX_ELEMENTS),
                    )
                )
                return


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
            reader.problems.append(
                (
                    1,
                    _(
                        "the SVG picture draws more than {max} elements (each <use> copy "
                        "counted): too complex for a page"
                    ).format(max=MAX_ELEMENTS),
                )
            )
        else:
            reader.bound_uses()
    return sorted(set(reader.problems))
