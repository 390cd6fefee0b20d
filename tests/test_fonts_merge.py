"""livret/finishing/fonts.py: the subsets of a font that assembled parts each embed, merged.

The fixtures are what assembly makes: small tagged PDFs written by WeasyPrint with the project's
fonts, each embedding its own subsets, their pages (and tag trees) put together with pikepdf.
The parts differ where real parts do: font sizes (so WeasyPrint's rounded widths differ), a
no-break space where another part has a space (the same glyph, mapped to different text),
accented letters (composite glyphs, whose components lie past the last glyph a part uses).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from livret import conformance
from livret.finishing.fonts import merge_subsets
from livret.rendering.design import shipped

PAGE = "@page { size: 105mm 148mm; margin: 10mm } body { font: 11pt/1.35 'Livret Lato' }"
PARTS = (
    (
        "Sommaire",
        "<h1>Précarité énergétique</h1><p>Une idée à <b>retenir</b>, l’été : <i>sobriété</i>."
        " Ça coûte 12&nbsp;€ par mois, « pas plus ».</p>",
        "",
    ),
    (
        "Fiche",
        "<h2>Mobilités douces</h2><p>«&nbsp;Le vélo-école&nbsp;» a formé 300 habitants ;"
        " <b>bravo</b> ! <i>Élan, œuvre, naïf, Noël.</i> Fin de la fiche.</p>",
        "body { font-size: 13pt }",
    ),
    (
        "Merci",
        "<p style='font-weight: 900'>Merci à toutes et à tous</p><p><b><i>Remerciements</i></b>"
        " : équipe d’animation, qualité, sûreté, « déjà ».</p>",
        "body { font-size: 9.5pt }",
    ),
)


def part(title: str, body: str, css: str, variant: str) -> bytes:
    """One part, as WeasyPrint writes it for assembly: tagged, with its own font subsets."""
    html = f'<html lang="fr"><head><title>{title}</title></head><body>{body}</body></html>'
    fonts = FontConfiguration()
    sheets = [
        CSS(filename=str(shipped("styles") / "fonts.css"), font_config=fonts),
        CSS(string=PAGE + css, font_config=fonts),
    ]
    return HTML(string=html).write_pdf(
        stylesheets=sheets, font_config=fonts, pdf_variant=variant, pdf_tags=True
    )


def assemble(parts: list[bytes]) -> bytes:
    """The parts' pages in one PDF, their tag trees under the first part's Document element
    (the structure parents renumbered), as assembly does: one subset of each font per part."""
    out = pikepdf.open(io.BytesIO(parts[0]))
    root = out.Root.StructTreeRoot
    document = root.K[0]
    nums = list(root.ParentTree.Nums)
    next_key = max(nums[::2]) + 1
    for data in parts[1:]:
        other = pikepdf.open(io.BytesIO(data))
        for page in other.pages:
            page.obj.StructParents = page.obj.StructParents + next_key
        out.pages.extend(other.pages)
        theirs = list(other.Root.StructTreeRoot.ParentTree.Nums)
        for key, value in zip(theirs[::2], theirs[1::2], strict=True):
            if isinstance(value, pikepdf.Array):  # a page's marked contents' elements
                value = pikepdf.Array([out.copy_foreign(element) for element in value])
            else:  # an annotation's element
                value = out.copy_foreign(value)
            nums += [key + next_key, value]
        for kid in other.Root.StructTreeRoot.K[0].K:
            copied = out.copy_foreign(kid)
            copied.P = document
            document.K.append(copied)
        next_key += max(theirs[::2]) + 1
    root.ParentTree = out.make_indirect(pikepdf.Dictionary(Nums=pikepdf.Array(nums)))
    root.ParentTreeNextKey = next_key
    buffer = io.BytesIO()
    out.save(buffer, deterministic_id=True)
    return buffer.getvalue()


def merged(data: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        merge_subsets(pdf)
        buffer = io.BytesIO()
        pdf.save(buffer, deterministic_id=True)
        return buffer.getvalue()


@pytest.fixture(scope="module")
def booklets(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """{variant: (assembled PDF, the same merged)} for PDF/UA-1 and PDF/A-3a."""
    folder = tmp_path_factory.mktemp("fonts")
    found = {}
    for variant in ("pdf/ua-1", "pdf/a-3a"):
        data = assemble([part(*p, variant) for p in PARTS])
        name = variant.replace("/", "-")
        before, after = folder / f"{name}.pdf", folder / f"{name}-merged.pdf"
        before.write_bytes(data)
        after.write_bytes(merged(data))
        found[variant] = before, after
    return found


def programs(path: Path) -> Counter:
    """Embedded font programs by font name (the subset tag left out)."""
    with pikepdf.open(path) as pdf:
        seen = {}
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                descriptor = font.DescendantFonts[0].FontDescriptor
                seen[descriptor.FontFile2.objgen] = str(descriptor.FontName).split("+")[1]
        return Counter(seen.values())


def test_one_program_per_font_and_a_smaller_file(booklets):
    before, after = booklets["pdf/ua-1"]
    fonts = programs(before)
    assert max(fonts.values()) == len(PARTS), f"the fixture should repeat fonts: {fonts}"
    assert programs(after) == dict.fromkeys(fonts, 1)
    assert after.stat().st_size < before.stat().st_size * 0.8, (before.stat(), after.stat())


def test_a_subset_unlike_the_others_is_left_as_it_is(booklets, tmp_path):
    """Subsets whose descriptors differ in anything a subset does not change are not taken for
    one font: the odd one keeps its program, the others merge."""
    before, _ = booklets["pdf/ua-1"]
    with pikepdf.open(before) as pdf:
        regular = {}
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                if str(font.BaseFont).endswith("+Livret-Lato"):
                    regular.setdefault(font.objgen, font)
        odd = list(regular.values())[1].DescendantFonts[0].FontDescriptor
        odd.StemV = stem = odd.StemV + 1
        program = odd.FontFile2.read_bytes()
        changed = tmp_path / "changed.pdf"
        pdf.save(changed, deterministic_id=True)
    after = tmp_path / "after.pdf"
    after.write_bytes(merged(changed.read_bytes()))
    fonts = programs(after)
    assert len(regular) == len(PARTS) and fonts["Livret-Lato"] == 2, fonts
    assert fonts == dict.fromkeys(fonts, 1) | {"Livret-Lato": 2}
    with pikepdf.open(after) as pdf:
        kept = [
            f.DescendantFonts[0].FontDescriptor
            for page in pdf.pages
            for f in page.Resources.Font.values()
            if f.DescendantFonts[0].FontDescriptor.StemV == stem
        ]
        assert kept and all(d.FontFile2.read_bytes() == program for d in kept)
    assert rasters(after, tmp_path) == rasters(changed, tmp_path)


def rasters(path: Path, folder: Path) -> list[bytes]:
    prefix = folder / path.stem
    subprocess.run(["pdftoppm", "-r", "60", "-gray", path, prefix], check=True, timeout=60)
    return [p.read_bytes() for p in sorted(folder.glob(f"{path.stem}-*.pgm"))]


def test_every_page_is_drawn_the_same(booklets, tmp_path):
    before, after = booklets["pdf/ua-1"]
    assert programs(after) != programs(before)
    pages = rasters(before, tmp_path)
    assert len(pages) >= len(PARTS)
    assert rasters(after, tmp_path) == pages


def texts(path: Path) -> tuple[str, list[str], list[str]]:
    """pdftotext's text; PDFium's, page by page (poppler reads U+00A0 as a space, PDFium
    gives the text as mapped); every /ActualText and /Alt of the tag tree in order."""
    layout = subprocess.run(
        ["pdftotext", "-layout", path, "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    document = pdfium.PdfDocument(path)
    pages = [page.get_textpage().get_text_range() for page in document]
    document.close()
    with pikepdf.open(path) as pdf:
        found, stack = [], [pdf.Root.StructTreeRoot]
        while stack:
            element = stack.pop()
            for key in ("/ActualText", "/Alt"):
                if key in element:
                    found.append(f"{key} {element[key]}")
            kids = element.get("/K")
            kids = kids if isinstance(kids, pikepdf.Array) else [kids]
            stack += [k for k in kids if isinstance(k, pikepdf.Dictionary)]
        return layout, pages, found


def test_text_is_the_same(booklets):
    before, after = booklets["pdf/ua-1"]
    assert programs(after) != programs(before)
    layout, pages, actual = texts(before)
    assert "«\u00a0Le" in pages[1], "a part should map the space glyph to U+00A0"
    assert "12 €" in pages[0], "and another to U+0020"
    assert texts(after) == (layout, pages, actual)


def test_merging_again_changes_nothing(booklets):
    before, after = booklets["pdf/ua-1"]
    assert programs(after) != programs(before)
    assert merged(after.read_bytes()) == after.read_bytes()


MERGE = (
    "import io, sys, pikepdf\n"
    "from livret.finishing.fonts import merge_subsets\n"
    "pdf = pikepdf.open(sys.argv[1])\n"
    "merge_subsets(pdf)\n"
    "out = io.BytesIO(); pdf.save(out, deterministic_id=True)\n"
    "sys.stdout.buffer.write(out.getvalue())\n"
)


def test_same_bytes_in_two_processes(booklets):
    before, after = booklets["pdf/ua-1"]
    runs = [
        subprocess.run(
            [sys.executable, "-c", MERGE, before], check=True, capture_output=True, timeout=120
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] == after.read_bytes()
    assert programs(after) != programs(before)


@pytest.mark.java
@pytest.mark.xdist_group("verapdf")
def test_merged_files_pass_pdf_ua1_and_pdf_a3a(booklets):
    why = conformance.unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"veraPDF must run in CI: {why}")
        pytest.skip(f"veraPDF cannot run on this machine: {why}")
    ua, archive = booklets["pdf/ua-1"], booklets["pdf/a-3a"]
    jobs = [(ua[1], "ua1"), (archive[1], "3a"), (ua[0], "ua1"), (archive[0], "3a")]
    reports = conformance.validate(jobs)
    assert all(r.ok for r in reports[2:]), "the assembled fixtures should pass before the merge"
    assert all(r.ok for r in reports[:2]), "\n".join(line for r in reports for line in r.lines())
    assert programs(ua[1]) != programs(ua[0])
