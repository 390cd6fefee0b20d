"""A rebuild with nothing to do: every output « up to date », checked as fully as ever, and
fast because it imports only what it needs (issue 21; the timing is in benchmarks/, figure 4
of bench_build.py). What the content checks computed is kept in the output folder
(livret/reading/memo.py): kept or not, the same content gives the same site and the same
problems."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import CONTENT, ROOT
from PIL import Image

from livret.errors import LivretError
from livret.reading.loader import load_site
from livret.reading.memo import CACHE, _digest

# What only making an output needs (rendering, the EPUB, the web pages, the summary table),
# or only reading and checking content that changed since the last build.
NOT_NEEDED = (
    "weasyprint",
    "pikepdf",
    "lxml",
    "PIL",
    "jinja2",
    "segno",
    "markdown",
    "email_validator",
    "yaml",
    "rich",
    "livret.rendering.render",
    "livret.building.web.pages",
    "livret.building.epub.content",
)


def _imported(stderr: str) -> set[str]:
    """The modules a `python -X importtime` run imported."""
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.M))


def _no_op(content, out) -> tuple[dict, set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "build.py"), "--content", str(content)]
        + ["--output", str(out), "--only", "booklet", "--only", "themes", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout), _imported(done.stderr)


def test_a_rebuild_with_nothing_to_do_imports_only_what_it_needs(built_copy):
    # The outputs of CONTENT, up to date (built by the pipeline, without the checks' cache).
    first, _ = _no_op(CONTENT, built_copy)
    assert {o["status"] for o in first["outputs"]} == {"up to date"}
    assert len(first["outputs"]) == 4  # the booklet and the three excerpts
    assert (built_copy / CACHE).is_file()

    again, modules = _no_op(CONTENT, built_copy)
    assert [(o["path"], o["status"]) for o in again["outputs"]] == [
        (o["path"], "up to date") for o in first["outputs"]
    ]
    # it did run
    assert "livret.reading.loader" in modules and "livret.building.pipeline" in modules
    imported = sorted(m for m in modules if m.split(".")[0] in NOT_NEEDED or m in NOT_NEEDED)
    assert imported == [], f"imported on a rebuild with nothing to do: {imported}"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 20)).save(out, "PNG")
    return out.getvalue()


CARD = "actions/adie.md"


def test_kept_results_give_the_same_site(content_copy, tmp_path):
    (content_copy / "images").mkdir()
    (content_copy / "images/velo.png").write_bytes(_png())
    with open(content_copy / CARD, "a", encoding="utf-8") as fh:
        fh.write("\n![Un vélo](images/velo.png)\n\nÉcrire à [l'Adie](mailto:contact@adie.org).\n")
    cache = tmp_path / "out" / CACHE

    cold = load_site(content_copy, cache=cache)
    kept = json.loads(cache.read_text(encoding="utf-8"))["entries"]
    assert len(kept) > 20  # YAML texts, Markdown texts, addresses, the picture
    warm = load_site(content_copy, cache=cache)
    assert warm == cold
    assert (warm.digests, warm.images, warm.warnings) == (cold.digests, cold.images, cold.warnings)
    assert warm.images  # the picture, found in the card's kept HTML
    assert json.loads(cache.read_text(encoding="utf-8"))["entries"] == kept  # nothing new


def test_kept_results_hide_no_problem(content_copy, tmp_path):
    """Every problem of the content is found whether or not the last build kept its checks'
    results: only what passed is kept, and every check runs again on what is kept."""
    (content_copy / "images").mkdir()
    picture = content_copy / "images/velo.png"
    picture.write_bytes(_png())
    card = content_copy / CARD
    card.write_text(card.read_text("utf-8") + "\n![Un vélo](images/velo.png)\n", "utf-8")
    theme = content_copy / "themes/mobilites.yaml"  # adie's theme
    text = theme.read_text(encoding="utf-8")
    text = text.replace("notions:\n", 'notions:\n  - "Voir [l\'Adie](#action-adie)"\n')
    theme.write_text(text, encoding="utf-8")
    cache = tmp_path / "out" / CACHE
    load_site(content_copy, cache=cache)  # all fine: every result kept

    # Broken since, each in a way that leaves the texts at fault as they were:
    picture.write_bytes(picture.read_bytes()[:-30])  # the card shows a damaged picture
    # adie leaves the theme, whose notion still links to it
    theme.write_text(text.replace("[apfe, adie, gas-18", "[apfe, gas-18"), encoding="utf-8")
    edition = content_copy / "edition.yaml"
    text = edition.read_text(encoding="utf-8")
    edition.write_text(re.sub(r"contact_email: .*", "contact_email: a..b@example.org", text))

    with pytest.raises(LivretError) as cold:
        load_site(content_copy)
    with pytest.raises(LivretError) as warm:
        load_site(content_copy, cache=cache)
    assert warm.value.problems == cold.value.problems
    said = "\n".join(str(p) for p in warm.value.errors)
    for words in ("velo.png", "#action-adie", "contact_email", "in no theme"):
        assert words in said, said


@pytest.mark.parametrize("damage", ["garbage", "foreign", "wrong-values", "one-changed"], ids=str)
def test_a_damaged_cache_counts_as_empty(content_copy, tmp_path, damage):
    cache = tmp_path / "out" / CACHE
    cold = load_site(content_copy, cache=cache)
    kept = json.loads(cache.read_text(encoding="utf-8"))
    entries = kept["entries"]
    if damage == "garbage":
        cache.write_bytes(b"not json")
    elif damage == "foreign":
        cache.write_text(json.dumps({"entries": {"x": 1}}))
    elif damage == "wrong-values":  # our form, each value swapped for one the checks did not say
        values = dict.fromkeys(entries, "[1, 2]")
        cache.write_text(json.dumps({**kept, "entries": values, "sha256": _digest(values)}))
    else:  # a title changed in a kept YAML text: its sha256 no longer matches
        key, value = next((k, v) for k, v in entries.items() if '"title": "' in v)
        entries[key] = value.replace('"title": "', '"title": "X', 1)
        cache.write_text(json.dumps(kept, ensure_ascii=False, sort_keys=True))
    again = load_site(content_copy, cache=cache)
    assert again == cold
    assert again.warnings == cold.warnings


def test_the_cache_follows_the_content(content_copy, tmp_path):
    """Only what a build used is written back: results of texts since removed go."""
    cache = tmp_path / "out" / CACHE
    load_site(content_copy, cache=cache)
    before = set(json.loads(cache.read_text(encoding="utf-8"))["entries"])
    card = content_copy / CARD
    text = card.read_text(encoding="utf-8")
    card.write_text(text.replace("\ntheme: mobilites\n", "\ntheme:  mobilites\n"), "utf-8")
    load_site(content_copy, cache=cache)
    after = set(json.loads(cache.read_text(encoding="utf-8"))["entries"])
    assert before - after and after - before  # the card's old front matter out, the new in
    assert len(after) == len(before)
    shutil.rmtree(tmp_path / "out")
    load_site(content_copy, cache=cache)  # the folder made again when missing
    assert cache.is_file()
