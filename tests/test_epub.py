"""The EPUB edition (`--only epub`): a real build of edition #01, read back as a reading
system would (zip, package document, navigation, XHTML), checked with EPUBCheck and Ace."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from conftest import CONTENT, ROOT

from livret.building.pipeline import run
from livret.cli import main
from livret.conformance import JVM_FLAGS

EPUB = "retour-experience-01.epub"
BOOKLET = "retour-experience-01.pdf"
NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "x": "http://www.w3.org/1999/xhtml",
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
}
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"


@pytest.fixture(scope="module")
def epub_build(built, tmp_path_factory) -> Path:
    """The session's build, and the EPUB made from its booklet."""
    out = tmp_path_factory.mktemp("epub") / "out"
    shutil.copytree(built[0], out)
    run(CONTENT, out, booklet=True, themes=[], actions=[], epub=True)
    return out


def _read(epub: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(epub) as z:
        return {name: z.read(name) for name in z.namelist()}


def _opf(files: dict[str, bytes]) -> ET.Element:
    container = ET.fromstring(files["META-INF/container.xml"])
    path = container.find(".//c:rootfile", NS).get("full-path")
    return ET.fromstring(files[path])


def test_only_epub_writes_the_epub_named_after_the_edition(built, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(built[0], out)
    assert main(["--only", "epub", "--output", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    kinds = {Path(o["path"]).name: (o["kind"], o["status"]) for o in summary["outputs"]}
    assert kinds[EPUB] == ("epub", "built")
    assert kinds[BOOKLET] == ("booklet", "up to date")  # its source, already built
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["outputs"] if e["path"] == EPUB)
    import hashlib

    data = (out / EPUB).read_bytes()
    assert entry["kind"] == "epub" and entry["bytes"] == len(data)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["inputs"]["source"] == BOOKLET
    # Nothing changed: nothing made again.
    assert main(["--only", "epub", "--output", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {o["status"] for o in again["outputs"]} == {"up to date"}


def test_the_container_is_reproducible_and_well_formed(epub_build, tmp_path):
    data = (epub_build / EPUB).read_bytes()
    with zipfile.ZipFile(epub_build / EPUB) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"application/epub+zip"
        assert {i.date_time for i in z.infolist()} == {(2023, 11, 27, 8, 0, 0)}
    assert data[30:38] == b"mimetype"  # right after the first local header, as OCF wants
    # Same inputs, same bytes: the EPUB built again from scratch, from the same booklet (whose
    # own bytes are the same from build to build: tests/test_compose.py, tests/test_pdf.py).
    again = tmp_path / "again"
    shutil.copytree(epub_build, again)
    (again / EPUB).unlink()
    _, results = run(CONTENT, again, booklet=True, themes=[], actions=[], epub=True)
    assert {r.path.name: r.status for r in results} == {BOOKLET: "up to date", EPUB: "built"}
    assert (again / EPUB).read_bytes() == data


def test_package_has_the_accessibility_metadata(epub_build):
    opf = _opf(_read(epub_build / EPUB))
    meta: dict[str, list[str]] = {}
    for m in opf.iterfind(".//opf:meta", NS):
        meta.setdefault(m.get("property", ""), []).append(m.text or "")
    assert opf.get("version") == "3.0"
    assert opf.find(".//dc:language", NS).text == "fr"
    assert meta["schema:accessMode"] == ["textual"]
    assert meta["schema:accessModeSufficient"] == ["textual"]
    assert {"structuralNavigation", "tableOfContents", "pageBreakMarkers", "pageNavigation"} <= set(
        meta["schema:accessibilityFeature"]
    )
    assert meta["schema:accessibilityHazard"] == ["none"]
    assert "liste des pages de la version imprimée" in meta["schema:accessibilitySummary"][0]
    assert meta["dcterms:conformsTo"] == ["EPUB Accessibility 1.1 - WCAG 2.1 Level AA"]
    assert meta["a11y:certifiedBy"] == ["Club des territoires"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["dcterms:modified"][0])


def test_fonts_are_embedded_with_their_licence(epub_build):
    files = _read(epub_build / EPUB)
    fonts = ROOT / "styles" / "fonts"
    for name in ("Lato-Regular.ttf", "Lato-Italic.ttf", "Lato-Bold.ttf", "OFL.txt"):
        assert files[f"EPUB/fonts/{name}"] == (fonts / name).read_bytes()  # as they are
    css = files["EPUB/styles/epub.css"].decode()
    assert "url(../fonts/Lato-Regular.ttf)" in css
    manifest = {i.get("href"): i.get("media-type") for i in _opf(files).iterfind(".//opf:item", NS)}
    assert manifest["fonts/Lato-Regular.ttf"] == "font/ttf"
    assert manifest["fonts/OFL.txt"] == "text/plain"


def _navigation(files) -> dict[str, ET.Element]:
    nav = ET.fromstring(files["EPUB/nav.xhtml"])
    return {n.get(EPUB_TYPE): n for n in nav.iterfind(".//x:nav", NS)}


def _markers(files) -> dict[str, tuple[str, ET.Element]]:
    """Every page-break marker: id → (document, element)."""
    out = {}
    for name, data in files.items():
        if name.endswith(".xhtml"):
            for el in ET.fromstring(data).iter():
                if el.get(EPUB_TYPE) == "pagebreak":
                    out[el.get("id")] = (name, el)
    return out


def test_navigation_has_contents_landmarks_and_every_printed_page(epub_build):
    files = _read(epub_build / EPUB)
    navs = _navigation(files)
    assert set(navs) == {"toc", "landmarks", "page-list"}
    toc = ["".join(a.itertext()) for a in navs["toc"].iterfind(".//x:a", NS)]
    assert toc[0] == "Introduction" and "Remerciements" in toc
    landmarks = {a.get(EPUB_TYPE) for a in navs["landmarks"].iterfind(".//x:a", NS)}
    assert {"cover", "toc", "bodymatter"} <= landmarks
    pages = [(a.text, a.get("href")) for a in navs["page-list"].iterfind(".//x:a", NS)]
    # Every page of the booklet the EPUB is made from (the PDF that is sent and read).
    assert [label for label, _ in pages] == [str(n) for n in range(1, _pages(epub_build) + 1)]
    markers = _markers(files)
    for label, href in pages:
        document, fragment = href.split("#")
        name, element = markers[fragment]
        assert name == "EPUB/" + document
        assert element.get("role") == "doc-pagebreak" and element.get("aria-label") == label


def _words(text: str) -> str:
    """The words of a text, one space apart (list markers, arrows and line ends apart)."""
    return " " + " ".join(re.findall(r"\w+", text)) + " "


def _page_text(pdf: Path, n: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_page_breaks_are_where_the_printed_pages_start(epub_build):
    """Each marker is followed by words that are on that page of the printed booklet."""
    files = _read(epub_build / EPUB)
    markers = _markers(files)
    checked = 0
    for n in range(1, _pages(epub_build) + 1):
        name, _element = markers[f"page-{n}"]
        start = _first_text_after(files[name], f"page-{n}")
        if start is None:
            continue  # a blank page: its marker is followed by the next page's
        words = " ".join(_words(start).split()[:2])
        assert f" {words} " in _words(_page_text(epub_build / BOOKLET, n)), (n, words)
        checked += 1
    assert checked == _pages(epub_build)  # the screen booklet has no blank page


def _pages(out: Path) -> int:
    import pikepdf

    with pikepdf.open(out / BOOKLET) as pdf:
        return len(pdf.pages)


def _first_text_after(data: bytes, marker_id: str, length: int = 40) -> str | None:
    """The text that follows a marker in reading order, `length` characters of it; None when
    another marker comes before any text (a blank page)."""
    root = ET.fromstring(data)
    out: list[str] = []
    state = {"seen": False}

    def walk(el: ET.Element) -> bool:
        if el.get(EPUB_TYPE) == "pagebreak":
            if state["seen"] and not "".join(out).strip():
                raise _Blank
            if el.get("id") == marker_id:
                state["seen"] = True
        elif state["seen"]:
            out.append(el.text or "")
        for child in el:
            if walk(child):
                return True
            if state["seen"]:
                out.append(child.tail or "")
            if len("".join(out).strip()) >= length:
                return True
        return False

    try:
        walk(root)
    except _Blank:
        return None
    text = " ".join("".join(out).split())
    return text[:length] if text else None


class _Blank(Exception):
    pass


def _java() -> list[str] | None:
    jar = Path("/usr/share/java/epubcheck.jar")
    if shutil.which("java") and jar.is_file():
        # JVM_FLAGS: a short run, on one JIT tier and one GC thread (less CPU, same checks)
        return ["java", *JVM_FLAGS, "-jar", str(jar)]
    return None


@pytest.mark.java  # EPUBCheck
def test_epubcheck_finds_no_error_and_no_warning(epub_build, tmp_path):
    command = _java()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("EPUBCheck not installed (Debian package epubcheck)")
        pytest.skip("EPUBCheck not installed (Debian package epubcheck)")
    report = tmp_path / "epubcheck.json"
    done = subprocess.run(
        [*command, str(epub_build / EPUB), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(report.read_text(encoding="utf-8"))["messages"]
    bad = [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")]
    assert done.returncode == 0 and not bad, bad or done.stderr


ACE = ROOT / "node_modules" / ".bin" / "ace-cli"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser  # Ace drives Chromium
def test_ace_finds_nothing_critical_or_serious(epub_build, tmp_path):
    """Ace by DAISY (npm @daisy/ace-cli) in Debian's Chromium: no browser is downloaded."""
    if not (ACE.is_file() and CHROMIUM.is_file()):
        why = "Ace not installed (npm install at the repository's root) or no /usr/bin/chromium"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    env = {
        **os.environ,
        "PUPPETEER_SKIP_DOWNLOAD": "1",
        "PUPPETEER_EXECUTABLE_PATH": str(CHROMIUM),
        "ACE_TIMEOUT_INITIAL": "60000",  # Chromium's start on a busy machine
    }
    report = tmp_path / "ace"
    done = subprocess.run(
        [str(ACE), "--silent", "--outdir", str(report), str(epub_build / EPUB)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((report / "report.json").read_text(encoding="utf-8"))
    violations = [
        (test["earl:test"]["earl:impact"], test["earl:test"]["dct:title"])
        for document in result["assertions"]
        for test in document.get("assertions", [])
    ]
    assert not [v for v in violations if v[0] in ("critical", "serious")], violations
    assert not result["a11y-metadata"]["empty"]
    assert {"schema:accessMode", "schema:accessibilitySummary", "dcterms:conformsTo"} <= set(
        result["a11y-metadata"]["present"]
    )


def test_a_page_that_starts_inside_a_block_is_marked_before_its_first_word():
    """Edition #01's pages all start at a block (copyfitting, livret/rendering/fit.py); a page may
    also start inside a paragraph (counted in words) or at a list item (marked inside it: a list
    holds only items)."""
    import tinyhtml5

    from livret.building.epub.content import Part, mark_pages, strip_namespaces
    from livret.building.epub.pagemap import PageBreak

    html = (
        '<article id="action-x"><h2>Titre</h2><p>Un <b>deux</b> trois quatre</p>'
        "<ul><li>cinq six</li></ul></article>"
    )
    article = next(strip_namespaces(tinyhtml5.parse(html)).iter("article"))
    part = Part("action-x", "action-x.xhtml", article, "Titre")
    breaks = [("6", 0, 0), ("7", 1, 2), ("8", 2, 0), ("9", 2, 0)]
    mark_pages(part, [PageBreak(label, "action-x", block, word) for label, block, word in breaks])

    def marker(n: int) -> str:
        return f'<span epub:type="pagebreak" role="doc-pagebreak" id="page-{n}" aria-label="{n}" />'

    assert ET.tostring(article, encoding="unicode") == (
        f'<article id="action-x">{marker(6)}<h2>Titre</h2>'
        f"<p>Un <b>deux</b> {marker(7)}trois quatre</p>"
        f"<ul><li>{marker(8)}{marker(9)}cinq six</li></ul></article>"
    )
