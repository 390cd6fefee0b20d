"""Warm workers (kept across saves, collector paused during renders) print the same bytes as a
normal build."""

from __future__ import annotations

import gc
import traceback

from conftest import CONTENT

from livret.loader import load_site
from livret.pipeline import run
from livret.preview.renderer import WarmPool
from livret.preview.server import ORDER

THEME = "mobilites"


def test_warm_workers_print_the_same_bytes_as_a_build(built, tmp_path):
    out, _, results = built
    expected = {r.path.name: r.sha256 for r in results}
    fresh = tmp_path / "fresh"
    _, sheet = run(CONTENT, fresh, booklet=False, actions=["adie"])
    expected.update({r.path.name: r.sha256 for r in sheet})

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
                order=ORDER,
            )
            assert [r.status for r in got] == ["built", "built"]
            for r in got:
                assert r.sha256 == expected[r.path.name], r.path.name


def test_the_collector_is_paused_only_during_a_render():
    from livret.outputs import plan
    from livret.pdf import Printer
    from livret.render import render_html

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
