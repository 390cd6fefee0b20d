"""The mail command in French, the editors' language, all the way (issue 17): columns named as
the list names them, email-validator's reasons, the command line, the status words."""

import io

import pytest

from livret.errors import LivretError
from livret.mail.cli import run

ENGLISH = ("There must be", "command line", "known columns", "@-sign", " sent ", "email:", "send:")


def test_a_french_list_is_answered_with_its_own_column_names(mail_env, french):
    csv = mail_env.csv(
        "Courriel;Nom;Envoi;Téléphone\njean.dupont@;Jean;livret;01\nana@example.org;Ana;mobilite;02\n",
        "liste.csv",
    )
    with pytest.raises(LivretError) as err:
        mail_env.run("--recipients", str(csv))
    shown = [str(p) for p in err.value.problems if p.severity == "error"]
    assert shown[0].startswith("liste.csv:2: Courriel : adresse invalide : « jean.dupont@ » : ")
    assert "rien après le @ : il manque le domaine" in shown[0]
    assert shown[1].startswith("liste.csv:3: Envoi : document inconnu")
    for line in shown:
        assert not any(word in line for word in ENGLISH), line


def test_an_ignored_column_lists_the_known_ones_as_the_file_names_them(mail_env, french, capsys):
    csv = mail_env.csv("Courriel;Nom;Envoi;Téléphone\nana@example.org;Ana;livret;02\n", "liste.csv")
    code, _out = mail_env.run("--recipients", str(csv))
    assert code == 0
    err = capsys.readouterr().err
    assert "colonnes connues : Courriel, Nom, organisation, Envoi" in err, err


def test_a_missing_column_is_named_in_the_file_s_language(mail_env, french):
    csv = mail_env.csv("Courriel;Nom\nana@example.org;Ana\n", "liste.csv")
    with pytest.raises(LivretError) as err:
        mail_env.run("--recipients", str(csv))
    (problem,) = err.value.problems
    assert str(problem).startswith("liste.csv:1: envoi : colonne manquante")
    assert "doit nommer Courriel, Nom, envoi" in str(problem)


def test_the_command_line_and_the_status_words_are_french(mail_env, smtp_server, french):
    server = smtp_server()
    csv = mail_env.recipients([("ana@example.org", "Ana", "", "booklet")])
    flags = [f for f in mail_env.smtp_flags(server) if f != "--yes"]
    with pytest.raises(LivretError) as err:
        mail_env.run("--recipients", str(csv), "--send", *flags)
    assert str(err.value.problems[0]).startswith("ligne de commande: --yes : ")
    code, out = mail_env.send(csv, server)
    assert code == 0, out
    assert "  envoyé   ana@example.org" in out
    assert not any(word in out for word in ENGLISH), out


def test_the_french_list_still_maps_to_the_right_fields(mail_env, french):
    csv = mail_env.csv("COURRIEL;nom;ENVOI\nana@example.org;Ana;Livret\n", "liste.csv")
    out = io.StringIO()
    assert run(mail_env.args("--recipients", str(csv)), build=mail_env.build, out=out) == 0
