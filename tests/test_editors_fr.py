"""An editor's session, in French (the default language): fix a card, add a card, make each
mistake editors make, start edition #02 in its own folder. Each mistake is driven through
`livret check` and the French message is asserted: it says what to type, with the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from livret.cli import main


@pytest.fixture(autouse=True)
def _beside_content(content_copy, monkeypatch, french):
    monkeypatch.chdir(content_copy.parent)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: {old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new), encoding="utf-8")


def check(capsys, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["check", "--content", "content", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def refused(capsys, expected: str) -> str:
    rc, out, err = check(capsys)
    assert rc == 1, out
    assert expected in err.splitlines(), f"missing:\n{expected}\nin:\n{err}"
    return err


ADIE = "content/actions/adie.md"
THEME = "content/themes/mobilites.yaml"


def test_colon_in_a_value(content_copy, capsys):
    edit(
        content_copy / "actions/adie.md",
        "place: Sur toute la France",
        "place: Atelier vélo : solidaire",
    )
    refused(
        capsys,
        f"{ADIE}:5: le texte contient « : », que le YAML lit comme le début d'un champ : mettez "
        'tout le texte entre guillemets droits : place: "Atelier vélo : solidaire"',
    )


def test_every_colon_slip_of_a_file_at_once(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    edit(path, "place: Sur toute la France", "place: Sur : toute la France")
    edit(path, "date: Depuis 2023", "date: Depuis : 2023")
    err = refused(
        capsys,
        f"{ADIE}:5: le texte contient « : », que le YAML lit comme le début d'un champ : "
        'mettez tout le texte entre guillemets droits : place: "Sur : toute la France"',
    )
    assert f"{ADIE}:6: le texte contient « : »" in err


def test_hash_in_a_value(content_copy, capsys):
    edit(content_copy / "themes/mobilites.yaml", 'colour: "#1d5ea8"', "colour: #1d5ea8")
    err = refused(
        capsys,
        f"{THEME}:2: colour : « # » commence un commentaire en YAML : le texte à partir de « # » "
        'est perdu ; mettez tout le texte entre guillemets droits : "#1d5ea8"',
    )
    assert "manquant" not in err  # not "missing": the field is there


def test_tab(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "  name: Yves", "\tname: Yves")
    refused(
        capsys,
        f"{ADIE}:10: une tabulation : le YAML ne s'indente qu'avec des espaces ; remplacez la "
        "tabulation par des espaces, dans la même colonne que les lignes au-dessus",
    )


def test_indentation_slip(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "  emails: [yjarland", "   emails: [yjarland")
    refused(
        capsys,
        f"{ADIE}:11: cette ligne n'est pas en retrait comme les lignes au-dessus : les champs "
        "d'un même groupe commencent dans la même colonne, de même que les éléments « - » d'une "
        "même liste ; ajoutez ou retirez des espaces en début de ligne",
    )


def test_unclosed_quote(content_copy, capsys):
    edit(content_copy / "themes/mobilites.yaml", 'colour: "#1d5ea8"', 'colour: "#1d5ea8')
    refused(
        capsys,
        f"{THEME}:2: le guillemet \" qui ouvre cette valeur n'est jamais fermé : terminez la "
        'valeur par " sur la même ligne',
    )


def test_a_list_where_a_text_is_expected_and_the_reverse(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    edit(path, "place: Sur toute la France", "place:\n  - Sur toute la France")
    edit(
        path,
        "date: Depuis 2023\npilot:\n  - ADIE – Direction régionale Occitanie",
        "date: Depuis 2023\npilot: ADIE",
    )
    err = refused(
        capsys,
        f"{ADIE}:5: place : un seul texte est attendu, pas une liste : écrivez le texte sur la "
        "même ligne, après le « : » du champ, sans « - »",
    )
    assert (
        f"{ADIE}:8: pilot : une liste est attendue : mettez chaque élément sur sa propre ligne "
        "sous « pilot: », en commençant par « - » (par exemple « - ADIE »)"
    ) in err.splitlines()


def test_positions_counted_from_one(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "yjarland@adie.org", "yjarland@adie")
    rc, out, err = check(capsys)
    assert rc == 1
    assert f"{ADIE}:11: contact.emails n° 1 : " in err


def test_heading_level(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "## Enjeux", "#### Enjeux")
    refused(
        capsys,
        f"{ADIE}:60: texte : « #### Enjeux » doit être un titre de niveau 2 : "
        "écrivez « ## Enjeux »",
    )


def test_level_one_heading(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "## Documentation produite", "# Autre partie")
    err = refused(
        capsys,
        f"{ADIE}:100: texte : « # » est le niveau du titre de la fiche (son champ « title: ») : "
        "écrivez « ## Autre partie » pour une partie, « ### Autre partie » dans une partie",
    )
    assert err


def test_bilan_questions_are_level_three(content_copy, capsys):
    path = next(p for p in (content_copy / "actions").glob("*.md") if "## Bilan" in p.read_text())
    text = path.read_text(encoding="utf-8")
    question = "### Quels sont les facteurs clés de succès ?"
    assert question in text
    path.write_text(
        text.replace(question, "## Quels sont les facteurs clés de succès ?"), encoding="utf-8"
    )
    rc, out, err = check(capsys)
    assert rc == 1
    assert (
        "« ## Quels sont les facteurs clés de succès ? » doit être un titre de niveau 3 : "
        "écrivez « ### Quels sont les facteurs clés de succès ? »"
    ) in err


def test_nested_sidebar_bullet(content_copy, capsys):
    edit(
        content_copy / "actions/adie.md",
        "  - Collectivités locales (Région, département et certaine EPCI)",
        "  - Collectivités locales\n    - Région",
    )
    refused(
        capsys,
        f"{ADIE}:17: partners n° 4 : une ligne « - » en retrait sous un élément est lue comme la "
        "fin du texte de cet élément : les sous-éléments ne sont pas imprimés ; écrivez-la comme "
        "un élément à part entière, dans la même colonne que les autres, ou dans le texte de "
        "l'élément (« …, Région, … »)",
    )


def test_copied_card_left_unedited(content_copy, capsys):
    (content_copy / "actions/adie-bis.md").write_bytes(
        (content_copy / "actions/adie.md").read_bytes()
    )
    edit(content_copy / "themes/mobilites.yaml", "adie,", "adie, adie-bis,")
    rc, out, err = check(capsys)
    assert rc == 1
    assert (
        "content/actions/adie-bis.md:2: title : même titre et même organisation que "
        "actions/adie.md : une fiche copiée et pas encore réécrite ? Donnez à cette fiche son "
        "propre titre, sa propre organisation et son propre texte"
    ) in err.splitlines()
    assert "un paragraphe identique à un paragraphe de actions/adie.md" in err


def test_session_fix_add_and_start_edition_two(content_copy, capsys, tmp_path):
    # A mistake, then its fix: check is green again, in French.
    path = content_copy / "actions/adie.md"
    edit(path, "place: Sur toute la France", "place: Sur toute la France : Occitanie")
    assert check(capsys)[0] == 1
    edit(path, "place: Sur toute la France : Occitanie", 'place: "Sur toute la France : Occitanie"')
    rc, out, err = check(capsys)
    assert rc == 0, err
    assert "content : OK — 3 thèmes, 10 fiches, 16 fichiers" in out

    # A new card: created, listed in its theme, and what is left to write is reported.
    capsys.readouterr()
    assert main(["new-action", "velo-solidaire", "--theme", "mobilites"]) == 0
    out = capsys.readouterr().out
    assert "nouvelle fiche" in out
    rc, out, err = check(capsys)
    assert rc == 0
    assert (
        "content/actions/velo-solidaire.md:2: attention : reste à écrire : remplacez « À "
        "COMPLÉTER » par le vrai texte avant de publier"
    ) in err.splitlines()

    # Edition #02 in its own folder.
    assert main(["new-edition", "edition-02", "--number", "2"]) == 0
    out = capsys.readouterr().out
    assert "edition-02 : édition n° 2 créée" in out
    rc = main(["check", "--content", "edition-02"])
    assert rc == 0

    # A copy of content/ whose number changed but not its slug is refused.
    edit(content_copy / "edition.yaml", "number: 1", "number: 2")
    refused(
        capsys,
        "content/edition.yaml:10: slug : « retour-experience-01 » ne finit pas par le numéro de "
        "l'édition (2) : les PDF portent le nom du slug ; écrivez « slug: retour-experience-02 »",
    )


def test_colon_in_a_list_item(content_copy, capsys):
    edit(
        content_copy / "actions/adie.md", "  - Pôle emploi", "  - Pôle emploi : agence de Toulouse"
    )
    refused(
        capsys,
        f"{ADIE}:14: partners n° 2 : le texte contient « : », que le YAML lit comme un champ : "
        'mettez tout le texte entre guillemets droits : "Pôle emploi : agence de Toulouse"',
    )


def test_quotes_inside_a_quoted_value(content_copy, capsys):
    path = content_copy / "thanks.yaml"
    edit(path, '  - title: "Organisatrices"', '  - title: "Les "organisatrices""')
    rc, out, err = check(capsys)
    assert rc == 1
    assert (
        'le texte commence par " et contient encore ", qui le termine trop tôt : écrivez '
        'plutôt : - title: "Les « organisatrices »"'
    ) in err


def test_a_heading_that_skips_a_level(content_copy, capsys):
    edit(content_copy / "actions/adie.md", "### Dont enjeux transverses", "#### Autres enjeux")
    refused(
        capsys,
        f"{ADIE}:66: texte : « #### Autres enjeux » saute un niveau après un titre « ## » : "
        "écrivez « ### Autres enjeux »",
    )


def test_every_slip_of_a_file_is_reported_at_once(content_copy, capsys):
    path = content_copy / "themes/mobilites.yaml"
    edit(path, "title: Mobilités", "title: Mobilités : se déplacer")
    edit(path, 'colour: "#1d5ea8"', "colour: #1d5ea8")
    edit(path, "  - Accompagner", "\t- Accompagner")
    rc, out, err = check(capsys)
    assert rc == 1
    lines = err.splitlines()
    assert any(line.startswith(f"{THEME}:1: le texte contient « : »") for line in lines), err
    assert any(line.startswith(f"{THEME}:6: une tabulation") for line in lines), err
    assert any(line.startswith(f"{THEME}:2: colour : « # » commence") for line in lines), err


# --- issue 17: French, the rest of the way ----------------------------------------------------


def test_no_break_space_after_a_key_is_named_at_its_own_line(content_copy, capsys):
    """Word pastes « place:\u00a0… »: YAML complained « could not find expected ':' » one line
    too low, in English."""
    path = content_copy / "actions/adie.md"
    edit(path, "place: Sur toute la France", "place:\u00a0Sur toute la France")
    edit(path, "  - DDETS", "  -\u00a0DDETS")
    err = refused(
        capsys,
        f"{ADIE}:5: une espace insécable après « place: » (collée depuis un traitement de "
        "texte) : le YAML veut une espace ordinaire à cet endroit ; supprimez l'espace après "
        "« : » et tapez-la de nouveau",
    )
    assert f"{ADIE}:13: une espace insécable après le « - »" in err
    assert "could not find" not in err and f"{ADIE}:6:" not in err


def test_a_word_bullet_is_a_list_item(content_copy, capsys):
    """« -\u00a0» (and « • ») as Word pastes a bulleted list: read as the list it is, not one
    paragraph (a no-break space cannot be seen in an editor: a message would puzzle)."""
    from livret.reading import markup
    from livret.reading.loader import load_site

    path = content_copy / "actions/adie.md"
    edit(path, "- Actions d'aller vers.", "-\u00a0Actions d'aller vers.")
    edit(path, "- Assurance auto.", "•\tAssurance auto.")
    rc, out, err = check(capsys)
    assert rc == 0, err
    site = load_site(content_copy)
    (section,) = [s for s in site.action("adie").sections if s.title.startswith("Nature")]
    html = markup.html_of(section.markdown)
    assert html.count("<li>") == 7 and "<p>" not in html, html


def test_every_problem_of_a_card_at_once(content_copy, capsys):
    """A bad e-mail hid a wrong theme until it was fixed."""
    path = content_copy / "actions/adie.md"
    edit(path, "yjarland@adie.org", "yjarland@adie")
    edit(path, "theme: mobilites", "theme: precarite-alimentaire")
    rc, out, err = check(capsys)
    assert rc == 1
    assert f"{ADIE}:11: contact.emails n° 1 : " in err
    assert f"{ADIE}:4: theme : " in err and "themes/mobilites.yaml" in err, err


def test_quiet_prints_errors_only_and_errors_come_first(content_copy, capsys):
    path = content_copy / "actions/adie.md"
    edit(path, "## Enjeux", "## Enjeux\n\nÀ COMPLÉTER : les enjeux.\n\n### Enjeux")
    edit(path, "yjarland@adie.org", "yjarland@adie")
    rc, out, err = check(capsys)
    lines = err.splitlines()
    assert rc == 1 and any("attention" in line for line in lines), err
    kinds = ["attention" in line for line in lines[:-1]]
    assert kinds == sorted(kinds), err  # every error before the first warning
    for argv in (["check", "-q"], ["-q"]):
        capsys.readouterr()
        assert main([*argv, "--content", "content"]) == 1
        err = capsys.readouterr().err
        assert "attention" not in err and "contact.emails" in err, err


def test_an_image_path_written_from_the_project_folder(content_copy, capsys):
    import io

    from PIL import Image

    (content_copy / "images").mkdir()
    picture = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(picture, "PNG")
    (content_copy / "images/velo.png").write_bytes(picture.getvalue())
    path = content_copy / "actions/adie.md"
    edit(path, "- Assurance auto.", "- Assurance auto.\n\n![Un vélo](content/images/velo.png)")
    err = refused(
        capsys,
        f"{ADIE}:82: texte : image « content/images/velo.png » : les chemins partent de "
        "l'intérieur du dossier de contenu (content/) : écrivez (images/velo.png)",
    )
    assert "pas de fichier" not in err


def test_curly_quotes_used_as_yaml_quotes_are_not_kept_in_the_fix(content_copy, capsys):
    edit(
        content_copy / "actions/adie.md",
        "place: Sur toute la France",
        "place: “Atelier vélo : solidaire”",
    )
    refused(
        capsys,
        f"{ADIE}:5: le texte contient « : », que le YAML lit comme le début d'un champ : mettez "
        'tout le texte entre guillemets droits : place: "Atelier vélo : solidaire"',
    )


def test_from_another_folder_says_where_it_looked_and_what_to_do(capsys, tmp_path, monkeypatch):
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rc, out, err = check(capsys)
    assert rc == 1
    assert f"dossier de contenu introuvable : cherché en {elsewhere / 'content'}" in err, err
    assert "--content" in err and "dossier du projet" in err


def test_a_mistyped_command_is_named_with_the_right_one(capsys):
    assert main(["chek"]) == 1
    err = capsys.readouterr().err
    assert "commande inconnue « chek » : vouliez-vous dire « check » ?" in err, err
    assert main(["--content", "content", "previw"]) == 1
    assert "« preview »" in capsys.readouterr().err
