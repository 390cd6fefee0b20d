"""Shared fixtures: the real project, copies of its content to break, real builds."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from livret.building import usercache

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
PRESS_THEME = "precarite-alimentaire"  # its press file has Notes pages


def _session_dir(tmp_path_factory) -> Path:
    """A folder shared by every worker of this test session (pytest-xdist), and only by them."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _locked_build(folder: Path, content: Path, **kwargs):
    """`run(content, folder, **kwargs)` under a lock shared by every worker: the first call
    builds, the next ones (other workers) wait for it and find every output up to date."""
    from livret.building.pipeline import run

    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        return run(content, folder, **kwargs)


def seed_fit_cache(out: Path, source: Path) -> None:
    """Give the output folder `out` the copyfitting decisions a session build keeps in
    `source` (an output folder): a build of the same cards into `out` then lays out only the
    cards those decisions do not cover. For tests of what a build makes, not of the fitting
    (tests/test_fit.py fits from scratch)."""
    from livret.building.pipeline import FIT_CACHE

    if (source / FIT_CACHE).is_dir():
        shutil.copytree(source / FIT_CACHE, out / FIT_CACHE, dirs_exist_ok=True)


def seed_build_cache(out: Path, source: Path) -> None:
    """Give `out` the whole cache a session build keeps in `source`: the fitting decisions
    and the booklet's folios (the folder beside them), so that an excerpt of the same booklet
    built into `out` lays out its own parts only, not the booklet's again. For tests of what
    is done with an excerpt (mailed, previewed), not of how it is laid out. Keys hold the
    HTML: what another content makes is never taken from it."""
    from livret.building.pipeline import FIT_CACHE

    cache = (source / FIT_CACHE).parent
    if cache.is_dir():
        shutil.copytree(cache, out / cache.relative_to(source), dirs_exist_ok=True)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The booklet and the three theme excerpts of CONTENT, built once for the whole session:
    the first worker that needs them builds them, the others wait for it and reuse them.
    Read-only: a test that changes outputs works on `built_copy`."""
    out = _session_dir(tmp_path_factory) / "built-output"
    manifest, results = _locked_build(out, CONTENT, themes=list(THEMES))
    return out, manifest, results


@pytest.fixture(scope="session")
def built_print(tmp_path_factory):
    """The press files (`--variant print`) of the booklet and the three excerpts, built once
    for the session like `built`. Read-only. The booklet first, then the excerpts, which
    find its cards' ways of filling spreads in the output folder's fitting cache (the same
    bytes as a build of all four at once, for less work)."""
    out = _session_dir(tmp_path_factory) / "built-print"
    _locked_build(out, CONTENT, themes=[], variant="print")
    manifest, results = _locked_build(out, CONTENT, themes=list(THEMES), variant="print")
    return out, manifest, results


@pytest.fixture(scope="session")
def session_build(tmp_path_factory):
    """`build(name, content=CONTENT, edit=None, fit_from=None, **run_kwargs)`: an output
    folder built once for the whole session, shared by the workers like `built`, for module
    fixtures that every worker would otherwise build again. `edit(folder)` changes a copy of
    `content` first (made once, at a path shared by the workers); `fit_from`, a session
    build's output folder, seeds the fitting cache. Read-only: (out, manifest, results)."""
    base = _session_dir(tmp_path_factory) / "session-builds"

    def build(name: str, content: Path = CONTENT, edit=None, fit_from: Path | None = None, **kw):
        folder = base / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "prepare.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if edit is not None:
                edited = folder / "content"
                if not edited.is_dir():
                    draft = folder / "content.draft"
                    shutil.rmtree(draft, ignore_errors=True)
                    shutil.copytree(content, draft, ignore=shutil.ignore_patterns("recip*"))
                    edit(draft)
                    draft.rename(edited)
                content = edited
            if fit_from is not None and not (folder / "out").exists():
                seed_fit_cache(folder / "out", fit_from)
        manifest, results = _locked_build(folder / "out", content, **kw)
        return folder / "out", manifest, results

    return build


@pytest.fixture(scope="session")
def press_excerpt(session_build):
    """The press file (`--variant print`) of one excerpt, built once for the session: cards
    fitted to spreads, covers, contents, opener, for the press checks of make test-fast
    (`built_print`, the whole edition's, is for make test). Read-only."""
    return session_build(
        "press-excerpt", booklet=False, themes=[PRESS_THEME], actions=[], variant="print"
    )


@pytest.fixture(scope="session")
def addressed_build(session_build, built):
    """The booklet and the press theme's excerpt with edition.yaml's web_address set
    (test_qr.with_address), built once for the session from `built`'s fitting decisions (the
    address changes the covers, not the cards): the QR code's excerpt, the equivalence
    check's booklet, veraPDF's addressed booklet. Read-only: (out, manifest, results); the
    edited content folder is out.with_name("content")."""
    from test_qr import with_address

    return session_build(
        "addressed-accessible", edit=with_address, fit_from=built[0], themes=[PRESS_THEME]
    )


@pytest.fixture(scope="session")
def all_sheets(session_build):
    """Every action's sheet, built once for the session (the command line's --only actions
    in tests/test_outputs.py, veraPDF's in tests/test_conformance.py). Read-only."""
    from livret.reading.loader import load_site

    slugs = [a.slug for a in load_site(CONTENT).actions]
    return session_build("sheets", booklet=False, themes=[], actions=slugs)


@pytest.fixture
def built_copy(built, tmp_path) -> Path:
    """A private copy of the built output folder: what content/ (or a fresh content_copy,
    whose files are the same) builds, up to date, for a test to rebuild or break."""
    dst = tmp_path / "out"
    shutil.copytree(built[0], dst)
    return dst


# pytest-xdist --dist loadgroup: each test runs in one group, so that what a group sets up
# once is set up once. The tests of a file: on one worker, which sets up the file's module
# fixtures (a build, a preview server) once. The press builds' tests: on one worker, which
# builds them while the others go on (the booklet's press file alone keeps one core busy for
# long: a worker waiting for it would leave the other idle). `built` is shared by a lock: its
# build keeps both cores busy, so a worker that waits for it wastes nothing.
# Groups go out in the order of the collection (make: --no-loadscope-reorder), which this hook
# sorts, longest first, so that the last groups are short and no worker ends alone: the press
# builds' first, then by the seconds each group took in a whole `make test`
# (tests/group_seconds.json: only the order depends on it, refreshed by hand when it drifts),
# a group it does not know counted as 10 s when long (a browser, Java, a wheel or a killed
# process: the markers of make test-fast), else 0.2 s a test.
SESSION_GROUPS = {"built_print": "print", "press_excerpt": "print", "press_pdfs": "print"}
LONG = ("slow", "java", "browser")
GROUP_SECONDS = json.loads((Path(__file__).with_name("group_seconds.json")).read_text("utf-8"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items):
    groups: dict[str, list] = {}
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is not None:  # a group of its own (veraPDF's)
            group = str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))
        else:
            names = set(getattr(item, "fixturenames", ()))
            group = next((g for f, g in SESSION_GROUPS.items() if f in names), item.path.stem)
            item.add_marker(pytest.mark.xdist_group(group))
        groups.setdefault(group, []).append(item)

    def rank(group: str) -> tuple[bool, float]:
        members = groups[group]
        long = any(item.get_closest_marker(m) for item in members for m in LONG)
        guess = 10.0 if long else 0.2 * len(members)  # a group the file does not know yet
        return group != "print", -GROUP_SECONDS.get(group, guess)

    items[:] = [item for group in sorted(groups, key=rank) for item in groups[group]]


# The user's cache (livret/building/usercache.py) in the tests: what depends only on files
# outside the tests (the web edition's font subsets, veraPDF's compiled harness) is the real
# one, kept from session to session. The rest (copyfitting decisions, page numbers, the
# parts of a book written: livret/rendering/partcache.py) starts empty at each session, then
# is shared by every test and worker, as the user's cache is shared by every build of an
# editor's machine: an entry is the same bytes whoever computed it (its key holds all that
# shapes it; tests/test_partcache.py, test_compose.py). A test that must not find what ran
# before it in the cache asks for `fresh_user_cache`: one that counts what a build lays out
# or tests the cache itself, one that needs layouts made apart (two processes' bytes, the warm
# workers against a build). (A watch or a preview keeps its parts in memory from its first
# build on: what it finds in the cache changes none of its races.)
KEPT_CACHES = {name: usercache.folder(name) for name in ("web-fonts", "verapdf")}  # the real


def user_cache(where: Path) -> Path:
    """`where` made a user's cache (XDG_CACHE_HOME) whose KEPT_CACHES are the real ones."""
    for name, real in KEPT_CACHES.items():
        real.mkdir(parents=True, exist_ok=True)
        (where / "livret").mkdir(parents=True, exist_ok=True)
        try:
            (where / "livret" / name).symlink_to(real, target_is_directory=True)
        except FileExistsError:  # the session's: made by another worker
            pass
    return where


@pytest.fixture(scope="session", autouse=True)
def session_user_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(user_cache(_session_dir(tmp_path_factory) / "cache")))
        yield


@pytest.fixture
def fresh_user_cache(tmp_path_factory):
    """An empty user's cache for this test (see KEPT_CACHES)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(user_cache(tmp_path_factory.mktemp("user-cache"))))
        yield


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
