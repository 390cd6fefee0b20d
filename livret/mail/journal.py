"""Stage 5 — the send journal: what was sent to whom, so that a re-run resumes.

One SQLite row per (campaign, recipient). The row goes to "sending" once the server has
accepted the sender, and that is on disk *before* the end-of-data marker goes out; it goes to
"sent" once the server has said 250. A run that is killed in between leaves "sending", which the
next run turns into "unknown": the server may or may not have the message, so it is reported
and only resent on request (`--resend-unknown`).

    pending ──► sending ──► sent
       ▲           │ ├────► refused   (5xx: permanent; retried by a later run)
       │           │ ├────► failed    (4xx or network, attempts exhausted; retried later)
       └───────────┘ └────► unknown   (no reply after the data was sent; see above)

Durability where it matters, speed elsewhere: the "sending" record is committed with
synchronous=FULL (a power cut must not forget that a message may have gone out, or the next run
would send it twice) by a writer thread, while the DATA command and the message travel — the
sender waits for it only before the end-of-data marker. Other records use WAL's NORMAL level,
which survives a killed process; a power cut can at worst turn a "sent" back into "sending",
that is into "unknown": reported, never resent on its own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import LivretError, Problem, display_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, documented in docs/mail.md
    fcntl = None

STATUSES = ("pending", "sending", "sent", "refused", "unknown", "failed")
SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    campaign     TEXT NOT NULL,
    recipient    TEXT NOT NULL,               -- address, lower case
    address      TEXT NOT NULL,               -- address as written in the list
    edition      TEXT NOT NULL,
    documents    TEXT NOT NULL,               -- JSON: [{{"slug", "path", "sha256"}}, ...]
    message_id   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    attempts     INTEGER NOT NULL DEFAULT 0,  -- SMTP transactions tried, all runs together
    size         INTEGER,                     -- bytes of the encoded message
    smtp_code    INTEGER,
    smtp_reply   TEXT,                        -- the server's last reply, or what went wrong
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    sent_at      TEXT,
    PRIMARY KEY (campaign, recipient)
);
CREATE TABLE IF NOT EXISTS events (             -- every change of status, for the record
    id          INTEGER PRIMARY KEY,
    campaign    TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    at          TEXT NOT NULL,
    status      TEXT NOT NULL,
    smtp_code   INTEGER,
    smtp_reply  TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Row:
    campaign: str
    recipient: str
    address: str
    status: str
    attempts: int
    smtp_code: int | None
    smtp_reply: str | None
    message_id: str
    updated_at: str
    sent_at: str | None


class Journal:
    """The journal of one `--send` run; holds a lock so that two runs cannot interleave."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = None
        self.db = None
        # The connection is used by the caller's thread and by the writer thread that makes
        # "sending" durable in the background; the mutex keeps their uses apart.
        self._mutex = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livret-journal")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._locked(self._open)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LivretError(
                Problem(display_path(self.path), None, None, f"cannot use the send journal: {exc}")
            ) from None
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        self.db = sqlite3.connect(
            str(self.path), isolation_level=None, timeout=10, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        version = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if version is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) > SCHEMA_VERSION:
            raise LivretError(
                Problem(
                    display_path(self.path),
                    None,
                    None,
                    f"journal format {version[0]} is newer than this "
                    "livret understands; update livret",
                )
            )

    def _locked(self, fn, *args):
        with self._mutex:
            return fn(*args)

    def _call(self, fn, *args):
        try:
            return self._locked(fn, *args)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _error(self, exc) -> LivretError:
        return LivretError(
            Problem(display_path(self.path), None, None, f"cannot write the send journal: {exc}")
        )

    def _take_lock(self) -> None:
        if fcntl is None:
            return
        self._lock = open(f"{self.path}.lock", "a+")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise LivretError(
                Problem(
                    display_path(self.path),
                    None,
                    None,
                    "another `mail --send` is using this journal; wait for it "
                    "to finish (two runs at once would send twice)",
                )
            ) from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"{os.getpid()}\n")
        self._lock.flush()

    def close(self) -> None:
        self._writer.shutdown(wait=True)  # a "sending" record still being written comes first
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ----------------------------------------------------------------------------

    def statuses(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(campaign, recipient) → (status, last reply), for every row, in one query."""

        def read():
            return {
                (c, r): (s, reply)
                for c, r, s, reply in self.db.execute(
                    "SELECT campaign, recipient, status, smtp_reply FROM deliveries"
                )
            }

        return self._call(read)

    def get(self, campaign: str, recipient: str) -> Row | None:
        def read():
            return self.db.execute(
                "SELECT campaign, recipient, address, status, attempts, smtp_code, smtp_reply, "
                "message_id, updated_at, sent_at FROM deliveries WHERE campaign=? AND "
                "recipient=?",
                (campaign, recipient),
            ).fetchone()

        found = self._call(read)
        return Row(*found) if found else None

    # -- writing (each call is one committed transaction) ---------------------------------

    def recover_interrupted(self) -> int:
        """A row left in "sending" is a run that stopped between DATA and the reply."""

        def write():
            now = _now()
            with self._transaction():
                rows = self.db.execute(
                    "SELECT campaign, recipient FROM deliveries WHERE status='sending'"
                ).fetchall()
                reply = (
                    "interrupted after the message data was sent, before the server's "
                    "reply: it may or may not have been delivered"
                )
                for campaign, recipient in rows:
                    self._set(campaign, recipient, "unknown", None, reply, now)
            return len(rows)

        return self._call(write)

    def prepare(self, rows) -> None:
        """Rows about to be sent, as (campaign, recipient, address, edition, documents,
        message_id): created "pending", or made pending again unless already sent."""

        def write():
            now = _now()
            with self._transaction():
                self.db.executemany(
                    "INSERT INTO deliveries (campaign, recipient, address, edition, documents, "
                    "message_id, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
                    "ON CONFLICT (campaign, recipient) DO UPDATE SET status='pending', "
                    "address=excluded.address, updated_at=excluded.updated_at "
                    "WHERE status != 'sent'",
                    [(c, r, a, e, json.dumps(d), m, now, now) for c, r, a, e, d, m in rows],
                )

        self._call(write)

    def sending(self, campaign: str, recipient: str, size: int) -> Callable[[], None]:
        """Start recording "sending"; the function returned waits until it is on disk."""

        def write():
            now = _now()
            with self._transaction(durable=True):
                self.db.execute(
                    "UPDATE deliveries SET size=?, attempts=attempts+1 "
                    "WHERE campaign=? AND recipient=?",
                    (size, campaign, recipient),
                )
                self._set(campaign, recipient, "sending", None, None, now)

        future = self._writer.submit(self._locked, write)

        def wait() -> None:
            try:
                future.result()
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None

        return wait

    def finish(
        self, campaign: str, recipient: str, status: str, code: int | None, reply: str | None
    ) -> None:
        assert status in STATUSES

        def write():
            now = _now()
            with self._transaction():
                self._set(campaign, recipient, status, code, reply, now)
                if status == "sent":
                    self.db.execute(
                        "UPDATE deliveries SET sent_at=? WHERE campaign=? AND recipient=?",
                        (now, campaign, recipient),
                    )

        self._call(write)

    def _set(self, campaign, recipient, status, code, reply, now) -> None:
        self.db.execute(
            "UPDATE deliveries SET status=?, smtp_code=?, smtp_reply=?, "
            "updated_at=? WHERE campaign=? AND recipient=?",
            (status, code, reply, now, campaign, recipient),
        )
        self.db.execute(
            "INSERT INTO events (campaign, recipient, at, status, smtp_code, "
            "smtp_reply) VALUES (?, ?, ?, ?, ?, ?)",
            (campaign, recipient, now, status, code, reply),
        )

    def _transaction(self, durable: bool = False):
        return _Transaction(self.db, durable)


class _Transaction:
    def __init__(self, db, durable: bool):
        self.db = db
        self.durable = durable

    def __enter__(self):
        self.db.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def read_statuses(path: Path) -> dict[tuple[str, str], str]:
    """(campaign, recipient) → status, read-only, for a dry run's preview; {} if no journal."""
    if not Path(path).is_file():
        return {}
    try:
        db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            return {
                (c, r): s
                for c, r, s in db.execute("SELECT campaign, recipient, status FROM deliveries")
            }
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return {}
