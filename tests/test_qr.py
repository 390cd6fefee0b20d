"""The web edition's address on the back cover (edition.yaml web_address, layouts/back.html):
a link in every PDF, and in the press file a vector QR code of it, in black ink only, that a
phone reads (decoded here by zbarimg, Debian's zbar-tools, from a 300 dpi rendering)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
import tagtree
from conftest import CONTENT, PRESS_THEME
from pressread import streams

from livret.building.outputs import KINDS
from livret.reading.loader import load_site
from livret.rendering import qr
from livret.rendering.render import render_html

ADDRESS = "https://www.exemple.gouv.fr/retour-experience/"
MM = 72 / 25.4
PRINTED = "www.exemple.gouv.fr/retour-experience/"  # as printed: no https:// to type
THEME = PRESS_THEME  # the session's press excerpt: its fitting decisions hold


def with_address(content: Path, address: str = ADDRESS) -> Path:
    """`content` with edition.yaml's web_address set."""
    edition = content / "edition.yaml"
    text = edition.read_text(encoding="utf-8")
    edition.write_text(text + f"web_address: {address}\n", encoding="utf-8")
    return content


@pytest.fixture(scope="module")
def addressed_accessible(addressed_build) -> Path:
    """The theme excerpt (the booklet's covers) with web_address set: the session's
    addressed_build."""
    (excerpt,) = [r.path for r in addressed_build[2] if r.output.theme == THEME]
    return excerpt


@pytest.fixture(scope="module")
def addressed_print(session_build, press_excerpt) -> Path:
    """Its press file, built once for the session (from the press excerpt's fitting
    decisions: the address changes the covers, not the cards)."""
    _, _, results = session_build(
        "addressed-print",
        edit=with_address,
        fit_from=press_excerpt[0],
        booklet=False,
        themes=[THEME],
        variant="print",
    )
    return results[0].path


# make test's (slow): the edition built again with an address, for the screen and the press
# (make test-fast checks the QR code itself: test_the_code_is_the_address_…).
@pytest.fixture(
    params=[
        pytest.param("accessible", marks=pytest.mark.slow),
        pytest.param("print", marks=pytest.mark.slow),
    ]
)
def addressed(request) -> tuple[str, Path]:
    return request.param, request.getfixturevalue(f"addressed_{request.param}")


def zbarimg() -> str:
    """Debian's zbarimg (zbar-tools): skipped on a developer's machine without it, a failure
    in CI (CI=true), which installs it."""
    found = shutil.which("zbarimg")
    if found is None:
        why = "zbarimg not found (apt-get install zbar-tools)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return found


def decode(pdf: Path, tmp_path: Path) -> list[str]:
    """The texts of the QR codes zbarimg reads on the back cover (the last page) rendered at
    300 dpi."""
    with pikepdf.open(pdf) as opened:
        page = len(opened.pages)
    png = tmp_path / pdf.stem
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", "-singlefile", "-f", str(page), "-l", str(page),
         str(pdf), str(png)],
        check=True, timeout=120,
    )  # fmt: skip
    done = subprocess.run(
        [zbarimg(), "--xml", "-q", "-Sdisable", "-Sqrcode.enable", f"{png}.png"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode in (0, 4), done.stderr  # 4: nothing found
    return re.findall(r"<data[^>]*><!\[CDATA\[(.*?)\]\]></data>", done.stdout, re.S)


def test_back_cover_prints_the_address_as_a_tagged_link(addressed):
    """The address is on the back cover, as text, a link annotation to it (with the words a
    reader hears), and a Link element holding that text in the tag tree."""
    variant, path = addressed
    with pikepdf.open(path) as pdf:
        last = len(pdf.pages)
        text = subprocess.run(
            ["pdftotext", "-layout", "-f", str(last), "-l", str(last), str(path), "-"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        assert "Ce livret en ligne" in text and PRINTED in text, (variant, text)
        links = [
            a
            for a in pdf.pages[-1].obj.get("/Annots", [])
            if a.get("/Subtype") == "/Link" and str(a.get("/A", {}).get("/URI")) == ADDRESS
        ]
        assert len(links) == 1, variant
        assert str(links[0].Contents) == f"Lire ce livret en ligne : {ADDRESS}"
        # the Link element of the tree owns the annotation and reads the printed address
        reader = tagtree.Reader(pdf)
        owners = [
            e
            for e, _ in tagtree.walk(pdf.Root.StructTreeRoot)
            if e.S == "/Link"
            and any(
                isinstance(k, pikepdf.Dictionary) and k.get("/Obj") == links[0]
                for k in tagtree.kids(e)
            )
        ]
        assert len(owners) == 1, variant
        assert any(isinstance(k, int) for k in tagtree.kids(owners[0])), variant
        if variant == "accessible":  # (the press file's pages are forms Reader cannot read)
            assert PRINTED in reader.text(owners[0]).replace("\n", "")


@pytest.mark.slow  # a press file built again, with an address
def test_press_file_has_a_vector_qr_code_that_reads_as_the_address(
    addressed_print, addressed_accessible, tmp_path
):
    """Print: the QR code is drawn (no image on the page) and a phone reads the address."""
    path = addressed_print
    with pikepdf.open(path) as pdf:
        pending = [pdf.pages[-1].obj.get("/Resources")]
        while pending:  # the back cover's pictures, and those of its forms
            for xobject in (pending.pop() or {}).get("/XObject", {}).values():
                assert xobject.get("/Subtype") != "/Image", "the QR code must be vectors"
                pending.append(xobject.get("/Resources"))
    assert decode(path, tmp_path) == [ADDRESS]
    # the screen PDF has none (the link is there to click)
    assert decode(addressed_accessible, tmp_path) == []


def _paints(page) -> list[tuple[str, int, set[tuple[float, ...]], float]]:
    """(operator, subpaths, colours, scale) of every stroke and fill the page's stream paints:
    the colours it paints with, and how many points one unit of the path is (no rotation on
    these pages)."""
    fill: tuple[float, ...] = (0.0,)
    stroke: tuple[float, ...] = (0.0,)
    scale = 1.0
    stack: list = []
    out, subpaths = [], 0
    for operands, op in pikepdf.parse_content_stream(page):
        name = str(op)
        if name == "q":
            stack.append((fill, stroke, scale))
        elif name == "Q" and stack:
            fill, stroke, scale = stack.pop()
        elif name == "cm":
            scale *= abs(float(operands[0]))
        elif name in ("k", "g", "rg", "sc", "scn"):
            fill = tuple(float(v) for v in operands if not isinstance(v, pikepdf.Name))
        elif name in ("K", "G", "RG", "SC", "SCN"):
            stroke = tuple(float(v) for v in operands if not isinstance(v, pikepdf.Name))
        elif name in ("m", "re"):
            subpaths += 1
        elif name in ("S", "s"):
            out.append(("S", subpaths, {stroke}, scale))
        elif name in ("f", "F", "f*"):
            out.append(("f", subpaths, {fill}, scale))
        elif name in ("B", "B*", "b", "b*"):  # an SVG path's default: filled and stroked
            out.append(("B", subpaths, {fill, stroke}, scale))
        if name in ("S", "s", "f", "F", "f*", "n", "B", "B*", "b", "b*"):
            subpaths = 0
    return out


def _qr_paints(pdf) -> tuple[tuple, tuple]:
    """The back cover's QR code as painted: (its quiet zone's fill, its modules' stroke). The
    modules are one path of every run of dark modules, the largest on the page."""
    paints = _paints(pdf.pages[-1])
    i = max(range(len(paints)), key=lambda n: paints[n][1])
    return paints[i - 1], paints[i]


@pytest.mark.slow  # a press file built again, with an address
def test_press_qr_code_is_black_ink_only_on_paper_white(addressed_print):
    """The QR code's modules in 100 % K (one plate: sharp whatever the registration) on a
    quiet zone with no ink; no RGB anywhere in the file."""
    with pikepdf.open(addressed_print) as pdf:
        for owner, _ in streams(pdf):  # pages, forms and patterns
            assert not {"rg", "RG"} & {str(op) for _, op in pikepdf.parse_content_stream(owner)}
        quiet, modules = _qr_paints(pdf)
        assert modules[1] > 100, modules  # hundreds of runs of dark modules
        assert modules[2] == {(0.0, 0.0, 0.0, 1.0)}  # K 100 %: no C, M or Y
        assert quiet[0] == "f" and quiet[2] == {(0.0, 0.0, 0.0, 0.0)}  # paper white: no ink


@pytest.mark.slow  # a press file built again, with an address
def test_press_qr_code_is_20_mm_wide_or_more(addressed_print):
    """Without its quiet zone: modules of 0.5 mm or more, which any phone reads at arm's length."""
    with pikepdf.open(addressed_print) as pdf:
        _, modules = _qr_paints(pdf)
    width = qr.code(ADDRESS).symbol_size(border=0)[0]  # in modules, the path's unit
    assert width * modules[3] / MM >= 20, width * modules[3] / MM


def test_the_code_is_the_address_with_a_four_module_quiet_zone():
    code = qr.code(ADDRESS)
    assert not code.is_micro and code.error in ("M", "Q", "H")
    svg = qr.svg(ADDRESS, "Code QR")
    size = code.symbol_size(border=4)[0]
    assert f'viewBox="0 0 {size} {size}"' in svg
    assert f'<path fill="#fff" d="M0 0h{size}v{size}h-{size}z"/>' in svg  # the quiet zone
    assert "<image" not in svg and "<title>Code QR</title>" in svg


def test_without_web_address_the_back_cover_is_unchanged():
    """Edition #01 gives no web_address: no block, no QR code, no link to a web edition."""
    site = load_site(CONTENT)
    assert site.edition.web_address is None
    html = render_html(site, KINDS["booklet"].output(site, site.edition.slug))
    assert "back-web" not in html and "<svg" not in html


@pytest.mark.slow  # a press file built again, with an address
def test_the_qr_code_has_a_text_alternative_in_the_tagged_press_file(addressed_print):
    """The press file is tagged too: the QR code is a Figure whose /Alt names the address."""
    with pikepdf.open(addressed_print) as pdf:
        figures = [
            e
            for e, _ in tagtree.walk(pdf.Root.StructTreeRoot)
            if e.S == "/Figure" and ADDRESS in str(e.get("/Alt", ""))
        ]
        assert len(figures) == 1
        assert str(figures[0].Alt) == f"Code QR du livret en ligne : {ADDRESS}"
        assert tagtree.orphans(pdf) == []
