"""`livret --html DIR`: bare WeasyPrint on the exported HTML prints the same pages as livret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT
from pypdf import PdfReader

THEME = "mobilites"


def _texts(pdf: Path) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--content", str(CONTENT), "--html", str(folder)]
        + ["--theme", THEME, "-q"],
        capture_output=True,
        text=True,
        cwd=folder,  # independent of the working directory
    )
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.slow  # the command line in a process of its own (an excerpt's HTML as printed)
def test_export_writes_html_stylesheets_and_fonts(exported):
    names = sorted(p.name for p in exported.glob("*.html"))
    assert names == [f"retour-experience-01-{THEME}.html"]
    assert (exported / "styles" / "fonts.css").is_file()
    assert (exported / "styles" / "fonts" / "Lato-Regular.ttf").is_file()
    html = (exported / names[0]).read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="styles/card.css">' in html
    assert "file:" not in html and str(ROOT) not in html  # nothing points outside the folder


@pytest.mark.slow  # an excerpt printed again by the weasyprint command
def test_bare_weasyprint_prints_the_same_pages(exported, tmp_path, built):
    out, _, results = built
    livret_pdf = out / f"retour-experience-01-{THEME}.pdf"
    bare_pdf = tmp_path / "bare.pdf"
    html = exported / f"retour-experience-01-{THEME}.html"
    # The bare command line, from another folder: only the exported files may be used.
    done = subprocess.run(
        [sys.executable, "-m", "weasyprint", str(html), str(bare_pdf)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # no missing file, no unknown property
    assert _texts(bare_pdf) == _texts(livret_pdf)


def test_export_of_an_action_sheet(tmp_path):
    from livret.building.htmlexport import export
    from livret.building.outputs import plan
    from livret.reading.loader import load_site

    site = load_site(CONTENT)
    written = export(site, plan(site, booklet=False, actions=["adie"]), tmp_path, "print")
    assert [p.name for p in written] == ["retour-experience-01-action-adie-print.html"]
    assert '<link rel="stylesheet" href="styles/print.css">' in written[0].read_text("utf-8")
