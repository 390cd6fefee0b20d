"""The preview follows the content folder through what happens to it (issue 17)."""

from __future__ import annotations

import shutil

from preview_support import PreviewProcess, ready

SHEET = "retour-experience-01-action-adie.pdf"


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
        state = next(s for s in events if not s["building"] and s["problems"])
        assert "content folder not found" in state["problems"][0]
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
