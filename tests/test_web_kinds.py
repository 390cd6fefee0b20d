"""The output kinds are declared once (livret/building/outputs.py): a kind added to the registry
alone is offered by the command line, planned, ordered by the build and the preview, and left out
of the mail — no other module names it."""

from __future__ import annotations

import pytest
from conftest import CONTENT

from livret.building import outputs
from livret.building.outputs import KINDS, Kind, Output, plan
from livret.cli import parser, selection
from livret.mail.attachments import attachments_from_manifest
from livret.reading.loader import load_site

SITE = load_site(CONTENT)


class Extra(Kind):
    """A kind the rest of the code has never heard of: one output per theme."""

    name, template, only = "extra", "booklet.html", "extras"
    option, help = "--extra", "build this theme's extra (repeatable)"

    def slugs(self, site):
        return [t.slug for t in site.themes]

    def output(self, site, slug):
        return Output(self.name, slug, None, f"extra-{slug}.pdf", slug)

    def unknown(self, slug, valid):
        return f"no extra {slug}"


@pytest.fixture
def extra(monkeypatch):
    monkeypatch.setitem(KINDS, "extra", Extra())
    return KINDS["extra"]


def test_a_kind_declared_in_the_registry_alone_is_offered_and_planned(extra):
    args = parser().parse_args(["build", "--only", "extras"])
    sel = selection(args, SITE)
    assert sel == {
        "booklet": False,
        "themes": [],
        "actions": [],
        "epub": False,
        "web": False,
        "extras": [t.slug for t in SITE.themes],
    }
    assert [o.kind for o in plan(SITE, **sel)] == ["extra"] * len(SITE.themes)
    named = parser().parse_args(["build", "--extra", "mobilites"])
    assert selection(named, SITE)["extras"] == ["mobilites"]
    assert [o.filename for o in plan(SITE, **selection(named, SITE))] == ["extra-mobilites.pdf"]


def test_default_selection_comes_from_the_kinds():
    sel = selection(parser().parse_args(["build"]), SITE)
    themes = [t.slug for t in SITE.themes]
    assert sel == {"booklet": True, "themes": themes, "actions": [], "epub": True, "web": True}
    assert {k.only for k in KINDS.values() if k.default} == {"booklet", "themes", "epub", "web"}
    assert [k.name for k in KINDS.values() if k.imposable] == ["booklet", "theme"]
    assert min(KINDS.values(), key=lambda k: k.preview_rank).name == "action"


def test_mail_attaches_what_the_registry_allows(extra, tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-")
    entry = {"path": "a.pdf", "bytes": 5, "sha256": "0" * 64, "title": "A", "pages": 1}
    manifest = {
        "outputs": [
            {**entry, "kind": "extra", "theme": "mobilites"},
            {**entry, "kind": "theme", "theme": "mobilites"},
        ]
    }
    got = attachments_from_manifest(manifest, tmp_path, ["mobilites"])
    assert got["mobilites"].path == tmp_path / "a.pdf"
    assert extra.mail_slug({"theme": "mobilites"}) is None


def test_plan_refuses_a_keyword_no_kind_owns():
    with pytest.raises(TypeError):
        plan(SITE, brochures=True)


def test_a_kind_missing_from_an_order_sorts_last():
    assert outputs.RANK["imposition"] == len(KINDS)
