"""Fixtures for the mail tests (a pytest plugin, registered by tests/conftest.py; messages are in
English unless a test asks for the `french` fixture, as everywhere).

- fake outputs: small but valid PDFs (pypdf), different per output, and a matching
  output/manifest.json, so that the mail tests need neither WeasyPrint nor the pipeline;
- a real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives, and that the
  tests can make refuse, defer, drop the connection, or kill the client;
- certificates made on the fly with trustme for STARTTLS and implicit TLS.
"""

from __future__ import annotations

import argparse
import email
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "tests" / "fixtures" / "edition-01" / "content"  # as conftest.CONTENT
PASSWORD = "S3cr3t-pa55word-do-not-leak"
SMTP_USER = "club"


# -- outputs ------------------------------------------------------------------------------------


def make_pdf(path: Path, title: str, padding: int = 2000, seed: int = 0) -> bytes:
    """A one-page PDF with `title` as metadata and `padding` random bytes (an embedded file)
    so that outputs differ and have a realistic size."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title, "/Producer": "livret tests"})
    if padding:
        writer.add_attachment("padding.bin", random.Random(f"{seed}{title}").randbytes(padding))
    buf = io.BytesIO()
    writer.write(buf)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def edition_data(content: Path) -> dict:
    import yaml

    return yaml.safe_load((content / "edition.yaml").read_text(encoding="utf-8"))


def write_outputs(content: Path, output: Path, padding: int = 2000, seed: int = 0) -> dict:
    """PDFs for the booklet and every theme of content/edition.yaml, plus manifest.json."""
    ed = edition_data(content)
    slug = ed["slug"]
    full = f"{ed['series']} #{ed['number']:02d}"
    outputs = [("booklet", None, f"{slug}.pdf", f"{full} — {ed['title']}")]
    for theme in ed["themes"]:
        title = (
            theme.replace("-", " ")
            .capitalize()
            .replace("Precarite", "Précarité")
            .replace("energetique", "énergétique")
            .replace("Mobilites", "Mobilités")
        )
        outputs.append(("theme", theme, f"{slug}-{theme}.pdf", f"{full} — {title}"))
    entries = []
    for kind, theme, name, title in outputs:
        data = make_pdf(output / name, title, padding, seed)
        entries.append(
            {
                "path": name,
                "kind": kind,
                "theme": theme,
                "action": None,
                "title": title,
                "variant": "accessible",
                "edition": slug,
                "number": ed["number"],
                "pages": 1 if kind == "theme" else 3,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "inputs": {},
            }
        )
    manifest = {
        "format": 1,
        "edition": slug,
        "number": ed["number"],
        "livret_version": "0.1.0",
        "weasyprint_version": "70.0",
        "outputs": entries,
    }
    (output / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return manifest


class FakeBuild:
    """Stands in for livret.building.pipeline.build: records each call, returns manifest.json."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(
        self,
        content_dir,
        output_dir,
        *,
        booklet=True,
        themes=None,
        actions=None,
        force=False,
        jobs=None,
    ):
        self.calls.append(
            {
                "content": Path(content_dir),
                "output": Path(output_dir),
                "booklet": booklet,
                "themes": themes,
                "actions": actions,
            }
        )
        return json.loads((Path(output_dir) / "manifest.json").read_text(encoding="utf-8"))


# -- SMTP server --------------------------------------------------------------------------------


class ClosedPort:
    """A port bound on 127.0.0.1 and kept, but not listening: connections are refused, and
    no other process can take it while the test runs (no bind-close-reuse race)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


class SMTPThread:
    """aiosmtpd's SMTP protocol served by an asyncio loop in a thread, on a socket bound to
    port 0 by the test and kept: the port is known before the server starts, and no other
    process can take it in between."""

    def __init__(self, handler, ssl_context=None, **smtp_kwargs):
        import asyncio

        from aiosmtpd.smtp import SMTP

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                self.loop.create_server(
                    lambda: SMTP(handler, **smtp_kwargs), sock=self.sock, ssl=ssl_context
                )
            )
            ready.set()
            self.loop.run_forever()
            server.close()
            self.loop.run_until_complete(server.wait_closed())
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10), "SMTP server did not start"

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    data: bytes
    peer: tuple

    @property
    def message(self):
        return email.message_from_bytes(self.data, policy=policy.default)


class Recorder:
    """aiosmtpd handler that keeps every accepted message and can be told to misbehave."""

    def __init__(self):
        self.received: list[Received] = []
        self.peers: list = []  # one per connection that reached MAIL
        self.rcpt_replies: dict[str, str] = {}  # address (lower case) → reply to RCPT
        self.data_replies: list[str] = []  # next replies to the end of data, then 250
        self.data_attempts = 0
        self.mail_hook = None  # callable(recorder, server) run at MAIL; may abort/kill
        self.data_hook = None  # callable(recorder, server, envelope) → None or "drop"
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if session.peer not in self.peers:
            self.peers.append(session.peer)
        if self.mail_hook is not None and self.mail_hook(self, server) == "drop":
            server.transport.abort()
            return "421 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_attempts += 1
            if self.data_replies:
                return self.data_replies.pop(0)
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                    session.peer,
                )
            )
        if self.data_hook is not None and self.data_hook(self, server, envelope) == "drop":
            # Delivered, but the client never hears about it: its fate is unknown to it.
            server.transport.abort()
        return "250 2.0.0 Queued"

    def count_for(self, address: str) -> int:
        return sum(1 for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos))


@dataclass
class Server:
    host: str
    port: int
    handler: Recorder
    controller: object
    cafile: Path | None = None
    extra: dict = field(default_factory=dict)

    def stop(self):
        self.controller.stop()


class TLS:
    """A throwaway certificate authority and a certificate for 127.0.0.1 and localhost."""

    def __init__(self, folder: Path):
        import trustme

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.cafile = folder / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.cafile))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        return ctx


@pytest.fixture
def smtp_server(tmp_path):
    """Factory: smtp_server(tls=None|"starttls"|"ssl", auth=False) → a running Server."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    started: list[Server] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    def start(tls: str | None = None, auth: bool = False) -> Server:
        handler = Recorder()
        kwargs: dict = {}
        ssl_context = None
        cafile = None
        if tls:
            certs = TLS(tmp_path)
            cafile = certs.cafile
            if tls == "starttls":
                kwargs.update(tls_context=certs.server_context(), require_starttls=True)
            else:
                ssl_context = certs.server_context()
                kwargs.update(auth_require_tls=False)
        if auth:
            kwargs.update(authenticator=authenticator, auth_required=True)
        controller = SMTPThread(handler, ssl_context, **kwargs)
        server = Server("127.0.0.1", controller.port, handler, controller, cafile)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never says a word (tests timeouts); counts
    accepted connections."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list = []
    stop = threading.Event()

    def loop():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def connections() -> list:
        """Every connection made so far, exactly: once a client's connect() has returned,
        its connection is either accepted already or waiting in the backlog (no sleep)."""
        while True:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, TimeoutError):
                return accepted
            accepted.append(conn)

    yield sock.getsockname()[1], accepted, connections
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


# -- the command ----------------------------------------------------------------------------------


class MailEnv:
    """A project in tmp_path: content/edition.yaml (a copy of the real one), fake outputs,
    a journal, and a way to run the `mail` subcommand as the CLI would."""

    def __init__(self, root: Path):
        self.root = root
        self.content = root / "content"
        self.output = root / "output"
        self.journal = root / "state" / "journal.sqlite"
        self.content.mkdir(parents=True)
        shutil.copy(CONTENT / "edition.yaml", self.content / "edition.yaml")
        self.edition = edition_data(self.content)
        self.themes = list(self.edition["themes"])
        self.manifest = write_outputs(self.content, self.output)
        self.build = FakeBuild()

    def pdf(self, slug: str) -> bytes:
        for entry in self.manifest["outputs"]:
            if (entry["kind"] == "booklet" and slug == "booklet") or entry["theme"] == slug:
                return (self.output / entry["path"]).read_bytes()
        raise KeyError(slug)

    def csv(self, text: str, name: str = "recipients.csv", encoding: str = "utf-8") -> Path:
        path = self.root / name
        path.write_bytes(text.encode(encoding))
        return path

    def recipients(self, rows: list[tuple], name: str = "recipients.csv") -> Path:
        lines = ["email,name,organisation,send"]
        for row in rows:
            lines.append(",".join(f'"{v}"' if ("," in v or '"' in v) else v for v in row))
        return self.csv("\n".join(lines) + "\n", name)

    def args(self, *argv: str):
        from livret.mail.cli import register

        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--content", type=Path, default=self.content)
        common.add_argument("--output", type=Path, default=self.output)
        parser = argparse.ArgumentParser(prog="build.py")
        register(parser.add_subparsers(dest="command"), [common])
        return parser.parse_args(["mail", *argv])

    def run(self, *argv: str, build=None) -> tuple[int, str]:
        from livret.mail.cli import run

        out = io.StringIO()
        code = run(self.args(*argv), build=build or self.build, out=out)
        return code, out.getvalue()

    def smtp_flags(self, server: Server, security: str = "none") -> list[str]:
        flags = [
            "--host",
            server.host,
            "--port",
            str(server.port),
            "--security",
            security,
            "--journal",
            str(self.journal),
            "--timeout",
            "5",
            "--backoff",
            "0.01",
            "--yes",  # no terminal to confirm on
        ]
        if server.cafile is not None:
            flags += ["--cafile", str(server.cafile)]
        return flags

    def send(self, recipients: Path, server: Server, *extra: str, build=None):
        return self.run(
            "--recipients", str(recipients), "--send", *self.smtp_flags(server), *extra, build=build
        )

    def journal_rows(self) -> list[dict]:
        import sqlite3

        db = sqlite3.connect(str(self.journal))
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM deliveries ORDER BY address")]
        finally:
            db.close()

    # A separate process, for the tests that kill the sender.
    def driver(self) -> Path:
        script = self.root / "drive_mail.py"
        script.write_text(
            "import json, sys\n"
            "from pathlib import Path\n"
            "from livret.mail.cli import main\n"
            "def build(content, output, **kw):\n"
            "    return json.loads((Path(output) / 'manifest.json').read_text('utf-8'))\n"
            "sys.exit(main(sys.argv[1:], build=build))\n",
            encoding="utf-8",
        )
        return script

    def spawn(self, *argv: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop(PASSWORD_ENV_NAME, None)
        return subprocess.Popen(
            [
                sys.executable,
                str(self.driver()),
                "--content",
                str(self.content),
                "--output",
                str(self.output),
                *argv,
            ],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


PASSWORD_ENV_NAME = "LIVRET_SMTP_PASSWORD"


@pytest.fixture
def mail_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray mail.yaml or .livret/ from the real project
    monkeypatch.delenv(PASSWORD_ENV_NAME, raising=False)
    return MailEnv(tmp_path)


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
