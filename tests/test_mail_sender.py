"""The SMTP sender on its own, against a real server: backoff, reconnection, pacing, and the
CLI's behaviour around it (errors printed as file:line lines, no traceback)."""

import subprocess
import sys

import pytest
from conftest_mail import CONTENT, REPO

from livret.mail.send import Sender
from livret.mail.settings import Settings

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\n.dot\r\nbye\r\n"


def sender_for(server, **kw):
    sleeps = []
    settings = Settings(host=server.host, port=server.port, security="none", timeout=5, **kw)
    return Sender(settings, sleep=sleeps.append), sleeps


def send(sender, events=None):
    events = events if events is not None else []

    def on_data():
        events.append("data")

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
    assert events == ["data", "waiting"]
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
            str(CONTENT),
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "LIVRET_LANG": "en"},
    )
    assert proc.returncode == 1  # as `livret mail` (see test_both_commands_exit_alike)
    lines = proc.stderr.splitlines()
    assert lines[-1] == "livret: 2 errors"
    assert lines[0].startswith("list.csv:2: email: invalid address")  # relative to the cwd
    assert lines[1].startswith('list.csv:3: send: unknown document "brochure"')
    assert "Traceback" not in proc.stderr


def test_the_project_cli_has_the_mail_command(tmp_path):
    from livret import cli

    assert "mail" in cli.COMMANDS
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
            str(CONTENT),
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


def _run_both(tmp_path, *argv, env_extra=None):
    """The same arguments through `python -m livret.mail` and `build.py mail`."""
    import os

    env = {**os.environ, "PYTHONPATH": str(REPO), "LIVRET_LANG": "en", **(env_extra or {})}
    env.pop("LIVRET_SMTP_PASSWORD", None)
    common = ["--content", str(CONTENT), "--output", str(tmp_path / "out"), *argv]
    results = []
    for command in (
        [sys.executable, "-m", "livret.mail"],
        [sys.executable, str(REPO / "build.py"), "mail"],
    ):
        proc = subprocess.run(
            [*command, *common], cwd=tmp_path, capture_output=True, text=True, env=env
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        results.append((proc.returncode, proc.stderr.replace("python -m livret.mail", "livret")))
    return results


@pytest.mark.slow  # ten runs, each in a process of its own
def test_both_commands_exit_alike(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("email,name,send\na@example.org,A,booklet\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("email,name,send\nnot-an-address,A,booklet\n", encoding="utf-8")
    cases = {
        "bad list": (["--recipients", str(bad)], 1),
        "bad setting": (["--recipients", str(good), "--port", "0"], 1),
        "missing list": (["--recipients", str(tmp_path / "none.csv")], 1),
        "bad flag": (["--recipients", str(good), "--no-such-flag"], 2),
        "no password": (["--recipients", str(good), "--send", "--user", "club"], 1),
    }
    for name, (argv, expected) in cases.items():
        (code_a, err_a), (code_b, err_b) = _run_both(tmp_path, *argv)
        assert code_a == code_b == expected, (name, err_a, err_b)


# -- a server that trickles its replies: the deadline is per command, not per read -----------


class Trickler:
    """A minimal SMTP server on 127.0.0.1 that answers normally, except at `slow_at` (a
    command name, or "greeting"), where it sends its reply one byte every `every` seconds,
    for ever: each read gets a byte well within any socket time-out."""

    def __init__(self, slow_at: str, every: float = 0.1):
        import socket
        import threading

        self.slow_at, self.every = slow_at, every
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._serve, daemon=True)]
        self.threads[0].start()

    def _reply(self, conn, stage: str, text: bytes) -> None:
        if stage != self.slow_at:
            conn.sendall(text)
            return
        while not self.stop.is_set():  # "250-" continuation lines, a byte at a time
            for byte in b"250-still thinking\r\n":
                if self.stop.wait(self.every):
                    return
                conn.sendall(bytes([byte]))

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                self._session(conn)
            except OSError:
                pass
            finally:
                conn.close()

    def _session(self, conn) -> None:
        file = conn.makefile("rb")
        self._reply(conn, "greeting", b"220 trickle ESMTP\r\n")
        while not self.stop.is_set():
            line = file.readline()
            if not line:
                return
            verb = line.split()[0].upper().decode() if line.strip() else ""
            if verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                while file.readline() not in (b".\r\n", b""):
                    pass
                self._reply(conn, "END", b"250 queued\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                self._reply(conn, verb, b"250 ok\r\n")

    def close(self) -> None:
        self.stop.set()
        self.threads[0].join()
        self.sock.close()


@pytest.mark.parametrize("stage", ["greeting", "EHLO", "MAIL", "END"])
def test_a_trickling_server_does_not_defeat_the_timeout(stage):
    import time

    server = Trickler(stage)
    try:
        settings = Settings(
            host="127.0.0.1", port=server.port, security="none", timeout=0.3, attempts=1
        )
        sender = Sender(settings, sleep=lambda s: None)
        events: list = []
        start = time.monotonic()
        outcome = send(sender, events)
        elapsed = time.monotonic() - start
        sender.close()
    finally:
        server.close()
    assert elapsed < 3, elapsed  # 0.3 s allowed per command; without a deadline: for ever
    assert "time-out" in outcome.reply
    if stage == "END":  # the whole message went out, the reply never came: its fate is unknown
        assert outcome.status == "unknown" and events == ["data", "waiting"]
    else:
        assert outcome.status == "failed" and "data" not in events


def test_a_server_reply_cannot_write_control_sequences_to_the_terminal(smtp_server):
    server = smtp_server()
    server.handler.data_replies = ["554 5.7.1 \x1b[2J\x1b]0;pwned\x07 refused"]
    sender, _sleeps = sender_for(server, attempts=1)
    outcome = send(sender)
    sender.close()
    assert outcome.status == "refused"
    assert "\x1b" not in outcome.reply and "\x07" not in outcome.reply
    assert outcome.reply.startswith("554 5.7.1 ?[2J?]0;pwned? refused")


def test_python_m_livret_mail_does_not_import_the_other_commands(tmp_path):
    """mail sits beside the other commands, not on top of them: the shared pieces (language,
    options, error handling) are in livret.console."""
    csv = tmp_path / "list.csv"
    csv.write_text("email,name,send\nnot-an-address,A,booklet\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from livret.mail.cli import main\n"
        f"status = main(['--recipients', {str(csv)!r}, '--content', {str(CONTENT)!r}])\n"
        "assert status == 1, status\n"
        "assert 'livret.cli' not in sys.modules, 'livret.mail imported livret.cli'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "invalid address" in proc.stderr or "adresse invalide" in proc.stderr
