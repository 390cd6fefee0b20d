"""The parts of a book kept in the user's cache (livret/rendering/partcache.py): a new process
lays out only what changed, and prints the same bytes; anything damaged or foreign in the
cache counts as absent."""

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import CONTENT
from test_compose import Counting
from test_design import _append, _png

from livret.building import usercache
from livret.building.outputs import plan
from livret.reading.loader import load_site
from livret.rendering import partcache
from livret.rendering.render import render_html


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory):
    """A user's cache for this module, with parts of its own (the tests that count every part
    empty them: `no_parts`) and the session's fitting decisions (a card fitted is fitted)."""
    from conftest import user_cache

    session_fit = usercache.folder("fit")  # the session's (conftest.py, KEPT_CACHES)
    session_fit.mkdir(parents=True, exist_ok=True)
    where = user_cache(tmp_path_factory.mktemp("user-cache"))
    (where / "livret" / "fit").symlink_to(session_fit, target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(where))
        yield


@pytest.fixture
def no_parts(module_cache):
    """No part kept yet: a test that counts every part laid out."""
    shutil.rmtree(usercache.folder(partcache.FOLDER), ignore_errors=True)


THEME = "precarite-energetique"  # 3 cards: the smallest excerpt


def _excerpt_html(root: Path) -> str:
    site = load_site(root)
    (output,) = plan(site, booklet=False, themes=[THEME])
    return render_html(site, output)


def _print(root: Path, html: str, reuse: bool = True) -> tuple[bytes, list[str]]:
    """The excerpt composed as a book of its own by a new printer: (its bytes, the parts laid
    out). `reuse`: False as `build --force` asks."""
    printer = Counting(root)
    printer.reuse_parts = reuse
    data, _pages = printer.render(html, "accessible", (), None, None, book=True)
    assert printer.composition is not None and printer.assembled == 1, printer.whole
    return data, printer.laid


@pytest.fixture(scope="module")
def excerpt() -> str:
    return _excerpt_html(CONTENT)


def test_a_new_process_lays_out_the_first_part_only_and_prints_the_same_bytes(excerpt, no_parts):
    first, laid = _print(CONTENT, excerpt)
    assert {"cover", "contents", f"theme-{THEME}"} <= set(laid), laid
    again, laid_again = _print(CONTENT, excerpt)
    assert again == first
    assert laid_again == ["cover"], laid_again  # its layout is the document's (metadata)
    # `build --force`: every part laid out again, the same bytes.
    forced, laid_forced = _print(CONTENT, excerpt, reuse=False)
    assert forced == first
    assert set(laid_forced) == set(laid) - {"fit-bottom"}, laid_forced  # fitting decisions kept


def test_an_edited_card_is_laid_out_again_the_others_are_not(content_copy):
    html = _excerpt_html(content_copy)
    _print(content_copy, html)
    site = load_site(content_copy)
    card = next(a for a in site.actions if a.theme == THEME)
    path = content_copy / "actions" / f"{card.slug}.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("## Contexte\n", "## Contexte\n\nAjouté.\n", 1), "utf-8")
    edited = _excerpt_html(content_copy)
    data, laid = _print(content_copy, edited)
    cards = {f"action-{a.slug}" for a in site.actions if a.theme == THEME}
    assert f"action-{card.slug}" in laid
    assert not (cards - {f"action-{card.slug}"}) & set(laid), laid
    assert data != _print(content_copy, html)[0]


def test_a_picture_changed_under_the_same_name_is_printed_anew(content_copy):
    picture = content_copy / "images" / "four.png"
    _png(picture, size=(300, 200))
    _append(content_copy / "actions" / "cd41.md", '![Un four solaire](images/four.png "Le four")')
    html = _excerpt_html(content_copy)
    before, _laid = _print(content_copy, html)
    # The same HTML, the same size: another colour, which no layout measures.
    _png(picture, size=(300, 200), colour=(20, 80, 200))
    after, laid = _print(content_copy, html)
    assert "action-cd41" in laid and after != before
    shutil.rmtree(usercache.folder(partcache.FOLDER))
    assert after == _print(content_copy, html)[0]  # each part laid out anew


def _entries() -> list[Path]:
    return sorted(p for p in usercache.folder(partcache.FOLDER).iterdir())


def _moved(header: bytes) -> bytes:
    """The entry's first line with one anchor a point lower, in the form it is written."""
    head = json.loads(header)
    page = next(p for p in head["pages"] if p["anchors"])
    name = next(iter(page["anchors"]))
    page["anchors"][name][1] += 1
    return json.dumps(head, sort_keys=True).encode()


def _damages(path: Path) -> dict:
    kept = path.read_bytes()
    header, _sep, data = kept.partition(b"\n")

    def flip(blob: bytes) -> bytes:
        return blob[:-10] + bytes([blob[-10] ^ 1]) + blob[-9:]

    return {
        "truncated": lambda: path.write_bytes(kept[: len(kept) // 2]),
        "a byte of its file": lambda: path.write_bytes(header + b"\n" + flip(data)),
        "an anchor moved": lambda: path.write_bytes(_moved(header) + b"\n" + data),
        "no header": lambda: path.write_bytes(data),
        "a folder": lambda: (path.unlink(), path.mkdir()),
        "a FIFO": lambda: (path.unlink(), os.mkfifo(path)),
        "a symlink to a sound entry": lambda: (
            path.rename(path.with_suffix(".aside")),
            path.symlink_to(path.with_suffix(".aside")),
        ),
    }


def test_a_damaged_or_foreign_entry_counts_as_absent(excerpt, no_parts):
    first, laid = _print(CONTENT, excerpt)
    entries = _entries()
    parts = set(laid) - {"cover", "fit-bottom"}  # every part but the first (and the page area)
    assert len(entries) == len(parts), (entries, parts)
    mode = stat.S_IMODE(usercache.folder(partcache.FOLDER).stat().st_mode)
    assert mode == 0o700, oct(mode)  # the user's alone: a part holds unpublished text
    damages = _damages(entries[0])
    assert len(entries) > len(damages)
    for entry, name in zip(entries, damages, strict=False):  # one entry each
        _damages(entry)[name]()
    again, laid_again = _print(CONTENT, excerpt)
    assert again == first
    # The cover (laid out by each document) and each damaged part; the sound one is taken.
    assert len(laid_again) == 1 + len(damages) == len(set(laid_again)), laid_again


def test_the_edition_s_date_is_part_of_the_key(monkeypatch):
    # The clock a build sets (SOURCE_DATE_EPOCH, the edition's date) is in the font subsets a
    # part embeds: another date, another entry.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = partcache.key("salt", "layout", "<p>x</p>", CONTENT)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    assert partcache.key("salt", "layout", "<p>x</p>", CONTENT) != first


def test_a_page_of_another_shape_is_refused():
    page = partcache.WrittenPage(
        {"a": (1.0, 2.0, 3.0, 4.0)},
        [(1, "T", (1.0, 2.0), "open")],
        [("internal", "a", (1.0, 2.0, 3.0, 4.0), None)],
        100.0,
        200.0,
        {"top": 0, "right": 0, "bottom": 0, "left": 0},
    )
    value = page.to_json()
    back = partcache.WrittenPage.from_json(value)
    assert back is not None and back.to_json() == value
    assert back.bookmarks == page.bookmarks and back.anchors == page.anchors
    for hostile in (
        {**value, "width": "100"},
        {**value, "anchors": {"a": [1.0, 2.0]}},
        {**value, "bookmarks": [["1", "T", [1.0, 2.0], "open"]]},
        {**value, "links": [["internal", "a", [1.0, 2.0, 3.0, True]]]},
        {**value, "bleed": {"top": 0}},
        {k: v for k, v in value.items() if k != "links"},
        [],
    ):
        assert partcache.WrittenPage.from_json(hostile) is None, hostile
