"""Unsubscribe, suppressions, delivery reports, erasure and retention (issue 22), against a
real SMTP server (aiosmtpd) and delivery reports as Postfix, Exim, Exchange and Gmail write
them (tests/fixtures/mail/)."""

import mailbox
import re
import sqlite3
from pathlib import Path

import pytest

from livret.errors import LivretError
from livret.mail.suppress import SECRET_ENV, token

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
SECRET = "une-phrase-secrète-assez-longue"
URL = "https://club.example.org/desinscription?jeton={token}"
UNSUB = ["--unsubscribe-mailto", "desinscription@club.example.org", "--unsubscribe-url", URL]

# The addresses the fixtures report on.
POSTFIX_5 = "ancien.contact@mairie-exemple.fr"
POSTFIX_4 = "accueil@cc-exemple.fr"
EXIM_5 = "contact@asso-exemple.org"
EXCHANGE_5 = "m.durand@departement-exemple.fr"
GMAIL_5 = "ancien.partenaire.club@gmail.com"
GMAIL_4 = "secretariat.cd@gmail.com"


def fixture(name: str, message_id: str | None = None) -> bytes:
    data = (FIXTURES / name).read_bytes()
    if message_id is not None:  # another report of the same kind (a later day, another id)
        data = re.sub(rb"(?im)^Message-I[dD]: .*$", f"Message-ID: <{message_id}>".encode(), data)
    return data


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for data in messages:
        box.add(data)
    box.close()
    return path


def write_maildir(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(path)
    for data in messages:
        box.add(data)
    box.close()
    return path


def suppressions(env) -> dict[str | None, str]:
    db = sqlite3.connect(str(env.journal))
    try:
        return {a: r for a, r in db.execute("SELECT address, reason FROM suppressions")}
    finally:
        db.close()


def state(env) -> list[str]:
    return ["--journal", str(env.journal)]


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


# -- unsubscribe headers and tokens -------------------------------------------------------------


def test_every_message_carries_both_unsubscribe_headers_with_a_token(mail_env, smtp_server, secret):
    server = smtp_server()
    rows = [(f"p{i}@example.org", f"P {i}", "", "booklet") for i in range(3)]
    code, out = mail_env.send(mail_env.recipients(rows), server, *UNSUB)
    assert code == 0, out
    assert len(server.handler.received) == 3
    for received, (address, *_rest) in zip(server.handler.received, rows, strict=True):
        msg = received.message
        tok = token(SECRET, address)
        assert address not in tok and len(tok) == 27
        assert msg["List-Unsubscribe"] == (
            "<mailto:desinscription@club.example.org?subject=unsubscribe%20"
            f"{tok}>, <https://club.example.org/desinscription?jeton={tok}>"
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # As written on the wire: no RFC 2047 encoded word, which providers would not decode.
        assert f"<https://club.example.org/desinscription?jeton={tok}>".encode() in received.data
        # The footer says why, how to stop, and who is responsible.
        text = msg.get_body(("plain",)).get_content()
        assert "Pourquoi ce message" in text
        assert f"https://club.example.org/desinscription?jeton={tok}" in text
        assert "Responsable de ces envois : le Club des territoires" in text


def test_an_unsubscribe_url_needs_the_secret_from_the_environment(mail_env, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    csv = mail_env.recipients([("a@example.org", "A", "", "booklet")])
    with pytest.raises(LivretError) as err:
        mail_env.run("--recipients", str(csv), *UNSUB)
    assert SECRET_ENV in str(err.value)
    with pytest.raises(LivretError, match="put {token} where"):
        mail_env.run(
            "--recipients", str(csv), "--unsubscribe-url", "https://club.example.org/desinscription"
        )


def test_mailto_only_gives_list_unsubscribe_without_one_click(mail_env, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    csv = mail_env.recipients([("a@example.org", "A", "", "booklet")])
    code, _ = mail_env.run(
        "--recipients",
        str(csv),
        "--unsubscribe-mailto",
        "desinscription@club.example.org",
        "--privacy-url",
        "https://club.example.org/donnees",
    )
    assert code == 0
    (eml,) = (mail_env.output / "mail").glob("*.eml")
    import email
    from email import policy

    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["List-Unsubscribe"] == (
        "<mailto:desinscription@club.example.org?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] is None
    assert "https://club.example.org/donnees" in msg.get_body(("plain",)).get_content()


def test_mail_unsubscribe_turns_tokens_into_suppressions(mail_env, smtp_server, secret):
    server = smtp_server()
    rows = [(f"p{i}@example.org", f"P {i}", "", "booklet") for i in range(3)]
    csv = mail_env.recipients(rows)
    assert mail_env.send(csv, server, *UNSUB)[0] == 0
    code, out = mail_env.run("unsubscribe", token(SECRET, "p1@example.org"), *state(mail_env))
    assert code == 0 and "p1@example.org: unsubscribed" in out
    assert suppressions(mail_env) == {"p1@example.org": "unsubscribe"}
    with pytest.raises(LivretError, match="matches no address"):
        mail_env.run("unsubscribe", "A" * 27, *state(mail_env))


# -- suppressions and delivery reports ---------------------------------------------------------


def test_bounces_reads_postfix_exim_exchange_and_gmail_reports(mail_env, tmp_path):
    box = write_mbox(
        tmp_path / "bounces.mbox",
        [
            fixture(name)
            for name in (
                "postfix-5.1.1.dsn",
                "exim-5.0.0.dsn",
                "exchange-5.2.2.dsn",
                "gmail-5.1.1.dsn",
                "gmail-4.2.2-delay.dsn",
                "postfix-4.4.1-delayed.dsn",
                "out-of-office.dsn",
            )
        ],
    )
    code, out = mail_env.run("bounces", str(box), *state(mail_env))
    assert code == 0, out
    assert suppressions(mail_env) == {
        POSTFIX_5: "bounce",
        EXIM_5: "bounce",
        EXCHANGE_5: "bounce",
        GMAIL_5: "bounce",
    }
    assert "Delivery reports read: 6" in out and "not reports: 1" in out
    assert "temporary failure 4.2.2 (1 of 3)" in out
    # Read again: nothing is counted twice.
    code, out = mail_env.run("bounces", str(box), *state(mail_env))
    assert "Delivery reports read: 0 (already read before: 6" in out


def test_three_temporary_failures_in_a_row_suppress_a_delivered_report_resets(mail_env, tmp_path):
    def delays(ids):
        return [fixture("postfix-4.4.1-delayed.dsn", f"delay-{i}@relais") for i in ids]

    mail_env.run("bounces", str(write_maildir(tmp_path / "m1", delays([1, 2]))), *state(mail_env))
    assert suppressions(mail_env) == {}
    # A report of a delivery ends the row.
    delivered = (
        fixture("postfix-4.4.1-delayed.dsn", "delivered-1@relais")
        .replace(b"Action: delayed", b"Action: delivered")
        .replace(b"Status: 4.4.1", b"Status: 2.0.0")
    )
    mail_env.run("bounces", str(write_maildir(tmp_path / "m2", [delivered])), *state(mail_env))
    mail_env.run("bounces", str(write_maildir(tmp_path / "m3", delays([3, 4]))), *state(mail_env))
    assert suppressions(mail_env) == {}
    code, out = mail_env.run(
        "bounces", str(write_maildir(tmp_path / "m4", delays([5]))), *state(mail_env)
    )
    assert suppressions(mail_env) == {POSTFIX_4: "bounce"}
    assert "3 in a row: suppressed" in out


def test_bounces_refuses_what_is_not_a_mailbox(mail_env, tmp_path):
    not_mbox = tmp_path / "notes.txt"
    not_mbox.write_text("hello\n", "utf-8")
    with pytest.raises(LivretError, match="not an mbox"):
        mail_env.run("bounces", str(not_mbox), *state(mail_env))
    (tmp_path / "folder").mkdir()
    with pytest.raises(LivretError, match="not a maildir"):
        mail_env.run("bounces", str(tmp_path / "folder"), *state(mail_env))


def test_unsubscribes_reads_requests_and_skips_automatic_replies(mail_env, tmp_path, secret):
    request = (
        b"From: Claire Petit <claire.petit@example.org>\nTo: desinscription@club.example.org\n"
        b"Subject: unsubscribe\nMessage-ID: <r1@example.org>\n\nMerci de me retirer.\n"
    )
    by_token = (
        b"From: Boite partagee <accueil@example.org>\nTo: desinscription@club.example.org\n"
        b"Subject: unsubscribe " + token(SECRET, "p7@example.org").encode() + b"\n"
        b"Message-ID: <r2@example.org>\n\n\n"
    )
    # p7's token is known once the journal knows p7 (a delivery, or a suppression).
    mail_env.run("suppress", "p7@example.org", *state(mail_env))
    db = sqlite3.connect(str(mail_env.journal))
    db.execute("DELETE FROM suppressions")
    db.execute(
        "INSERT INTO deliveries (campaign, recipient, address, edition, documents, message_id, "
        "status, created_at, updated_at) VALUES ('c', 'p7@example.org', 'p7@example.org', "
        "'e', '[]', '<m>', 'sent', '2026-11-01', '2026-11-01')"
    )
    db.commit()
    db.close()
    box = write_mbox(
        tmp_path / "desinscriptions.mbox", [request, by_token, fixture("out-of-office.dsn")]
    )
    code, out = mail_env.run("unsubscribes", str(box), *state(mail_env))
    assert code == 0, out
    assert suppressions(mail_env) == {
        "claire.petit@example.org": "unsubscribe",
        "p7@example.org": "unsubscribe",
    }
    assert "automatic replies and reports skipped: 1" in out


def test_a_send_after_bounces_and_suppress_reaches_exactly_the_right_people(
    mail_env, smtp_server, tmp_path, secret
):
    server = smtp_server()
    keep = ["claire@example.org", "denis@example.org", GMAIL_4]
    gone = [POSTFIX_5, EXIM_5, EXCHANGE_5, GMAIL_5, "retire@example.org"]
    everyone = [*gone[:2], keep[0], *gone[2:4], keep[1], gone[4], keep[2]]
    rows = [(a, a.split("@")[0].title(), "", "booklet") for a in everyone]
    csv = mail_env.recipients(rows)
    reports = [
        fixture(n)
        for n in (
            "postfix-5.1.1.dsn",
            "exim-5.0.0.dsn",
            "exchange-5.2.2.dsn",
            "gmail-5.1.1.dsn",
            "gmail-4.2.2-delay.dsn",  # one temporary failure: still mailed
        )
    ]
    assert (
        mail_env.run("bounces", str(write_mbox(tmp_path / "b.mbox", reports)), *state(mail_env))[0]
        == 0
    )
    assert mail_env.run("suppress", "Retire@Example.org", *state(mail_env))[0] == 0

    code, out = mail_env.run("--recipients", str(csv), *state(mail_env), *UNSUB)  # dry run
    assert (
        code == 0 and "Suppressed addresses skipped (unsubscribed, bounced or suppressed): 5" in out
    )
    assert len(list((mail_env.output / "mail").glob("*.eml"))) == 3
    code, out = mail_env.send(csv, server, *UNSUB)
    assert code == 0, out
    assert sorted(a for r in server.handler.received for a in r.rcpt_tos) == sorted(keep)
    assert "suppressed (not sent): 5" in out
    for received in server.handler.received:
        assert received.message["List-Unsubscribe"].count("<") == 2  # mailto and https
        assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


# -- erasure and retention -------------------------------------------------------------------------


def test_forget_erases_the_person_and_keeps_them_suppressed(mail_env, smtp_server):
    server = smtp_server()
    rows = [("anna@example.org", "Anna", "", "booklet"), ("bob@example.org", "Bob", "", "booklet")]
    csv = mail_env.recipients(rows)
    assert mail_env.send(csv, server)[0] == 0
    code, out = mail_env.run("forget", "Anna@example.org", *state(mail_env))
    assert code == 0
    assert "anna@example.org: erased from the journal (1 deliveries, 2 history lines)" in out
    db = sqlite3.connect(str(mail_env.journal))
    dump = "\n".join(db.iterdump())
    db.close()
    assert "anna" not in dump.lower() and "bob@example.org" in dump
    # Still suppressed: a new campaign does not reach her.
    code, out = mail_env.send(csv, server, "--campaign", "rappel")
    assert code == 0, out
    assert [r.rcpt_tos for r in server.handler.received[2:]] == [["bob@example.org"]]


def test_purge_drops_old_personal_data_and_says_what(mail_env, smtp_server, tmp_path):
    server = smtp_server()
    csv = mail_env.recipients([("old@example.org", "O", "", "booklet")])
    assert mail_env.send(csv, server)[0] == 0
    mail_env.run("suppress", "gone@example.org", *state(mail_env))
    db = sqlite3.connect(str(mail_env.journal))
    db.execute("UPDATE deliveries SET updated_at='2024-01-01T00:00:00.000+00:00'")
    db.execute("UPDATE suppressions SET at='2024-01-01T00:00:00.000+00:00'")
    db.commit()
    db.close()
    code, out = mail_env.run("purge", "--older-than", "30", *state(mail_env))
    assert code == 0
    assert "1 deliveries and 2 history lines" in out and "a hash in 1 suppressions" in out
    assert suppressions(mail_env) == {None: "manual"}
    # The retention setting gives the default age.
    settings = tmp_path / "reglages.yaml"
    settings.write_text("retention: 400\n", "utf-8")
    code, out = mail_env.run("purge", "--config", str(settings), *state(mail_env))
    assert "older than 400 days" in out
    with pytest.raises(LivretError, match="--older-than DAYS"):
        mail_env.run("purge", *state(mail_env))
    # The suppressed person stays suppressed without their address.
    csv = mail_env.recipients([("gone@example.org", "G", "", "booklet")])
    code, out = mail_env.send(csv, server)
    assert "Nobody left to send to" in out and len(server.handler.received) == 1


# -- size and links ------------------------------------------------------------------------------


def test_a_message_over_7_mb_is_refused_before_any_connection_in_french(
    mail_env, smtp_server, french
):
    from conftest_mail import write_outputs

    server = smtp_server()
    write_outputs(mail_env.content, mail_env.output, padding=5_400_000)  # 7.2 MB in base64
    csv = mail_env.recipients([("a@example.org", "A", "", "booklet")])
    with pytest.raises(LivretError) as err:
        mail_env.send(csv, server)
    message = str(err.value)
    assert "au-delà de la limite de 7,0\u202fMo" in message and "--link" in message, message
    assert server.handler.peers == []


def test_link_sends_links_to_the_published_pdfs_instead_of_attachments(mail_env, smtp_server):
    server = smtp_server()
    t = mail_env.themes
    rows = [("a@example.org", "A", "", "booklet"), ("b@example.org", "B", "", f"{t[0]} {t[2]}")]
    base = "https://club.example.org/publications/"
    code, out = mail_env.send(mail_env.recipients(rows), server, "--link", base)
    assert code == 0, out
    first, second = (r.message for r in server.handler.received)
    assert list(first.iter_attachments()) == [] and list(second.iter_attachments()) == []
    names = {e["theme"] or "booklet": e["path"] for e in mail_env.manifest["outputs"]}
    text = second.get_body(("plain",)).get_content()
    assert f"{base}{names[t[0]]}" in text and f"{base}{names[t[2]]}" in text
    assert names["booklet"] not in text
    assert f"{base}{names['booklet']}" in first.get_body(("plain",)).get_content()
    with pytest.raises(LivretError, match="https://"):
        mail_env.run("--recipients", str(mail_env.recipients(rows)), "--link", "ftp://x")
