"""The preview follows the content folder through what happens to it (issue 17)."""

from __future__ import annotations

import shutil

import pytest
from preview_support import PreviewProcess, ready

SHEET = "retour-experience-01-action-adie.pdf"


@pytest.mark.slow  # a preview in a process of its own
def test_preview_recovers_when_the_content_folder_comes_back(content_copy, tmp_path):
    server = PreviewProcess(
        content_copy, tmp_path / "output", "--only", "actions", "--action", "adie"
    )
    try:
        events = server.events()
        state = next(s for s in events if ready(s))
        assert [d["name"] for d in state["outputs"]] == [SHEET]
        aside = tmp_path / "aside"
        shutil.copytree(content_copy, aside)
        shutil.rmtree(content_copy)  # a git checkout, a sync tool: removed, then written again
        # A check may run while the folder is half removed (its themes gone, edition.yaml not
        # yet: "unknown theme"); once it is gone, the preview says so.
        state = next(
            s
            for s in events
            if not s["building"]
            and s["problems"]
            and "content folder not found" in s["problems"][0]
        )
        card = aside / "actions" / "adie.md"
        card.write_text(
            card.read_text(encoding="utf-8").replace(
                "## Contexte\n", "## Contexte\n\nUne phrase de plus.\n", 1
            ),
            encoding="utf-8",
        )
        shutil.copytree(aside, content_copy)
        state = next(s for s in events if not s["building"] and not s["problems"])
        (doc,) = state["outputs"]
        assert doc["name"] == SHEET and doc["changed"], state
        # Saves after the return are seen too.
        card = content_copy / "actions" / "adie.md"
        card.write_text(
            card.read_text(encoding="utf-8").replace("Une phrase de plus.", "Une autre phrase.", 1),
            encoding="utf-8",
        )
        generation = state["generation"]
        state = next(
            s
            for s in events
            if s["generation"] > generation and not s["building"] and s["outputs"][0]["changed"]
        )
        assert not state["problems"]
    finally:
        assert server.stop() == 0


BOOKLET = "retour-experience-01.pdf"


@pytest.mark.slow  # a preview in a process of its own, rendering the booklet
def test_a_newer_save_stops_the_build_under_way(content_copy, tmp_path):
    """A bad save during a build is checked at once (its problems shown before the build
    would have ended), and the stale render is stopped in the workers (never written); of two
    quick good saves, the last one is what the PDF shows."""
    from pdftext import poppler_pages

    output = tmp_path / "output"
    server = PreviewProcess(content_copy, output, "--only", "booklet")
    card = content_copy / "actions" / "adie.md"
    good = card.read_text(encoding="utf-8")
    try:
        events = server.events()
        next(s for s in events if s["building"])  # the booklet's first render has started
        card.write_text(good.replace("theme: mobilites", "theme: nulle-part", 1), "utf-8")
        state = next(s for s in events if s["problems"])
        assert "adie.md:4: theme:" in state["problems"][0], state["problems"]
        assert state["outputs"] == []  # shown without waiting for the booklet
        state = next(s for s in events if not s["building"])
        assert state["problems"] and state["outputs"] == []
        assert not (output / BOOKLET).exists()  # its render was stopped, not finished

        def save(words: str) -> None:
            text = good.replace("## Contexte\n", f"## Contexte\n\n{words}\n", 1)
            card.write_text(text, encoding="utf-8")

        save("Premiere version ajoutee.")
        next(s for s in events if s["building"] and not s["problems"])
        save("Seconde version ajoutee.")
        state = next(s for s in events if ready(s) and not s["problems"])
        assert {d["name"] for d in state["outputs"]} == {BOOKLET, SHEET}
        for name in (SHEET, BOOKLET):
            text = " ".join(" ".join(poppler_pages(output / name)).split())
            assert "Seconde version ajoutee." in text and "Premiere version" not in text
        assert "Traceback" not in server.log.read_text()  # the renders stopped quietly
    finally:
        assert server.stop() == 0


def _next(batches, timeout: float = 60):
    """The next batch, or a failure after `timeout` seconds (a lost watch waits for ever)."""
    import threading

    got: list = []
    thread = threading.Thread(target=lambda: got.append(next(batches)), daemon=True)
    thread.start()
    thread.join(timeout)
    assert got, f"no batch in {timeout} s"
    return got[0]


def test_saves_follow_a_folder_removed_and_made_again_during_a_build(tmp_path):
    """The folder comes back while the batch that said it was gone is being built (before
    the watcher looks again): the new folder is watched, its saves are seen."""
    import threading

    from livret.preview.watcher import saves

    content = tmp_path / "content"
    (content / "actions").mkdir(parents=True)
    (content / "actions" / "card.md").write_text("x", encoding="utf-8")
    shutil.copytree(content, tmp_path / "aside")
    stop = threading.Event()
    batches = saves(content, [], stop)
    try:
        assert _next(batches) == []
        shutil.rmtree(content)
        assert str(content) in _next(batches)
        shutil.copytree(tmp_path / "aside", content)  # back at once, during the "build"
        assert str(content) in _next(batches)
        (content / "actions" / "card.md").write_text("y", encoding="utf-8")
        assert str(content / "actions" / "card.md") in _next(batches)
    finally:
        stop.set()


def test_a_folder_put_back_marks_only_the_cards_whose_text_changed(content_copy, tmp_path):
    # However the watcher batches a folder put back (its folder alone, or each of its files:
    # the race the test above met), a card counts as edited, and its sheet is shown beside
    # what was asked, only when its text changed.
    import argparse

    from livret.preview.server import Preview

    args = argparse.Namespace(content=str(content_copy), output=str(tmp_path / "output"))
    preview = Preview(args, pool=None)  # type: ignore[arg-type]  # no build is started here
    cards = sorted((content_copy / "actions").glob("*.md"))
    aside = tmp_path / "aside"
    shutil.copytree(content_copy, aside)
    shutil.rmtree(content_copy)
    preview.saved([str(p) for p in cards])  # removed: nothing edited
    assert preview.edited == set()
    card = aside / "actions" / "adie.md"
    card.write_text(card.read_text(encoding="utf-8") + "\nUne phrase de plus.\n", "utf-8")
    shutil.copytree(aside, content_copy)
    preview.saved([str(p) for p in cards])  # put back, every card listed
    assert preview.edited == {"adie"}
    preview.saved([str(content_copy / "actions" / "adie.md")])  # saved again, unchanged
    assert preview.edited == {"adie"}
