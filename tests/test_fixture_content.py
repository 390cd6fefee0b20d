"""The tests' content is edition #01 frozen in tests/fixtures/edition-01/ (issue 19, "Tests"):
an editor's edit of the live content/ (a new card, a changed title) breaks no test. Only the
fidelity tests (tests/test_fidelity_*.py) read the live content/, to compare it with the
source text."""

from __future__ import annotations

import re

from conftest import CONTENT, LIVE_CONTENT, ROOT

# Ways a test could name the live content folder.
LIVE = re.compile(r"LIVE_CONTENT|(?:ROOT|REPO|parent)\s*/\s*[\"']content[\"']")


def test_only_the_fidelity_tests_read_the_live_content():
    readers = sorted(
        path.name
        for path in (ROOT / "tests").glob("*.py")
        if LIVE.search(path.read_text(encoding="utf-8"))
    )
    allowed = {"conftest.py", "test_fixture_content.py"}
    assert [n for n in readers if n not in allowed and not n.startswith("test_fidelity_")] == []
    assert any(n.startswith("test_fidelity_") for n in readers)


def test_the_fixture_is_edition_01_apart_from_the_live_content():
    assert CONTENT != LIVE_CONTENT and not CONTENT.is_relative_to(LIVE_CONTENT)
    assert CONTENT.relative_to(ROOT).as_posix() == "tests/fixtures/edition-01/content"
    assert (CONTENT / "edition.yaml").is_file()
    assert len(list((CONTENT / "actions").glob("*.md"))) == 10
