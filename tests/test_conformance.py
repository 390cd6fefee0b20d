"""veraPDF on the real outputs: PDF/UA-1 for everything people read, PDF/UA-1 and PDF/A-3a
(both, in one file) for the archive; and what veraPDF cannot see, read back from every output.

All files go through ONE Java process (session fixture): starting Java and loading the
profiles is most of the cost. Skipped only where Java is missing on a developer's machine;
in CI (CI=true) a missing validator is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pikepdf
import pytest
import tagtree
from conftest import CONTENT, THEMES
from pypdf import PdfWriter

from livret import conformance
from livret.building.pipeline import run
from livret.reading.loader import load_site

# Under pytest-xdist (--dist loadgroup), one worker runs them all: one Java process, one build.
pytestmark = [pytest.mark.xdist_group("verapdf"), pytest.mark.java]  # not in make test-fast


@pytest.fixture(scope="session")
def sheets(all_sheets) -> list[Path]:
    """Every action's sheet, built once for the session (all_sheets)."""
    return [r.path for r in all_sheets[2]]


@pytest.fixture(scope="session")
def archives(tmp_path_factory) -> list[Path]:
    """The archive variant of the booklet and of each excerpt."""
    out = tmp_path_factory.mktemp("archive")
    _, results = run(CONTENT, out, variant="archive", themes=list(THEMES))
    return [r.path for r in results]


@pytest.fixture(scope="session")
def printed(built_print) -> Path:
    """The print variant of the booklet (tagged too, finished for the press): the session's."""
    return built_print[0] / "retour-experience-01-print.pdf"


@pytest.fixture(scope="session")
def pictured(tmp_path_factory) -> dict[str, Path]:
    """A sheet with an SVG figure (a chart: gradient, <use>, text), accessible and archive."""
    import shutil

    from test_svg import CHART

    content = tmp_path_factory.mktemp("pictured") / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    (content / "images").mkdir()
    (content / "images/chart.svg").write_text(CHART, encoding="utf-8")
    card = content / "actions/adie.md"
    text = card.read_text(encoding="utf-8")
    card.write_text(text + '\n![Un graphique en barres](images/chart.svg "Le graphique")\n')
    out = {}
    for variant in ("accessible", "archive"):
        _, results = run(
            content, content.parent / variant, booklet=False, themes=[], actions=["adie"],
            variant=variant,
        )  # fmt: skip
        out[variant] = results[0].path
    return out


@pytest.fixture(scope="session")
def addressed_booklet(addressed_build) -> Path:
    """The booklet with edition.yaml's web_address set: its back cover carries the address
    (the session's addressed_build)."""
    (booklet,) = [r.path for r in addressed_build[2] if r.output.kind == "booklet"]
    return booklet


@pytest.fixture(scope="session")
def controls(tmp_path_factory) -> dict[str, Path]:
    """Files the validator must reject: an untagged PDF, and something that is no PDF."""
    folder = tmp_path_factory.mktemp("controls")
    untagged = folder / "untagged.pdf"
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.write(untagged)
    garbage = folder / "garbage.pdf"
    garbage.write_bytes(b"this is not a PDF\n")
    return {"untagged": untagged, "garbage": garbage}


@pytest.fixture(scope="session")
def verapdf(built, sheets, archives, pictured, addressed_booklet, controls) -> dict:
    """{(path, flavour): report}."""
    why = conformance.unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"veraPDF must run in CI: {why}")
        pytest.skip(f"veraPDF cannot run on this machine: {why}")
    out, _, results = built
    jobs = [(r.path, "ua1") for r in results] + [(p, "ua1") for p in sheets]
    jobs += [(p, flavour) for p in archives for flavour in ("3a", "ua1")]
    jobs += [(controls["untagged"], "ua1"), (controls["garbage"], "ua1")]
    jobs += [(pictured["accessible"], "ua1"), (pictured["archive"], "3a")]
    jobs += [(pictured["archive"], "ua1"), (addressed_booklet, "ua1")]
    reports = conformance.validate(jobs)
    assert [(r.path, r.flavour) for r in reports] == [(Path(p), f) for p, f in jobs]
    return {(r.path, r.flavour): r for r in reports}


def _failures(reports) -> str:
    return "\n".join(line for r in reports if not r.ok for line in r.lines())


def test_validator_rejects_what_it_should(verapdf, controls):
    untagged = verapdf[controls["untagged"], "ua1"]
    assert untagged.error is None and untagged.failures
    rules = {f.rule for f in untagged.failures}
    assert "7.1-8" in rules or "6.2-1" in rules, untagged.lines()  # no MarkInfo / no XMP
    assert all(f.checks >= 1 and f.description for f in untagged.failures)
    assert verapdf[controls["garbage"], "ua1"].error


def test_booklet_and_excerpts_pass_pdf_ua1(verapdf, built):
    _, _, results = built
    assert len(results) == 4
    reports = [verapdf[r.path, "ua1"] for r in results]
    assert all(r.flavour == "ua1" for r in reports)
    assert all(r.ok for r in reports), _failures(reports)


def test_booklet_with_a_web_address_passes_pdf_ua1(verapdf, addressed_booklet):
    """The back cover's link to the web edition (edition.yaml web_address) keeps it clean."""
    with pikepdf.open(addressed_booklet) as pdf:
        uris = [str(a.get("/A", {}).get("/URI")) for a in pdf.pages[-1].obj.get("/Annots", [])]
        assert "https://www.exemple.gouv.fr/retour-experience/" in uris
    report = verapdf[addressed_booklet, "ua1"]
    assert report.ok, _failures([report])


def test_every_action_sheet_passes_pdf_ua1(verapdf, sheets):
    assert len(sheets) == len(load_site(CONTENT).actions) == 10
    reports = [verapdf[p, "ua1"] for p in sheets]
    assert all(r.ok for r in reports), _failures(reports)


def test_archive_passes_pdf_a3a_and_pdf_ua1(verapdf, archives):
    """Public administrations ask for both in one file (WeasyPrint#2467: WeasyPrint claims
    one): the booklet's and every excerpt's archive pass both profiles."""
    assert len(archives) == 1 + len(THEMES)
    reports = [verapdf[p, flavour] for p in archives for flavour in ("3a", "ua1")]
    assert all(r.ok for r in reports), _failures(reports)
    for path in archives:
        with pikepdf.open(path) as pdf, pdf.open_metadata() as xmp:
            assert xmp.get("pdfaid:part") == "3" and xmp.get("pdfaid:conformance") == "A"
            assert xmp.get("pdfuaid:part") == "1"


def test_an_svg_figure_passes_pdf_ua1_and_pdf_a3a(verapdf, pictured):
    reports = [verapdf[pictured["accessible"], "ua1"], verapdf[pictured["archive"], "3a"]]
    reports.append(verapdf[pictured["archive"], "ua1"])
    assert all(r.ok for r in reports), _failures(reports)


def test_page_furniture_is_an_artifact_in_every_output(built, sheets, archives, printed):
    """Running heads, footers, folios, the Notes label: no marked content outside the tree
    (WeasyPrint#1836 tags them Span under elements that belong to nothing). Every page's
    content stream is walked, every MCID looked up in the tree from its root."""
    paths = [r.path for r in built[2]] + sheets + archives + [printed]
    assert len(paths) == 4 + 10 + 4 + 1
    for path in paths:
        with pikepdf.open(path) as pdf:
            lost = tagtree.orphans(pdf)
            assert lost == [], (path.name, len(lost), lost[:3])
            furniture = [
                s
                for s in tagtree.sequences(pdf)
                if s.tag == "/Artifact" and s.properties.get("/Type") == "/Pagination"
            ]
            # a folio on every page but the covers (and a sheet's one or two pages)
            assert len(furniture) >= len(pdf.pages) - 2, (path.name, len(furniture))
            assert {str(s.properties.get("/Subtype")) for s in furniture} <= {
                "/Header",
                "/Footer",
            }
