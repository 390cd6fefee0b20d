"""Sending, against a real SMTP server (aiosmtpd on 127.0.0.1): delivery, retries, refusals,
resuming after a kill, unknown outcomes, TLS and authentication, limits."""

import re
import sqlite3
import time

import pytest
from conftest_mail import PASSWORD, SMTP_USER, kill, wait_for

from livret.errors import LivretError
from livret.mail.journal import Journal

FROM = "dgcs-club-des-territoires@social.gouv.fr"  # content/edition.yaml contact_email


def people(env, n, send=None):
    send = send or ["booklet", env.themes[0], f"{env.themes[1]} {env.themes[2]}"]
    return [
        (f"person{i}@example.org", f"Personne {i} Éloïse", f"Org {i}", send[i % len(send)])
        for i in range(n)
    ]


def attachments_of(received):
    return [p.get_content() for p in received.message.iter_attachments()]


def without_date(data: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\n", data, count=1)


def test_delivers_each_message_with_byte_identical_attachments(mail_env, smtp_server):
    server = smtp_server()
    rows = people(mail_env, 3)
    code, _ = mail_env.run("--recipients", str(mail_env.recipients(rows)))  # dry run first
    previews = sorted((mail_env.output / "mail").glob("*.eml"))
    code, out = mail_env.send(mail_env.recipients(rows), server)
    assert code == 0, out
    got = server.handler.received
    # What arrives is what the dry run showed, byte for byte (but the Date), and is well-formed.
    assert [without_date(r.data) for r in got] == [without_date(p.read_bytes()) for p in previews]
    assert all(not part.defects for r in got for part in r.message.walk())
    assert [r.rcpt_tos for r in got] == [[row[0]] for row in rows]
    assert all(r.mail_from == FROM for r in got)
    assert attachments_of(got[0]) == [mail_env.pdf("booklet")]
    assert attachments_of(got[1]) == [mail_env.pdf(mail_env.themes[0])]
    assert attachments_of(got[2]) == [
        mail_env.pdf(mail_env.themes[1]),
        mail_env.pdf(mail_env.themes[2]),
    ]
    assert got[0].message["To"].addresses[0].display_name == "Personne 0 Éloïse"
    assert len(server.handler.peers) == 1  # one connection for all messages
    journal = mail_env.journal_rows()
    assert [r["status"] for r in journal] == ["sent"] * 3
    assert sorted(r["message_id"] for r in journal) == sorted(r.message["Message-ID"] for r in got)
    assert all(r["smtp_code"] == 250 and r["attempts"] == 1 and r["sent_at"] for r in journal)
    assert "Sent: 3, already sent (skipped): 0, refused: 0, unknown: 0, failed: 0" in out


def test_rerun_sends_only_what_was_not_delivered(mail_env, smtp_server):
    server = smtp_server()
    rows = people(mail_env, 3)
    mail_env.send(mail_env.recipients(rows), server)
    code, out = mail_env.send(mail_env.recipients(rows), server)
    assert code == 0
    assert "Sent: 0, already sent (skipped): 3" in out
    assert len(server.handler.received) == 3
    assert len(server.handler.peers) == 1  # nothing to send: no connection at all

    code, out = mail_env.send(
        mail_env.recipients(rows + [("new@example.org", "N", "", "booklet")]), server
    )
    assert code == 0 and "Sent: 1, already sent (skipped): 3" in out
    assert [r.rcpt_tos for r in server.handler.received][-1] == ["new@example.org"]


def test_a_rebuilt_pdf_is_sent_again_to_those_who_get_it(mail_env, smtp_server):
    import hashlib
    import json

    from conftest_mail import make_pdf

    server = smtp_server()
    theme = mail_env.themes[0]
    rows = [("a@example.org", "A", "", "booklet"), ("b@example.org", "B", "", theme)]
    mail_env.send(mail_env.recipients(rows), server)
    # The build rewrites the theme excerpt with new bytes (and says so in the manifest).
    entry = next(e for e in mail_env.manifest["outputs"] if e["theme"] == theme)
    data = make_pdf(mail_env.output / entry["path"], entry["title"] + " (v2)")
    entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (mail_env.output / "manifest.json").write_text(json.dumps(mail_env.manifest), "utf-8")
    code, out = mail_env.send(mail_env.recipients(rows), server)
    assert code == 0 and "Sent: 1, already sent (skipped): 1" in out
    assert server.handler.count_for("a@example.org") == 1
    assert server.handler.count_for("b@example.org") == 2
    assert attachments_of(server.handler.received[-1]) == [data]


def test_a_new_campaign_label_sends_again(mail_env, smtp_server):
    server = smtp_server()
    csv = mail_env.recipients([("a@example.org", "A", "", "booklet")])
    mail_env.send(csv, server)
    code, out = mail_env.send(csv, server, "--campaign", "relance")
    assert code == 0 and "Sent: 1" in out
    assert server.handler.count_for("a@example.org") == 2


def test_a_temporary_failure_is_retried(mail_env, smtp_server):
    server = smtp_server()
    server.handler.data_replies = ["451 4.3.0 Try again later"]
    code, out = mail_env.send(mail_env.recipients(people(mail_env, 2)), server)
    assert code == 0, out
    assert server.handler.data_attempts == 3  # 451, then accepted, then the second message
    assert [server.handler.count_for(f"person{i}@example.org") for i in range(2)] == [1, 1]
    first = mail_env.journal_rows()[0]
    assert (first["status"], first["attempts"]) == ("sent", 2)
    db = sqlite3.connect(str(mail_env.journal))
    events = [
        r
        for r in db.execute(
            "SELECT status, smtp_code, smtp_reply FROM events WHERE "
            "recipient='person0@example.org' ORDER BY id"
        )
    ]
    db.close()
    assert [e[0] for e in events] == ["sending", "pending", "sending", "sent"]
    assert "451 4.3.0 Try again later" in events[1][2]


def test_a_temporary_failure_that_lasts_fails_after_the_attempts(mail_env, smtp_server):
    server = smtp_server()
    server.handler.data_replies = ["452 4.3.1 Insufficient system storage"] * 3
    csv = mail_env.recipients(people(mail_env, 2))
    code, out = mail_env.send(csv, server, "--attempts", "3")
    assert code == 1
    assert server.handler.data_attempts == 4
    assert "Sent: 1, already sent (skipped): 0, refused: 0, unknown: 0, failed: 1" in out
    assert f"{csv.name}:2: person0@example.org: 452 4.3.1 Insufficient system storage" in out
    assert [r["status"] for r in mail_env.journal_rows()] == ["failed", "sent"]
    # Failed is not delivered: the next run tries again.
    code, out = mail_env.send(csv, server)
    assert code == 0 and "Sent: 1, already sent (skipped): 1" in out
    assert server.handler.count_for("person0@example.org") == 1


def test_a_refused_address_is_recorded_and_the_run_goes_on(mail_env, smtp_server):
    server = smtp_server()
    server.handler.rcpt_replies["person1@example.org"] = "550 5.1.1 No such user here"
    csv = mail_env.recipients(people(mail_env, 3))
    code, out = mail_env.send(csv, server)
    assert code == 1
    assert [r.rcpt_tos for r in server.handler.received] == [
        ["person0@example.org"],
        ["person2@example.org"],
    ]
    refused = mail_env.journal_rows()[1]
    assert (refused["address"], refused["status"], refused["smtp_code"]) == (
        "person1@example.org",
        "refused",
        550,
    )
    assert "No such user here" in refused["smtp_reply"]
    assert "refused: 1" in out
    assert f"{csv.name}:3: person1@example.org: 550 5.1.1 No such user here" in out
    assert len(server.handler.peers) == 1  # RSET, not a new connection


def test_partial_refusal_sends_nothing(mail_env, smtp_server, tmp_path):
    server = smtp_server()
    config = tmp_path / "mail.yaml"
    config.write_text("bcc: archives@example.org\n", encoding="utf-8")
    server.handler.rcpt_replies["archives@example.org"] = "550 5.7.1 Archive full"
    code, out = mail_env.send(
        mail_env.recipients(people(mail_env, 1)), server, "--config", str(config)
    )
    assert code == 1 and server.handler.received == []
    row = mail_env.journal_rows()[0]
    assert row["status"] == "refused"
    assert row["smtp_reply"] == "archives@example.org: 550 5.7.1 Archive full"


def test_bcc_goes_to_the_envelope_only(mail_env, smtp_server, tmp_path):
    server = smtp_server()
    config = tmp_path / "mail.yaml"
    config.write_text("bcc: [archives@example.org]\n", encoding="utf-8")
    code, _ = mail_env.send(
        mail_env.recipients(people(mail_env, 1)), server, "--config", str(config)
    )
    (got,) = server.handler.received
    assert got.rcpt_tos == ["person0@example.org", "archives@example.org"]
    assert b"archives@example.org" not in got.data


def test_a_dropped_connection_is_reopened_and_nothing_is_lost(mail_env, smtp_server):
    server = smtp_server()
    calls = []

    def drop_third_mail(recorder, _server):
        calls.append(1)
        return "drop" if len(calls) == 3 else None

    server.handler.mail_hook = drop_third_mail
    rows = people(mail_env, 5)
    code, out = mail_env.send(mail_env.recipients(rows), server)
    assert code == 0, out
    assert [server.handler.count_for(r[0]) for r in rows] == [1] * 5
    assert len(server.handler.peers) == 2


def test_unknown_fate_is_reported_and_not_resent(mail_env, smtp_server):
    server = smtp_server()
    drops = []

    def drop_after_second_message(recorder, _server, _envelope):
        if len(recorder.received) == 2 and not drops:
            drops.append(1)
            return "drop"

    server.handler.data_hook = drop_after_second_message
    rows = people(mail_env, 3)
    csv = mail_env.recipients(rows)
    code, out = mail_env.send(csv, server)
    assert code == 1
    assert "Sent: 2, already sent (skipped): 0, refused: 0, unknown: 1, failed: 0" in out
    assert f"{csv.name}:3: person1@example.org: the connection ended after the whole message" in out
    assert [r["status"] for r in mail_env.journal_rows()] == ["sent", "unknown", "sent"]

    code, out = mail_env.send(csv, server)
    assert code == 1 and "Sent: 0, already sent (skipped): 2, refused: 0, unknown: 1" in out
    assert [server.handler.count_for(r[0]) for r in rows] == [1, 1, 1]

    code, out = mail_env.send(csv, server, "--resend-unknown")
    assert code == 0 and "Sent: 1, already sent (skipped): 2" in out
    assert [server.handler.count_for(r[0]) for r in rows] == [1, 2, 1]


def spawn_send(env, server, csv, *extra):
    return env.spawn("--recipients", str(csv), "--send", *env.smtp_flags(server), *extra)


@pytest.mark.slow  # a real process killed
def test_a_killed_run_resumes_and_delivers_everyone_exactly_once(mail_env, smtp_server):
    server = smtp_server()
    rows = people(mail_env, 7)
    csv = mail_env.recipients(rows)
    victim = {}
    mails = []

    def kill_at_fifth_mail(recorder, _server):
        mails.append(1)
        if len(mails) == 5:
            kill(victim["pid"])

    server.handler.mail_hook = kill_at_fifth_mail
    proc = spawn_send(mail_env, server, csv)
    victim["pid"] = proc.pid
    proc.wait(timeout=60)
    assert proc.returncode == -9
    assert len(server.handler.received) == 4
    server.handler.mail_hook = None

    proc = spawn_send(mail_env, server, csv)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"Sent: 3, already sent (skipped): 4, refused: 0, unknown: 0" in out
    assert [server.handler.count_for(r[0]) for r in rows] == [1] * 7
    assert [r["status"] for r in mail_env.journal_rows()] == ["sent"] * 7


@pytest.mark.slow  # a real process killed
def test_a_run_killed_while_the_server_answers_leaves_an_unknown(mail_env, smtp_server):
    server = smtp_server()
    rows = people(mail_env, 5)
    csv = mail_env.recipients(rows)
    victim = {}

    def kill_after_third_message(recorder, _server, _envelope):
        if len(recorder.received) == 3:
            kill(victim["pid"])  # the message is in; the client never hears the reply

    server.handler.data_hook = kill_after_third_message
    proc = spawn_send(mail_env, server, csv)
    victim["pid"] = proc.pid
    proc.wait(timeout=60)
    assert proc.returncode == -9
    server.handler.data_hook = None
    assert [r["status"] for r in mail_env.journal_rows()][:3] == ["sent", "sent", "sending"]

    proc = spawn_send(mail_env, server, csv)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"Sent: 2, already sent (skipped): 2, refused: 0, unknown: 1" in out
    assert b"person2@example.org: interrupted after the message data was sent" in out
    assert [server.handler.count_for(r[0]) for r in rows] == [1] * 5


def test_starttls_with_authentication(mail_env, smtp_server, monkeypatch):
    server = smtp_server(tls="starttls", auth=True)
    monkeypatch.setenv("LIVRET_SMTP_PASSWORD", PASSWORD)
    code, out = mail_env.run(
        "--recipients",
        str(mail_env.recipients(people(mail_env, 2))),
        "--send",
        *mail_env.smtp_flags(server),
        "--security",
        "starttls",
        "--user",
        SMTP_USER,
    )
    assert code == 0, out
    assert len(server.handler.received) == 2
    assert_password_nowhere(mail_env, out)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_authentication(mail_env, smtp_server, monkeypatch):
    server = smtp_server(tls="ssl", auth=True)
    monkeypatch.setenv("LIVRET_SMTP_PASSWORD", PASSWORD)
    code, out = mail_env.run(
        "--recipients",
        str(mail_env.recipients(people(mail_env, 2))),
        "--send",
        *mail_env.smtp_flags(server),
        "--security",
        "ssl",
        "--user",
        SMTP_USER,
    )
    assert code == 0, out
    assert len(server.handler.received) == 2


def assert_password_nowhere(env, *texts):
    secret = PASSWORD.encode()
    assert all(PASSWORD not in t for t in texts)
    for folder in (env.root, env.output):
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret not in path.read_bytes(), path
    db = sqlite3.connect(str(env.journal))
    try:
        for table in ("deliveries", "events", "meta"):
            for row in db.execute(f"SELECT * FROM {table}"):
                assert PASSWORD not in repr(row)
    finally:
        db.close()


def test_an_unverified_certificate_is_refused_by_default(mail_env, smtp_server, monkeypatch):
    server = smtp_server(tls="starttls", auth=True)
    monkeypatch.setenv("LIVRET_SMTP_PASSWORD", PASSWORD)
    flags = [f for f in mail_env.smtp_flags(server)]
    cut = flags.index("--cafile")
    del flags[cut : cut + 2]
    with pytest.raises(LivretError) as exc:
        mail_env.run(
            "--recipients",
            str(mail_env.recipients(people(mail_env, 2))),
            "--send",
            *flags,
            "--security",
            "starttls",
            "--user",
            SMTP_USER,
        )
    assert str(exc.value).startswith(
        f"smtp 127.0.0.1:{server.port}: the server's TLS certificate could not be verified"
    )
    assert "--cafile" in str(exc.value)
    assert server.handler.received == []
    assert {r["status"] for r in mail_env.journal_rows()} == {"pending"}


def test_a_wrong_password_stops_the_run(mail_env, smtp_server, monkeypatch):
    server = smtp_server(tls="starttls", auth=True)
    monkeypatch.setenv("LIVRET_SMTP_PASSWORD", "not-the-password")
    with pytest.raises(LivretError, match="authentication refused for user club: 535"):
        mail_env.run(
            "--recipients",
            str(mail_env.recipients(people(mail_env, 2))),
            "--send",
            *mail_env.smtp_flags(server),
            "--security",
            "starttls",
            "--user",
            SMTP_USER,
        )
    assert server.handler.received == []


def test_user_without_password_is_refused_before_connecting(mail_env, silent_port):
    port, accepted, connections = silent_port
    with pytest.raises(LivretError, match="LIVRET_SMTP_PASSWORD is not"):
        mail_env.run(
            "--recipients",
            str(mail_env.recipients(people(mail_env, 1))),
            "--send",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--user",
            "club",
            "--timeout",
            "1",
            "--attempts",
            "1",
            "--journal",
            str(mail_env.journal),
        )
    assert connections() == [] and not mail_env.journal.exists()


def test_the_size_limit_refuses_before_connecting(mail_env, silent_port):
    port, accepted, connections = silent_port
    csv = mail_env.recipients(people(mail_env, 3))
    with pytest.raises(LivretError) as exc:
        mail_env.run(
            "--recipients",
            str(csv),
            "--send",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--security",
            "none",
            "--max-size",
            "12kB",
            "--timeout",
            "1",
            "--attempts",
            "1",
            "--journal",
            str(mail_env.journal),
        )
    found = [str(p) for p in exc.value.problems]
    assert found and all("over the limit of 12 kB" in p for p in found)
    assert f"{csv.name}:4: send: the message for person2@example.org" in found[-1]
    assert connections() == [] and not mail_env.journal.exists()


def test_header_injection_in_the_list_sends_nothing(mail_env, silent_port):
    port, accepted, connections = silent_port
    csv = mail_env.csv(
        "email,name,send\nok@example.org,Ok,booklet\n"
        'x@example.org,"X\r\nBcc: victim@example.org",booklet\n'
    )
    with pytest.raises(LivretError, match="header injection"):
        mail_env.run(
            "--recipients",
            str(csv),
            "--send",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--security",
            "none",
            "--timeout",
            "1",
            "--attempts",
            "1",
            "--journal",
            str(mail_env.journal),
        )
    assert connections() == []


def test_rate_limit_spaces_the_messages(mail_env, smtp_server):
    server = smtp_server()
    start = time.monotonic()
    code, _ = mail_env.send(mail_env.recipients(people(mail_env, 4)), server, "--rate", "300")
    assert code == 0
    assert time.monotonic() - start >= 3 * 0.2 - 0.01  # 300/min: one message every 0.2 s


def test_a_silent_server_times_out_and_stops_the_run(mail_env, silent_port):
    port, accepted, connections = silent_port
    csv = mail_env.recipients(people(mail_env, 3))
    start = time.monotonic()
    code, out = mail_env.run(
        "--recipients",
        str(csv),
        "--send",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--security",
        "none",
        "--yes",
        "--timeout",
        "0.3",
        "--attempts",
        "2",
        "--backoff",
        "0.01",
        "--journal",
        str(mail_env.journal),
    )
    assert code == 1
    assert time.monotonic() - start < 5
    assert wait_for(lambda: len(accepted) == 2)  # two attempts, then the run stops
    assert "failed: 1, not attempted: 2" in out
    assert [r["status"] for r in mail_env.journal_rows()] == ["failed", "pending", "pending"]


def test_no_server_at_all(mail_env):
    from conftest_mail import ClosedPort

    closed = ClosedPort()

    code, out = mail_env.run(
        "--recipients",
        str(mail_env.recipients(people(mail_env, 2))),
        "--send",
        "--host",
        "127.0.0.1",
        "--port",
        str(closed.port),
        "--yes",
        "--security",
        "none",
        "--attempts",
        "2",
        "--backoff",
        "0.01",
        "--journal",
        str(mail_env.journal),
    )
    closed.close()
    assert code == 1 and "cannot connect to 127.0.0.1" in out and "not attempted: 1" in out


def test_starttls_required_but_not_offered(mail_env, smtp_server):
    server = smtp_server()
    with pytest.raises(LivretError, match="does not offer STARTTLS"):
        mail_env.run(
            "--recipients",
            str(mail_env.recipients(people(mail_env, 1))),
            "--send",
            *mail_env.smtp_flags(server),
            "--security",
            "starttls",
        )


def test_two_runs_cannot_share_a_journal(mail_env, smtp_server):
    server = smtp_server()
    with Journal(mail_env.journal):
        with pytest.raises(LivretError, match="another `mail --send` is using this journal"):
            mail_env.send(mail_env.recipients(people(mail_env, 1)), server)
    assert server.handler.received == []


def test_subprocess_waits_for_its_lock_holder_to_stop(mail_env, smtp_server):
    # Sanity check of the helper used by the kill tests: a normal run through main() works.
    server = smtp_server()
    proc = spawn_send(mail_env, server, mail_env.recipients(people(mail_env, 2)))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert wait_for(lambda: len(server.handler.received) == 2)
