"""--variant print: the press file, read back with pikepdf (PDF/X-4, CMYK only, boxes, marks)."""

from __future__ import annotations

import io
import subprocess
from collections import Counter

import pikepdf
import pytest
from conftest import CONTENT
from pressread import components, function_outputs, streams

from livret.building.pipeline import run
from livret.finishing import press

MM = 72 / 25.4


@pytest.fixture(scope="module")
def press_files(press_excerpt, session_build):
    """One excerpt (cover, contents, opener, cards, Notes pages, back cover) and one sheet, for
    the press, each built once for the session."""
    _, _, results = session_build(
        "press-sheet", booklet=False, themes=[], actions=["apfe"], variant="print"
    )
    return [r.path for r in press_excerpt[2]] + [r.path for r in results]


@pytest.fixture(params=["excerpt", pytest.param("booklet", marks=pytest.mark.slow)])
def press_pdf(request):
    """A press file with contents and Notes pages: an excerpt's (make test-fast), then the
    booklet's (make test: the longest build)."""
    if request.param == "excerpt":
        return request.getfixturevalue("press_excerpt")[2][0].path
    return request.getfixturevalue("built_print")[0] / "retour-experience-01-print.pdf"


def test_pdfx4_identification_and_cmyk_output_intent(press_files):
    for path in press_files:
        with pikepdf.open(path) as pdf:
            xmp = bytes(pdf.Root.Metadata.read_bytes()).decode()
            assert "<pdfxid:GTS_PDFXVersion>PDF/X-4</pdfxid:GTS_PDFXVersion>" in xmp, path.name
            assert pdf.Root.Metadata.get("/Filter") is None  # PDF/X-4: XMP readable as is
            assert str(pdf.docinfo.get("/Trapped")) == "/False"
            assert pdf.pdf_version >= "1.6"
            (intent,) = pdf.Root.OutputIntents
            assert intent.S == pikepdf.Name.GTS_PDFX
            assert str(intent.OutputConditionIdentifier) == "FOGRA39"
            profile = intent.DestOutputProfile
            assert int(profile.N) == 4
            assert profile.read_bytes()[16:20] == b"CMYK"  # ICC header: data colour space
            assert b"FOGRA39L" in profile.read_bytes()  # the vendored profile (its description)


def test_no_rgb_anywhere(press_files):
    for path in press_files:
        with pikepdf.open(path) as pdf:
            operators = Counter()
            for owner, resources in streams(pdf):
                for item in pikepdf.parse_content_stream(owner):
                    if isinstance(item, pikepdf.ContentStreamInlineImage):
                        continue
                    op = str(item.operator)
                    operators[op] += 1
                    assert op not in ("rg", "RG"), (path.name, op, list(item.operands))
                    if op in ("cs", "CS"):
                        assert not press._is_rgb_space(item.operands[0], resources), path.name
                for pattern in (resources or {}).get("/Pattern", {}).values():
                    if "/Shading" in pattern:  # the contents' leader dots: a gradient
                        assert not press._is_rgb_space(pattern.Shading.get("/ColorSpace"), None)
                for xobject in (resources or {}).get("/XObject", {}).values():
                    if xobject.get("/Subtype") == pikepdf.Name.Image:
                        assert not press._is_rgb_space(xobject.get("/ColorSpace"), None)
                group = owner.obj.get("/Group") if isinstance(owner, pikepdf.Page) else None
                if group is not None:
                    assert not press._is_rgb_space(group.get("/CS"), None)
            assert operators["k"] + operators["scn"] > 50, path.name  # the colours are there


def test_every_gradient_gives_as_many_values_as_its_colour_space(press_files):
    """A gradient (the cover's stripes, the contents' leader dots) whose function gives sRGB
    triples under a CMYK space is what a RIP cannot read (poppler: "function with wrong output
    size", 1,711 times over the booklet before the fix)."""
    for path in press_files:
        with pikepdf.open(path) as pdf:
            shadings = [
                o
                for o in pdf.objects
                if isinstance(o, pikepdf.Dictionary | pikepdf.Stream) and "/ShadingType" in o
            ]
            if "-action-" not in path.name:  # the excerpt has gradients; the sheet none
                assert shadings, path.name
            for shading in shadings:
                outputs = function_outputs(shading.Function)
                assert outputs == {components(shading.ColorSpace)}, (path.name, outputs)
            rendered = subprocess.run(
                ["pdftoppm", "-r", "10", "-png", str(path), str(path.with_suffix(""))],
                capture_output=True,
                text=True,
            )
            assert "wrong output size" not in rendered.stderr, path.name


def test_text_is_pure_black(press_files):
    """The body text is 100 % K: the commonest fill colour of the shown text is 0 0 0 1."""
    with pikepdf.open(press_files[-1]) as pdf:
        colours = Counter()
        for page in pdf.pages:
            fill = None
            for item in pikepdf.parse_content_stream(page):
                op = str(getattr(item, "operator", ""))
                if op in ("k", "scn", "sc") and len(item.operands) == 4:
                    fill = tuple(float(v) for v in item.operands)
                elif op in ("TJ", "Tj"):
                    colours[fill] += 1
        assert colours.most_common(1)[0][0] == (0.0, 0.0, 0.0, 1.0), colours.most_common(3)


def test_boxes_and_marks_outside_the_bleed(press_files):
    for path in press_files:
        with pikepdf.open(path) as pdf:
            for n, page in enumerate(pdf.pages, 1):
                trim = [float(v) for v in page.obj.TrimBox]
                bleed = [float(v) for v in page.obj.BleedBox]
                media = [float(v) for v in page.obj.MediaBox]
                assert abs(trim[2] - trim[0] - 210 * MM) < 0.5  # A4 trimmed
                assert [round(b - t, 2) for b, t in zip(bleed, trim, strict=True)] == [
                    round(v, 2) for v in (-3 * MM, -3 * MM, 3 * MM, 3 * MM)
                ], (path.name, n)
                assert media[0] < bleed[0] - 8 * MM and media[2] > bleed[2] + 8 * MM
                # The crop marks: 8 strokes per page, every one outside the bleed box.
                overlay = pikepdf.parse_content_stream(page.obj.Contents[-1])
                points, segments = [], []
                for item in overlay:
                    op = str(item.operator)
                    if op in ("m", "l"):
                        points.append(tuple(float(v) for v in item.operands))
                    if op == "S":
                        segments.append(points)
                        points = []
                assert len(segments) == 8, (path.name, n)
                for (ax, ay), (bx, by) in segments:
                    outside_x = max(ax, bx) <= bleed[0] or min(ax, bx) >= bleed[2]
                    outside_y = max(ay, by) <= bleed[1] or min(ay, by) >= bleed[3]
                    assert outside_x or outside_y, (path.name, n, (ax, ay, bx, by))
                    assert media[0] <= min(ax, bx) and max(ax, bx) <= media[2]


def test_slug_line_names_the_document_and_page(press_files):
    """Each page's slug names that page (WeasyPrint shares one Resources dictionary between
    all pages: one slug name there gave every page the last page's slug)."""
    for path in press_files:
        pages = int(pikepdf.open(path).pages.__len__())
        for n in range(1, pages + 1):
            text = subprocess.run(
                ["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert f"PDF/X-4 · FOGRA39 · page {n} / {pages}" in text, (path.name, n)


def test_every_font_program_has_its_own_subset_tag(press_files):
    """`pdffonts`: one name, one font program (the slug's subset of Lato Regular came under
    the body subset's name, EAIBFK+Livret-Lato twice)."""
    for path in press_files:
        with pikepdf.open(path) as pdf:
            programs: dict[str, set[bytes]] = {}
            for obj in pdf.objects:
                if not isinstance(obj, pikepdf.Dictionary) or "/FontName" not in obj:
                    continue
                program = obj.get("/FontFile2") or obj.get("/FontFile3") or obj.get("/FontFile")
                if program is not None:
                    programs.setdefault(str(obj.FontName), set()).add(program.read_bytes())
            assert programs, path.name
            shared = {name: len(found) for name, found in programs.items() if len(found) > 1}
            assert not shared, (path.name, shared)
        listing = subprocess.run(
            ["pdffonts", str(path)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        names = [line.split()[0] for line in listing]
        assert len(names) == len(set(names)), (path.name, listing)


def test_greys_go_to_black_only_and_colours_through_the_profile():
    assert press.rgb_to_cmyk(0.11, 0.11, 0.11) == (0.0, 0.0, 0.0, 0.89)
    assert press.rgb_to_cmyk(1, 1, 1) == (0.0, 0.0, 0.0, 0.0)
    c, m, y, k = press.rgb_to_cmyk(0x1D / 255, 0x5E / 255, 0xA8 / 255)  # the mobility blue
    assert c > 0.8 and m > 0.5 and y < 0.1


def test_the_press_file_is_reproducible(press_files, tmp_path):
    """Built again in a fresh folder: the same bytes as the session's press sheet."""
    _, results = run(
        CONTENT, tmp_path / "again", booklet=False, themes=[], actions=["apfe"], variant="print"
    )
    paths = [press_files[-1].read_bytes(), results[0].path.read_bytes()]
    assert results[0].path.name == press_files[-1].name
    assert paths[0] == paths[1]
    assert pikepdf.open(io.BytesIO(paths[0])).pages


def test_fine_elements_print_in_one_ink(press_pdf):
    """Hairlines, dots and small text in one ink (four inks there cannot register): the
    contents' leader dots, the Notes rules, the back cover's 8 pt grey text, every grey and
    near-grey (#5b6270…) to K only. Read from the booklet's content streams."""
    from pressread import fine_elements, inks

    with pikepdf.open(press_pdf) as pdf:
        found = Counter()
        for what, _owner, colour in fine_elements(pdf):
            found[what.split()[-1]] += 1
            assert colour is not None and inks(colour) <= 1, (what, colour)
        assert found["stroke"] >= 25 and found["text"] >= 30, found  # Notes rules, folios…
        # The leader dots: radial gradients, from a grey that is K only.
        dots = 0
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/ShadingType") == 3:
                for values in _stops(obj.Function):
                    assert inks(values) <= 1, values
                dots += 1
        assert dots, "no leader dots found"
    assert press.rgb_to_cmyk(0x5B / 255, 0x62 / 255, 0x70 / 255) == (0, 0, 0, 0.6065)


def _stops(function):
    for key in ("/C0", "/C1"):
        if key in function:
            yield [float(v) for v in function[key]]
    for sub in function.get("/Functions", []):
        yield from _stops(sub)


def test_the_notes_rules_span_the_text_area(press_pdf, tmp_path):
    """The Notes page's rules run across the text area, 17 mm from each trim edge (they
    started 34 mm from the left and ran to the trim)."""
    from pdftext import poppler_pages
    from PIL import Image

    path = press_pdf
    pages = poppler_pages(path)
    notes = [n for n, text in enumerate(pages, 1) if text.startswith("Notes")]
    assert notes, f"no Notes page in {path.name}"
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "72", "-f", str(notes[0]), "-l", str(notes[0]), str(path)]
        + [str(tmp_path / "n")],
        check=True,
    )
    (image,) = tmp_path.glob("n*.pgm")
    page = Image.open(image).convert("L")
    width, height = page.size
    offset = press.SLUG + press.BLEED  # the trim's corner on the enlarged page
    rows = []
    for y in range(round(offset + 40 * MM), round(height - offset - 25 * MM)):
        xs = [x for x in range(width) if page.getpixel((x, y)) < 245]
        if len(xs) > 300:  # a rule, not a mark or the slug
            rows.append((min(xs), max(xs)))
    assert len(rows) >= 20, len(rows)
    for left, right in rows:
        assert abs((left - offset) / MM - 17) < 1, (left - offset) / MM
        assert abs((right + 1 - offset) / MM - 193) < 1, (right - offset) / MM
