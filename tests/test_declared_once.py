"""Each card field and section declared once (issue 19): the validation, the model, the
scaffold and the editors' guide follow model.CARD_FIELDS and model.CARD_SECTIONS."""

from __future__ import annotations

from livret.reading.model import SIDEBAR_FIELDS


def test_the_guides_field_table_is_the_declaration():
    """docs/content.md shows the card's fields as model.CARD_FIELDS declares them: print
    `livret.reading.model.guide_field_table()` and paste it there after a change."""
    from conftest import ROOT

    from livret.reading.model import guide_field_table

    guide = (ROOT / "docs" / "content.md").read_text(encoding="utf-8")
    assert guide_field_table() in guide, guide_field_table()
    # … and nowhere else does the guide list card fields in a table
    assert guide.count("| champ | intitulé imprimé | contenu |") == 1


def test_validation_model_and_scaffold_follow_the_declaration():
    import dataclasses

    from livret.reading.loader import ACTION_SPEC, SECTION_TITLES
    from livret.reading.model import CARD_FIELDS, CARD_SECTIONS, SIDEBAR_SUBFIELDS, Action
    from livret.reading.scaffold import action_template

    keys = [f.key for f in CARD_FIELDS]
    assert list(ACTION_SPEC) == keys
    assert {k for k, (_v, required) in ACTION_SPEC.items() if required} == {
        f.key for f in CARD_FIELDS if f.required
    }
    model = {f.name for f in dataclasses.fields(Action)}
    assert set(keys) <= model
    assert model - set(keys) == {"slug", "path", "sections", "shown"}
    assert list(SIDEBAR_FIELDS) == [f.key for f in CARD_FIELDS if f.label]
    assert SIDEBAR_SUBFIELDS == {f.key for f in CARD_FIELDS if f.sub}
    assert SECTION_TITLES == tuple(s.title for s in CARD_SECTIONS)
    card = action_template("mobilites")
    front, body = card.split("\n---\n")
    assert [line.split(":")[0] for line in front.split("\n")[1:] if line[:1].isalpha()] == [
        f.key for f in CARD_FIELDS if f.template is not None
    ]
    assert [line[3:] for line in body.split("\n") if line.startswith("## ")] == [
        s.title for s in CARD_SECTIONS if s.template is not None
    ]


def test_the_guide_lists_the_declared_section_titles():
    from conftest import ROOT

    from livret.reading.model import CARD_SECTIONS

    guide = (ROOT / "docs" / "content.md").read_text(encoding="utf-8")
    titles = ", ".join(s.title for s in CARD_SECTIONS if s.guide)
    assert f"| `## Titre` | une partie de la fiche | {titles} |" in guide
