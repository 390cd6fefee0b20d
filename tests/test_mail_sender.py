"""The SMTP sender on its own, against a real server: backoff, reconnection, pacing, and the
CLI's behaviour around it (errors printed as file:line lines, no traceback)."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
pytest.register_assert_rewrite("conftest_mail")
pytest_plugins = ["conftest_mail"]

from conftest_mail import REPO  # noqa: E402

from livret.mail.send import Sender  # noqa: E402
from livret.mail.settings import Settings  # noqa: E402

MESSAGE = [b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\n", b"..dot\r\nbye\r\n"]


def sender_for(server, **kw):
    sleeps = []
    settings = Settings(host=server.host, port=server.port, security="none", timeout=5, **kw)
    return Sender(settings, sleep=sleeps.append), sleeps


def send(sender, events=None):
    events = events if events is not None else []

    def on_data():
        events.append("data")
        return lambda: events.append("recorded")

    return sender.send(
        "a@example.org",
        ["b@example.org"],
        MESSAGE,
        on_data,
        lambda reply: events.append(f"not sent: {reply}"),
        while_waiting=lambda: events.append("waiting"),
    )


def test_backoff_is_exponential_and_capped(smtp_server):
    server = smtp_server()
    server.handler.data_replies = ["451 4.3.0 busy"] * 10
    sender, sleeps = sender_for(server, attempts=4, backoff=1.0, backoff_max=3.0)
    events = []
    outcome = send(sender, events)
    assert (outcome.status, outcome.code, outcome.attempts) == ("failed", 451, 4)
    assert sleeps == [1.0, 2.0, 3.0]
    assert events.count("not sent: 451 4.3.0 busy") == 4
    assert server.handler.received == []
    sender.close()


def test_the_message_arrives_unstuffed_and_the_journal_hooks_run_in_order(smtp_server):
    server = smtp_server()
    sender, sleeps = sender_for(server)
    events = []
    outcome = send(sender, events)
    assert outcome.status == "sent" and outcome.code == 250
    assert events == ["data", "recorded", "waiting", "recorded"]
    (got,) = server.handler.received
    assert got.data.endswith(b"\r\n.dot\r\nbye\r\n")  # the server removed the stuffed dot
    sender.close()


def test_an_idle_connection_closed_by_the_relay_is_reopened_at_once(smtp_server):
    server = smtp_server()
    sender, sleeps = sender_for(server, attempts=1)
    assert send(sender).status == "sent"
    drops = []

    def drop_once(recorder, _server):
        if not drops:
            drops.append(1)
            return "drop"

    server.handler.mail_hook = drop_once
    outcome = send(sender)
    assert outcome.status == "sent" and outcome.attempts == 1  # not counted as an attempt
    assert sleeps == [] and len(server.handler.peers) == 2
    sender.close()


def test_pacing_uses_the_rate(smtp_server):
    server = smtp_server()
    now = [100.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(round(seconds, 6))
        now[0] += seconds

    sender = Sender(
        Settings(host=server.host, port=server.port, security="none", rate=30),
        sleep=sleep,
        clock=lambda: now[0],
    )
    for _ in range(3):
        send(sender)
    assert sleeps == [2.0, 2.0]  # 30 per minute: 2 s apart
    sender.close()


def test_the_command_prints_problems_as_lines_without_traceback(tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_text(
        "email,name,send\nnot-an-address,A,booklet\nb@example.org,B,brochure\n", encoding="utf-8"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "livret.mail",
            "--recipients",
            str(csv),
            "--content",
            str(REPO / "content"),
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("list.csv:2: email: invalid address")  # relative to the cwd
    assert lines[1].startswith('list.csv:3: send: unknown document "brochure"')
    assert "Traceback" not in proc.stderr


def test_the_project_cli_has_the_mail_command(tmp_path):
    cli = pytest.importorskip("livret.cli")
    if "mail" not in getattr(cli, "COMMANDS", ("mail",)):
        pytest.skip("livret.cli does not list the mail command")
    csv = tmp_path / "list.csv"
    csv.write_text("email,name,send\nnot-an-address,A,booklet\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "build.py"),
            "mail",
            "--recipients",
            str(csv),
            "--content",
            str(REPO / "content"),
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "list.csv:2: email: invalid address" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
