"""Shared fixtures: the real project, copies of its content to break, real builds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
SEED = Path(
    os.environ.get("LIVRET_SEED") or ROOT.parent / "shared" / "seeds" / "000_35e265126090b055.txt"
)


def seed_text() -> str:
    """The source text of edition #01. It lives outside the repository (../shared/seeds/, or
    $LIVRET_SEED): a clone without it skips the comparisons with the source — except in CI,
    which always has it, where its absence is a failure, not a silent skip."""
    if not SEED.is_file():
        why = f"source text not found at {SEED} (set LIVRET_SEED)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def content_copy(tmp_path) -> Path:
    """A private copy of content/ that a test may edit or break."""
    dst = tmp_path / "content"
    shutil.copytree(CONTENT, dst, ignore=shutil.ignore_patterns("recipients*.csv"))
    return dst


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The booklet and the three theme excerpts, built once for the whole session."""
    from livret.pipeline import run

    out = tmp_path_factory.mktemp("output")
    manifest, results = run(
        CONTENT, out, themes=["precarite-energetique", "precarite-alimentaire", "mobilites"]
    )
    return out, manifest, results


@pytest.fixture(autouse=True)
def _language(request, monkeypatch):
    """Messages in English for the tests that assert English msgids, in French (the default an
    editor gets) for the tests that ask for the `french` fixture; reset around each test."""
    from livret import i18n

    lang = "fr" if "french" in request.fixturenames else "en"
    monkeypatch.setenv("LIVRET_LANG", lang)
    i18n.set_language(None)
    yield
    i18n.set_language(None)


@pytest.fixture
def french():
    """The editor's default: messages in French (see _language)."""
    return "fr"
