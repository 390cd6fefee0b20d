"""What content may contain, decided on the HTML the build will print.

Every way of making a link or an image — Markdown inline and reference links, autolinks,
bare e-mail addresses, raw HTML in a card or in a YAML field — ends up as an element of the
HTML that Markdown produces; so the policy reads that HTML (html.parser, which decodes
character references as WeasyPrint does), never the Markdown source:

- elements and attributes from an allow-list only (no <iframe>, <object>, <link>, no
  `rel="attachment"`, no `style`, no `id`): nothing else reaches the PDF;
- links: http(s) addresses, `mailto:` a plain e-mail address (no `?bcc=`, no %-escapes),
  or the `#anchor` of a part present in every PDF that prints the text;
- images: PNG, JPEG, GIF or WebP files inside the content folder that open and decode whole,
  or SVG files that hold nothing but a drawing (svg.py: no script, no DOCTYPE, no reference
  to another file), each problem reported at its line of the SVG file;
- nesting bounded: deeper HTML than MAX_DEPTH is refused (WeasyPrint lays it out
  recursively).

The renderer checks the finished PDF again (pdf.py): no attachment, no other kind of link.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from ..errors import Collector, display_path
from ..i18n import _
from . import fields as f
from . import memo, svg
from .reader import BAD_CHAR, MAX_DEPTH, bad_char_message

# element → the attributes it may carry. Markdown's own output, plus a few inline elements a
# person may type as HTML.
ALLOWED: dict[str, frozenset[str]] = {
    **{
        tag: frozenset()
        for tag in (
            "p br hr h1 h2 h3 h4 h5 h6 em strong i b u s small sup sub code pre kbd blockquote "
            "ul li table thead tbody tr"
        ).split()
    },
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title"}),
    "ol": frozenset({"start"}),
    "abbr": frozenset({"title"}),
    "th": frozenset({"style", "align"}),  # the tables extension aligns columns
    "td": frozenset({"style", "align"}),
}
VOID = {"br", "hr", "img"}
CELL_STYLE = re.compile(r"^text-align: (?:left|right|center);?$")
IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
MAX_PIXELS = 40_000_000  # 8 000 × 5 000: more is not a picture for a booklet page
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")

# Parts of every booklet and excerpt a link may point to (`#…`); see Policy.finish.
COMMON_ANCHORS = frozenset({"introduction", "thanks"})


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    """Collects what the policy needs: elements with their attributes, refusals, depth."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[_Element] = []
        self.refused: list[tuple[str, str]] = []  # (needle to find the line, message)
        self.open_links: list[_Element] = []
        self.depth = 0
        self.too_deep = False

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED:
            self.refused.append(
                (
                    f"<{tag}",
                    _("HTML element <{tag}> is not allowed in content").format(tag=tag),
                )
            )
            return
        values: dict[str, str] = {}
        for name, value in attrs:
            value = value or ""
            if name not in ALLOWED[tag] or (name == "style" and not CELL_STYLE.match(value)):
                self.refused.append(
                    (
                        f"{name}=",
                        _('HTML attribute {name}="{value}" is not allowed on <{tag}>').format(
                            name=name, value=value, tag=tag
                        ),
                    )
                )
                continue
            values[name] = value
        element = _Element(tag, values)
        self.elements.append(element)
        if tag == "a":
            self.open_links.append(element)
        if tag not in VOID:
            self.depth += 1
            self.too_deep = self.too_deep or self.depth > MAX_DEPTH

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ALLOWED and tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in ALLOWED and tag not in VOID:
            self.depth = max(0, self.depth - 1)
        if tag == "a" and self.open_links:
            self.open_links.pop()

    def handle_data(self, data):
        for link in self.open_links:
            link.text.append(data)

    def handle_decl(self, decl):
        self.refused.append(("<!", _("HTML declarations are not allowed in content")))

    def unknown_decl(self, data):
        self.handle_decl(data)

    def handle_pi(self, data):
        self.refused.append(("<?", _("HTML processing instructions are not allowed in content")))


def link_problem(href: str, anchors: set[str] | None) -> str | None:
    """Why `href` may not be a link in the booklet, or None. `anchors` None: not checked yet."""
    url = href
    if not url or url == "#":
        return None  # reported with the link's text by the caller
    if BAD_CHAR.search(url) or url != url.strip() or any(c.isspace() for c in url):
        return _('"{url}" is not a web address: it contains spaces or invisible characters').format(
            url=url
        )
    if url.startswith("#"):
        if anchors is not None and url[1:] not in anchors:
            return _('link to "{url}": no part of the booklet has this anchor').format(url=url)
        return None
    scheme = SCHEME.match(url)
    if scheme and scheme.group(1).lower() == "mailto":
        address = url[len(scheme.group(0)) :]
        # The one validator refuses URL syntax before the @ (x%40y.org?bcc=…): fields.py.
        if not f.is_email(address):
            decoded = unquote(address)
            return _(
                '"{address}" is not an e-mail address: a mailto: link holds one plain address, '
                "without %-codes or ?…"
            ).format(address=decoded if decoded != address else address)
        return None
    if scheme and scheme.group(1).lower() in ("http", "https") and f.is_url(url):
        return None
    # javascript:, file:, data:, a relative file name …: nothing else may be a link
    return _('"{url}" is not a web address: expected https://… or mailto:…').format(url=url)


class Policy:
    """Checks the texts of one content folder; remembers the images they show (with the
    sha256 of the bytes decoded) and the anchors they link to, checked once all are known."""

    def __init__(self, root: Path, problems: Collector):
        self.root = Path(root).resolve()
        self.base = self.root.as_uri() + "/"
        self.problems = problems
        self.images: dict[Path, list[Path]] = {}  # content file → images
        self._checked_images: dict[Path, str | None] = {}
        self._anchors: list[tuple[Path, int, str | None, str]] = []

    def check(self, html: str, source: str, path: Path, first_line: int, field_name) -> None:
        """`html`: what Markdown made of `source` (which starts at line `first_line`)."""
        reader = _Reader()
        reader.feed(html)
        reader.close()

        def where(needle: str, nth: int = 0) -> int:
            """The line of the `nth` (from 0) line holding `needle` (else of the first)."""
            hits = [n for n, line in enumerate(source.split("\n")) if needle and needle in line]
            return first_line + (hits[min(nth, len(hits) - 1)] if hits else 0)

        shown: dict[str, int] = {}  # src → pictures seen so far: each at its own line

        if reader.too_deep:
            self.problems.error(
                path,
                first_line,
                field_name,
                _("nested more than {max} levels deep (quotes or lists inside each other)").format(
                    max=MAX_DEPTH
                ),
            )
        for needle, message in reader.refused:
            self.problems.error(path, where(needle), field_name, message)
        for el in reader.elements:
            if el.tag == "a" and "href" in el.attrs:
                href = el.attrs["href"]
                label = "".join(el.text).strip()
                line = where(href) if href not in ("", "#") else where(f"]({href})")
                if line == first_line and label:  # written with &#…; codes: find its text
                    line = where(label)
                if href in ("", "#"):
                    self.problems.error(
                        path,
                        line,
                        field_name,
                        _(
                            'link "{label}" has no address: write the text without [ ]( ) '
                            "or give its https:// address"
                        ).format(label=label),
                    )
                    continue
                why = link_problem(href, None)
                if why:
                    self.problems.error(path, line, field_name, why)
                elif href.startswith("#"):
                    self._anchors.append((path, line, field_name, href))
            elif el.tag == "img":
                src = el.attrs.get("src", "")
                line = where(src, shown.get(src, 0)) if src else first_line
                shown[src] = shown.get(src, 0) + 1
                self._image(src, path, line, field_name)
                if not (el.attrs.get("alt") or "").strip():
                    # Read aloud and in the tagged PDF: a picture without it is a blank.
                    self.problems.error(
                        path,
                        line,
                        field_name,
                        _(
                            'image "{src}" has no alternative text: write what it shows between '
                            "the brackets, ![what the picture shows]({src})"
                        ).format(src=src),
                    )

    def _image(self, src: str, path: Path, line: int, field_name) -> None:
        why, image = self._resolve_image(src)
        if why is None and image is not None:
            if image not in self._checked_images:
                self._checked_images[image] = self._decode(image)
            why = self._checked_images[image]
            self.images.setdefault(Path(path).resolve(), [])
            if image not in self.images[Path(path).resolve()]:
                self.images[Path(path).resolve()].append(image)
        if why:
            self.problems.error(path, line, field_name, why)

    def _resolve_image(self, src: str) -> tuple[str | None, Path | None]:
        """The file WeasyPrint would load for `src` (relative to the content folder)."""
        must = _('image "{src}" must be a file inside the content folder').format(src=src)
        if not src or SCHEME.match(src) or src.startswith(("/", "\\")) or "\\" in src:
            return must, None
        parts = urlsplit(urljoin(self.base, src))
        if parts.scheme != "file" or parts.query or parts.fragment:
            return must, None
        decoded = unquote(parts.path)
        bad = BAD_CHAR.search(decoded)
        if bad:
            return _('image "{src}": {why}').format(
                src=src, why=bad_char_message(bad.group())
            ), None
        image = Path(decoded).resolve()
        if not image.is_relative_to(self.root) or image == self.root:
            return must, None
        if not image.is_file():
            # `content/images/velo.png`: a path written from the project folder (or from
            # wherever the editor is) names a file that exists, but paths start inside the
            # content folder.
            for base in (self.root.parent, Path.cwd()):
                meant = Path(unquote(urlsplit(urljoin(base.as_uri() + "/", src)).path)).resolve()
                if meant.is_file() and meant.is_relative_to(self.root):
                    right = meant.relative_to(self.root).as_posix()
                    return _(
                        'image "{src}": paths start inside the content folder ({folder}/): '
                        "write ({right})"
                    ).format(src=src, folder=self.root.name, right=right), None
            return _('image "{src}" not found: no file {path}').format(
                src=src, path=image.relative_to(self.root).as_posix()
            ), None
        return None, image

    def _decode(self, image: Path) -> str | None:
        """None if the whole picture decodes; the digest is of these very bytes."""
        try:
            data = image.read_bytes()
        except OSError as exc:
            return _('cannot read image "{name}": {why}').format(
                name=image.name, why=exc.strerror or exc
            )
        digest = self.problems.digests[image] = hashlib.sha256(data).hexdigest()
        # These very bytes, under this suffix, passed at the last build (memo.py).
        known = f"{image.suffix.lower()} {digest}"
        if memo.lookup("picture", known) is not None:
            return None
        why = self._check_picture(image, data)
        if why is None:
            memo.keep("picture", known, "whole")
        return why

    def _check_picture(self, image: Path, data: bytes) -> str | None:
        from PIL import Image, ImageFile

        if image.suffix.lower() == ".svg":  # as the renderer's fetcher tells WeasyPrint
            return self._svg(image, data)
        # WeasyPrint, once imported (watch, a one-process build), makes Pillow accept
        # truncated files (ImageFile.LOAD_TRUNCATED_IMAGES): here they must fail.
        lenient = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as picture:
                    if picture.format not in IMAGE_FORMATS:
                        return _(
                            'image "{name}" is {format}: use a PNG, JPEG, GIF, WebP or SVG file'
                        ).format(name=image.name, format=picture.format)
                    width, height = picture.size
                    if width * height > MAX_PIXELS:
                        return _(
                            'image "{name}" is {width} × {height} pixels: too big for a page'
                        ).format(name=image.name, width=width, height=height)
                    picture.verify()  # every chunk whole, checksums right (PNG: up to IEND)
                with Image.open(io.BytesIO(data)) as picture:
                    picture.load()  # and every pixel decodes
        except Exception as exc:  # Pillow raises many kinds: all mean "not a whole picture"
            return _(
                'image "{name}" cannot be read as a picture (truncated or damaged?): {why}'
            ).format(name=image.name, why=str(exc) or type(exc).__name__)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = lenient
        return None

    def _svg(self, image: Path, data: bytes) -> str | None:
        """None if the SVG picture is safe to draw; else its problems are reported at their
        lines of the SVG file, and the text that shows it is told where to look."""
        if len(data) > svg.MAX_BYTES:
            return _('image "{name}" is {size} MB: an SVG picture is at most {max} MB').format(
                name=image.name,
                size=f"{len(data) / 1e6:.1f}",
                max=svg.MAX_BYTES // 1_000_000,
            )
        found = svg.problems(data)
        for line, message in found:
            self.problems.error(image, line, None, message)
        if not found:
            return None
        return _(
            'image "{name}" is not a plain SVG drawing: see the problems reported in {file}'
        ).format(name=image.name, file=display_path(image))

    def finish(self, anchors_for) -> None:
        """Check the #anchors once every part of the booklet is known. `anchors_for(path)`:
        the anchors present in every PDF that prints that file's text (an action sheet holds
        one card, an excerpt one theme), so that no build meets a dead link."""
        for path, line, field_name, href in self._anchors:
            anchors = anchors_for(path)
            if href[1:] in anchors:
                continue
            self.problems.error(
                path,
                line,
                field_name,
                _(
                    'link to "{url}": not a part of every PDF that prints this text '
                    "(excerpts and sheets hold only part of the booklet); possible here: {anchors}"
                ).format(url=href, anchors=", ".join(f"#{a}" for a in sorted(anchors)) or "-"),
            )
