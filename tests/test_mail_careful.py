"""Careful sending (issues #9 and #12), against a real SMTP server on 127.0.0.1 and real
processes and signals: Ctrl-C, two runs through a symlinked journal, an empty journal, the
dry run's own files, --to, --limit, the summary and its confirmation, older versions."""

import hashlib
import io
import json
import os
import signal

import pytest
from conftest_mail import make_pdf

from livret.errors import LivretError


def people(n, send="booklet"):
    return [(f"person{i}@example.org", f"Personne {i}", "", send) for i in range(n)]


def spawn_send(env, server, csv, *extra):
    return env.spawn("--recipients", str(csv), "--send", *env.smtp_flags(server), *extra)


def statuses(env):
    return {r["recipient"]: r["status"] for r in env.journal_rows()}


# -- Ctrl-C -----------------------------------------------------------------------------------


@pytest.mark.slow  # a real process interrupted
def test_ctrl_c_while_the_server_answers_records_unknown(mail_env, smtp_server):
    server = smtp_server()
    rows = people(6)
    csv = mail_env.recipients(rows)
    victim = {}

    def interrupt_after_third_message(recorder, _server, _envelope):
        if len(recorder.received) == 3:
            os.kill(victim["pid"], signal.SIGINT)  # the message is in; its reply not yet out

    server.handler.data_hook = interrupt_after_third_message
    proc = spawn_send(mail_env, server, csv)
    victim["pid"] = proc.pid
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    server.handler.data_hook = None
    assert b"unknown: 1" in out and b"not attempted: 3" in out
    assert b"person2@example.org: interrupted (Ctrl-C) after the message data was sent" in out
    assert [statuses(mail_env)[r[0]] for r in rows] == ["sent"] * 2 + ["unknown"] + ["pending"] * 3

    proc = spawn_send(mail_env, server, csv)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1  # the unknown one is reported, not resent
    assert b"Sent: 3, already sent (skipped): 2, refused: 0, unknown: 1" in out
    assert [server.handler.count_for(r[0]) for r in rows] == [1] * 6  # 0 duplicates, 0 missed


@pytest.mark.slow  # a real process interrupted
def test_ctrl_c_before_the_message_leaves_it_for_the_next_run(mail_env, smtp_server):
    server = smtp_server()
    rows = people(5)
    csv = mail_env.recipients(rows)
    victim = {}
    mails = []

    def interrupt_at_third_mail(recorder, _server):
        mails.append(1)
        if len(mails) == 3:
            os.kill(victim["pid"], signal.SIGINT)  # nothing of the third message sent yet

    server.handler.mail_hook = interrupt_at_third_mail
    proc = spawn_send(mail_env, server, csv)
    victim["pid"] = proc.pid
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    server.handler.mail_hook = None
    assert b"unknown: 0" in out and b"not attempted: 3" in out
    assert [statuses(mail_env)[r[0]] for r in rows] == ["sent"] * 2 + ["pending"] * 3

    proc = spawn_send(mail_env, server, csv)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert [server.handler.count_for(r[0]) for r in rows] == [1] * 5


# -- the journal ----------------------------------------------------------------------------


def test_two_runs_at_once_through_a_symlinked_journal_send_nothing_twice(
    mail_env, smtp_server, tmp_path
):
    server = smtp_server()
    rows = people(40)
    csv = mail_env.recipients(rows)
    mail_env.journal.parent.mkdir(parents=True, exist_ok=True)
    link = tmp_path / "journal-link.sqlite"
    link.symlink_to(mail_env.journal)
    flags = mail_env.smtp_flags(server)
    via_link = [f if f != str(mail_env.journal) else str(link) for f in flags]
    assert str(link) in via_link
    procs = [
        mail_env.spawn("--recipients", str(csv), "--send", *flags),
        mail_env.spawn("--recipients", str(csv), "--send", *via_link),
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
    for code, err in results:
        assert code == 0 or "another `mail --send` is using this journal" in err, err
    assert max(server.handler.count_for(r[0]) for r in rows) == 1  # 0 duplicates
    proc = spawn_send(mail_env, server, csv)  # whatever was left is sent now
    assert proc.wait(timeout=60) == 0
    assert [server.handler.count_for(r[0]) for r in rows] == [1] * 40


def test_an_empty_journal_stops_the_send(mail_env, smtp_server):
    server = smtp_server()
    mail_env.journal.parent.mkdir(parents=True)
    mail_env.journal.write_bytes(b"")
    with pytest.raises(LivretError, match=r"the send journal is empty \(0 bytes\)"):
        mail_env.send(mail_env.recipients(people(3)), server)
    assert server.handler.received == [] and server.handler.peers == []
    assert mail_env.journal.read_bytes() == b""


# -- the dry run's files -----------------------------------------------------------------------


def test_the_dry_run_removes_only_its_own_files(mail_env):
    folder = mail_env.output / "mail"
    folder.mkdir(parents=True)
    mine = folder / "from-thunderbird.eml"
    mine.write_bytes(b"Subject: keep me\r\n\r\nx\r\n")
    mail_env.run("--recipients", str(mail_env.recipients(people(3))))
    assert len(list(folder.glob("0*.eml"))) == 3
    mail_env.run("--recipients", str(mail_env.recipients(people(1))))
    assert sorted(f.name for f in folder.glob("*.eml")) == [
        "0001-person0@example.org.eml",
        "from-thunderbird.eml",
    ]
    assert mine.read_bytes() == b"Subject: keep me\r\n\r\nx\r\n"
    # A file of someone else's that bears the name of one of ours is not replaced either.
    theirs = folder / "0002-person1@example.org.eml"
    theirs.write_bytes(b"theirs")
    with pytest.raises(LivretError, match="not written by a dry run"):
        mail_env.run("--recipients", str(mail_env.recipients(people(2))))
    assert theirs.read_bytes() == b"theirs"


# -- --to and --limit ----------------------------------------------------------------------------


def test_a_test_run_to_oneself_then_the_real_send_reaches_everyone_once(mail_env, smtp_server):
    server = smtp_server()
    rows = people(3, send=mail_env.themes[0])
    csv = mail_env.recipients(rows)
    code, out = mail_env.send(csv, server, "--to", "moi@example.org")
    assert code == 0, out
    assert "every message goes to moi@example.org" in out
    assert [r.rcpt_tos for r in server.handler.received] == [["moi@example.org"]] * 3
    first = server.handler.received[0].message
    assert first["To"] == "moi@example.org"
    assert first["X-Livret-Test-For"] == "Personne 0 <person0@example.org>"
    assert all(server.handler.count_for(r[0]) == 0 for r in rows)

    code, out = mail_env.send(csv, server)  # the real send: everyone, once
    assert code == 0 and "Sent: 3, already sent (skipped): 0" in out
    assert [server.handler.count_for(r[0]) for r in rows] == [1, 1, 1]
    code, out = mail_env.send(csv, server, "--to", "moi@example.org")
    assert "Sent: 0, already sent (skipped): 3" in out  # the test run has its own record
    code, out = mail_env.send(csv, server)
    assert "Sent: 0, already sent (skipped): 3" in out
    assert server.handler.count_for("moi@example.org") == 3


def test_limit_sends_the_first_n_and_the_next_runs_carry_on(mail_env, smtp_server):
    server = smtp_server()
    rows = people(5)
    csv = mail_env.recipients(rows)
    counts = []
    for _ in range(3):
        code, out = mail_env.send(csv, server, "--limit", "2")
        assert code == 0, out
        counts.append([server.handler.count_for(r[0]) for r in rows])
    assert counts == [[1, 1, 0, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert "Left for a later run (--limit): 1" not in out


def test_limit_and_to_are_checked(mail_env):
    csv = mail_env.recipients(people(1))
    with pytest.raises(LivretError) as exc:
        mail_env.run("--recipients", str(csv), "--limit", "0", "--to", "a..b@example.org")
    found = [str(p) for p in exc.value.problems]
    assert found[0].startswith("command line: --to: invalid address")
    assert found[1] == 'command line: --limit: "0" is not a whole number ≥ 1'


# -- summary and confirmation --------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_send_shows_the_summary_and_asks(mail_env, smtp_server):
    server = smtp_server()
    csv = mail_env.recipients(people(2) + [("x@example.org", "X", "", mail_env.themes[1])])
    flags = [f for f in mail_env.smtp_flags(server) if f != "--yes"]
    args = mail_env.args("--recipients", str(csv), "--send", *flags)
    from livret.mail.cli import run

    out = io.StringIO()
    code = run(args, build=mail_env.build, out=out, stdin=Terminal("non\n"))
    text = out.getvalue()
    assert code == 1 and "Cancelled: nothing sent." in text
    assert server.handler.received == [] and server.handler.peers == []
    assert "messages to send: 3" in text
    assert "From: " in text and "dgcs-club-des-territoires@social.gouv.fr" in text
    assert "Subject: " in text and "Total size: at most" in text
    assert "booklet (2): person0@example.org, person1@example.org" in text
    assert f"{mail_env.themes[1]} (1): x@example.org" in text
    assert "Send the 3 message(s) now? Type yes to confirm:" in text

    out = io.StringIO()
    code = run(args, build=mail_env.build, out=out, stdin=Terminal("oui\n"))
    assert code == 0 and len(server.handler.received) == 3


def test_no_terminal_and_no_yes_sends_nothing(mail_env, smtp_server):
    server = smtp_server()
    flags = [f for f in mail_env.smtp_flags(server) if f != "--yes"]
    with pytest.raises(LivretError, match="add --yes"):
        mail_env.run("--recipients", str(mail_env.recipients(people(2))), "--send", *flags)
    assert server.handler.received == [] and server.handler.peers == []


def test_the_dry_run_prints_the_same_summary(mail_env):
    code, out = mail_env.run("--recipients", str(mail_env.recipients(people(2))))
    assert code == 0
    for part in ("Summary:", "messages to send: 2", "From: ", "Subject: ", "Total size: "):
        assert part in out


# -- older versions ----------------------------------------------------------------------------


def test_who_already_received_an_older_version_is_told(mail_env, smtp_server):
    server = smtp_server()
    theme = mail_env.themes[0]
    rows = [("a@example.org", "A", "", "booklet"), ("b@example.org", "B", "", theme)]
    csv = mail_env.recipients(rows)
    assert mail_env.send(csv, server)[0] == 0
    entry = next(e for e in mail_env.manifest["outputs"] if e["theme"] == theme)
    data = make_pdf(mail_env.output / entry["path"], entry["title"] + " (corrigé)")
    entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (mail_env.output / "manifest.json").write_text(json.dumps(mail_env.manifest), "utf-8")

    code, out = mail_env.run("--recipients", str(csv), "--journal", str(mail_env.journal))
    assert "Already received an older version" in out  # the dry run says it
    assert "(1 to send, 1 skipped)" in out
    assert f"{csv.name}:3: b@example.org: {theme} sent on " in out
    assert "a@example.org:" not in out.split("Already received")[1]
    code, out = mail_env.send(csv, server)  # and so does the send
    assert code == 0 and f"b@example.org: {theme} sent on " in out
    assert server.handler.count_for("b@example.org") == 2
