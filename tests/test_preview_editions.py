"""Previews side by side in one output folder (issue 17): two editions, or the same content
twice, never remove each other's page images; each shows its own edition's outputs only."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from preview_support import ROOT, PreviewProcess, ready

SHEET = "retour-experience-01-action-adie.pdf"
ONE_SHEET = ("--only", "actions", "--action", "adie")


def _folders(output: Path) -> set[Path]:
    return {p for p in (output / ".preview").iterdir() if p.is_dir()}


def _all_served(server: PreviewProcess, state: dict) -> list[int]:
    return [server.get("/" + page)[0] for doc in state["outputs"] for page in doc["pages"]]


@pytest.mark.slow  # a preview killed with SIGKILL
def test_previews_side_by_side_keep_their_page_images(content_copy, tmp_path):
    second = tmp_path / "edition-02"
    subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "new-edition", str(second), "--number", "2"]
        + ["--from", str(content_copy)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    output = tmp_path / "output"
    a = PreviewProcess(content_copy, output, *ONE_SHEET)
    others: list[PreviewProcess] = []
    try:
        events = a.events()
        state_a = next(s for s in events if ready(s))
        assert [d["name"] for d in state_a["outputs"]] == [SHEET]
        folders_a = _folders(output)

        # The same content twice: A's save does not remove the pages C still shows.
        c = PreviewProcess(content_copy, output, *ONE_SHEET)
        others.append(c)
        state_c = c.wait_for(ready)
        new = _folders(output) - folders_a
        card = content_copy / "actions" / "adie.md"
        text = card.read_text(encoding="utf-8")
        card.write_text(text.replace("## Contexte\n", "## Contexte\n\nUne phrase.\n", 1), "utf-8")
        state_a = next(s for s in events if ready(s) and s["outputs"][0]["changed"])
        # C watches the same content: it shows the saved card too, whichever of the two
        # previews built it first (the other finds it up to date, and shows its new pages).
        state_c = c.wait_for(
            lambda s: ready(s) and s["outputs"][0]["pages"] == state_a["outputs"][0]["pages"]
        )
        assert set(_all_served(c, state_c)) == {200}, "A's save removed C's pages"
        assert set(_all_served(a, state_a)) == {200}
        (folder_c,) = new  # its own folder

        # C is killed: its folder stays until the next preview starts, which removes it.
        c.proc.send_signal(signal.SIGKILL)
        c.proc.wait(timeout=60)
        assert folder_c.is_dir()

        # Another edition into the same folder: A's pages stay; B shows #02's outputs only.
        b = PreviewProcess(second, output, "--only", "actions")
        others.append(b)
        state_b = b.wait_for(ready)
        assert not folder_c.exists()
        assert state_b["outputs"] and all(
            d["name"].startswith("retour-experience-02-") and d["edition"] == "retour-experience-02"
            for d in state_b["outputs"]
        ), state_b
        assert set(_all_served(b, state_b)) == {200}
        assert set(_all_served(a, state_a)) == {200}, "B's start removed A's pages"
        state_a = a.wait_for(ready)
        assert [(d["name"], d["edition"]) for d in state_a["outputs"]] == [
            (SHEET, "retour-experience-01")
        ]
        assert b.stop() == 0
        assert set(_all_served(a, state_a)) == {200}, "B's end removed A's pages"
    finally:
        for other in others:
            other.stop()
        assert a.stop() == 0
    assert _folders(output) == set()  # each preview removed its own folder
