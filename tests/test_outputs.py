"""Excerpts, action sheets, the manifest, and rebuilding only what an edit changed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT
from pdftext import contents_numbers, contents_page, folio_index, norm, outline, poppler_pages
from pypdf import PdfReader

from livret.building.pipeline import run
from livret.cli import main
from livret.reading.loader import load_site

SITE = load_site(CONTENT)
THEMES = [t.slug for t in SITE.themes]


def test_default_build_makes_booklet_and_three_excerpts(built):
    out, manifest, results = built
    names = sorted(p.name for p in out.glob("*.pdf"))
    assert names == sorted(
        ["retour-experience-01.pdf"] + [f"retour-experience-01-{s}.pdf" for s in THEMES]
    )
    assert [r.output.kind for r in results] == ["booklet", "theme", "theme", "theme"]


@pytest.mark.parametrize("theme", THEMES)
def test_excerpt_holds_its_theme_only_with_its_own_contents(built, theme):
    out, _, _ = built
    path = out / f"retour-experience-01-{theme}.pdf"
    pages = poppler_pages(path)
    mine = SITE.theme(theme)
    for a in SITE.actions:
        present = any(p.startswith(norm(a.title)) for p in pages)  # a page opens with its card
        assert present == (a.theme == theme), (a.slug, theme)
    for t in SITE.themes:
        assert (norm(t.title) in pages[0]) == (t.slug == theme)  # the cover names the theme
    # its own contents, with the booklet's folios (an offprint: livret/rendering/compose.py), which
    # its page labels show: each entry's number is the folio of the page that opens with it
    entries = [f"{a.title}, {a.organisation}" for a in mine.actions]
    titles = ["Introduction", mine.title, *entries, "Remerciements"]
    printed = contents_numbers(contents_page(path), titles)
    assert set(printed) == set(titles)
    booklet = contents_numbers(contents_page(out / "retour-experience-01.pdf"), titles)
    for title, number in printed.items():
        assert number == booklet[title], (title, number, booklet[title])
        at = folio_index(path, number)
        assert norm(title) in pages[at][: len(norm(title)) + 3], (title, number)
    # its own outline and PDF title
    tree = outline(path)
    assert [t for t, _ in tree] == ["Sommaire", "Introduction", mine.title, "Remerciements"]
    assert PdfReader(path).metadata.title.endswith(mine.title)
    assert "rejoignez le Club des territoires" in pages[-1]


def test_manifest_matches_the_files(built):
    out, manifest, _ = built
    on_disk = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert on_disk["format"] == 1 and on_disk["edition"] == "retour-experience-01"
    assert len(on_disk["outputs"]) == 4
    for entry in on_disk["outputs"]:
        data = (out / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        assert entry["pages"] == len(PdfReader(out / entry["path"]).pages)
        assert set(entry) >= {
            "path",
            "kind",
            "theme",
            "action",
            "pages",
            "bytes",
            "sha256",
            "inputs",
        }
        assert entry["inputs"]["weasyprint"] == "70.0"
        assert "content/edition.yaml" in entry["inputs"]
        if entry["kind"] == "theme":
            assert ("content/actions/adie.md" in entry["inputs"]) == (entry["theme"] == "mobilites")


@pytest.fixture(scope="module")
def sheets(tmp_path_factory, all_sheets):
    """Every action sheet, asked of the command line (--only actions) once: (exit code, JSON
    summary). In a copy of the session's build of every sheet (all_sheets): what the
    command makes of them, not their render, is checked here."""
    out = tmp_path_factory.mktemp("sheets") / "out"
    shutil.copytree(all_sheets[0], out)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            ["--content", str(CONTENT), "--output", str(out), "--only", "actions", "--json"]
        )
    return code, json.loads(printed.getvalue())


def test_action_sheet(sheets):
    _, summary = sheets
    by_slug = {Path(o["path"]).stem.rpartition("-action-")[2]: o for o in summary["outputs"]}
    for slug in ("adie", "coop-alim"):
        o = by_slug[slug]
        assert o["kind"] == "action" and 1 <= o["pages"] <= 2, o
        text = " ".join(poppler_pages(Path(o["path"])))
        action = SITE.action(slug)
        assert text.startswith(norm(action.title))
        assert "Retour d'expérience #01 · Club des territoires · 27 novembre 2023" in text
        others = [a for a in SITE.actions if a.slug != action.slug]
        assert not any(norm(a.title) in text for a in others)


def statuses(results) -> dict[str, str]:
    return {r.path.name: r.status for r in results}


def test_editing_one_card_rebuilds_exactly_what_uses_it(content_copy, built_copy):
    out = built_copy  # the booklet and excerpts of the same content, already built
    _, results = run(content_copy, out, themes=THEMES, actions=["adie", "cd41"])
    assert statuses(results) == {
        "retour-experience-01.pdf": "up to date",
        **{f"retour-experience-01-{t}.pdf": "up to date" for t in THEMES},
        "retour-experience-01-action-adie.pdf": "built",
        "retour-experience-01-action-cd41.pdf": "built",
    }
    _, results = run(content_copy, out, themes=THEMES, actions=["adie", "cd41"])
    assert set(statuses(results).values()) == {"up to date"}

    card = content_copy / "actions" / "adie.md"
    card.write_text(
        card.read_text(encoding="utf-8").replace("Assurance auto.", "Assurance auto, habitation."),
        encoding="utf-8",
    )
    _, results = run(content_copy, out, themes=THEMES, actions=["adie", "cd41"])
    rebuilt = sorted(n for n, s in statuses(results).items() if s == "built")
    assert rebuilt == [
        "retour-experience-01-action-adie.pdf",
        "retour-experience-01-mobilites.pdf",
        "retour-experience-01.pdf",
    ]
    assert "habitation" in " ".join(poppler_pages(out / "retour-experience-01-action-adie.pdf"))
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(
        e for e in manifest["outputs"] if e["path"] == "retour-experience-01-mobilites.pdf"
    )
    assert entry["sha256"] == hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest()

    # --force rebuilds what is asked for, up to date or not
    _, results = run(content_copy, out, booklet=False, themes=[], actions=["cd41"], force=True)
    assert statuses(results) == {"retour-experience-01-action-cd41.pdf": "built"}


@pytest.mark.slow  # builds run again
def test_deleted_output_is_rebuilt(built_copy):
    out = built_copy  # its cache holds the booklet's folios: its parts are not laid out again
    (out / "retour-experience-01-mobilites.pdf").unlink()
    _, results = run(CONTENT, out, themes=THEMES)
    assert statuses(results) == {
        "retour-experience-01.pdf": "up to date",
        "retour-experience-01-precarite-energetique.pdf": "up to date",
        "retour-experience-01-precarite-alimentaire.pdf": "up to date",
        "retour-experience-01-mobilites.pdf": "built",
    }


def test_unknown_slugs_list_the_valid_ones(capsys):
    assert main(["--content", str(CONTENT), "--theme", "transports", "--action", "nope", "-q"]) == 1
    err = capsys.readouterr().err
    assert (
        'unknown theme "transports"; valid themes: '
        "precarite-energetique, precarite-alimentaire, mobilites" in err
    )
    assert 'unknown action "nope"; valid actions: adil-31,' in err
    assert "Traceback" not in err


def test_list_prints_the_slugs(capsys):
    assert main(["--content", str(CONTENT), "--list"]) == 0
    out = capsys.readouterr().out
    for slug in [*THEMES, *(a.slug for a in SITE.actions)]:
        assert f"  {slug} " in out


def test_json_summary_and_only(sheets):
    code, summary = sheets
    assert code == 0
    kinds = {o["kind"] for o in summary["outputs"]}
    assert kinds == {"action"} and len(summary["outputs"]) == 10
    # a sheet is one or two pages, even for the longest card
    assert all(1 <= o["pages"] <= 2 for o in summary["outputs"]), summary["outputs"]


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow  # a watch loop in a process of its own
def test_watch_rebuilds_on_save_and_survives_a_bad_edit(content_copy, tmp_path):
    out = tmp_path / "out"
    log = tmp_path / "watch.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "build.py"),
                "watch",
                "--content",
                str(content_copy),
                "--output",
                str(out),
                "--only",
                "actions",
                "--action",
                "gas-18",
                "-q",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        sheet = out / "retour-experience-01-action-gas-18.pdf"
        assert _wait_for(lambda: sheet.exists() and "watching" in log.read_text()), log.read_text()
        good = sheet.read_bytes()
        card = content_copy / "actions" / "gas-18.md"
        text = card.read_text(encoding="utf-8")
        card.write_text(text.replace("theme: mobilites", "theme: transports"), encoding="utf-8")
        assert _wait_for(lambda: 'unknown theme slug "transports"' in log.read_text()), (
            log.read_text()
        )
        assert proc.poll() is None  # still watching
        assert sheet.read_bytes() == good
        card.write_text(text.replace("Depuis 2007", "Depuis 2007 (édité)"), encoding="utf-8")
        assert _wait_for(lambda: sheet.read_bytes() != good), log.read_text()
        assert "(édité)" in " ".join(poppler_pages(sheet))
        assert "Traceback" not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_project_folder_overrides_the_shipped_design_file_by_file(content_copy):
    """layouts/ and styles/ beside the content folder come first; the rest is livret's."""
    from livret.building.outputs import Fingerprints, plan
    from livret.rendering.design import for_content, shipped
    from livret.rendering.render import render_html

    project = content_copy.parent
    (project / "layouts").mkdir()
    cover = (shipped("layouts") / "cover.html").read_text(encoding="utf-8")
    (project / "layouts" / "cover.html").write_text(
        "<!-- the project's own cover -->\n" + cover, encoding="utf-8"
    )
    (project / "styles").mkdir()
    (project / "styles" / "cover.css").write_text("/* own */\n", encoding="utf-8")

    design = for_content(content_copy)
    assert design.stylesheet("cover.css") == (project / "styles" / "cover.css").resolve()
    assert design.stylesheet("page.css") == shipped("styles") / "page.css"
    site = load_site(content_copy)
    [booklet] = plan(site, themes=[])
    html = render_html(site, booklet)
    assert "<!-- the project's own cover -->" in html
    assert "<title>Retour d’expérience #01" in html  # the shipped booklet.html around it
    inputs = Fingerprints(site, {})(booklet)
    own = hashlib.sha256((project / "styles" / "cover.css").read_bytes()).hexdigest()
    assert inputs["styles/cover.css"] == own
    assert "styles/page.css" in inputs and "layouts/booklet.html" in inputs
    assert not any("mail" in name or "__init__" in name for name in inputs)


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_builds_from_an_empty_folder(tmp_path):
    """No checkout: the wheel carries the layouts and styles; the folder has only content/."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels = tmp_path / "wheels"
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    [wheel] = wheels.glob("livret-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip's cache serves the dependencies; no .pyc compilation keeps the install short.
    subprocess.run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--no-compile", str(wheel)],
        check=True,
    )
    folder = tmp_path / "folder"
    shutil.copytree(CONTENT, folder / "content", ignore=shutil.ignore_patterns("recipients*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [str(venv / "bin" / "livret"), "build", "--only", "booklet", "-q"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    pdf = folder / "output" / "retour-experience-01.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert len(PdfReader(pdf).pages) > 20
    assert sorted(p.name for p in folder.iterdir()) == ["content", "output"]


def test_livret_code_and_dependency_versions_make_outputs_out_of_date(
    built, built_copy, tmp_path, monkeypatch
):
    from livret.building import outputs

    _, manifest, _ = built
    _, results = run(CONTENT, built_copy, themes=THEMES)  # as built: nothing to do
    assert set(statuses(results).values()) == {"up to date"}
    booklet = results[0].output
    entry = next(e for e in manifest["outputs"] if e["path"] == booklet.filename)

    def inputs() -> dict[str, str]:  # what the pipeline compares with the manifest
        return outputs.Fingerprints(SITE, outputs.tool_versions("accessible"))(booklet)

    assert inputs() == entry["inputs"]
    assert {"pydyf", "fonttools", "pillow", "pyphen", "tinycss2"} <= set(entry["inputs"])

    # livret's own code, with one constant changed: typography.NNBSP
    code = tmp_path / "livret"
    shutil.copytree(outputs.PACKAGE, code, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(outputs, "PACKAGE", code)
    assert inputs() == entry["inputs"]  # a copy of the same code: the same fingerprint
    [typography] = code.rglob("typography.py")  # wherever its stage folder is
    text = typography.read_text(encoding="utf-8")
    assert 'NNBSP = "\\u202f"' in text
    typography.write_text(text.replace('NNBSP = "\\u202f"', 'NNBSP = "\\u00a0"'), "utf-8")
    outputs.code_hash.cache_clear()
    changed = inputs()
    assert changed["livret code"] != entry["inputs"]["livret code"]
    assert {k for k in changed if changed[k] != entry["inputs"][k]} == {"livret code"}
    monkeypatch.undo()

    # a dependency that shapes the bytes: pydyf writes the PDF
    real = outputs.installed_versions()
    monkeypatch.setattr(outputs, "installed_versions", lambda: {**real, "pydyf": "99.0"})
    assert inputs()["pydyf"] == "99.0" and inputs() != entry["inputs"]


def _locked() -> dict[str, str]:
    """constraints.txt (the lock, scripts/lock.sh): normalised name → version."""
    from livret.building.outputs import _dist_key

    out = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt pins one version per package: {line}"
            out[_dist_key(name.strip())] = version.strip()
    return out


def test_what_shapes_the_bytes_is_locked_and_in_the_fingerprint(monkeypatch):
    """Issue #19: pikepdf re-saves every PDF but was not in the fingerprint, and only
    WeasyPrint was pinned. Each package that shapes the bytes is locked at the version
    installed, and recorded; every package livret needs at run time is locked."""
    from importlib import metadata

    from packaging.requirements import Requirement

    from livret.building import outputs

    locked = _locked()
    assert {"pikepdf", "pydyf", "tinycss2", "weasyprint", "lxml", "pillow"} <= set(outputs.SHAPING)
    versions = outputs.tool_versions("accessible")
    for name in outputs.SHAPING:
        assert versions[name] == locked[outputs._dist_key(name)], (
            f"{name} {versions[name]} is installed, the lock says "
            f"{locked.get(outputs._dist_key(name))}: run make (or make lock)"
        )
    # livret's run-time dependencies, and theirs: all locked
    todo, seen = ["livret"], set()
    while todo:
        for text in metadata.requires(todo.pop()) or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            key = outputs._dist_key(req.name)
            if key not in seen:
                seen.add(key)
                todo.append(req.name)
    assert seen and seen <= set(locked), sorted(seen - set(locked))

    # A pikepdf upgrade makes every output out of date.
    kind = outputs.KINDS["booklet"]
    booklet = kind.output(SITE, kind.slugs(SITE)[0])
    before = outputs.Fingerprints(SITE, outputs.tool_versions("accessible"))(booklet)
    real = outputs.installed_versions()
    monkeypatch.setattr(outputs, "installed_versions", lambda: {**real, "pikepdf": "99.0"})
    after = outputs.Fingerprints(SITE, outputs.tool_versions("accessible"))(booklet)
    assert before["pikepdf"] == locked["pikepdf"] and after["pikepdf"] == "99.0"
