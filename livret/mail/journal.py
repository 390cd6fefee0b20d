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
would send it twice) after the message's body went out and before its end-of-data marker, so
that the fsync overlaps the server's work on the body. Other records use WAL's NORMAL level,
which survives a killed process; a power cut can at worst turn a "sent" back into "sending",
that is into "unknown": reported, never resent on its own.

The journal is what stands between a re-run and a duplicate, so a journal that cannot be
trusted stops the send: an empty (0-byte) file, a file that is not SQLite, a damaged database
or one that is not a livret journal is an error, never "a new journal". A new journal is
created complete (schema written, synced) under a temporary name and then linked into place.
Two runs cannot share a journal: the lock is taken on the journal file itself (flock), that is
on what its path resolves to, whatever symlink or other spelling leads there.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ..errors import LivretError, Problem, display_path
from ..i18n import _

T = TypeVar("T")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, documented in docs/mail.md
    fcntl = None  # type: ignore[assignment]

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


# Added to journals of any age when they are opened for writing (nothing else changes):
# who must not be mailed any more, by a salted hash of the address so that `mail forget`
# can erase the address itself and keep the person suppressed.
_SUPPRESSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressions (
    hash     TEXT PRIMARY KEY,              -- sha256(salt, address in lower case)
    address  TEXT,                          -- NULL once forgotten or past the retention
    reason   TEXT NOT NULL,                 -- manual, unsubscribe, bounce
    detail   TEXT,                          -- where it came from (DSN status, file…)
    at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS soft_bounces (   -- temporary failures (4.x.x) in a row
    hash     TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    detail   TEXT,
    at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (        -- delivery reports already counted
    id       TEXT PRIMARY KEY,
    at       TEXT NOT NULL
);
"""
SOFT_BOUNCE_LIMIT = 3  # temporary failures in a row before an address is suppressed


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
        self.real = self.path.resolve()  # symlinks resolved: the file that is really used
        self._lock: int | None = None
        self.db: sqlite3.Connection | None = None
        self.salt = ""  # of the suppressions' hashes; read from the journal when opened
        try:
            self.real.parent.mkdir(parents=True, exist_ok=True)
            if not self.real.exists():
                _create(self.real)
            check_journal_file(self.path)
            self._take_lock()
            self._open()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._problem(
                _("cannot use the send journal: {error}").format(error=exc)
            ) from None
        except OSError as exc:
            self.close()
            raise self._problem(
                _("cannot use the send journal: {error}").format(error=exc.strerror or exc)
            ) from None
        except BaseException:
            self.close()
            raise

    def _problem(self, message: str) -> LivretError:
        return LivretError(Problem(display_path(self.path), None, None, message))

    def _open(self) -> None:
        self.db = sqlite3.connect(str(self.real), isolation_level=None, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        _check_database(self.db, self.path)
        with _Transaction(self.db):
            for statement in _SUPPRESSION_SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (os.urandom(16).hex(),)
            )
        self.salt = _salt(self.db) or ""

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self.db is not None, "journal closed"
        try:
            return fn(self.db)
        except sqlite3.DatabaseError as exc:
            raise self._problem(
                _("cannot write the send journal: {error}").format(error=exc)
            ) from None

    def _take_lock(self) -> None:
        if fcntl is None:
            return
        fd = os.open(self.real, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._problem(
                _(
                    "another `mail --send` is using this journal; wait for it to finish "
                    "(two runs at once would send twice)"
                )
            ) from None
        self._lock = fd

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock is not None:
            os.close(self._lock)  # after the database: closing the file releases the flock
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ----------------------------------------------------------------------------

    def statuses(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(campaign, recipient) → (status, last reply), for every row, in one query."""

        def read(db: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str | None]]:
            return {
                (c, r): (s, reply)
                for c, r, s, reply in db.execute(
                    "SELECT campaign, recipient, status, smtp_reply FROM deliveries"
                )
            }

        return self._call(read)

    def history(self, edition: str) -> dict[str, list[Delivered]]:
        """recipient → what each of its earlier deliveries of `edition` carried."""
        return self._call(lambda db: _history(db, edition))

    def get(self, campaign: str, recipient: str) -> Row | None:
        def read(db: sqlite3.Connection):
            return db.execute(
                "SELECT campaign, recipient, address, status, attempts, smtp_code, smtp_reply, "
                "message_id, updated_at, sent_at FROM deliveries WHERE campaign=? AND "
                "recipient=?",
                (campaign, recipient),
            ).fetchone()

        found = self._call(read)
        return Row(*found) if found else None

    def suppressed(self, keys) -> set[str]:
        """Which of these addresses (lower case) must not be mailed."""
        return self._call(lambda db: _suppressed(db, self.salt, keys))

    def known_addresses(self) -> set[str]:
        """Every address the journal still knows (lower case): those a token can stand for."""

        def read(db: sqlite3.Connection) -> set[str]:
            found = {r for (r,) in db.execute("SELECT DISTINCT recipient FROM deliveries")}
            found |= {
                a.lower()
                for (a,) in db.execute("SELECT address FROM suppressions WHERE address IS NOT NULL")
            }
            return found

        return self._call(read)

    # -- suppressions, delivery reports, erasure ----------------------------------------

    def suppress(self, address: str, reason: str, detail: str | None = None) -> bool:
        """Never mail `address` again; False if it already was suppressed."""
        key = address.strip().lower()

        def write(db: sqlite3.Connection) -> bool:
            with _Transaction(db):
                cur = db.execute(
                    "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?, ?)",
                    (address_hash(self.salt, key), key, reason, detail, _now()),
                )
                db.execute("DELETE FROM soft_bounces WHERE hash=?", (address_hash(self.salt, key),))
            return cur.rowcount == 1

        return self._call(write)

    def report_seen(self, report_id: str) -> bool:
        """Record a delivery report as counted; False if it already was (read twice)."""

        def write(db: sqlite3.Connection) -> bool:
            with _Transaction(db):
                cur = db.execute("INSERT OR IGNORE INTO reports VALUES (?, ?)", (report_id, _now()))
            return cur.rowcount == 1

        return self._call(write)

    def soft_bounce(self, address: str, detail: str) -> int:
        """One more temporary failure in a row for `address`: how many now."""
        digest = address_hash(self.salt, address.strip().lower())

        def write(db: sqlite3.Connection) -> int:
            with _Transaction(db):
                db.execute(
                    "INSERT INTO soft_bounces VALUES (?, 1, ?, ?) ON CONFLICT (hash) DO UPDATE "
                    "SET count=count+1, detail=excluded.detail, at=excluded.at",
                    (digest, detail, _now()),
                )
                (count,) = db.execute(
                    "SELECT count FROM soft_bounces WHERE hash=?", (digest,)
                ).fetchone()
            return int(count)

        return self._call(write)

    def delivered(self, address: str) -> None:
        """A report of a delivery: the temporary failures are no longer in a row."""
        digest = address_hash(self.salt, address.strip().lower())

        def write(db: sqlite3.Connection) -> None:
            with _Transaction(db):
                db.execute("DELETE FROM soft_bounces WHERE hash=?", (digest,))

        self._call(write)

    def forget(self, address: str) -> dict[str, int]:
        """Erase `address` from the journal (its deliveries, their history, its counts) and
        keep only its salted hash among the suppressions: the person is never mailed again
        and the journal no longer says who they were."""
        key = address.strip().lower()
        digest = address_hash(self.salt, key)

        def write(db: sqlite3.Connection) -> dict[str, int]:
            with _Transaction(db):
                deliveries = db.execute("DELETE FROM deliveries WHERE recipient=?", (key,))
                events = db.execute("DELETE FROM events WHERE recipient=?", (key,))
                db.execute("DELETE FROM soft_bounces WHERE hash=?", (digest,))
                db.execute(
                    "INSERT INTO suppressions VALUES (?, NULL, 'forgotten', NULL, ?) "
                    "ON CONFLICT (hash) DO UPDATE SET address=NULL, detail=NULL",
                    (digest, _now()),
                )
            return {"deliveries": deliveries.rowcount, "events": events.rowcount}

        return self._call(write)

    def purge(self, before: str) -> dict[str, int]:
        """Drop the personal data recorded before `before` (ISO date and time, UTC): the
        deliveries finished by then and their history, the addresses of the suppressions
        (their hashes stay: a person who objected is still never mailed), old counts of
        temporary failures and of reports read."""

        def write(db: sqlite3.Connection) -> dict[str, int]:
            with _Transaction(db):
                done = "status IN ('sent', 'refused', 'failed', 'unknown')"
                events = db.execute(
                    "DELETE FROM events WHERE (campaign, recipient) IN (SELECT campaign, "
                    f"recipient FROM deliveries WHERE updated_at < ? AND {done})",
                    (before,),
                )
                deliveries = db.execute(
                    f"DELETE FROM deliveries WHERE updated_at < ? AND {done}", (before,)
                )
                addresses = db.execute(
                    "UPDATE suppressions SET address=NULL, detail=NULL "
                    "WHERE at < ? AND address IS NOT NULL",
                    (before,),
                )
                db.execute("DELETE FROM soft_bounces WHERE at < ?", (before,))
                db.execute("DELETE FROM reports WHERE at < ?", (before,))
            return {
                "deliveries": deliveries.rowcount,
                "events": events.rowcount,
                "addresses": addresses.rowcount,
            }

        return self._call(write)

    # -- writing (each call is one committed transaction) ---------------------------------

    def recover_interrupted(self) -> int:
        """A row left in "sending" is a run that stopped between DATA and the reply."""

        def write(db: sqlite3.Connection) -> int:
            now = _now()
            with _Transaction(db):
                rows = db.execute(
                    "SELECT campaign, recipient FROM deliveries WHERE status='sending'"
                ).fetchall()
                reply = _(
                    "interrupted after the message data was sent, before the server's "
                    "reply: it may or may not have been delivered"
                )
                for campaign, recipient in rows:
                    _set(db, campaign, recipient, "unknown", None, reply, now)
            return len(rows)

        return self._call(write)

    def prepare(self, rows) -> None:
        """Rows about to be sent, as (campaign, recipient, address, edition, documents,
        message_id): created "pending", or made pending again unless already sent."""

        def write(db: sqlite3.Connection) -> None:
            now = _now()
            with _Transaction(db):
                db.executemany(
                    "INSERT INTO deliveries (campaign, recipient, address, edition, documents, "
                    "message_id, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
                    "ON CONFLICT (campaign, recipient) DO UPDATE SET status='pending', "
                    "address=excluded.address, updated_at=excluded.updated_at "
                    "WHERE status != 'sent'",
                    [(c, r, a, e, json.dumps(d), m, now, now) for c, r, a, e, d, m in rows],
                )

        self._call(write)

    def sending(self, campaign: str, recipient: str, size: int) -> None:
        """Record "sending", on disk (fsync) when this returns: the end-of-data marker may
        go out after this, not before."""

        def write(db: sqlite3.Connection) -> None:
            now = _now()
            with _Transaction(db, durable=True):
                db.execute(
                    "UPDATE deliveries SET size=?, attempts=attempts+1 "
                    "WHERE campaign=? AND recipient=?",
                    (size, campaign, recipient),
                )
                _set(db, campaign, recipient, "sending", None, None, now)

        self._call(write)

    def finish(
        self, campaign: str, recipient: str, status: str, code: int | None, reply: str | None
    ) -> None:
        assert status in STATUSES

        def write(db: sqlite3.Connection) -> None:
            now = _now()
            with _Transaction(db):
                _set(db, campaign, recipient, status, code, reply, now)
                if status == "sent":
                    db.execute(
                        "UPDATE deliveries SET sent_at=? WHERE campaign=? AND recipient=?",
                        (now, campaign, recipient),
                    )

        self._call(write)


def _set(db, campaign, recipient, status, code, reply, now) -> None:
    db.execute(
        "UPDATE deliveries SET status=?, smtp_code=?, smtp_reply=?, "
        "updated_at=? WHERE campaign=? AND recipient=?",
        (status, code, reply, now, campaign, recipient),
    )
    db.execute(
        "INSERT INTO events (campaign, recipient, at, status, smtp_code, "
        "smtp_reply) VALUES (?, ?, ?, ?, ?, ?)",
        (campaign, recipient, now, status, code, reply),
    )


def address_hash(salt: str, key: str) -> str:
    return hashlib.sha256(f"livret-suppression/1\0{salt}\0{key}".encode()).hexdigest()


def _salt(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _suppressed(db: sqlite3.Connection, salt: str | None, keys) -> set[str]:
    if salt is None:
        return set()
    try:
        known = {h for (h,) in db.execute("SELECT hash FROM suppressions")}
    except sqlite3.OperationalError:  # a journal from before suppressions: none yet
        return set()
    return {k for k in keys if address_hash(salt, k) in known}


@dataclass(frozen=True)
class Delivered:
    """One earlier delivery: when, and which documents (slug, file, sha256)."""

    campaign: str
    sent_at: str
    documents: tuple[dict, ...]


def _history(db: sqlite3.Connection, edition: str) -> dict[str, list[Delivered]]:
    out: dict[str, list[Delivered]] = {}
    for campaign, recipient, documents, sent_at in db.execute(
        "SELECT campaign, recipient, documents, sent_at FROM deliveries "
        "WHERE status='sent' AND edition=? ORDER BY sent_at",
        (edition,),
    ):
        out.setdefault(recipient, []).append(
            Delivered(campaign, sent_at or "", tuple(json.loads(documents)))
        )
    return out


class _Transaction:
    def __init__(self, db: sqlite3.Connection, durable: bool = False):
        self.db = db
        self.durable = durable

    def __enter__(self):
        self.db.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _create(path: Path) -> None:
    """A new, complete journal at `path`, unless one appeared meanwhile (another run)."""
    tmp = path.with_name(f"{path.name}.new-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        db = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            db.executescript(_SCHEMA)
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        finally:
            db.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces: a journal created meanwhile is kept
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_journal_file(path: Path) -> None:
    """Refuse, before SQLite sees it, a file that cannot be a journal: SQLite would take an
    empty file for a new database and every recipient would be sent to again."""
    shown = display_path(path)
    with open(Path(path).resolve(), "rb") as file:
        head = file.read(len(_SQLITE_MAGIC))
    if not head:
        raise LivretError(
            Problem(
                shown,
                None,
                None,
                _(
                    "the send journal is empty (0 bytes): it was truncated or replaced, so it "
                    "no longer knows who was already sent the booklet; restore it from a "
                    "backup, or, if nothing was ever sent with it, delete it"
                ),
            )
        )
    if head != _SQLITE_MAGIC:
        raise LivretError(
            Problem(
                shown,
                None,
                None,
                _(
                    "this file is not a send journal (not an SQLite database): restore the "
                    "journal from a backup, or give the right file with --journal"
                ),
            )
        )


def _check_database(db: sqlite3.Connection, path: Path) -> None:
    shown = display_path(path)
    damaged = db.execute("PRAGMA quick_check").fetchone()
    if damaged is None or damaged[0] != "ok":
        raise LivretError(
            Problem(
                shown,
                None,
                None,
                _(
                    "the send journal is damaged ({detail}): restore it from a backup; "
                    "nothing was sent"
                ).format(detail=damaged[0] if damaged else "?"),
            )
        )
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    version = (
        db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if "meta" in tables
        else None
    )
    if version is None or "deliveries" not in tables:
        raise LivretError(
            Problem(
                shown,
                None,
                None,
                _("this database is not a livret send journal: give the right file with --journal"),
            )
        )
    if int(version[0]) > SCHEMA_VERSION:
        raise LivretError(
            Problem(
                shown,
                None,
                None,
                _(
                    "journal format {version} is newer than this livret understands; update livret"
                ).format(version=version[0]),
            )
        )


class ReadOnlyJournal:
    """The journal as a dry run sees it: read only, no lock; empty if there is none yet."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db: sqlite3.Connection | None = None
        if not self.path.exists():
            return
        check_journal_file(self.path)
        try:
            self.db = sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
            _check_database(self.db, self.path)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LivretError(
                Problem(
                    display_path(self.path),
                    None,
                    None,
                    _("cannot read the send journal: {error}").format(error=exc),
                )
            ) from None

    def statuses(self) -> dict[tuple[str, str], str]:
        if self.db is None:
            return {}
        return {
            (c, r): s
            for c, r, s in self.db.execute("SELECT campaign, recipient, status FROM deliveries")
        }

    def history(self, edition: str) -> dict[str, list[Delivered]]:
        return {} if self.db is None else _history(self.db, edition)

    def suppressed(self, keys) -> set[str]:
        if self.db is None:
            return set()
        return _suppressed(self.db, _salt(self.db), keys)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
