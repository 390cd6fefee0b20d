"""Bad content: every mistake is reported with its file, line and field, all at once, and
`livret check` exits 1 without a traceback.

Each test edits a private copy of content/ (`content_copy`) and runs from its parent folder,
so that problems read `content/actions/adie.md:11: contact.emails no. 1: …`, exactly as a
person at the project root would see them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livret.cli import main
from livret.errors import LivretError, Problem
from livret.reading.loader import load_site

# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _run_beside_content(content_copy, monkeypatch):
    """Work from the folder holding the copy: problems show `content/…` paths."""
    monkeypatch.chdir(content_copy.parent)


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must occur exactly once) by `new` in a UTF-8 file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: {old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, fragment: str) -> int:
    """1-based line of the only line containing `fragment` (guards the hard-coded lines)."""
    hits = [
        n
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
        if fragment in line
    ]
    assert len(hits) == 1, f"{path.name}: {fragment!r} on lines {hits}"
    return hits[0]


def problems_of(root: Path) -> list[Problem]:
    """Every problem load_site() reports; the content must be refused."""
    with pytest.raises(LivretError) as info:
        load_site(root)
    assert info.value.errors, "LivretError without any error"
    return info.value.problems


def check(root: Path, capsys) -> tuple[int, str, str]:
    """`livret check --content ROOT` → (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    rc = main(["check", "--content", str(root)])
    out, err = capsys.readouterr()
    return rc, out, err


def one(problems: list[Problem], path: str, line: int | None, field: str | None) -> Problem:
    """The single problem at exactly this file, line and field."""
    hits = [p for p in problems if (p.path, p.line, p.field) == (path, line, field)]
    assert len(hits) == 1, (
        f"expected one problem at {path}:{line} field {field!r}, got:\n"
        + "\n".join(map(str, problems))
    )
    assert hits[0].severity == "error"
    return hits[0]


def assert_refused(root: Path, capsys, expected: list[str], exact: bool = False) -> list[Problem]:
    """load_site() reports each expected line (str(problem), i.e. `path:line: field: message`)
    and the CLI prints them all on stderr, exits 1, prints no traceback and no "OK".
    With exact=True the errors are exactly the expected ones (nothing spurious)."""
    problems = problems_of(root)
    shown = [str(p) for p in problems]
    for line in expected:
        assert line in shown, f"missing {line!r}; reported:\n" + "\n".join(shown)
    if exact:
        assert sorted(str(p) for p in problems if p.severity == "error") == sorted(expected)
    rc, out, err = check(root, capsys)
    assert rc == 1
    assert "Traceback" not in err
    assert "OK" not in out
    err_lines = err.splitlines()
    for line in shown:
        assert line in err_lines, f"CLI did not print {line!r}; stderr:\n{err}"
    n = sum(p.severity == "error" for p in problems)
    assert err_lines[-1] == f"livret: {n} error{'s' if n != 1 else ''}"
    return problems


ADIE = "content/actions/adie.md"
MOBILITES = "content/themes/mobilites.yaml"
EDITION = "content/edition.yaml"


# --- the clean copy -------------------------------------------------------------------------


def test_clean_copy_is_ok(content_copy, capsys):
    rc, out, err = check(content_copy, capsys)
    assert rc == 0
    assert err == ""
    assert out.strip() == f"{content_copy}: OK — 3 themes, 10 actions, 16 files"


# --- unreadable files ------------------------------------------------------------------------


def test_malformed_yaml_in_theme_flow_list_extra_bracket(content_copy, capsys):
    path = content_copy / "themes/mobilites.yaml"
    edit(path, "mde-marseille]", "mde-marseille]]")
    assert line_of(path, "actions:") == 3
    problems = assert_refused(content_copy, capsys, [])
    p = one(problems, MOBILITES, 3, None)
    assert p.message.startswith("a « ] » or « } » closes nothing on this line")


def test_malformed_yaml_in_theme_unclosed_flow_list(content_copy, capsys):
    # The list opened on line 3 is never closed; YAML notices it on line 4 ("notions:"),
    # but the line to fix is the one where the list opens.
    path = content_copy / "themes/mobilites.yaml"
    edit(path, "mde-marseille]", "mde-marseille")
    assert line_of(path, "notions:") == 4
    problems = assert_refused(content_copy, capsys, [])
    p = one(problems, MOBILITES, 3, None)
    assert p.message.startswith("a list written between [ ] is not closed")


@pytest.mark.parametrize(
    "old, new, line, fixed",
    [
        (
            "place: Sur toute la France",
            "place: Sur: toute la France",
            5,
            'place: "Sur: toute la France"',
        ),
        ("  - 27 665 €", "  - 27 665 €: a: b", 35, '- "27 665 €: a: b"'),
    ],
)
def test_malformed_yaml_in_front_matter_counts_the_opening_dashes(
    content_copy, capsys, old, new, line, fixed
):
    path = content_copy / "actions/adie.md"
    edit(path, old, new)
    assert line_of(path, new) == line  # the file's line, the opening `---` being line 1
    problems = assert_refused(
        content_copy,
        capsys,
        [
            f"{ADIE}:{line}: the text contains « : », which YAML reads as the start of a "
            f"field: put the whole text in double quotes: {fixed}"
        ],
        exact=True,
    )
    assert problems[0].line == line


def test_markdown_without_front_matter(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.split("---\n", 2)[2], encoding="utf-8")  # body only
    problems = assert_refused(content_copy, capsys, [], exact=False)
    p = one(problems, ADIE, 1, None)
    assert p.message.startswith("no front matter: the file must start with a line '---'")
    assert len([q for q in problems if q.severity == "error"]) == 1


def test_front_matter_not_closed(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    text = path.read_text(encoding="utf-8")
    head, sep, body = text.partition("\n---\n")
    path.write_text(head + "\n" + body, encoding="utf-8")  # closing line removed
    assert_refused(
        content_copy,
        capsys,
        [f"{ADIE}:1: front matter is not closed: add a line '---' after the fields"],
        exact=True,
    )


def test_non_utf8_file_reports_the_line_of_the_bad_byte(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    bad = 42  # "Nous constatons … ciblés par l'Adie" — its first non-ASCII letter is é
    assert lines[bad - 1].startswith("Nous constatons")
    data = b"\n".join(
        line.encode("latin-1") if n == bad else line.encode("utf-8")
        for n, line in enumerate(lines, 1)
    )
    path.write_bytes(data)
    assert_refused(
        content_copy,
        capsys,
        [f"{ADIE}:{bad}: not UTF-8 (byte 0xe9); save the file as UTF-8"],
        exact=True,
    )


# --- fields ----------------------------------------------------------------------------------


def test_missing_required_field(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "organisation: ADIE Occitanie\n", "")
    # No line holds a missing field: it is reported at the front matter's first line.
    assert_refused(
        content_copy,
        capsys,
        [f"{ADIE}:2: organisation: required field is missing in the card's front matter"],
        exact=True,
    )


def test_list_field_given_a_string(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    text = path.read_text(encoding="utf-8")
    start = text.index("partners:\n")
    end = text.index("publics_direct:")
    path.write_text(text[:start] + 'partners: "a string"\n' + text[end:], encoding="utf-8")
    assert line_of(path, "partners:") == 12
    assert_refused(
        content_copy,
        capsys,
        [
            f"{ADIE}:12: partners: expected a list: put each item on a line of its own under "
            "« partners: », starting with « - » (for example « - a string »)"
        ],
        exact=True,
    )


def test_number_given_as_text(content_copy, capsys):
    edit(content_copy / "edition.yaml", "number: 1", 'number: "un"')
    assert_refused(
        content_copy,
        capsys,
        [f"{EDITION}:2: number: expected a whole number ≥ 1, got 'un'"],
        exact=True,
    )


@pytest.mark.parametrize("value", ["2023-13-45", "27 novembre 2023"])
def test_bad_date_in_edition(content_copy, capsys, value):
    edit(content_copy / "edition.yaml", "date: 2023-11-27", f"date: {value}")
    assert_refused(
        content_copy,
        capsys,
        [f'{EDITION}:3: date: "{value}" is not a date: expected YYYY-MM-DD'],
        exact=True,
    )


def test_bad_colour(content_copy, capsys):
    edit(content_copy / "themes/mobilites.yaml", '"#1d5ea8"', '"#12345"')
    problems = assert_refused(
        content_copy,
        capsys,
        [f'{MOBILITES}:2: colour: "#12345" is not a colour: expected "#rrggbb"'],
    )
    one(problems, MOBILITES, 2, "colour")


def test_invalid_email_in_contact(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "[yjarland@adie.org,", "[yjarland@adie,")
    assert line_of(content_copy / "actions/adie.md", "yjarland@adie,") == 11
    assert_refused(
        content_copy,
        capsys,
        [f'{ADIE}:11: contact.emails no. 1: "yjarland@adie" is not an e-mail address'],
        exact=True,
    )


def test_invalid_email_in_block_list_points_at_its_item(content_copy, capsys):
    edit(
        content_copy / "actions/adie.md",
        "  emails: [yjarland@adie.org, einguenaud@adie.org]",
        "  emails:\n    - yjarland@adie.org\n    - einguenaud@adie",
    )
    assert_refused(
        content_copy,
        capsys,
        [f'{ADIE}:13: contact.emails no. 2: "einguenaud@adie" is not an e-mail address'],
        exact=True,
    )


def test_unknown_front_matter_key_is_an_error_with_a_hint(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "partners:", "partner:")
    problems = assert_refused(content_copy, capsys, [], exact=False)
    p = one(problems, ADIE, 12, "partner")
    assert p.severity == "error"  # by design: a misspelt key would silently drop facts
    assert p.message.startswith(
        'unknown field in the card\'s front matter (did you mean "partners"?); expected one of: '
    )
    assert len([q for q in problems if q.severity == "error"]) == 1


def test_unknown_front_matter_key_without_close_match_has_no_hint(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "partners:", "partenaires:")
    problems = assert_refused(content_copy, capsys, [], exact=False)
    p = one(problems, ADIE, 12, "partenaires")
    assert p.severity == "error"
    assert "did you mean" not in p.message
    assert p.message.startswith("unknown field in the card's front matter; expected one of: ")
    assert "partners" in p.message


def test_key_given_twice(content_copy, capsys):
    edit(
        content_copy / "actions/adie.md",
        "date: Depuis 2023\n",
        "date: Depuis 2023\nplace: Ailleurs\n",
    )
    problems = assert_refused(
        content_copy, capsys, [f"{ADIE}:7: place: field given twice: keep one"]
    )
    one(problems, ADIE, 7, "place")


# --- cross-references ------------------------------------------------------------------------


def test_unknown_theme_slug_in_action(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "theme: mobilites", "theme: transports")
    problems = assert_refused(
        content_copy,
        capsys,
        [
            f'{ADIE}:4: theme: unknown theme slug "transports" '
            "(themes: mobilites, precarite-alimentaire, precarite-energetique)"
        ],
    )
    assert all(p.path == ADIE and p.line == 4 and p.field == "theme" for p in problems)


def test_theme_lists_an_action_that_does_not_exist(content_copy, capsys):
    edit(content_copy / "themes/mobilites.yaml", "mde-marseille]", "mde-marseille, velo]")
    problems = assert_refused(content_copy, capsys, [], exact=False)
    p = one(problems, MOBILITES, 3, "actions.4")
    assert p.message.startswith('unknown action "velo": no file actions/velo.md (actions: ')
    assert len(problems) == 1


def test_unknown_action_in_indented_block_list_points_at_its_item(content_copy, capsys):
    path = content_copy / "themes/precarite-energetique.yaml"
    edit(
        path,
        "actions: [adil-31, sos-taudis, cd41]",
        "actions:\n  - adil-31\n  - sos-taudis\n  - cd41\n  - velo",
    )
    assert line_of(path, "- velo") == 7
    problems = assert_refused(content_copy, capsys, [], exact=False)
    one(problems, "content/themes/precarite-energetique.yaml", 7, "actions.3")
    assert len(problems) == 1


def test_unknown_action_in_unindented_block_list_points_at_its_item(content_copy, capsys):
    path = content_copy / "themes/precarite-energetique.yaml"
    edit(
        path,
        "actions: [adil-31, sos-taudis, cd41]",
        "actions:\n- adil-31\n- sos-taudis\n- cd41\n- velo",
    )
    assert line_of(path, "- velo") == 7
    problems = problems_of(content_copy)
    one(problems, "content/themes/precarite-energetique.yaml", 7, "actions.3")


def test_action_in_no_theme(content_copy, capsys):
    text = (content_copy / "actions/apfe.md").read_text(encoding="utf-8")
    (content_copy / "actions/orpheline.md").write_text(
        text.replace("title: Ateliers et Chantiers", "title: Un atelier orphelin"), encoding="utf-8"
    )
    # A valid card that no theme lists: reported at its theme: line.
    assert_refused(
        content_copy,
        capsys,
        [
            'content/actions/orpheline.md:4: theme: the action is in no theme: add "orpheline" '
            "to actions in themes/mobilites.yaml"
        ],
        exact=True,
    )


def test_same_action_twice_in_one_theme(content_copy, capsys):
    edit(content_copy / "themes/mobilites.yaml", "mde-marseille]", "mde-marseille, adie]")
    problems = assert_refused(
        content_copy, capsys, [f'{MOBILITES}:3: actions no. 5: duplicate slug "adie"']
    )
    # (the cross-check adds a second line at the same place: 'already in theme "mobilites"')
    assert all((p.path, p.line, p.field) == (MOBILITES, 3, "actions.4") for p in problems)


def test_same_action_in_two_themes(content_copy, capsys):
    edit(
        content_copy / "themes/precarite-alimentaire.yaml",
        "gers-solidaire]",
        "gers-solidaire, adie]",
    )
    assert_refused(
        content_copy,
        capsys,
        [
            "content/themes/precarite-alimentaire.yaml:3: actions no. 4: duplicate slug: "
            'action "adie" is already in theme "mobilites"'
        ],
        exact=True,
    )


def test_theme_listed_twice_in_edition(content_copy, capsys):
    edit(content_copy / "edition.yaml", "mobilites]", "mobilites, mobilites]")
    assert line_of(content_copy / "edition.yaml", "themes:") == 21
    assert_refused(
        content_copy,
        capsys,
        [f'{EDITION}:21: themes no. 4: duplicate slug "mobilites"'],
        exact=True,
    )


def test_theme_file_not_listed_in_edition(content_copy, capsys):
    edit(content_copy / "edition.yaml", ", mobilites]", "]")
    # The theme's four cards are still in a theme (mobilites.yaml lists them).
    assert_refused(
        content_copy,
        capsys,
        ['content/themes/mobilites.yaml: theme "mobilites" is not listed in edition.yaml themes'],
        exact=True,
    )


# --- Markdown: links and sections --------------------------------------------------------------


def test_invalid_url_in_body_link(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    edit(path, "- Assurance auto.", "- Assurance auto, voir le [site](htp:/x).")
    assert line_of(path, "[site](htp:/x)") == 80
    assert_refused(
        content_copy,
        capsys,
        [f'{ADIE}:80: the text: "htp:/x" is not a web address: expected https://… or mailto:…'],
        exact=True,
    )


def test_invalid_url_in_front_matter_link(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "  - Pôle emploi", '  - "[Pôle emploi](htp:/x)"')
    assert_refused(
        content_copy,
        capsys,
        [
            f'{ADIE}:14: partners no. 2: "htp:/x" is not a web address: '
            "expected https://… or mailto:…"
        ],
        exact=True,
    )


def test_lost_link_in_body(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    edit(path, "- Assurance auto.", "- Assurance auto, voir le [texte](#).")
    assert_refused(
        content_copy,
        capsys,
        [
            f'{ADIE}:80: the text: link "texte" has no address: write the text without [ ]( ) '
            "or give its https:// address"
        ],
        exact=True,
    )


def test_lost_link_in_introduction(content_copy, capsys):
    edit(content_copy / "introduction.md", "Ensemble, nous", "Ensemble, [nous](#)")
    assert_refused(
        content_copy,
        capsys,
        [
            'content/introduction.md:8: the text: link "nous" has no address: write the text '
            "without [ ]( ) or give its https:// address"
        ],
        exact=True,
    )


def test_lost_link_in_back_cover_points_at_its_field(content_copy, capsys):
    edit(
        content_copy / "edition.yaml",
        'text: "Envoyez un mail à :"',
        'text: "Envoyez un [mail](#) à :"',
    )
    problems = problems_of(content_copy)
    one(problems, EDITION, 24, "back_cover.text")


def test_empty_section(content_copy, capsys):
    path = content_copy / "actions/sos-taudis.md"
    edit(
        path,
        "## Bilan\n\n### Quels sont les écarts",
        "## Bilan\n## Questions\n\n### Quels sont les écarts",
    )
    assert line_of(path, "## Bilan") == 42
    assert_refused(
        content_copy,
        capsys,
        [
            "content/actions/sos-taudis.md:42: section « Bilan »: "
            "empty section: write its text or remove the heading"
        ],
        exact=True,
    )


def test_text_before_the_first_section(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    edit(path, "---\n## Contexte\n", "---\nUne phrase égarée.\n\n## Contexte\n")
    assert line_of(path, "Une phrase égarée.") == 40
    assert_refused(
        content_copy,
        capsys,
        [
            f"{ADIE}:40: the text: text before the first section: "
            'start the body with a "## Title" line'
        ],
        exact=True,
    )


# --- everything at once ------------------------------------------------------------------------


def test_errors_in_several_files_are_all_reported_in_one_run(content_copy, capsys):
    c = content_copy
    edit(c / "actions/adie.md", "[yjarland@adie.org,", "[yjarland@adie,")
    edit(c / "edition.yaml", "number: 1", 'number: "un"')
    edit(c / "themes/precarite-alimentaire.yaml", "gers-solidaire]", "gers-solidaire, velo]")
    edit(
        c / "actions/sos-taudis.md",
        "## Bilan\n\n### Quels sont les écarts",
        "## Bilan\n## Questions\n\n### Quels sont les écarts",
    )
    edit(c / "introduction.md", "Ensemble, nous", "Ensemble, [nous](#)")
    edit(c / "actions/mde-marseille.md", "place:", "plaec:")
    cd41 = c / "actions/cd41.md"
    lines = cd41.read_text(encoding="utf-8").split("\n")
    assert lines[39].startswith("Soutien les propriétaires")  # line 40, first é: 0xe9
    cd41.write_bytes(
        b"\n".join(
            s.encode("latin-1") if n == 40 else s.encode("utf-8") for n, s in enumerate(lines, 1)
        )
    )
    (c / "actions/orpheline.md").write_text(
        (c / "actions/apfe.md").read_text(encoding="utf-8"), encoding="utf-8"
    )

    problems = problems_of(c)
    errors = [p for p in problems if p.severity == "error"]
    where = sorted((p.path, p.line, p.field) for p in errors)
    assert where == sorted(
        [
            (ADIE, 11, "contact.emails.0"),
            (EDITION, 2, "number"),
            ("content/themes/precarite-alimentaire.yaml", 3, "actions.3"),
            ("content/actions/sos-taudis.md", 42, "section « Bilan »"),
            ("content/introduction.md", 8, "body"),
            ("content/actions/mde-marseille.md", 5, "plaec"),
            ("content/actions/cd41.md", 40, None),
            ("content/actions/orpheline.md", 4, "theme"),
        ]
    ), "\n".join(map(str, problems))
    assert (
        'did you mean "place"'
        in one(problems, "content/actions/mde-marseille.md", 5, "plaec").message
    )
    assert_refused(c, capsys, [str(p) for p in errors], exact=True)


# --- bugs found (see the report) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("mde-marseille]", "mde-marseille]]", f"{MOBILITES}:3"),
        ('"#1d5ea8"', '"#12345"', f"{MOBILITES}:2"),
    ],
)
def test_a_broken_theme_file_reports_only_its_own_problem(content_copy, capsys, old, new, expected):
    edit(content_copy / "themes/mobilites.yaml", old, new)
    problems = problems_of(content_copy)
    assert [str(p).split(": ")[0] for p in problems] == [expected], "\n".join(map(str, problems))


def test_unquoted_phone_is_kept_as_printed_or_refused(content_copy, capsys):
    edit(content_copy / "actions/adil-31.md", 'phones: ["05 61 29 07 62"]', "phones: [0561270762]")
    try:
        site = load_site(content_copy)
    except LivretError as exc:  # refusing it, at its line, is fine too
        one(exc.problems, "content/actions/adil-31.md", 12, "contact.phones.0")
        return
    assert site.action("adil-31").contact.phones == ("0561270762",)


def test_recursive_yaml_alias_is_a_problem_not_a_crash(content_copy, capsys):
    edit(
        content_copy / "actions/adil-31.md",
        "place: Toulouse, Région Occitanie (31)",
        "place: &x [a, *x]",
    )
    rc, out, err = check(content_copy, capsys)
    assert rc == 1
    assert "content/actions/adil-31.md:5:" in err


# --- output names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "theme, action",
    [("action-adie", "velo"), ("imposition-a4", "velo"), ("mobilites", "adie-archive")],
)
def test_a_slug_whose_pdf_would_take_another_pdfs_name_is_refused(
    content_copy, capsys, theme, action
):
    """A theme « action-adie » writes retour-experience-01-action-adie.pdf, adie's sheet; a
    theme « imposition-a4 » the booklet's imposition; an action « adie-archive » the archive
    variant of adie's sheet: the manifest would list one file twice."""
    from livret.building.outputs import Output
    from livret.building.pipeline import imposed_filename, variant_filename

    ed = "retour-experience-01"
    theme_pdf = Output("theme", theme, None, f"{ed}-{theme}.pdf", "")
    action_pdf = Output("action", "x", action, f"{ed}-action-{action}.pdf", "")
    others = {
        variant_filename(Output(kind, None, s, f"{ed}{s}.pdf", ""), v)
        for kind, s in (("booklet", ""), ("action", "-action-adie"))
        for v in ("accessible", "archive", "print")
    }
    others |= {imposed_filename(n, sheet) for n in list(others) for sheet in ("a4", "a3")}
    assert {theme_pdf.filename, action_pdf.filename} & others  # the names do collide
    themes = content_copy / "themes"
    if theme != "mobilites":
        (themes / "mobilites.yaml").rename(themes / f"{theme}.yaml")
        edit(content_copy / "edition.yaml", ", mobilites]", f", {theme}]")
        for card in ("apfe", "adie", "gas-18", "mde-marseille"):
            edit(content_copy / "actions" / f"{card}.md", "theme: mobilites", f"theme: {theme}")
    if action != "velo":
        (content_copy / "actions" / "adie.md").rename(content_copy / "actions" / f"{action}.md")
        edit(themes / f"{theme}.yaml", "apfe, adie,", f"apfe, {action},")
    problems = problems_of(content_copy)
    if theme != "mobilites":
        p = one(problems, EDITION, line_of(content_copy / "edition.yaml", "themes:"), "themes.2")
        assert f"« {theme} »" in p.message and "rename" in p.message
    if action != "velo":
        theme_file = f"content/themes/{theme}.yaml"
        p = one(problems, theme_file, line_of(themes / f"{theme}.yaml", "actions:"), "actions.1")
        assert "« archive »" in p.message


def test_variant_names_are_the_renderers():
    from livret.reading.loader import VARIANT_NAMES
    from livret.rendering.pdf import VARIANTS

    assert set(VARIANT_NAMES) == set(VARIANTS) - {"accessible"}


# --- size: a card is 2 to 4 pages ----------------------------------------------------------


def _append(path: Path, text: str) -> int:
    """Append `text` to the file; the 1-based line of its first line."""
    old = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    path.write_text(old + text, encoding="utf-8")
    return old.count("\n") + 1


def nth_item_line(card: Path, n: int) -> int:
    """The line of the n-th list item (from 1) of the card's text, below the front matter."""
    lines = card.read_text(encoding="utf-8").split("\n")
    body = lines.index("---", 1) + 1
    items = [i + 1 for i in range(body, len(lines)) if lines[i].startswith("- ")]
    return items[n - 1]


def test_what_cannot_be_a_card_is_refused_at_its_line(content_copy, capsys):
    card = content_copy / "actions" / "adie.md"
    first = _append(card, "- p\n" * 10_000)  # what fits in a file of 64 kB
    edit(card, "partners:\n", "partners:\n" + "  - P\n" * 2_000)
    partners = line_of(card, "partners:")
    problems = problems_of(content_copy)
    p = one(problems, ADIE, partners + 1 + 100, "partners.100")
    assert "2005 items" in p.message and "100" in p.message
    assert first > partners
    p = one(problems, ADIE, nth_item_line(card, 301), "body")
    assert "more than 300 list items" in p.message


def test_a_five_megabyte_card_is_refused_before_it_is_read(content_copy, capsys):
    card = content_copy / "actions" / "adie.md"
    _append(card, ("Un paragraphe de texte. " * 40 + "\n\n") * 5_000)
    problems = problems_of(content_copy)
    (p,) = [p for p in problems if p.path == ADIE]
    assert "longer than 64 kB" in p.message
    text = card.read_bytes()
    assert p.line == text[:64_000].count(b"\n") + 1


def test_a_card_too_long_to_fit_is_a_warning_at_its_line(content_copy, capsys):
    card = content_copy / "actions" / "adie.md"
    body_bytes = len(card.read_text(encoding="utf-8").split("\n---\n", 1)[1].encode())
    item = "avec une phrase assez longue pour remplir la fiche au-delà de ce qui tient"
    first = _append(card, "".join(f"- un point {i}, {item}\n\n" for i in range(100)))
    edit(card, "partners:\n", "partners:\n" + "  - Partenaire\n" * 25)
    site = load_site(content_copy)  # warnings only: the card still builds
    warnings = {(p.line, p.field): p.message for p in site.warnings if p.path == ADIE}
    partners = line_of(card, "partners:")
    assert "30 items" in warnings[(partners + 1 + 20, "partners")]
    assert first > partners
    assert "more than 60 list items" in warnings[(nth_item_line(card, 61), "body")]
    passes = [(line, m) for (line, field), m in warnings.items() if "14 kB" in m]
    assert len(passes) == 1
    line = passes[0][0]
    text = card.read_text(encoding="utf-8").split("\n")
    body_start = text.index("---", 1) + 2
    before = sum(len(t.encode()) + 1 for t in text[body_start - 1 : line - 1])
    assert before <= 14_000 < before + len(text[line - 1].encode()) + 1
    assert body_bytes < 14_000


# --- YAML slips: a table of rules (issue 19) ---------------------------------------------------

SLIPS = {
    "_tab": "a: 1\n\tb: 2\n",
    "_open_quote": 'a: "x\nb: 2\n',
    "_colon_in_value": "title: Atelier vélo : solidaire\n",
    "_stray_bracket": "a: x]\nb: [1]]\n",
    "_indentation": "a:\n  b: 1\n   c: 2\n",
    "_quote_inside_quotes": 'title: "Le "Club" des territoires"\n',
    "_open_flow": "a: [x, y\nb: 2\n",
}


@pytest.mark.parametrize("name,text", SLIPS.items(), ids=SLIPS.keys())
def test_each_yaml_slip_is_explained_by_its_own_rule(name, text):
    """`_explain` is a table of small rules, each reading PyYAML's words for one slip."""
    import yaml

    from livret.reading import reader

    with pytest.raises(yaml.MarkedYAMLError) as info:
        yaml.safe_load(text)
    lines = text.split("\n")
    exc = info.value
    mark = exc.problem_mark or exc.context_mark
    raw = lines[mark.line] if mark else ""
    slip = reader.Slip(
        exc.problem or "",
        exc.context or "",
        mark.line if mark else None,
        raw,
        lines,
        exc.context_mark,
        reader._KEY_VALUE.match(raw),
    )
    fired = [rule.__name__ for rule in reader.RULES if rule(slip) is not None]
    assert fired[:1] == [name], fired
    assert reader._explain(exc, lines) == getattr(reader, name)(slip)


def test_explaining_a_yaml_slip_stays_simple():
    """No function of the explanation grows back into one long chain of tests."""
    import subprocess
    import sys

    from livret.reading import reader

    names = {"_explain", *(rule.__name__ for rule in reader.RULES)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "C901",
            "--config",
            "lint.mccabe.max-complexity=6",
            "--output-format",
            "concise",
            reader.__file__,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    complex_ = {n for n in names if f"`{n}`" in proc.stdout}
    assert not complex_, proc.stdout
