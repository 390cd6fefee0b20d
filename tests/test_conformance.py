"""veraPDF on the real outputs: PDF/UA-1 for everything people read, PDF/A-3a for the archive.

All files go through ONE Java process (session fixture): starting Java and loading the
profiles is most of the cost. Skipped only where Java is missing on a developer's machine;
in CI (CI=true) a missing validator is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CONTENT
from pypdf import PdfWriter

from livret import conformance
from livret.loader import load_site
from livret.pipeline import run

# Under pytest-xdist (--dist loadgroup), one worker runs them all: one Java process, one build.
pytestmark = [pytest.mark.xdist_group("verapdf"), pytest.mark.java]  # not in make test-fast


@pytest.fixture(scope="session")
def sheets(tmp_path_factory) -> list[Path]:
    """Every action's sheet, built once for the session."""
    out = tmp_path_factory.mktemp("sheets")
    site = load_site(CONTENT)
    _, results = run(CONTENT, out, booklet=False, actions=[a.slug for a in site.actions])
    return [r.path for r in results]


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    _, results = run(CONTENT, out, variant="archive")
    return results[0].path


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
def verapdf(built, sheets, archive, pictured, controls) -> dict[Path, conformance.Report]:
    why = conformance.unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"veraPDF must run in CI: {why}")
        pytest.skip(f"veraPDF cannot run on this machine: {why}")
    out, _, results = built
    jobs = [(r.path, "ua1") for r in results] + [(p, "ua1") for p in sheets]
    jobs += [(archive, "3a"), (controls["untagged"], "ua1"), (controls["garbage"], "ua1")]
    jobs += [(pictured["accessible"], "ua1"), (pictured["archive"], "3a")]
    reports = conformance.validate(jobs)
    assert [r.path for r in reports] == [p for p, _ in jobs]
    return {r.path: r for r in reports}


def _failures(reports) -> str:
    return "\n".join(line for r in reports if not r.ok for line in r.lines())


def test_validator_rejects_what_it_should(verapdf, controls):
    untagged = verapdf[controls["untagged"]]
    assert untagged.error is None and untagged.failures
    rules = {f.rule for f in untagged.failures}
    assert "7.1-8" in rules or "6.2-1" in rules, untagged.lines()  # no MarkInfo / no XMP
    assert all(f.checks >= 1 and f.description for f in untagged.failures)
    assert verapdf[controls["garbage"]].error


def test_booklet_and_excerpts_pass_pdf_ua1(verapdf, built):
    _, _, results = built
    assert len(results) == 4
    reports = [verapdf[r.path] for r in results]
    assert all(r.flavour == "ua1" for r in reports)
    assert all(r.ok for r in reports), _failures(reports)


def test_every_action_sheet_passes_pdf_ua1(verapdf, sheets):
    assert len(sheets) == len(load_site(CONTENT).actions) == 10
    reports = [verapdf[p] for p in sheets]
    assert all(r.ok for r in reports), _failures(reports)


def test_archive_passes_pdf_a3a(verapdf, archive):
    report = verapdf[archive]
    assert report.flavour == "3a"
    assert report.ok, _failures([report])


def test_an_svg_figure_passes_pdf_ua1_and_pdf_a3a(verapdf, pictured):
    reports = [verapdf[pictured["accessible"]], verapdf[pictured["archive"]]]
    assert [r.flavour for r in reports] == ["ua1", "3a"]
    assert all(r.ok for r in reports), _failures(reports)
