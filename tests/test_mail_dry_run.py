"""The dry run (the default): one .eml per recipient under output/mail/, nothing sent."""

import email
from email import policy

import pytest

from livret.errors import LivretError


def test_dry_run_writes_eml_files_that_parse_back(mail_env):
    t = mail_env.themes
    csv = mail_env.recipients(
        [
            ("anais@example.org", "Anaïs Dupré", "Mairie", "booklet"),
            ("bob@example.org", "Bob", "", f"{t[0]} {t[2]}"),
        ]
    )
    code, out = mail_env.run("--recipients", str(csv))
    assert code == 0
    files = sorted((mail_env.output / "mail").glob("*.eml"))
    assert [f.name for f in files] == ["0001-anais@example.org.eml", "0002-bob@example.org.eml"]
    first = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert first["To"].addresses[0].display_name == "Anaïs Dupré"
    assert [p.get_content() for p in first.iter_attachments()] == [mail_env.pdf("booklet")]
    second = email.message_from_bytes(files[1].read_bytes(), policy=policy.default)
    attachments = list(second.iter_attachments())
    assert [p.get_content() for p in attachments] == [mail_env.pdf(t[0]), mail_env.pdf(t[2])]
    titles = {e["theme"]: e["title"] for e in mail_env.manifest["outputs"] if e["theme"]}
    assert [p.get_filename() for p in attachments] == [f"{titles[t[0]]}.pdf", f"{titles[t[2]]}.pdf"]
    assert any(c in attachments[0].get_filename() for c in "éÉ")  # accents survive
    assert b"filename*" in files[1].read_bytes()  # RFC 2231
    # The summary: each recipient, what they get, the size.
    assert "Dry run: nothing sent. Messages written to output/mail/: 2" in out
    assert "anais@example.org" in out and f"{t[0]} {t[2]}" in out and " kB" in out
    assert "add --send" in out
    # No temporary file left over; the list of the files this dry run wrote.
    assert [f.name for f in (mail_env.output / "mail").glob(".*")] == [".livret-dry-run"]


def test_build_is_asked_for_exactly_what_the_list_needs(mail_env):
    t = mail_env.themes
    csv = mail_env.recipients(
        [("a@example.org", "A", "", t[2]), ("b@example.org", "B", "", f"{t[2]} {t[0]}")]
    )
    mail_env.run("--recipients", str(csv))
    (call,) = mail_env.build.calls
    assert call["booklet"] is False
    assert call["themes"] == [t[0], t[2]]  # edition order
    assert call["actions"] == []
    assert call["content"] == mail_env.content and call["output"] == mail_env.output

    mail_env.run("--recipients", str(mail_env.recipients([("a@example.org", "A", "", "booklet")])))
    assert mail_env.build.calls[1]["booklet"] is True and mail_env.build.calls[1]["themes"] == []


def test_a_second_dry_run_removes_stale_files(mail_env):
    mail_env.run(
        "--recipients",
        str(
            mail_env.recipients(
                [("a@example.org", "A", "", "booklet"), ("b@example.org", "B", "", "booklet")]
            )
        ),
    )
    mail_env.run("--recipients", str(mail_env.recipients([("c@example.org", "C", "", "booklet")])))
    assert [f.name for f in (mail_env.output / "mail").glob("*.eml")] == ["0001-c@example.org.eml"]


def test_dry_run_reports_messages_over_the_size_limit(mail_env):
    csv = mail_env.recipients(
        [
            ("a@example.org", "A", "", "booklet"),
            ("b@example.org", "B", "", " ".join(mail_env.themes)),
        ]
    )
    with pytest.raises(LivretError) as exc:
        mail_env.run("--recipients", str(csv), "--max-size", "14kB")
    found = [str(p) for p in exc.value.problems]
    assert len(found) == 1
    assert found[0].startswith(f"{csv.name}:3: send: the message for b@example.org would be ")
    assert "over the limit of 14 kB" in found[0]


def test_a_bad_list_stops_before_the_build(mail_env):
    csv = mail_env.csv("email,name,send\nnope,A,booklet\n")
    with pytest.raises(LivretError):
        mail_env.run("--recipients", str(csv))
    assert mail_env.build.calls == []
    assert not (mail_env.output / "mail").exists()


def test_settings_and_list_problems_are_reported_together(mail_env):
    csv = mail_env.csv("email,name,send\nnope,A,booklet\n")
    with pytest.raises(LivretError) as exc:
        mail_env.run("--recipients", str(csv), "--port", "0")
    found = [str(p) for p in exc.value.problems]
    assert found[0].startswith("command line: --port:")
    assert found[1].startswith(f"{csv.name}:2: email:")  # relative to the cwd


def test_missing_output_after_build_is_an_error(mail_env):
    (mail_env.output / mail_env.manifest["outputs"][0]["path"]).unlink()
    with pytest.raises(LivretError, match="missing; run the build again"):
        mail_env.run(
            "--recipients", str(mail_env.recipients([("a@example.org", "A", "", "booklet")]))
        )


def test_password_is_not_needed_for_a_dry_run_and_never_written(mail_env, monkeypatch):
    from conftest_mail import PASSWORD

    monkeypatch.setenv("LIVRET_SMTP_PASSWORD", PASSWORD)
    code, out = mail_env.run(
        "--recipients",
        str(mail_env.recipients([("a@example.org", "A", "", "booklet")])),
        "--user",
        "club",
    )
    assert code == 0 and PASSWORD not in out
    for path in (mail_env.output / "mail").iterdir():
        assert PASSWORD.encode() not in path.read_bytes()
