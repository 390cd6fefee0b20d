"""Shared fixtures: the real project, copies of its content to break, real builds."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

# The mail tests' fixtures (a real SMTP server, fake outputs): one plugin for every test file.
pytest.register_assert_rewrite("conftest_mail")
pytest_plugins = ["conftest_mail"]

ROOT = Path(__file__).resolve().parent.parent
# The fixture: edition #01 frozen as it was (a copy of content/), so that an editor's edit of
# the live content/ breaks no test. Only the fidelity tests (tests/test_fidelity_*.py) read
# the live content/ too, to compare it with the source text.
CONTENT = ROOT / "tests" / "fixtures" / "edition-01" / "content"
LIVE_CONTENT = ROOT / "content"
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
    """A private copy of the frozen edition #01 (CONTENT) that a test may edit or break."""
    dst = tmp_path / "content"
    shutil.copytree(CONTENT, dst, ignore=shutil.ignore_patterns("recipients*.csv"))
    return dst


THEMES = ("precarite-energetique", "precarite-alimentaire", "mobilites")


def _session_dir(tmp_path_factory) -> Path:
    """A folder shared by every worker of this test session (pytest-xdist), and only by them."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The booklet and the three theme excerpts of CONTENT, built once for the whole session:
    the first worker that needs them builds them, the others wait for it and reuse them.
    Read-only: a test that changes outputs works on `built_copy`."""
    from livret.pipeline import run

    out = _session_dir(tmp_path_factory) / "built-output"
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        # The first call builds; the next ones find every output up to date.
        manifest, results = run(CONTENT, out, themes=list(THEMES))
    return out, manifest, results


@pytest.fixture(scope="session")
def built_print(tmp_path_factory):
    """The press files (`--variant print`) of the booklet and the three excerpts, built once
    for the session like `built`. Read-only."""
    from livret.pipeline import run

    out = _session_dir(tmp_path_factory) / "built-print"
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest, results = run(CONTENT, out, themes=list(THEMES), variant="print")
    return out, manifest, results


@pytest.fixture
def built_copy(built, tmp_path) -> Path:
    """A private copy of the built output folder: what content/ (or a fresh content_copy,
    whose files are the same) builds, up to date, for a test to rebuild or break."""
    dst = tmp_path / "out"
    shutil.copytree(built[0], dst)
    return dst


def pytest_collection_modifyitems(items):
    # pytest-xdist --dist loadgroup: the tests of the session build run on one worker, which
    # builds once while the other workers run everything else.
    for item in items:
        if {"built", "built_print"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("built"))


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
