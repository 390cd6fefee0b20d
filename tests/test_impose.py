"""The office-printer imposition: real PDFs imposed, read back half by half (pdftotext crops),
rendered (pdftoppm), and the `--impose` option end to end."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import pikepdf
import pytest
from conftest import CONTENT, ROOT
from PIL import Image

from livret.cli import main
from livret.finishing.impose import BODY_PT, MM, body_size, impose, padded, saddle_order, shrink

A4 = (210 * MM, 297 * MM)


def synthetic(pages: int, *, bleed: float = 0.0) -> bytes:
    """An A4 document whose page n says TOPnn in its top-left corner and ENDnn in its
    bottom-right one (Helvetica, a standard font: no WeasyPrint needed). With `bleed`: the
    MediaBox grows by it on every side, the TrimBox stays A4, and the bleed is painted black."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica"
        )
    )
    w, h = A4
    for n in range(1, pages + 1):
        page = pdf.add_blank_page(page_size=(w + 2 * bleed, h + 2 * bleed))
        page.obj.TrimBox = pikepdf.Array([bleed, bleed, w + bleed, h + bleed])
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        paint = ""
        if bleed:  # black everywhere, then white inside the trim
            paint = (
                f"0 g 0 0 {w + 2 * bleed} {h + 2 * bleed} re f "
                f"1 g {bleed} {bleed} {w} {h} re f 0 g "
            )
        text = (
            f"BT /F1 20 Tf {bleed + 30} {bleed + h - 50} Td (TOP{n:02d}) Tj ET "
            f"BT /F1 20 Tf {bleed + w - 110} {bleed + 30} Td (END{n:02d}) Tj ET"
        )
        page.Contents = pdf.make_stream((paint + text).encode())
    pdf.docinfo["/Title"] = "Livret d’essai"
    pdf.docinfo["/Author"] = "Club des territoires"
    pdf.Root.Lang = pikepdf.String("fr")
    buffer = io.BytesIO()
    pdf.save(buffer, deterministic_id=True)
    return buffer.getvalue()


def halves(path: Path) -> list[tuple[str, str]]:
    """(left, right) text of every page of an imposed PDF: pdftotext cropped to each half."""
    with pikepdf.open(path) as pdf:
        boxes = [tuple(float(v) for v in p.mediabox) for p in pdf.pages]
    out = []
    for number, (_x0, _y0, width, height) in enumerate(boxes, start=1):
        texts = []
        for x in (0, width / 2):
            texts.append(
                subprocess.run(
                    ["pdftotext", "-enc", "UTF-8", "-f", str(number), "-l", str(number)]
                    + ["-x", str(round(x)), "-y", "0", "-W", str(round(width / 2))]
                    + ["-H", str(round(height)), str(path), "-"],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
        out.append((" ".join(texts[0].split()), " ".join(texts[1].split())))
    return out


def labels(n: int | None) -> str:
    return "" if n is None else f"TOP{n:02d} END{n:02d}"


def test_saddle_order_is_the_folded_booklet():
    assert saddle_order(8) == [(8, 1), (2, 7), (6, 3), (4, 5)]
    for count in (4, 12, 36):
        sides = saddle_order(count)
        assert len(sides) == count // 2
        assert sorted(p for side in sides for p in side) == list(range(1, count + 1))
        # pages facing each other across the fold of one side add up to count + 1
        assert all(left + right == count + 1 for left, right in sides)
    with pytest.raises(ValueError):
        saddle_order(6)


def test_padding_goes_before_the_back_cover():
    assert padded(8) == list(range(1, 9))
    assert padded(6) == [1, 2, 3, 4, 5, None, None, 6]
    assert padded(9) == [1, 2, 3, 4, 5, 6, 7, 8, None, None, None, 9]
    assert padded(1) == [1, None, None, None]


@pytest.mark.parametrize(
    "sheet, size", [("a4", (297, 210)), ("a3", (420, 297))], ids=["A4 sheets", "A3 sheets"]
)
def test_a_small_document_is_imposed_in_saddle_stitch_order(tmp_path, sheet, size):
    imposed = impose(synthetic(8), sheet)
    assert (imposed.pages, imposed.blanks, imposed.sides, imposed.sheets) == (8, 0, 4, 2)
    path = tmp_path / "imposed.pdf"
    path.write_bytes(imposed.data)
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 4
        for page in pdf.pages:
            width, height = (float(v) for v in page.mediabox[2:])
            assert (round(width / MM), round(height / MM)) == size
    # sheet 1 front = [8, 1], back = [2, 7]; sheet 2 front = [6, 3], back = [4, 5]; each page
    # whole in its half (both corners)
    expected = [(labels(a), labels(b)) for a, b in [(8, 1), (2, 7), (6, 3), (4, 5)]]
    assert halves(path) == expected


def test_pages_meet_at_the_fold_and_leave_the_sheet_edges_blank():
    """An office printer cannot print the sheet's last millimetres: A4 pages shrink to 67 %
    on A4 sheets (71 % would reach the edge), 97 % on A3, 5 mm blank at the sheet's edges."""
    for sheet, scale in (("a4", 0.6734), ("a3", 0.9663)):
        assert shrink(sheet) == pytest.approx(scale, abs=1e-4)
        with pikepdf.open(io.BytesIO(impose(synthetic(4), sheet).data)) as pdf:
            ops = pikepdf.parse_content_stream(pdf.pages[0])
            matrices = [[float(v) for v in o.operands] for o in ops if str(o.operator) == "cm"]
            assert [m[0] for m in matrices] == pytest.approx([scale, scale], rel=1e-3), sheet
            width, height = (float(v) for v in pdf.pages[0].mediabox[2:])
            # the left page ends at the fold, the right one starts there
            assert matrices[0][4] + A4[0] * scale == pytest.approx(width / 2, abs=0.05)
            assert matrices[1][4] == pytest.approx(width / 2, abs=0.05)
            for m in matrices:  # 5 mm or more blank at every edge of the sheet
                assert m[4] >= 5 * MM - 0.05 and m[4] + A4[0] * scale <= width - 5 * MM + 0.05
                assert m[5] >= 5 * MM - 0.05 and m[5] + A4[1] * scale <= height - 5 * MM + 0.05


def test_the_covers_stop_short_of_the_sheet_edge(built, tmp_path):
    """Sheet 1 of the real booklet: the navy covers print up to 5 mm from the edge, not to it
    (an office printer leaves its last millimetres white, unevenly)."""
    path = tmp_path / "a4.pdf"
    path.write_bytes(impose((built[0] / "retour-experience-01.pdf").read_bytes(), "a4").data)
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "72", "-f", "1", "-l", "1", str(path), str(tmp_path / "s")],
        check=True,
    )
    (image,) = tmp_path.glob("s*.pgm")
    sheet = Image.open(image).convert("L")
    width, height = sheet.size
    edge = round(4.5 * MM)  # pixels at 72 dpi: points
    inside = round(9 * MM)
    for x, y in ((edge, height // 2), (width - 1 - edge, height // 2), (width // 4, edge),
                 (width // 4, height - 1 - edge)):  # fmt: skip
        assert sheet.getpixel((x, y)) > 250, (x, y)  # blank paper
    for x, y in ((inside, height // 2), (width - 1 - inside, height // 2), (width // 4, inside)):
        assert sheet.getpixel((x, y)) < 100, (x, y)  # the navy cover


def test_a_warning_when_body_text_falls_under_8_pt(built_copy, capsys, french):
    """A5 from A4 sheets prints the 10 pt body text at 6.7 pt: the build says so, in French,
    and points to --impose a3; A3 sheets keep it readable (9.7 pt): no warning."""
    assert BODY_PT == 10 and "font-size: 10pt" in (ROOT / "styles/typography.css").read_text()
    assert body_size("a4") == pytest.approx(6.73, abs=0.01) and body_size("a3") > 8
    argv = ["--content", str(CONTENT), "--output", str(built_copy), "--only", "booklet"]
    assert main([*argv, "--impose", "a4"]) == 0
    printed = capsys.readouterr().out
    assert (
        "attention : sur feuilles A4, le texte courant est imprimé en 6,7\u202fpt, moins de "
        "8\u202fpt : peu lisible ; préférez --impose a3" in printed
    ), printed
    assert main([*argv, "--impose", "a3"]) == 0  # the A4 imposition is kept up to date too
    printed = capsys.readouterr().out
    assert "un livret A4 de 32 pages" in printed and printed.count("peu lisible") == 1
    assert "sur feuilles A3, le texte" not in printed


def test_pages_not_a_multiple_of_4_get_blank_pages_before_the_last(tmp_path):
    imposed = impose(synthetic(6), "a4")
    assert (imposed.pages, imposed.blanks, imposed.sides) == (6, 2, 4)
    path = tmp_path / "imposed.pdf"
    path.write_bytes(imposed.data)
    # reading order 1 2 3 4 5 _ _ 6: the back cover (6) stays on the back
    assert halves(path) == [
        (labels(6), labels(1)),
        (labels(2), ""),
        ("", labels(3)),
        (labels(4), labels(5)),
    ]


def test_the_bleed_and_marks_are_cut_off_at_the_trim_box(tmp_path):
    imposed = impose(synthetic(4, bleed=10 * MM), "a4")
    path = tmp_path / "imposed.pdf"
    path.write_bytes(imposed.data)
    assert halves(path)[0] == (labels(4), labels(1))
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "30", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")],
        check=True,
    )
    (image,) = tmp_path.glob("p*.pgm")
    histogram = Image.open(image).convert("L").histogram()
    # The black bleed would show as dark bands around each page; only the text is dark.
    dark = sum(histogram[:64])
    assert 0 < dark < 0.01 * sum(histogram), dark


def test_same_input_same_bytes_and_the_metadata_kept():
    source = synthetic(8)
    first, second = impose(source, "a4").data, impose(source, "a4").data
    assert first == second
    with pikepdf.open(io.BytesIO(first)) as pdf:
        assert str(pdf.docinfo["/Title"]) == "Livret d’essai"
        assert str(pdf.docinfo["/Author"]) == "Club des territoires"
        assert str(pdf.Root.Lang) == "fr"


def test_the_real_booklet_imposed_on_a4_reads_page_by_page(built, tmp_path):
    out, _manifest, _results = built
    booklet = out / "retour-experience-01.pdf"
    data = booklet.read_bytes()
    imposed = impose(data, "a4")
    assert imposed.data == impose(data, "a4").data  # reproducible on a real, tagged PDF
    # The screen booklet leaves no page blank: 30 pages, 2 blank ones added before the last.
    assert (imposed.pages, imposed.blanks, imposed.sides) == (30, 2, 16)
    path = tmp_path / "booklet-a4.pdf"
    path.write_bytes(imposed.data)
    with pikepdf.open(path) as pdf, pikepdf.open(booklet) as src:
        assert len(pdf.pages) == 16
        assert all(
            [round(float(v) / MM) for v in p.mediabox] == [0, 0, 297, 210] for p in pdf.pages
        )
        assert str(pdf.docinfo["/Title"]) == str(src.docinfo["/Title"])
        assert str(pdf.Root.Lang) == str(src.Root.Lang) == "fr"
        # a file to print: no tags, no claim of PDF/UA in XMP metadata
        assert "/StructTreeRoot" not in pdf.Root and "/Metadata" not in pdf.Root
    pages = [
        " ".join(p.split())
        for p in subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(booklet), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split("\f")[:-1]
    ]
    assert len(pages) == 30
    got = halves(path)
    order = padded(30)
    for side, (left, right) in enumerate(saddle_order(32)):
        # the same words as the page (pdftotext's order may differ within a page)
        for half, position in ((0, left), (1, right)):
            number = order[position - 1]
            want = sorted(pages[number - 1].split()) if number else []
            assert sorted(got[side][half].split()) == want, (side, position)
    assert "Sommaire" in got[1][0] and got[1][1] == ""  # page 2, and a blank page


def _json_build(capsys, content: Path, out: Path, *extra: str) -> dict[str, str]:
    argv = ["--content", str(content), "--output", str(out), "--theme", "precarite-energetique"]
    assert main([*argv, "--json", *extra]) == 0
    summary = json.loads(capsys.readouterr().out)
    return {Path(o["path"]).name: o["status"] for o in summary["outputs"]}


@pytest.mark.slow  # builds run again (an excerpt edited)
def test_cli_impose_writes_lists_and_follows_the_excerpt(content_copy, built_copy, capsys):
    out = built_copy  # the booklet and excerpts of this content, built and up to date
    excerpt = "retour-experience-01-precarite-energetique.pdf"
    a4 = "retour-experience-01-precarite-energetique-imposition-a4.pdf"
    assert _json_build(capsys, content_copy, out, "--impose", "a4") == {
        excerpt: "up to date",
        a4: "built",
    }
    sides = halves(out / a4)
    assert len(sides) == 6  # 12 pages, 3 sheets
    cover = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-l", "1", str(out / excerpt), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert sorted(sides[0][1].split()) == sorted(cover.split())  # page 1 on the right

    # Asked again, or not asked: up to date, still listed (it follows its excerpt).
    assert _json_build(capsys, content_copy, out) == {excerpt: "up to date", a4: "up to date"}
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(e for e in manifest["outputs"] if e["path"] == a4)
    source = next(e for e in manifest["outputs"] if e["path"] == excerpt)
    assert entry["kind"] == "imposition" and entry["theme"] == "precarite-energetique"
    assert entry["inputs"]["source"] == excerpt and entry["inputs"]["sheet"] == "a4"
    assert entry["inputs"]["source sha256"] == source["sha256"]
    assert entry["sha256"] == hashlib.sha256((out / a4).read_bytes()).hexdigest()
    assert entry["pages"] == 6

    # The excerpt changes: it is rebuilt, and its imposition with it.
    card = content_copy / "actions" / "cd41.md"
    card.write_text(
        card.read_text(encoding="utf-8").replace("- Anah\n", "- Anah (Agence nationale)\n", 1),
        encoding="utf-8",
    )
    assert _json_build(capsys, content_copy, out) == {excerpt: "built", a4: "built"}
    assert "Agence nationale" in " ".join(t for side in halves(out / a4) for t in side)
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(e for e in manifest["outputs"] if e["path"] == a4)
    source = next(e for e in manifest["outputs"] if e["path"] == excerpt)
    assert entry["inputs"]["source sha256"] == source["sha256"]


def test_cli_says_where_the_imposed_file_is_and_how_to_print_it(built_copy, capsys, french):
    out = built_copy
    argv = ["--content", str(CONTENT), "--output", str(out), "--only", "booklet"]
    assert main([*argv, "--impose", "a3"]) == 0
    printed = capsys.readouterr().out
    path = out / "retour-experience-01-imposition-a3.pdf"
    assert path.is_file()
    assert f"{path} : 8 feuilles A3 à imprimer et plier, un livret A4 de 32 pages" in printed
    assert "recto verso, retournement sur le bord court, taille réelle (100 %)" in printed
    assert "agrafez" in printed


def test_a_build_says_when_it_adds_blank_pages_and_when_there_is_nothing_to_impose(
    tmp_path, capsys
):
    from livret.building.outputs import Output
    from livret.building.pipeline import Result, _impose_all
    from livret.cli import _how_to_print

    data = synthetic(6)
    path = tmp_path / "essai.pdf"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    source = Result(
        Output("booklet", None, None, path.name, "Essai"), path, "built", 6, 0, sha, 0, {}
    )
    imposed = _impose_all([source], ["a4"], {}, tmp_path, False)
    assert [(r.path.name, r.pages, r.output.kind) for r in imposed] == [
        ("essai-imposition-a4.pdf", 4, "imposition")
    ]
    assert imposed[0].path.read_bytes() == impose(data, "a4").data
    _how_to_print([source, *imposed])
    printed = capsys.readouterr().out
    assert "2 A4 sheets to print and fold, an A5 booklet of 8 pages" in printed
    assert (
        "essai.pdf has 6 pages, not a multiple of 4: 2 blank pages added before the last one"
        in printed
    )

    _how_to_print([source], asked=True)  # e.g. --action adie --impose a4
    assert "this build has neither" in capsys.readouterr().err
