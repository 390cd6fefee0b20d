"""Where the mail meets the rest: two editions in one output folder, unfinished text, and
header injection through anything the recipient list carries (issue 17)."""

import csv
import email
import hashlib
import io
import json
from email import policy

import pytest

from livret.errors import LivretError
from livret.mail.attachments import read_edition
from livret.mail.compose import Composer, Templates
from livret.mail.recipients import Recipient
from livret.mail.settings import Settings

INJECTION = (
    "=?utf-8?q?Camille=0D=0AReply-To:_attacker=40evil.example=0D=0ABcc:_spy=40evil.example?="
)
EXPECTED_HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Language",
    "MIME-Version",
    "Content-Type",
}


def parsed(path):
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


# -- two editions built into one output folder ---------------------------------------------------


def test_mail_attaches_the_pdfs_of_the_edition_it_mails_not_the_other_one(
    built_copy, content_copy, tmp_path, monkeypatch, smtp_server
):
    """#01 and #02 (scaffolded, built) share output/: mailing #01 attaches #01's PDFs only,
    and a real send of #02, which still holds « À COMPLÉTER », is refused with file:line."""
    from livret.building.pipeline import run
    from livret.mail.cli import main
    from livret.reading.scaffold import new_edition

    output = built_copy
    second = tmp_path / "edition-02"
    new_edition(second, 2, content_copy)
    themes2 = [p.stem for p in sorted((second / "themes").glob("*.yaml"))]
    run(second, output, themes=themes2)  # built after #01: its entries come last
    manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    editions = {e["edition"] for e in manifest["outputs"]}
    assert editions == {"retour-experience-01", "retour-experience-02"}
    ours = {
        (e["kind"], e["theme"]): e["sha256"]
        for e in manifest["outputs"]
        if e["edition"] == "retour-experience-01" and e["kind"] in ("booklet", "theme")
    }

    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "list.csv"
    theme = themes2[0]
    csv.write_text(
        f"courriel;nom;envoi\na@example.org;A;livret {theme}\nb@example.org;B;{theme}\n",
        encoding="utf-8",
    )
    common = ["--output", str(output), "--recipients", str(csv), "--journal", "j.sqlite"]
    assert main(["--content", str(content_copy), *common]) == 0
    got = []
    for eml in sorted((output / "mail").glob("*.eml")):
        msg = parsed(eml)
        assert "#01" in msg["Subject"]
        for part in msg.iter_attachments():
            got.append(hashlib.sha256(part.get_content()).hexdigest())
            assert "#02" not in part.get_filename()
    assert got == [ours[("booklet", None)], ours[("theme", theme)], ours[("theme", theme)]]

    # #02 still has text to write: a dry run is fine, a real send is refused, nothing leaves.
    server = smtp_server()
    assert main(["--content", str(second), *common]) == 0
    smtp = ["--host", server.host, "--port", str(server.port), "--security", "none", "--yes"]
    code = main(["--content", str(second), *common, "--send", *smtp])
    assert code == 1
    assert server.handler.received == [] and server.handler.peers == []


# -- unfinished text ------------------------------------------------------------------------------


def test_a_real_send_refuses_placeholders_in_the_subject_and_in_the_attached_content(
    mail_env, smtp_server, capsys
):
    server = smtp_server()
    t = mail_env.themes
    yaml_text = (mail_env.content / "edition.yaml").read_text("utf-8")
    lines = yaml_text.splitlines()
    title_line = next(i for i, line in enumerate(lines, 1) if line.startswith("title:"))
    lines[title_line - 1] = 'title: "À COMPLÉTER : titre de l\'édition"'
    (mail_env.content / "edition.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    # The theme PDF was built from a card that still holds the marker.
    card = mail_env.content / "actions" / "exemple.md"
    card.parent.mkdir()
    card.write_text("---\nplace: Lyon\n---\n\n## Contexte\n\nÀ COMPLÉTER\n", "utf-8")
    manifest = json.loads((mail_env.output / "manifest.json").read_text("utf-8"))
    for entry in manifest["outputs"]:
        if entry["theme"] == t[0]:
            entry["inputs"] = {"content/actions/exemple.md": "x", "layouts/base.html": "y"}
    (mail_env.output / "manifest.json").write_text(json.dumps(manifest), "utf-8")

    csv = mail_env.recipients([("a@example.org", "A", "", t[0])])
    code, _ = mail_env.run("--recipients", str(csv))  # a dry run stays allowed
    assert code == 0
    with pytest.raises(LivretError) as err:
        mail_env.send(csv, server)
    shown = [str(p) for p in err.value.problems]
    assert f"content/edition.yaml:{title_line}: still to fill in" in shown[0]
    assert any(s.startswith("content/actions/exemple.md:7: still to fill in") for s in shown)
    assert any("subject.txt" in s and "À COMPLÉTER" in s for s in shown)
    assert server.handler.peers == []  # refused before any connection


def test_a_placeholder_in_a_pdf_nobody_gets_does_not_stop_the_send(mail_env, smtp_server):
    server = smtp_server()
    t = mail_env.themes
    card = mail_env.content / "actions" / "exemple.md"
    card.parent.mkdir()
    card.write_text("---\nplace: À COMPLÉTER\n---\n", "utf-8")
    manifest = json.loads((mail_env.output / "manifest.json").read_text("utf-8"))
    for entry in manifest["outputs"]:
        if entry["theme"] == t[0]:
            entry["inputs"] = {"content/actions/exemple.md": "x"}
    (mail_env.output / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    code, out = mail_env.send(mail_env.recipients([("a@example.org", "A", "", t[1])]), server)
    assert code == 0, out
    assert len(server.handler.received) == 1


# -- header injection ------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["email", "name", "organisation", "send"])
def test_an_encoded_word_in_any_column_is_refused(mail_env, smtp_server, column):
    server = smtp_server()
    row = {"email": "camille@example.org", "name": "Camille", "organisation": "Mairie"}
    row["send"] = "booklet"
    row[column] = INJECTION if column != "email" else f"{INJECTION}@example.org"
    csv = mail_env.recipients([tuple(row[c] for c in ("email", "name", "organisation", "send"))])
    with pytest.raises(LivretError) as err:
        mail_env.send(csv, server)
    assert any(p.line == 2 and p.field == column for p in err.value.problems), err.value
    assert server.handler.peers == [] and server.handler.received == []


def test_no_value_that_reaches_a_header_can_add_one(mail_env, tmp_path):
    """Past the list's check (a Recipient made directly, a template that puts the name in the
    subject), the composed message still refuses a header that would split in two."""
    edition = read_edition(mail_env.content)
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "subject.txt").write_text("Pour {{ recipient.name }}\n", "utf-8")
    (templates / "body.txt").write_text("{{ recipient.organisation }}\n", "utf-8")
    (templates / "body.html").write_text("<p>{{ recipient.organisation }}</p>\n", "utf-8")
    from livret.mail.attachments import attachments_from_manifest

    atts = attachments_from_manifest(mail_env.manifest, mail_env.output, ["booklet"])
    composer = Composer(edition, Settings(), Templates(templates), atts)
    bad = Recipient(2, "camille@example.org", INJECTION, INJECTION, ("booklet",))
    with pytest.raises(LivretError) as err:
        composer.compose(composer.plan(bad))
    assert "header injection" in str(err.value)


def test_tricky_but_harmless_values_give_exactly_the_expected_headers(mail_env):
    names = [
        "Camille =? Dupont",  # not an encoded word
        'Zoë "la Grande", d\'Arc',
        "Ana ; <x@y.example> Bcc: spy@evil.example",
        "Marie-Éléonore de La Tour d’Auvergne-Lauraguais, directrice générale adjointe",
    ]
    rows = [(f"p{i}@example.org", n, n, "booklet") for i, n in enumerate(names)]
    text = io.StringIO()
    csv.writer(text).writerows([("email", "name", "organisation", "send"), *rows])
    code, out = mail_env.run("--recipients", str(mail_env.csv(text.getvalue())))
    assert code == 0, out
    files = sorted((mail_env.output / "mail").glob("*.eml"))
    assert len(files) == len(rows)
    for path, (address, name, _org, _send) in zip(files, rows, strict=True):
        msg = parsed(path)
        assert set(msg.keys()) == EXPECTED_HEADERS
        (to,) = msg["To"].addresses
        assert to.addr_spec == address
        # Python 3.11's parser puts a space between two adjacent encoded words, which RFC 2047
        # (and mail programs) ignore: compare without spaces.
        assert to.display_name.replace(" ", "") == name.replace(" ", "")
        assert msg.get_all("Bcc") is None and msg.get_all("Reply-To") is None
        body = msg.get_body(("plain",)).get_content()
        assert name in body or name.split()[0] in body
