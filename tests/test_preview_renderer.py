"""Warm workers (kept across saves, collector paused during renders) print the same bytes as a
normal build."""

from __future__ import annotations

import gc
import os
import traceback

import pytest
from conftest import CONTENT, seed_fit_cache

from livret.building.pipeline import run
from livret.preview.renderer import WarmPool
from livret.preview.server import preview_order
from livret.reading.loader import load_site

THEME = "mobilites"


@pytest.mark.slow  # the booklet and excerpts rendered twice again by warm workers
def test_warm_workers_print_the_same_bytes_as_a_build(
    built, all_sheets, tmp_path, fresh_user_cache
):
    # An empty user's cache: the workers lay every part out again, as the build did.
    out, _, results = built
    expected = {r.path.name: r.sha256 for r in [*results, *all_sheets[2]]}

    site = load_site(CONTENT)
    warm = tmp_path / "warm"
    with WarmPool(CONTENT, jobs=2) as pool:
        for _round in range(2):  # the second time, the same workers render again
            _, got = run(
                CONTENT,
                warm,
                site=site,
                booklet=False,
                themes=[THEME],
                actions=["adie"],
                force=True,
                pool=pool.get(site),
                order=preview_order(),
            )
            assert [r.status for r in got] == ["built", "built"]
            for r in got:
                assert r.sha256 == expected[r.path.name], r.path.name


def test_the_collector_is_paused_only_during_a_render():
    from livret.building.outputs import plan
    from livret.rendering.pdf import Printer
    from livret.rendering.render import render_html

    site = load_site(CONTENT)
    (sheet,) = plan(site, booklet=False, actions=["adie"])
    html = render_html(site, sheet)
    printer = Printer(CONTENT)
    inside_weasyprint = []

    def record(phase, info):  # where each collection starts: inside WeasyPrint's work or not
        if phase == "start":
            frames = traceback.extract_stack()
            inside_weasyprint.append(any("/weasyprint/" in f.filename for f in frames))

    gc.callbacks.append(record)
    try:
        assert gc.isenabled()
        printer.render(html)
        assert gc.isenabled()
        gc.collect()  # enabled again: the render's garbage goes
    finally:
        gc.callbacks.remove(record)
    assert inside_weasyprint and not any(inside_weasyprint)


# --- a worker frees a task's garbage once idle (memory flat over the saves) ------------------

_KEPT: dict = {}


class _Node:
    def __init__(self, other=None):
        self.other = other


def _leave_garbage() -> int:
    """Like a render: many objects in reference cycles, made with the collector paused and
    still alive at a collection (so they reach the oldest generation), then dropped."""
    import weakref

    gc.disable()
    nodes = []
    for _ in range(100_000):
        a = _Node()
        a.other = _Node(a)
        nodes.append(a)
    gc.enable()
    gc.collect()  # alive: moved to the oldest generation, which only a full collection frees
    _KEPT["probe"] = weakref.ref(nodes[0])
    del nodes, a
    return os.getpid()


def _garbage_gone() -> tuple[int, bool]:
    return os.getpid(), _KEPT["probe"]() is None


def test_a_worker_collects_the_garbage_of_a_task_once_idle(tmp_path):
    import time

    with WarmPool(CONTENT, jobs=1) as pool:
        executor = pool.get(load_site(CONTENT))
        worker = executor.submit(_leave_garbage).result(timeout=120)
        # Without the tidy thread, the cycles live until the next full collection, which a
        # few small tasks do not bring about.
        deadline = time.monotonic() + 30
        while True:
            pid, gone = executor.submit(_garbage_gone).result(timeout=30)
            assert pid == worker
            if gone or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # idle time, in which the worker collects
        assert gone


@pytest.mark.slow  # an excerpt built again, edited
def test_page_keys_change_only_for_the_pages_an_edit_changed(built, content_copy, tmp_path):
    """A page's key ignores what differs between two renders of the same page (object numbers,
    font subset tags, which change with any text of the document): after an edit of one card,
    the other cards' pages keep their keys, and so their images."""
    from livret.preview.pages import page_keys

    out, _, _ = built
    pdf = f"retour-experience-01-{THEME}.pdf"
    card = content_copy / "actions" / "adie.md"
    text = card.read_text(encoding="utf-8")
    card.write_text(text.replace("## Contexte\n", "## Contexte\n\nUne phrase de plus.\n", 1))
    seed_fit_cache(tmp_path / "edited", out)  # the cards not edited: fitted as in `built`
    run(content_copy, tmp_path / "edited", booklet=False, themes=[THEME])

    before, after = page_keys(out / pdf), page_keys(tmp_path / "edited" / pdf)
    assert len(set(before)) == len(before)  # one key per distinct page
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b]
    assert changed, "the edited card's page has a new key"
    assert len(changed) < len(before) // 2, changed
    assert page_keys(out / pdf) == before  # the same file, the same keys


# --- issue 19: one owner of the render caches; the order from the output kinds -----------------


def test_one_call_forgets_what_the_process_made_of_the_design(tmp_path):
    """WarmPool.saved: a layout or a stylesheet saved drops every cache made from the design
    (the same call for watch and preview); a saved card keeps them."""
    from livret.building import pipeline
    from livret.reading import markup
    from livret.rendering import design, render

    pool = WarmPool(CONTENT, jobs=1)
    layouts = design.for_content(CONTENT).layouts
    render.environment.cache_clear()  # what other tests of this worker left (the web's layouts)
    render.environment(tuple(layouts))
    markup.block("Un *mot*.")
    pipeline.PROCESS.root, pipeline.PROCESS.printer = "x", object()  # as a render leaves it

    assert pool.saved([str(CONTENT / "actions" / "adie.md")]) is False
    assert render.environment.cache_info().currsize == 1
    layout = next(p for p in design.for_content(CONTENT).files().values() if p.suffix == ".html")
    assert pool.saved([str(layout)]) is True
    assert render.environment.cache_info().currsize == 0
    assert markup.block.cache_info().currsize == 0
    assert design.for_project.cache_info().currsize == 0
    assert pipeline.PROCESS.printer is None and not pipeline.PROCESS.ready("x")


def test_the_preview_ranks_every_output_kind(content_copy, tmp_path):
    """The preview's order comes from the kinds (the edited card's sheet first), and a kind
    that no order ranks is built last instead of failing with KeyError."""
    from livret.building.outputs import KINDS

    order = preview_order()
    assert set(order) == set(KINDS)
    assert min(order, key=order.get) == "action"
    _, results = run(
        content_copy,
        tmp_path / "out",
        booklet=False,
        themes=[],
        actions=["adie"],
        jobs=1,
        order={"booklet": 0},  # no rank for "action"
    )
    assert [r.status for r in results] == ["built"]
