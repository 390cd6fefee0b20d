"""New editions and new cards: `new-edition` writes a content folder that passes `check` and
builds; two editions share output/ without touching each other's PDFs; `new-action` adds a
card and lists it in its theme, keeping the theme file's comments."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import CONTENT

from livret.building.pipeline import run
from livret.cli import main
from livret.errors import LivretError
from livret.reading.loader import load_site
from livret.reading.scaffold import add_to_list, new_action, new_edition


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def edition2(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ed") / "edition-02"
    new_edition(folder, 2, CONTENT)
    return folder


def test_new_edition_passes_check_with_what_is_left_to_write(edition2, capsys):
    rc = main(["check", "--content", str(edition2)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "OK" in out
    site = load_site(edition2)
    assert site.edition.number == 2
    assert site.edition.slug == "retour-experience-02"
    assert [t.slug for t in site.themes] == [t.slug for t in load_site(CONTENT).themes]
    colours = {t.slug: t.colour for t in load_site(CONTENT).themes}
    assert {t.slug: t.colour for t in site.themes} == colours
    assert [a.slug for a in site.actions] == ["exemple-de-fiche"]
    # Every value still to write is reported, with its file and line.
    assert site.warnings
    # (and each theme that has no card yet: its opener would stand alone)
    assert all("À COMPLÉTER" in p.message or p.field == "actions" for p in site.warnings)
    assert sorted(p.path.rsplit("/", 1)[-1] for p in site.warnings if p.field == "actions") == [
        "mobilites.yaml",
        "precarite-alimentaire.yaml",
    ]
    edition_warnings = {p.line for p in site.warnings if p.path.endswith("edition.yaml")}
    text = (edition2 / "edition.yaml").read_text(encoding="utf-8").split("\n")
    assert edition_warnings == {n for n, line in enumerate(text, 1) if "À COMPLÉTER" in line}
    assert "edition.yaml:" in err and "À COMPLÉTER" in err


def test_new_edition_refuses_a_folder_in_use(edition2):
    with pytest.raises(LivretError) as info:
        new_edition(edition2, 3, CONTENT)
    assert "not empty" in str(info.value)


@pytest.mark.slow  # two editions built
def test_two_editions_share_output_without_overwriting(edition2, tmp_path, built):
    out = tmp_path / "output"
    shutil.copytree(built[0], out)  # edition #01 built there (the session's build)
    first = out / "retour-experience-01.pdf"
    before = sha(first)
    manifest, results = run(edition2, out, themes=["mobilites"], jobs=1)
    second = out / "retour-experience-02.pdf"
    assert second.is_file() and first.is_file()
    assert sha(first) == before
    assert {r.status for r in results} == {"built"}
    entries = {e["path"]: e for e in json.loads((out / "manifest.json").read_text())["outputs"]}
    assert entries["retour-experience-01.pdf"]["number"] == 1
    assert entries["retour-experience-02.pdf"]["number"] == 2
    assert entries["retour-experience-02-mobilites.pdf"]["edition"] == "retour-experience-02"


def test_a_build_never_replaces_a_pdf_of_another_edition(edition2, tmp_path, capsys):
    """The manifest knows which edition each PDF comes from; only --force replaces it."""
    out = tmp_path / "output"
    run(edition2, out, themes=[], jobs=1)
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["outputs"]:
        entry["number"] = 1  # as if #01 had been built under this name
        entry["inputs"] = {}
    (out / "manifest.json").write_text(json.dumps(manifest))
    pdf = out / "retour-experience-02.pdf"
    before = sha(pdf)
    pdf.write_bytes(pdf.read_bytes() + b"\n")  # a different file: any rebuild would show
    before = sha(pdf)
    rc = main(["--content", str(edition2), "--output", str(out), "--only", "booklet", "-j", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "built from edition no. 1, and this is edition no. 2" in err
    assert sha(pdf) == before
    rc = main(
        ["--content", str(edition2), "--output", str(out), "--only", "booklet", "-j", "1", "-q"]
        + ["--force"]
    )
    assert rc == 0
    assert sha(pdf) != before


def test_check_refuses_a_slug_that_disagrees_with_the_number(content_copy, capsys):
    path = content_copy / "edition.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("number: 1", "number: 2"), encoding="utf-8"
    )
    rc = main(["check", "--content", str(content_copy)])
    err = capsys.readouterr().err
    assert rc == 1
    assert (
        "slug: « retour-experience-01 » does not end with the edition's number (2): the PDFs "
        "are named after the slug; write « slug: retour-experience-02 »"
    ) in err
    assert "edition.yaml:10: slug:" in err  # the slug's own line


def test_new_action_adds_a_card_and_lists_it(content_copy, capsys):
    theme = content_copy / "themes" / "mobilites.yaml"
    theme.write_text("# my comment\n" + theme.read_text(encoding="utf-8"), encoding="utf-8")
    before = theme.read_text(encoding="utf-8")
    rc = main(
        ["new-action", "velo-solidaire", "--theme", "mobilites", "--content", str(content_copy)]
    )
    assert rc == 0, capsys.readouterr().err
    after = theme.read_text(encoding="utf-8")
    assert "actions: [apfe, adie, gas-18, mde-marseille, velo-solidaire]" in after
    assert after.replace(", velo-solidaire]", "]") == before  # nothing else changed
    site = load_site(content_copy)
    assert site.theme("mobilites").action_slugs[-1] == "velo-solidaire"
    assert site.action("velo-solidaire").theme == "mobilites"
    assert any("velo-solidaire.md" in p.path for p in site.warnings)


def test_new_action_refuses_unknown_theme_and_existing_card(content_copy):
    with pytest.raises(LivretError) as info:
        new_action("velo", "velo", content_copy)
    assert 'unknown theme "velo"' in str(info.value) and "mobilites" in str(info.value)
    with pytest.raises(LivretError) as info:
        new_action("adie", "mobilites", content_copy)
    assert "already exists" in str(info.value)
    with pytest.raises(LivretError):
        new_action("Vélo", "mobilites", content_copy)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("title: T\nactions: []\n", "title: T\nactions: [new]\n"),
        ("actions: [a, b]\nnotions: []\n", "actions: [a, b, new]\nnotions: []\n"),
        (
            "actions:\n  - a\n  # a comment\n  - b\nnotions:\n  - n\n",
            "actions:\n  - a\n  # a comment\n  - b\n  - new\nnotions:\n  - n\n",
        ),
        ("actions:\n    - a\n", "actions:\n    - a\n    - new\n"),
        ("actions:\ncolour: x\n", "actions:\n  - new\ncolour: x\n"),
    ],
)
def test_add_to_list_keeps_the_file_as_written(text, expected):
    assert add_to_list(text, "actions", "new") == expected


@pytest.mark.parametrize("theme", ["../../x", "../themes/mobilites", "ABS", "mobilites/", "."])
def test_new_action_theme_names_a_theme_never_a_path(content_copy, tmp_path, theme):
    """A theme is a file of content/themes/, named by its slug: `--theme ../../x` or an
    absolute path would edit a YAML file outside the content folder."""
    outside = tmp_path / "x.yaml"
    outside.write_text("title: T\nactions: []\n", encoding="utf-8")
    (content_copy.parent / "x.yaml").write_text("actions: []\n", encoding="utf-8")
    if theme == "ABS":
        theme = str(outside.with_suffix(""))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.yaml")}
    with pytest.raises(LivretError) as info:
        new_action("velo", theme, content_copy)
    assert "unknown theme" in str(info.value) and "mobilites" in str(info.value)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.yaml")} == before
    assert not (content_copy / "actions" / "velo.md").exists()


def test_new_action_theme_symlinked_outside_is_refused(content_copy, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("title: T\ncolour: '#123456'\nactions: []\n", encoding="utf-8")
    (content_copy / "themes" / "lien.yaml").symlink_to(outside)
    with pytest.raises(LivretError):
        new_action("velo", "lien", content_copy)
    assert outside.read_text(encoding="utf-8").endswith("actions: []\n")


@pytest.mark.parametrize("slug", ["con", "nul", "aux", "prn", "com1", "lpt9"])
def test_new_action_refuses_windows_device_names(content_copy, slug, capsys):
    rc = main(["new-action", slug, "--theme", "mobilites", "--content", str(content_copy)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Windows" in err
    assert not (content_copy / "actions" / f"{slug}.md").exists()


def test_check_refuses_existing_windows_device_names(content_copy, capsys):
    (content_copy / "actions" / "adie.md").rename(content_copy / "actions" / "nul.md")
    (content_copy / "themes" / "mobilites.yaml").rename(content_copy / "themes" / "con.yaml")
    rc = main(["check", "--content", str(content_copy)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "nul.md: " in err and "con.yaml: " in err
    assert err.count("Windows") == 2


def test_new_edition_refuses_the_number_of_the_edition_it_starts_from(tmp_path, capsys, french):
    rc = main(["new-edition", str(tmp_path / "dup"), "--number", "1", "--from", str(CONTENT)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "l'édition n° 1 existe déjà" in err and "--number 2" in err, err
    assert not (tmp_path / "dup").exists()


def test_new_edition_refuses_the_number_of_a_sibling_folder_or_of_the_output(
    content_copy, tmp_path
):
    new_edition(tmp_path / "edition-02", 2, content_copy)
    with pytest.raises(LivretError) as info:
        new_edition(tmp_path / "autre", 2, content_copy)
    assert "edition no. 2 already exists" in str(info.value)
    assert "edition-02/edition.yaml" in str(info.value) and "--number 3" in str(info.value)
    out = tmp_path / "output"
    out.mkdir()
    (out / "manifest.json").write_text(
        json.dumps({"number": 1, "outputs": [{"path": "x-07.pdf", "number": 7}]})
    )
    with pytest.raises(LivretError) as info:
        new_edition(tmp_path / "autre", 7, content_copy, out)
    assert "edition no. 7 already exists" in str(info.value) and "manifest.json" in str(info.value)
    assert new_edition(tmp_path / "autre", 8, content_copy, out)


def test_a_copied_content_folder_never_replaces_the_pdfs_of_the_same_number(
    content_copy, tmp_path, capsys
):
    """A copy of content/ (same number, same slug) beside it, built into the same output
    folder, would replace the real PDFs: refused, the real one stays; --force replaces it."""
    out = tmp_path / "output"
    dup = tmp_path / "dup"
    shutil.copytree(content_copy, dup)
    run(content_copy, out, booklet=False, themes=[], actions=["adie"], jobs=1)
    pdf = out / "retour-experience-01-action-adie.pdf"
    before = sha(pdf)
    card = dup / "actions" / "adie.md"
    card.write_text(card.read_text(encoding="utf-8") + "\nAutre texte.\n", encoding="utf-8")
    argv = ["--content", str(dup), "--output", str(out), "--action", "adie", "-j", "1"]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 1
    assert "built from another content folder (content)" in err, err
    assert sha(pdf) == before
    assert main([*argv, "-q", "--force"]) == 0
    assert sha(pdf) != before
