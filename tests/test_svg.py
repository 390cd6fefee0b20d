"""SVG pictures in the content (issue #11, "Images in content"): a figure like any picture,
checked by `check` at the lines of the SVG file (livret/reading/svg.py), refused by the renderer's
fetcher whatever it asks for, CMYK only in the press file, a Figure with its Alt when tagged.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pikepdf
import pytest
from pressread import components, function_outputs, streams

from livret.cli import main
from livret.errors import LivretError
from livret.finishing import press
from livret.reading import svg

CARD = "actions/adie.md"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="400" height="200" viewBox="0 0 400 200">\n'
)
# A chart as a drawing program writes it: RGB fills, a gradient, <use>, text.
CHART = HEAD + (
    "  <defs>\n"
    '    <linearGradient id="g" x1="0" x2="1"><stop offset="0" stop-color="#e8590c"/>'
    '<stop offset="1" stop-color="#1d5ea8"/></linearGradient>\n'
    '    <g id="bar"><rect width="40" height="100" rx="4"/></g>\n'
    "  </defs>\n"
    '  <rect width="400" height="200" fill="#fff3e0" stroke="#1d5ea8" stroke-width="2"/>\n'
    '  <use xlink:href="#bar" x="40" y="60" fill="#2b8a3e"/>\n'
    '  <use href="#bar" x="120" y="40" fill="#c92a2a"/>\n'
    '  <rect x="200" y="30" width="40" height="130" fill="url(#g)"/>\n'
    '  <circle cx="320" cy="100" r="50" style="fill: rgb(120, 40, 200); stroke: #000"/>\n'
    '  <text x="20" y="190" font-size="14" fill="#1c7ed6">Répartition des ménages</text>\n'
    "</svg>\n"
)

# Transparency: a gradient with stop-opacity (a soft mask), opacity, a tiling pattern.
ALPHA = HEAD + (
    "  <defs>\n"
    '    <linearGradient id="fade"><stop offset="0" stop-color="#e8590c"/>'
    '<stop offset="1" stop-color="#1d5ea8" stop-opacity="0.2"/></linearGradient>\n'
    '    <radialGradient id="r"><stop offset="0" stop-color="#ffd43b"/>'
    '<stop offset="0.5" stop-color="#2b8a3e"/><stop offset="1" stop-color="#c92a2a"/>'
    "</radialGradient>\n"
    '    <pattern id="dots" width="10" height="10" patternUnits="userSpaceOnUse">'
    '<circle cx="5" cy="5" r="3" fill="#1c7ed6"/></pattern>\n'
    "  </defs>\n"
    '  <rect width="200" height="200" fill="url(#fade)"/>\n'
    '  <circle cx="300" cy="100" r="80" fill="url(#r)" opacity="0.7"/>\n'
    '  <rect x="20" y="20" width="100" height="60" fill="url(#dots)" fill-opacity="0.5" '
    'stroke="#ae3ec9" stroke-opacity="0.6"/>\n'
    "</svg>\n"
)


def _svg(body: str) -> bytes:
    """An SVG picture whose line 3 is `body`."""
    return (HEAD + body + "\n</svg>\n").encode()


# --- the checks, on the picture alone -----------------------------------------------------

REFUSED = {
    "script": ("<script>alert(1)</script>", "<script>"),
    "event": ('<rect width="9" height="9" onload="alert(1)"/>', "onload"),
    "event-mixed-case": ('<rect width="9" height="9" onClick="alert(1)"/>', "onClick"),
    "foreign-object": (
        '<foreignObject><p xmlns="http://www.w3.org/1999/xhtml">x</p></foreignObject>',
        "<foreignObject>",
    ),
    "html-in-another-namespace": (
        '<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>',
        "<script>",
    ),
    "image-file": ('<image href="../recipients.example.csv" width="9" height="9"/>', "<image>"),
    "use-another-file": ('<use xlink:href="other.svg#a"/>', "other.svg#a"),
    "use-passwd": ('<use href="file:///etc/passwd#x"/>', "file:///etc/passwd#x"),
    "link-web": ('<a href="https://example.org/"><rect width="9" height="9"/></a>', "example"),
    "data-url": ('<use href="data:image/svg+xml,%3Csvg/%3E"/>', "data:image/svg+xml"),
    "fill-url": ('<rect fill="url(http://example.org/p.svg#g)" width="9" height="9"/>', "http"),
    "style-attr-escaped": (
        r'<rect style="fill: u\72l(/etc/passwd)" width="9" height="9"/>',
        "/etc",
    ),
    "style-element": ('<style>rect { fill: url("../secret.csv#g") }</style>', "../secret.csv"),
    "style-import": ('<style>@import "https://example.org/x.css";</style>', "@import"),
    "style-font-face": ("<style>@font-face { font-family: X; src: local(Arial) }</style>", "@font"),
    "processing-instruction": ('<?xml-stylesheet href="x.css"?>', "xml-stylesheet"),
    "use-cycle": ('<g id="a"><rect width="9" height="9"/><use href="#a"/></g>', "#a"),
    "too-deep": ("<g>" * (svg.MAX_DEPTH + 5) + "</g>" * (svg.MAX_DEPTH + 5), "40"),
    "use-bomb": (
        '<g id="a0"><rect width="1" height="1"/></g>'
        + "".join(f'<g id="a{i}">' + f'<use href="#a{i - 1}"/>' * 10 + "</g>" for i in range(1, 9)),
        str(svg.MAX_ELEMENTS),
    ),
}


@pytest.mark.parametrize("body,word", REFUSED.values(), ids=REFUSED.keys())
def test_what_an_svg_picture_may_not_hold_is_found_at_its_line(body, word):
    found = svg.problems(_svg(body))
    assert any(line == 3 and word in message for line, message in found), found


DOCTYPES = {
    "billion-laughs": (
        '<!DOCTYPE svg [\n<!ENTITY a "aaaaaaaaaa">\n'
        + "".join(
            f'<!ENTITY {b} "{("&" + a + ";") * 10}">\n'
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + ']>\n<svg xmlns="http://www.w3.org/2000/svg"><text>&i;</text></svg>\n'
    ),
    "xxe": (
        '<!DOCTYPE svg [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>\n'
    ),
    "external-dtd": (
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        '<svg xmlns="http://www.w3.org/2000/svg"/>\n'
    ),
}


@pytest.mark.parametrize("text", DOCTYPES.values(), ids=DOCTYPES.keys())
def test_no_doctype_so_no_entity_expansion_nor_external_entity(text):
    found = svg.problems(('<?xml version="1.0"?>\n' + text).encode())
    assert [line for line, _ in found] == [2] and "DOCTYPE" in found[0][1], found


@pytest.mark.parametrize(
    "data,word",
    [
        (b"\x89PNG\r\n\x1a\n", "well-formed"),
        (HEAD.encode() + b"<rect>\n", "well-formed"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"/>', "<html>"),
        (b"<svg/>", 'xmlns="http://www.w3.org/2000/svg"'),  # no namespace: not drawn as SVG
    ],
)
def test_not_an_svg_drawing(data, word):
    found = svg.problems(data)
    assert found and any(word in message for _, message in found), found


def test_a_drawing_with_internal_references_only_is_accepted():
    assert svg.problems(CHART.encode()) == []


# --- `check` on a content folder ----------------------------------------------------------


@pytest.fixture
def content(content_copy, monkeypatch) -> Path:
    monkeypatch.chdir(content_copy.parent)  # problems read content/actions/adie.md:…
    (content_copy / "images").mkdir()
    (content_copy / "images/chart.svg").write_text(CHART, encoding="utf-8")
    (content_copy / "secret.csv").write_text("name,email\nA,a@example.org\n", encoding="utf-8")
    return content_copy


def _append(path: Path, text: str) -> int:
    old = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    path.write_text(old + "\n" + text + "\n", encoding="utf-8")
    return old.count("\n") + 2


def _check(capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["--lang", "en", "check", "--content", "content"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out + err


def test_an_svg_picture_is_a_figure_with_its_caption(content, capsys):
    from livret.building.outputs import plan
    from livret.reading.loader import load_site
    from livret.rendering.render import render_html

    _append(content / CARD, '![Un graphique en barres](images/chart.svg "Le graphique")')
    rc, out = _check(capsys)
    assert rc == 0, out
    site = load_site(content)
    html = render_html(site, plan(site, booklet=False, actions=["adie"])[0])
    assert '<figure class="figure"><img alt="Un graphique en barres" src="images/chart.svg">' in (
        html
    )
    assert "<figcaption>Le graphique</figcaption>" in html


def test_an_svg_picture_without_alternative_text_is_a_check_error(content, capsys):
    line = _append(content / CARD, '![](images/chart.svg "Le graphique")')
    rc, out = _check(capsys)
    assert rc == 1 and f"content/{CARD}:{line}: the text: " in out and "alternative text" in out, (
        out
    )


def test_a_crafted_svg_is_refused_by_check_every_problem_at_its_line(content, capsys):
    (content / "images/evil.svg").write_text(
        HEAD
        + '<image href="../secret.csv" width="9" height="9"/>\n'  # 3
        + '<use href="file:///etc/passwd#x"/>\n'  # 4
        + '<rect fill="url(http://127.0.0.1:9/p.svg#g)" width="9" height="9"/>\n'  # 5
        + "<script>alert(1)</script>\n"  # 6
        + "</svg>\n",
        encoding="utf-8",
    )
    line = _append(content / CARD, "![Un dessin](images/evil.svg)")
    rc, out = _check(capsys)
    assert rc == 1, out
    problems = [p for p in out.splitlines() if p.startswith("content/images/evil.svg:")]
    for n, word in ((3, "../secret.csv"), (4, "/etc/passwd"), (5, "http://"), (6, "<script>")):
        assert any(p.startswith(f"content/images/evil.svg:{n}: ") and word in p for p in problems)
    assert f"content/{CARD}:{line}: the text: " in out and "images/evil.svg" in out, out


# --- the renderer: whatever a picture asks for goes through the fetcher -------------------

FETCHES = {
    "content-file": '<image href="../secret.csv" width="9" height="9"/>',
    "outside": '<image href="file:///etc/passwd" width="9" height="9"/>',
    "web": '<image href="http://127.0.0.1:9/x.png" width="9" height="9"/>',
    "font": '<style>@font-face { font-family: X; src: url("../secret.csv") }</style>'
    '<text y="9" style="font-family: X">a</text>',
}


@pytest.mark.parametrize("body", FETCHES.values(), ids=FETCHES.keys())
def test_the_renderer_refuses_what_an_svg_would_fetch(content, body):
    """Were `check` bypassed, the picture is drawn (the fetcher serves .svg from content/)
    but what it asks for is refused, and the render fails: no PDF."""
    from livret.rendering.pdf import Printer

    (content / "images/evil.svg").write_bytes(_svg(body))
    printer = Printer(content)
    page = '<!DOCTYPE html><html lang="fr"><title>t</title><p><img src="images/{}" alt="x">'
    printer.render(page.format("chart.svg"))  # a picture is served…
    with pytest.raises(LivretError, match="refused|refus"):
        printer.render(page.format("evil.svg"))
    denied = printer.fetcher.denied
    assert denied and not any(url.endswith(".svg") for url in denied), denied


# --- the outputs ----------------------------------------------------------------------------


def test_the_press_file_with_an_svg_picture_has_no_rgb(content):
    from livret.building.pipeline import run

    (content / "images/alpha.svg").write_text(ALPHA, encoding="utf-8")
    _append(content / CARD, '![Un graphique en barres](images/chart.svg "Le graphique")')
    _append(content / CARD, "![Des transparences](images/alpha.svg)")
    _, results = run(
        content, content.parent / "print", booklet=False, themes=[], actions=["adie"],
        variant="print",
    )  # fmt: skip
    operators: Counter = Counter()
    shadings = 0
    with pikepdf.open(results[0].path) as pdf:
        for owner, resources in streams(pdf):
            for item in pikepdf.parse_content_stream(owner):
                if isinstance(item, pikepdf.ContentStreamInlineImage):
                    continue
                op = str(item.operator)
                operators[op] += 1
                assert op not in ("rg", "RG"), (op, list(item.operands))
                if op in ("cs", "CS"):
                    assert not press._is_rgb_space(item.operands[0], resources)
            for shading in (resources or {}).get("/Shading", {}).values():
                shadings += 1
                space = shading.ColorSpace
                assert not press._is_rgb_space(space, None)
                # as many colour values as the colour space has inks (WeasyPrint writes an
                # SVG gradient's RGB stops in the CMYK space: livret.finishing.press converts them)
                assert max(function_outputs(shading.Function)) == components(space)
    assert shadings >= 4  # the SVG gradients are there (and the alpha one, in grey)…
    assert operators["sh"] >= 1 and operators["k"] > 10  # …and the colours, in CMYK


def test_an_svg_figure_is_tagged_with_its_alternative_text(content):
    from livret.building.pipeline import run

    _append(content / CARD, '![Un graphique en barres](images/chart.svg "Le graphique")')
    _, results = run(content, content.parent / "screen", booklet=False, themes=[], actions=["adie"])
    figures = []
    with pikepdf.open(results[0].path) as pdf:
        todo = [pdf.Root.StructTreeRoot.K]
        while todo:
            node = todo.pop()
            if isinstance(node, pikepdf.Array):
                todo.extend(node)
            elif isinstance(node, pikepdf.Dictionary):
                if node.get("/S") == pikepdf.Name.Figure:
                    figures.append(str(node.get("/Alt", "")))
                todo.append(node.get("/K"))
    assert "Un graphique en barres" in figures, figures


def test_the_type_is_the_suffix_as_the_renderer_reads_it(content, capsys):
    """An SVG named .png (WeasyPrint would try it as SVG after Pillow fails) is no picture,
    and a PNG named .svg is no drawing: both refused."""
    from PIL import Image

    (content / "images/chart.png").write_text(CHART, encoding="utf-8")
    Image.new("RGB", (8, 8), (200, 80, 20)).save(content / "images/photo.svg", "PNG")
    first = _append(content / CARD, "![Un graphique](images/chart.png)")
    second = _append(content / CARD, "![Une photo](images/photo.svg)")
    rc, out = _check(capsys)
    assert rc == 1, out
    assert f"content/{CARD}:{first}: the text: " in out and "cannot be read as a picture" in out, (
        out
    )
    assert "content/images/photo.svg:1: " in out and f"content/{CARD}:{second}: the text: " in out


def test_a_logo_may_be_an_svg_drawing(content, capsys):
    from livret.building.outputs import plan
    from livret.reading.loader import load_site
    from livret.rendering.render import render_html

    edition = content / "edition.yaml"
    _append(edition, "logos:\n  - file: images/chart.svg\n    alt: Club des territoires")
    rc, out = _check(capsys)
    assert rc == 0, out
    site = load_site(content)
    assert 'src="images/chart.svg" alt="Club des territoires"' in render_html(site, plan(site)[0])


def test_each_picture_is_reported_at_its_own_line(content, capsys):
    """The same file shown twice, the second time without its alternative text."""
    _append(content / CARD, '![Un graphique en barres](images/chart.svg "Le graphique")')
    line = _append(content / CARD, '![](images/chart.svg "Le même")')
    rc, out = _check(capsys)
    assert rc == 1 and f"content/{CARD}:{line}: the text: " in out and "alternative text" in out, (
        out
    )


# --- what WeasyPrint will draw, every reference expanded (issue 17) ------------------------


def _chain(make, levels: int = 8) -> str:
    return "".join(make(i) for i in range(1, levels + 1))


VERTICES = "M0 0" + " L1 1" * 99  # a path of 100 vertices
DRAWS = {
    # WeasyPrint draws the FIRST element of a name; empty decoys of the same names come last.
    "duplicated-ids": (
        '<g id="a0"><rect width="1" height="1"/></g>'
        + _chain(lambda i: f'<g id="a{i}">' + f'<use href="#a{i - 1}"/>' * 10 + "</g>")
        + _chain(lambda i: f'<g id="a{i}"/>'),
        "elements",
    ),
    "path-data-through-use": (
        f'<defs><path id="p" d="M0 0{" L1 1" * 80_000}"/></defs>' + '<use href="#p"/>' * 1000,
        "path data",
    ),
    "markers-in-markers": (
        '<marker id="m0"><rect width="1" height="1"/></marker>'
        + _chain(
            lambda i: (
                f'<marker id="m{i}"><path d="{VERTICES}" marker-mid="url(#m{i - 1})"/></marker>'
            ),
            4,
        )
        + f'<path d="{VERTICES}" marker-mid="url(#m4)"/>',
        "elements",
    ),
    "masks-in-masks": (
        '<mask id="k0"><rect width="1" height="1"/></mask>'
        + _chain(lambda i: f'<mask id="k{i}">' + f'<rect mask="url(#k{i - 1})"/>' * 10 + "</mask>")
        + '<rect width="9" height="9" mask="url(#k8)"/>',
        "elements",
    ),
    "patterns-clips-filters-in-styles": (
        '<pattern id="q0"><rect width="1" height="1"/></pattern>'
        + _chain(
            lambda i: (
                f'<pattern id="q{i}">'
                + f'<rect style="fill: url(#q{i - 1})"/><rect clip-path="url(#q{i - 1})"/>' * 5
                + "</pattern>"
            )
        )
        + '<rect width="9" height="9" fill="url(#q8)"/>',
        "elements",
    ),
    "style-sheet-marker": (
        '<style>path { marker-mid: url(#m) }</style><marker id="m">'
        + '<rect width="1" height="1"/>' * 1000
        + "</marker>"
        + f'<path d="M0 0{" L1 1" * 1000}"/>',
        "elements",
    ),
    "pattern-inherits-a-big-one": (
        '<pattern id="p0">' + '<rect width="1" height="1"/>' * 30_000 + "</pattern>"
        '<pattern id="p1" href="#p0"/><rect width="9" height="9" fill="url(#p1)"/>'
        '<rect width="9" height="9" fill="url(#p1)"/>',
        "elements",
    ),
    "marker-inside-itself": (
        '<marker id="m"><path d="M0 0 L1 1" marker-end="url(#m)"/></marker>'
        '<path d="M0 0 L1 1" marker-end="url(#m)"/>',
        "#m",
    ),
    "long-text": ("<text>" + "texte " * 5_000 + "</text>", "text"),
    "canvas-1e30": ('<svg width="1e30" height="1e30"><rect width="9" height="9"/></svg>', "1e30"),
    "offset-1e30": ('<rect x="1e30" width="9" height="9"/>', "1e30"),
    "translate-huge": ('<g transform="translate(100000000000000000000 0)"/>', "10000000"),
    "infinite": ('<rect width="inf" height="9"/>', "inf"),
    "style-sheet-1e30": ("<style>rect { stroke-width: 1e30 }</style>", "1e30"),
    "name-with-a-quote": ('<rect width="9" height="9" mask="url(#a&quot;b)"/>', "#a"),
}


@pytest.mark.parametrize("body,word", DRAWS.values(), ids=DRAWS.keys())
def test_check_bounds_what_weasyprint_will_draw(body, word):
    """Each of these passed `check` and then held a build for minutes, or made a PDF that
    qpdf --check rejects."""
    found = svg.problems(_svg(body))
    assert found, "accepted"
    assert any(line >= 2 and word in message for line, message in found), found


def test_ordinary_references_stay_accepted():
    body = (
        '<defs><marker id="arrow" markerWidth="4" markerHeight="4"><path d="M0 0L4 2L0 4z"/>'
        '</marker><clipPath id="c"><rect width="50" height="50"/></clipPath>'
        '<filter id="f"><feOffset dx="2" dy="2"/></filter>'
        '<mask id="k"><rect width="100" height="100" fill="white"/></mask></defs>'
        "<style>.axis { marker-end: url(#arrow) }</style>"
        f'<path class="axis" d="M0 0{" L2 3" * 200}" marker-mid="url(#arrow)"/>'
        '<g clip-path="url(#c)" filter="url(#f)" mask="url(#k)"><rect width="9" height="9"/></g>'
        '<text x="1" y="9" data-id="123456789">Légende : 1 500 000 habitants</text>'
        '<rect width="9" height="9" fill="#12345678" style="stroke: #99999999"/>'
    )
    assert svg.problems(_svg(body)) == []
    # An exported map: 20 000 shapes whose class gives them a gradient, in a style sheet.
    shapes = '<rect class="c" width="1" height="1"/>' * 20_000
    gradient = '<linearGradient id="lg"><stop offset="0"/><stop offset="1"/></linearGradient>'
    assert svg.problems(_svg(f"<style>.c {{ fill: url(#lg) }}</style>{gradient}{shapes}")) == []
    # A map in metres (Lambert-93) draws within the bounds.
    lambert = '<path d="M700000 6600000 L710000 6610000" transform="scale(0.0001)"/>'
    assert svg.problems(_svg(lambert)) == []
