"""What a build reads back from its own output folder — the manifest, the PDFs it lists, the
copyfitting cache — is checked, never trusted (issue #17, "Processes and caches").

A file that is not what a build writes (another shape, a FIFO, a device, a symlink, too big,
damaged on disk) counts as absent: the output is made again, never "up to date", never an
« internal error », never a hang. Real builds of one action sheet (the cheapest output) and
one excerpt; the FIFO and /dev/zero cases run in a process of their own, bounded in time and
memory, so that a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT

from livret.building.pipeline import FIT_CACHE, MANIFEST, read_manifest, run
from livret.building.writer import read_small_regular_file
from livret.rendering import fit

SHEET = "retour-experience-01-action-adie.pdf"


def _build_sheet(out: Path):
    return run(CONTENT, out, booklet=False, themes=[], actions=["adie"], jobs=1)


@pytest.fixture(scope="module")
def sheet_built(tmp_path_factory) -> Path:
    """The action sheet of adie, built once: a folder to copy and break."""
    out = tmp_path_factory.mktemp("sheet") / "out"
    _build_sheet(out)
    return out


@pytest.fixture
def sheet_copy(sheet_built, tmp_path) -> Path:
    dst = tmp_path / "out"
    shutil.copytree(sheet_built, dst)
    return dst


def _entry(out: Path) -> dict:
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    return next(e for e in manifest["outputs"] if e["path"] == SHEET)


# --- item 3: a damaged PDF of the same size ---------------------------------------------------


def test_a_damaged_pdf_of_the_same_size_is_made_again(sheet_copy):
    pdf = sheet_copy / SHEET
    good = pdf.read_bytes()
    middle = len(good) // 2
    pdf.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :])
    _, results = _build_sheet(sheet_copy)
    assert results[0].status == "built", "a damaged PDF of the same size was kept as up to date"
    assert pdf.read_bytes() == good
    assert _entry(sheet_copy)["sha256"] == hashlib.sha256(good).hexdigest()
    _, again = _build_sheet(sheet_copy)
    assert again[0].status == "up to date"


def test_a_pdf_replaced_by_a_symlink_is_made_again(sheet_copy, tmp_path):
    pdf = sheet_copy / SHEET
    elsewhere = tmp_path / "elsewhere.pdf"
    shutil.move(pdf, elsewhere)
    pdf.symlink_to(elsewhere)  # the same bytes, but not the file the build wrote
    _, results = _build_sheet(sheet_copy)
    assert results[0].status == "built"
    assert not pdf.is_symlink()


# --- item 2: the manifest as it is on disk ----------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _good_manifest() -> dict:
    entry = {
        "path": SHEET,
        "kind": "action",
        "theme": "mobilites",
        "action": "adie",
        "title": "t",
        "variant": "accessible",
        "edition": "retour-experience-01",
        "number": 1,
        "pages": 2,
        "bytes": 10,
        "sha256": "0" * 64,
        "inputs": {"livret": "0.1.0"},
    }
    return {"format": 1, "edition": "retour-experience-01", "number": 1, "outputs": [entry]}


def _without(field: str) -> str:
    manifest = _good_manifest()
    del manifest["outputs"][0][field]
    return json.dumps(manifest)


def _with(field: str, value) -> str:
    manifest = _good_manifest()
    manifest["outputs"][0][field] = value
    return json.dumps(manifest)


BAD_MANIFESTS = {
    "a list": '[{"format": 1}]',
    "a string": '"manifest"',
    "a number": "1",
    "null": "null",
    "outputs null": '{"format": 1, "outputs": null}',
    "outputs a dict": '{"format": 1, "outputs": {"a.pdf": {}}}',
    "an entry without pages": _without("pages"),
    "an entry without sha256": _without("sha256"),
    "an entry without inputs": _without("inputs"),
    "pages a string": _with("pages", "2"),
    "pages a boolean": _with("pages", True),
    "bytes negative": _with("bytes", -1),
    "inputs a list": _with("inputs", ["livret"]),
    "inputs of numbers": _with("inputs", {"livret": 1}),
    "a path outside the folder": _with("path", "../retour-experience-01-action-adie.pdf"),
    "a path in a subfolder": _with("path", "sub/x.pdf"),
    "number a string": _with("number", "1"),
    "an entry that is a list": '{"format": 1, "outputs": [["retour.pdf"]]}',
    "deeply nested": '{"outputs": ' + _nested(100_000) + "}",
    "deeply nested alone": _nested(100_000),
    "not UTF-8": b'{"outputs": "\xff"}',
    "not JSON": "{outputs",
    "empty": "",
}


@pytest.mark.parametrize("case", BAD_MANIFESTS)
def test_a_manifest_of_another_shape_counts_as_absent(case, tmp_path):
    path = tmp_path / MANIFEST
    text = BAD_MANIFESTS[case]
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    old, entries = read_manifest(path)
    assert SHEET not in entries and all(isinstance(e, dict) for e in entries.values())
    assert isinstance(old, dict)


def test_a_manifest_of_the_shape_we_write_is_read(tmp_path):
    path = tmp_path / MANIFEST
    path.write_text(json.dumps(_good_manifest()), encoding="utf-8")
    old, entries = read_manifest(path)
    assert old == _good_manifest() and list(entries) == [SHEET]


@pytest.mark.parametrize(
    "case", ["a list", "outputs null", "an entry without pages", "deeply nested", "pages a string"]
)
def test_a_build_over_a_manifest_of_another_shape_makes_its_outputs_again(case, sheet_copy):
    """The issue's cases: each ended in « internal error »."""
    text = BAD_MANIFESTS[case]
    if case in ("an entry without pages", "pages a string"):  # the real entry, damaged
        manifest = json.loads((sheet_copy / MANIFEST).read_text(encoding="utf-8"))
        entry = next(e for e in manifest["outputs"] if e["path"] == SHEET)
        if case == "pages a string":
            entry["pages"] = str(entry["pages"])
        else:
            del entry["pages"]
        text = json.dumps(manifest)
    (sheet_copy / MANIFEST).write_text(str(text), encoding="utf-8")
    manifest, results = _build_sheet(sheet_copy)
    assert [r.status for r in results] == ["built"]
    assert read_manifest(sheet_copy / MANIFEST)[1][SHEET]["pages"] == results[0].pages
    assert manifest["outputs"] == [_entry(sheet_copy)]


def _limited_build(out: Path) -> subprocess.CompletedProcess:
    """The build of the sheet in a process of its own: at most 60 s and 3 GiB of address space
    (a manifest read without bounds fails here instead of filling the machine's memory)."""

    def limit():
        cap = 3 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--content", str(CONTENT), "--output", str(out)]
        + ["--action", "adie", "-j", "1", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
    )


@pytest.mark.slow  # a build in a process of its own
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_manifest_that_is_not_a_regular_file_counts_as_absent(kind, sheet_copy):
    manifest = sheet_copy / MANIFEST
    manifest.unlink()
    if kind == "fifo":
        os.mkfifo(manifest)  # nobody writes to it: reading it would wait for ever
    else:
        manifest.symlink_to("/dev/zero")  # endless
    try:
        proc = _limited_build(sheet_copy)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a manifest that is a {kind} hung the build")
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert manifest.is_file() and not manifest.is_symlink()  # replaced by a real manifest
    assert (
        _entry(sheet_copy)["sha256"]
        == hashlib.sha256((sheet_copy / SHEET).read_bytes()).hexdigest()
    )


# --- the shared reader: every cache file livret reads back --------------------------------------


def test_read_small_regular_file_takes_only_a_regular_file_within_its_cap(tmp_path):
    small = tmp_path / "small"
    small.write_bytes(b"12345")
    assert read_small_regular_file(small, 5) == b"12345"
    assert read_small_regular_file(small, 4) is None  # too big
    assert read_small_regular_file(tmp_path / "absent", 10) is None
    assert read_small_regular_file(tmp_path, 10) is None  # a folder
    link = tmp_path / "link"
    link.symlink_to(small)
    assert read_small_regular_file(link, 10) is None  # a symlink: not what we write
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    assert read_small_regular_file(zero, 10) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_small_regular_file(fifo, 10) is None  # at once: no writer is awaited


# --- item 1: the copyfitting cache -------------------------------------------------------------


def _poisons(card: str) -> dict[str, bytes]:
    """Entries a build never writes for `card`; each one, trusted, damaged the booklet."""
    inside_a_tag = 3  # `<ar|ticle`: the mark would be printed as text
    past_the_end = len(card) + 10
    real = [c.offset for c in fit.candidates(card)]
    return {
        "an offset inside a tag": json.dumps([inside_a_tag]).encode(),
        "an offset past the card": json.dumps([past_the_end]).encode(),
        "a negative offset": b"[-1]",
        "a boolean": b"[true]",
        "a float": b"[1.5]",
        "a string": b'["12"]',
        "a dict": b'{"breaks": []}',
        "null": b"null",
        "deeply nested": _nested(100_000).encode(),
        "not JSON": b"[1,",
        "not UTF-8": b"[\xff]",
        "the same offset twice": json.dumps([real[0], real[0]]).encode(),
        "offsets out of order": json.dumps(sorted(real[:2], reverse=True)).encode(),
        "spaced out": f"[ {real[0]} ]".encode(),
        "too big": json.dumps(real * 2000).encode(),
    }


def test_a_cache_entry_that_is_not_what_the_build_writes_is_ignored(tmp_path):
    card = (
        '<article class="card" id="action-x"><section class="section">'
        "<h2>A</h2><p>one</p><p>two</p></section>"
        '<section class="section"><h2>B</h2><p>three</p></section></article>'
    )
    offsets = [c.offset for c in fit.candidates(card)]
    assert len(offsets) >= 2
    folder = tmp_path / "fit"
    folder.mkdir()
    decisions = fit.Decisions()
    decisions.put("good", [offsets[1]], folder)
    assert fit.Decisions().get("good", folder, fit.breaks_of(card)) == [
        offsets[1]
    ]  # what put wrote
    decisions.put("none", [], folder)
    assert fit.Decisions().get("none", folder, fit.breaks_of(card)) == []
    for name, data in _poisons(card).items():
        (folder / "bad.json").write_bytes(data)
        assert fit.Decisions().get("bad", folder, fit.breaks_of(card)) is None, name
    for name, make in {
        "a fifo": lambda p: os.mkfifo(p),
        "a symlink to /dev/zero": lambda p: p.symlink_to("/dev/zero"),
        "a symlink to a good entry": lambda p: p.symlink_to(folder / "good.json"),
        "a folder": lambda p: p.mkdir(),
    }.items():
        (folder / "bad.json").unlink()
        make(folder / "bad.json")
        assert fit.Decisions().get("bad", folder, fit.breaks_of(card)) is None, name


def test_a_poisoned_fitting_cache_changes_nothing_in_the_pdf(built, built_copy):
    """Every entry of the session build's cache replaced by one a build never writes; the
    excerpt made again is the same file, byte for byte, as the one made from a sound cache."""
    theme = "precarite-energetique"
    name = f"retour-experience-01-{theme}.pdf"
    _, manifest, _ = built
    expected = next(e for e in manifest["outputs"] if e["path"] == name)["sha256"]
    cache = built_copy / FIT_CACHE
    entries = sorted(cache.glob("*.json"))
    assert entries
    card = '<article class="card" id="action-x"><section class="section"><p>a</p></section>'
    poisons = list(_poisons(card + "</article>").values())
    for i, entry in enumerate(entries):
        entry.write_bytes(poisons[i % len(poisons)])
    (cache / entries[0].name).unlink()
    os.mkfifo(cache / entries[0].name)
    _, results = run(CONTENT, built_copy, booklet=False, themes=[theme], force=True)
    assert [r.status for r in results] == ["built"]
    data = (built_copy / name).read_bytes()
    assert b"data-fit" not in data
    assert hashlib.sha256(data).hexdigest() == expected


# --- a build never writes a PDF that is not whole (the SVG section) ----------------------------

# A picture drawn with a coordinate of 1e30: WeasyPrint writes it as an integer no PDF reader
# can hold, and qpdf --check rejects the file. `check` refuses such a picture
# (livret/reading/svg.py); the build must not trust the renderer either.
HUGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="90" height="90">\n'
    '<rect x="1e30" width="9" height="9"/>\n</svg>\n'
)


def test_a_render_that_makes_a_damaged_pdf_keeps_the_last_good_one(
    content_copy, sheet_copy, monkeypatch, capsys, french
):
    from livret.cli import main
    from livret.reading import svg

    monkeypatch.setattr(svg, "problems", lambda data: [])  # the picture slips through `check`
    (content_copy / "images").mkdir(exist_ok=True)
    (content_copy / "images" / "huge.svg").write_text(HUGE, encoding="utf-8")
    card = content_copy / "actions" / "adie.md"
    card.write_text(
        card.read_text(encoding="utf-8") + "\n![Un carré](images/huge.svg)\n", encoding="utf-8"
    )
    pdf = sheet_copy / SHEET
    good, manifest = pdf.read_bytes(), (sheet_copy / MANIFEST).read_bytes()
    argv = ["--content", str(content_copy), "--output", str(sheet_copy), "-j", "1", "-q"]
    assert main([*argv, "--only", "actions", "--action", "adie"]) == 1
    err = capsys.readouterr().err
    assert f"{SHEET}: le PDF produit est endommagé" in err, err
    assert "le précédent reste en place" in err and "Traceback" not in err, err
    assert pdf.read_bytes() == good
    assert (sheet_copy / MANIFEST).read_bytes() == manifest
    assert not list(sheet_copy.glob(".*.part"))


def _pdf_with_box(box) -> bytes:
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    pdf.pages[0].obj.TrimBox = pikepdf.Array(box)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "make",
    [
        lambda good: good[: len(good) // 2],  # cut short: no cross-reference table
        lambda good: good.replace(b"startxref\n", b"startxref\n1", 1),  # xref elsewhere
        lambda good: b"",
        lambda good: _pdf_with_box([0, 0, 1e30, 100]),
        lambda good: _pdf_with_box([0, 0, 100]),
    ],
    ids=["truncated", "xref-offset", "empty", "trimbox-1e30", "box-of-3"],
)
def test_write_pdf_refuses_what_is_not_a_whole_pdf(make, sheet_built, tmp_path):
    from livret.building.writer import pdf_problems, write_pdf
    from livret.errors import LivretError

    good = (sheet_built / SHEET).read_bytes()
    assert pdf_problems(good) == [] and pdf_problems(_pdf_with_box([0, 0, 100, 100])) == []
    target = tmp_path / "out.pdf"
    write_pdf(target, good)
    with pytest.raises(LivretError) as err:
        write_pdf(target, make(good))
    assert "out.pdf" in str(err.value)
    assert target.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["out.pdf"]


# --- the build request and its progress (issue 19, "Fewer hidden paths") ----------------------


def test_a_build_request_runs_and_reports_its_progress(sheet_copy):
    """run()'s keywords make a BuildRequest; the progress hears the count, then each PDF."""
    import dataclasses

    from livret.building.pipeline import BuildRequest, Rendered, run_request
    from livret.reading.loader import load_site

    heard: list[tuple] = []
    request = BuildRequest(
        load_site(CONTENT),
        sheet_copy,
        {"booklet": False, "themes": [], "actions": ["adie"]},
        force=True,
        jobs=1,
        progress=lambda *args: heard.append(args),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.force = False  # type: ignore[misc]
    manifest, results = run_request(request)
    [result] = results
    assert heard[0] == (1,) and len(heard) == 2
    name, rendered = heard[1]
    assert name == SHEET and isinstance(rendered, Rendered)
    assert (rendered.pages, rendered.sha256) == (result.pages, result.sha256)
    assert rendered.sha256 == hashlib.sha256((sheet_copy / SHEET).read_bytes()).hexdigest()


def test_an_imposition_that_is_not_whole_is_not_written(built_copy, monkeypatch):
    """The imposed PDFs go through the same check before they replace the previous ones."""
    from livret.errors import LivretError
    from livret.finishing import impose

    def broken(data: bytes, sheet: str) -> impose.Imposition:
        whole = real(data, sheet)
        return impose.Imposition(whole.data[: len(whole.data) // 2], whole.pages, whole.blanks)

    real = impose.impose
    excerpt = dict(booklet=False, themes=["mobilites"], actions=[])
    run(CONTENT, built_copy, impose=["a4"], **excerpt)
    imposed = built_copy / "retour-experience-01-mobilites-imposition-a4.pdf"
    good = imposed.read_bytes()
    imposed.write_bytes(good + b"\n")  # not what the manifest says: made again
    monkeypatch.setattr(impose, "impose", broken)
    with pytest.raises(LivretError, match="imposition-a4.pdf"):
        run(CONTENT, built_copy, impose=["a4"], **excerpt)
    assert imposed.read_bytes() == good + b"\n"
    assert not list(built_copy.glob(".*.part"))
