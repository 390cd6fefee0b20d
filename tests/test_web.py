"""The web edition (`--only web`, livret/building/web/): its pages, addresses, downloads, and a card
edit that rewrites only what it changes. The browser and validator checks are in
test_web_checks.py."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CONTENT

from livret.building.pipeline import run
from livret.building.web import served
from livret.building.web.pages import size_fr
from livret.errors import LivretError
from livret.reading.loader import load_site

SITE = load_site(CONTENT)
ED = "01"


def build_web(tmp_path_factory, built) -> Path:
    """A copy of the session build (booklet, excerpts), adie's sheet, and the web edition."""
    out = tmp_path_factory.mktemp("web") / "output"
    shutil.copytree(built[0], out)
    run(CONTENT, out, booklet=True, themes=True, actions=["adie"], web=True)
    return out


@pytest.fixture(scope="module")
def site_out(tmp_path_factory, built) -> Path:
    return build_web(tmp_path_factory, built)


def pages(out: Path) -> list[Path]:
    return sorted((out / "web").rglob("*.html"))


class Outline(HTMLParser):
    """Tags, with their attributes, and the text of the page, in order."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def outline(path: Path) -> Outline:
    o = Outline()
    o.feed(path.read_text(encoding="utf-8"))
    return o


def text_of(path: Path) -> str:
    return re.sub(r"\s+", " ", "".join(outline(path).text)).replace("\u202f", " ")


def test_one_page_per_theme_card_and_the_thanks_at_stable_addresses(site_out):
    web = site_out / "web"
    expected = {"index.html", f"{ED}/index.html", f"{ED}/remerciements/index.html"}
    expected |= {f"{ED}/{t.slug}/index.html" for t in SITE.themes}
    expected |= {f"{ED}/actions/{a.slug}/index.html" for a in SITE.actions}
    expected |= {"catalogue/index.html"}
    assert {p.relative_to(web).as_posix() for p in pages(site_out)} == expected
    manifest = json.loads((site_out / "manifest.json").read_text())
    [entry] = [e for e in manifest["outputs"] if e["kind"] == "web"]
    assert entry["path"] == f"web/{ED}/index.html"
    assert (entry["edition"], entry["number"]) == ("retour-experience-01", 1)
    assert entry["pages"] == len(expected) - 2  # the edition's own pages


def test_card_page_facts_sections_bilan_and_navigation(site_out):
    action = SITE.action("adie")
    page = site_out / "web" / ED / "actions" / "adie" / "index.html"
    o = outline(page)
    tags = [t for t, _ in o.tags]
    # Skip link first, then the landmarks.
    first_link = next(a for t, a in o.tags if t == "a")
    assert first_link["href"] == "#contenu" and ("main", {"id": "contenu"}) in [
        (t, {"id": a.get("id")}) for t, a in o.tags
    ]
    for landmark in ("header", "nav", "main", "footer"):
        assert landmark in tags
    # The facts: a description list, one term per sidebar field, with its printed label.
    text = text_of(page)
    labels = [label for _k, label, _v in action.sidebar()]
    assert tags.count("dt") == len(labels) + 1  # and the theme
    for label in labels:
        assert label in text
    for item in action.partners + action.publics_direct:
        assert item.replace("'", "’") in text
    # Sections as headings, the Bilan's questions below them.
    html = page.read_text()
    for s in action.sections:
        assert re.search(rf'<h2 id="s-{s.slug}">', html)
    # Breadcrumb to the theme, previous and next.
    assert 'aria-current="page"' in html
    assert 'href="../../mobilites/"' in html
    assert 'rel="prev"' in html and 'rel="next"' in html


def test_downloads_name_format_and_size_and_are_there(site_out):
    manifest = json.loads((site_out / "manifest.json").read_text())
    size = {e["path"]: e["bytes"] for e in manifest["outputs"]}
    page = site_out / "web" / ED / "actions" / "adie" / "index.html"
    text = text_of(page)
    sheet = "retour-experience-01-action-adie.pdf"
    fiche = size_fr(size[sheet]).replace("\u00a0", " ")
    assert f"Télécharger la fiche (PDF, {fiche})" in text
    assert "Télécharger l’extrait « Mobilités » (PDF," in text
    assert "Télécharger le livret complet (PDF," in text
    assert "EPUB" not in text  # no EPUB in the manifest: no link to one
    copy = site_out / "web" / ED / "telechargements" / sheet
    assert copy.read_bytes() == (site_out / sheet).read_bytes()
    assert 'href="../../telechargements/retour-experience-01-action-adie.pdf"' in page.read_text()
    # A card without its sheet built offers the excerpt and the booklet only.
    other = text_of(site_out / "web" / ED / "actions" / "cd41" / "index.html")
    assert "Télécharger la fiche" not in other and "Télécharger le livret complet" in other


def test_titles_are_plain_text(site_out):
    for page in pages(site_out):
        title = re.search(r"<title>(.*)</title>", page.read_text())
        assert title and "<" not in title[1], page


def test_every_page_under_60_kb(site_out):
    sizes = {p.name: p.stat().st_size for p in pages(site_out)}
    assert max(sizes.values()) <= 60_000, sizes


def test_home_has_cover_facts_introduction_and_contents(site_out):
    text = text_of(site_out / "web" / "index.html")
    ed = SITE.edition
    for fact in (ed.title, ed.subtitle, ed.tagline, "27 novembre 2023", ed.publisher):
        assert fact.replace("'", "’") in text
    assert SITE.introduction.title in text and "Sommaire" in text
    for a in SITE.actions:
        assert a.organisation.replace("'", "’") in text


def test_catalogue_lists_every_card_and_its_search_index(site_out):
    catalogue = site_out / "web" / "catalogue" / "index.html"
    html = catalogue.read_text()
    assert html.count("data-theme=") == len(SITE.actions)
    assert "<form" in html and " hidden" in html  # shown by its script only
    index = json.loads((site_out / "web" / "catalogue" / "recherche.json").read_text())
    assert {c["path"] for c in index} == {f"{ED}/actions/{a.slug}/index.html" for a in SITE.actions}
    assert "microcrédit" in next(c["text"] for c in index if "/adie/" in c["path"])


def test_a_card_edit_rewrites_only_the_pages_it_changes(site_out, tmp_path, content_copy):
    out = tmp_path / "out"
    shutil.copytree(site_out, out)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    card = content_copy / "actions" / "cd41.md"
    card.write_text(card.read_text().replace("## Contexte\n", "## Contexte\n\nUn mot de plus.\n"))
    _, results = run(content_copy, out, booklet=False, web=True)
    assert [r.status for r in results] == ["built"]
    changed = {
        p.relative_to(out / "web").as_posix()
        for p in out.rglob("*")
        if p.is_file()
        and before.get(p) != (p.stat().st_ino, p.stat().st_mtime_ns)
        and "web" in p.parts
    }
    assert changed == {
        f"{ED}/actions/cd41/index.html",
        f"{ED}/edition.json",
        "catalogue/recherche.json",
    }
    _, again = run(content_copy, out, booklet=False, web=True)
    assert [r.status for r in again] == ["up to date"]


def test_web_design_does_not_make_the_pdfs_out_of_date(site_out, tmp_path):
    from livret.building.outputs import KINDS, Fingerprints, plan, tool_versions

    fingerprint = Fingerprints(SITE, tool_versions("accessible"))
    for output in plan(SITE, booklet=True, themes=True, actions=True, web=True):
        keys = set(fingerprint(output))
        web_files = {k for k in keys if k.startswith(("layouts/web/", "styles/web/"))}
        assert bool(web_files) == (not KINDS[output.kind].pdf), output.kind


def test_epub_linked_only_when_the_manifest_lists_it(site_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(site_out, out)
    epub = out / "retour-experience-01.epub"
    epub.write_bytes(b"PK" + b"\0" * 2000)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["outputs"].append(
        {
            "path": epub.name,
            "kind": "epub",
            "theme": None,
            "action": None,
            "title": "EPUB",
            "variant": "accessible",
            "edition": "retour-experience-01",
            "number": 1,
            "pages": 0,
            "bytes": 2002,
            "sha256": "0" * 64,
            "inputs": {},
        }
    )
    (out / "manifest.json").write_text(json.dumps(manifest))
    run(CONTENT, out, booklet=False, web=True)
    text = text_of(out / "web" / ED / "index.html")
    assert "Télécharger le livret au format EPUB (EPUB, 2 ko)" in text


def test_web_address_gives_the_pdfs_final_addresses(site_out, tmp_path, content_copy):
    out = tmp_path / "out"
    shutil.copytree(site_out, out)
    edition = content_copy / "edition.yaml"
    edition.write_text(edition.read_text() + "web_address: https://www.example.org/rex\n")
    run(content_copy, out, booklet=False, web=True)
    html = (out / "web" / ED / "actions" / "adie" / "index.html").read_text()
    assert (
        'href="https://www.example.org/rex/01/telechargements/retour-experience-01-action-adie.pdf"'
        in html
    )
    assert '<link rel="canonical" href="https://www.example.org/rex/01/actions/adie/">' in html


def test_a_bad_web_address_is_named_at_its_line(content_copy):
    edition = content_copy / "edition.yaml"
    lines = edition.read_text().splitlines()
    edition.write_text("\n".join([*lines, "web_address: www.example.org"]) + "\n")
    with pytest.raises(LivretError) as exc:
        load_site(content_copy)
    [problem] = exc.value.problems
    assert (problem.line, problem.field) == (len(lines) + 1, "web_address")
    assert "https://" in problem.message


def test_several_editions_share_a_home_and_a_catalogue(site_out, tmp_path):
    from livret.reading.scaffold import new_edition

    out = tmp_path / "out"
    shutil.copytree(site_out, out)
    second = tmp_path / "edition-02"
    new_edition(second, 2, CONTENT)
    run(second, out, booklet=False, web=True)
    home = text_of(out / "web" / "index.html")
    assert "#01" in home and "#02" in home
    catalogue = (out / "web" / "catalogue" / "index.html").read_text()
    assert 'href="../01/actions/adie/"' in catalogue and 'href="../02/actions/' in catalogue
    assert (out / "web" / ED / "actions" / "adie" / "index.html").is_file()


def test_the_preview_serves_only_listed_files(site_out):
    assert served(site_out, "01/actions/adie/")[0].name == "index.html"
    assert served(site_out, "assets/livret.css")[1].startswith("text/css")
    assert served(site_out, "../manifest.json") is None
    assert served(site_out, "01/actions/nope/") is None


def test_pictures_of_the_content_are_copied_and_found(site_out, tmp_path, content_copy):
    import io

    from PIL import Image

    out = tmp_path / "out"
    shutil.copytree(site_out, out)
    (content_copy / "images").mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, "PNG")
    (content_copy / "images" / "schema.png").write_bytes(buffer.getvalue())
    card = content_copy / "actions" / "cd41.md"
    card.write_text(card.read_text() + '\n![Un schéma du projet](images/schema.png "Le projet")\n')
    run(content_copy, out, booklet=False, web=True)
    html = (out / "web" / ED / "actions" / "cd41" / "index.html").read_text()
    assert '<img alt="Un schéma du projet" src="../../images/schema.png"' in html
    assert "<figcaption>Le projet</figcaption>" in html
    assert (out / "web" / ED / "images" / "schema.png").read_bytes() == buffer.getvalue()


def test_a_deleted_file_of_the_site_is_written_again(site_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(site_out, out)
    for rel in ("assets/livret.css", f"{ED}/actions/adie/index.html"):
        (out / "web" / rel).unlink()
        _, results = run(CONTENT, out, booklet=False, web=True)
        assert [r.status for r in results] == ["built"]
        assert (out / "web" / rel).read_bytes() == (site_out / "web" / rel).read_bytes()
