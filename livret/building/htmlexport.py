"""`livret --html DIR`: the HTML documents exactly as given to WeasyPrint, with their
stylesheets, fonts and images beside them, so that `weasyprint DIR/<name>.html x.pdf` (or a
browser) shows the same pages.

What changes from the string the Printer renders: the stylesheets it passes to WeasyPrint are
linked from <head> (same files, same order), and URLs are made relative to DIR. The Printer
passes them as user stylesheets, the links make them author ones: the layouts have no other
stylesheet, no !important and no presentational hints, so the cascade is the same.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..reading.model import Site
from ..rendering.design import STYLESHEETS, for_content
from ..rendering.pdf import VARIANTS
from .outputs import Output
from .writer import write_atomic

# src="…", href="…" and url(…) in the HTML, quoted or not.
_URL = re.compile(r"""(?P<pre>\b(?:src|href)\s*=\s*)(?P<q>["'])(?P<url>[^"']*)(?P=q)""")
_CSS_URL = re.compile(r"""(?P<pre>url\(\s*)(?P<q>["']?)(?P<url>[^"')]*)(?P=q)(?=\s*\))""")


def html_name(output: Output, variant: str) -> str:
    from .pipeline import variant_filename

    return variant_filename(output, variant).removesuffix(".pdf") + ".html"


def stylesheets(variant: str) -> list[str]:
    """The stylesheets the Printer uses for this variant, in order."""
    extra = VARIANTS[variant][1]
    return [*STYLESHEETS, *([extra] if extra else [])]


def standalone(html: str, content_root: Path, variant: str, copy) -> str:
    """The document with its stylesheets linked and its file URLs relative to the export
    folder; `copy(source, relative)` is called for each local file it uses."""
    root = content_root.resolve()
    design = for_content(root)
    bases = [(root, "")]
    bases += [(folder, "styles/") for folder in design.styles]
    bases += [(folder, "layouts/") for folder in design.layouts]

    def rewrite(match: re.Match) -> str:
        url = match.group("url")
        parts = urlsplit(url)
        if parts.scheme not in ("", "file") or not parts.path or url.startswith("#"):
            return match.group(0)  # mailto:, data:, #anchors, web addresses: as they are
        path = Path(unquote(parts.path))
        source = (path if path.is_absolute() else root / path).resolve()
        for base, prefix in bases:
            if source.is_relative_to(base) and source.is_file():
                relative = prefix + source.relative_to(base).as_posix()
                copy(source, relative)
                new = relative + (f"#{parts.fragment}" if parts.fragment else "")
                return f"{match.group('pre')}{match.group('q')}{new}{match.group('q')}"
        return match.group(0)  # the Printer would refuse it: left for WeasyPrint to refuse too

    html = _URL.sub(rewrite, html)
    html = _CSS_URL.sub(rewrite, html)
    links = "".join(
        f'<link rel="stylesheet" href="styles/{name}">\n' for name in stylesheets(variant)
    )
    head_end = html.find("</head>")
    if head_end < 0:
        return links + html
    return html[:head_end] + links + html[head_end:]


def export(site: Site, outputs: list[Output], folder: Path, variant: str) -> list[Path]:
    """Write one .html per output into `folder`, the stylesheets and fonts into folder/styles/
    and the content files they use beside them. Returns the HTML files written."""
    from ..rendering.pdf import Printer

    printer = Printer(Path(site.root))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The stylesheets and what they load (fonts), by the names they are looked up with: a
    # project's own file in place of livret's, as for the PDF.
    for name, path in for_content(site.root).files().items():
        if name.startswith("styles/"):
            _copy(path, folder / name)
    written = []
    for output in outputs:

        def copy(source: Path, relative: str) -> None:
            _copy(source, folder / relative)

        html = _as_printed(printer, site, output, variant)
        html = standalone(html, Path(site.root), variant, copy)
        target = folder / html_name(output, variant)
        write_atomic(target, html.encode("utf-8"))
        written.append(target)
    return written


def _as_printed(printer, site: Site, output: Output, variant: str) -> str:
    """The document as finally laid out: a book document as composed from its parts
    (livret/rendering/compose.py: its cards fitted, an excerpt's folios kept from the booklet, which
    `@page :nth()` rules give a single layout of the file), else with the Notes pages of the
    page plan (one layout to count them)."""
    from ..rendering.compose import VARIANTS
    from ..rendering.render import render_html
    from .outputs import KINDS
    from .pipeline import book_output

    html = render_html(site, output)
    kind = KINDS[output.kind]
    if kind.book and variant in VARIANTS:
        frame = render_html(site, book_output(site)) if kind.offprint else None
        made = printer.compose_parts(html, variant, frame)
        if made is not None:
            folios = made[1].folios
            rules = []
            for index, folio in enumerate(folios):
                before = folios[index - 1] if index else 0
                if folio != before + 1:
                    rules.append(
                        f"@page :nth({index + 1}) {{ counter-increment: page {folio - before} }}"
                    )
            printed = printer.laid_out
            if rules:  # the booklet's folios, where they jump
                style = "<style>" + " ".join(rules) + "</style>"
                printed = printed.replace("</head>", style + "</head>", 1)
            return printed
    return printer.planned_html(html, variant)


def _copy(source: Path, target: Path) -> None:
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
