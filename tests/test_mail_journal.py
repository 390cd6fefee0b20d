"""The send journal on its own: states, recovery after a crash, the lock."""

import sqlite3

import pytest

from livret.errors import LivretError
from livret.mail.journal import Journal, ReadOnlyJournal

DOCS = [{"slug": "booklet", "path": "x.pdf", "sha256": "0" * 64}]


def read_statuses(path):
    """What a dry run sees: read only, no lock."""
    journal = ReadOnlyJournal(path)
    try:
        return journal.statuses()
    finally:
        journal.close()


def status_seen_by_another_process(path, recipient="a@example.org"):
    db = sqlite3.connect(str(path))
    try:
        return db.execute(
            "SELECT status FROM deliveries WHERE recipient=?", (recipient,)
        ).fetchone()[0]
    finally:
        db.close()


def test_sending_is_on_disk_when_recorded(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.prepare([("c1", "a@example.org", "A@example.org", "ed", DOCS, "<m@x>")])
        assert status_seen_by_another_process(path) == "pending"
        j.sending("c1", "a@example.org", 1234)  # on disk when it returns
        assert status_seen_by_another_process(path) == "sending"
        j.finish("c1", "a@example.org", "sent", 250, "250 OK")
        assert status_seen_by_another_process(path) == "sent"
        row = j.get("c1", "a@example.org")
        assert (row.status, row.attempts, row.smtp_code, row.address) == (
            "sent",
            1,
            250,
            "A@example.org",
        )
        assert row.sent_at is not None


def test_a_run_that_died_while_sending_leaves_an_unknown(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.prepare(
            [
                ("c1", "a@example.org", "a@example.org", "ed", DOCS, "<m@x>"),
                ("c1", "b@example.org", "b@example.org", "ed", DOCS, "<n@x>"),
            ]
        )
        j.sending("c1", "a@example.org", 10)
        # the process dies here
    with Journal(path) as j:
        assert j.recover_interrupted() == 1
        assert j.statuses() == {
            ("c1", "a@example.org"): (
                "unknown",
                "interrupted after the message data was sent, "
                "before the server's reply: it may or may not have been "
                "delivered",
            ),
            ("c1", "b@example.org"): ("pending", None),
        }
    assert read_statuses(path) == {
        ("c1", "a@example.org"): "unknown",
        ("c1", "b@example.org"): "pending",
    }


def test_prepare_never_reopens_a_delivered_message(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        row = ("c1", "a@example.org", "a@example.org", "ed", DOCS, "<m@x>")
        j.prepare([row])
        j.sending("c1", "a@example.org", 10)
        j.finish("c1", "a@example.org", "sent", 250, "250 OK")
        j.prepare([row])
        assert j.get("c1", "a@example.org").status == "sent"
        j.finish("c1", "a@example.org", "refused", 550, "550 no")  # (as if it were refused)
        j.prepare([row])
        assert j.get("c1", "a@example.org").status == "pending"


def test_one_run_at_a_time(tmp_path):
    with Journal(tmp_path / "j.sqlite"):
        with pytest.raises(LivretError, match="another `mail --send` is using this journal"):
            Journal(tmp_path / "j.sqlite")
    Journal(tmp_path / "j.sqlite").close()  # free again once the first one is closed


def test_a_file_that_is_not_a_journal(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LivretError, match="this file is not a send journal"):
        Journal(path)
    with pytest.raises(LivretError, match="this file is not a send journal"):
        read_statuses(path)  # the dry run says so too, rather than "nothing sent yet"


def test_no_journal_yet_for_a_dry_run(tmp_path):
    assert read_statuses(tmp_path / "none.sqlite") == {}
    assert not (tmp_path / "none.sqlite").exists()


def test_an_empty_journal_stops_the_run(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"")
    for open_it in (Journal, read_statuses):
        with pytest.raises(LivretError, match=r"the send journal is empty \(0 bytes\)"):
            open_it(path)
    assert path.read_bytes() == b""  # left as it was, for the person to look at


def test_a_damaged_journal_stops_the_run(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.prepare([("c1", f"p{i}@example.org", "x", "ed", DOCS, f"<{i}@x>") for i in range(500)])
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 2048] = b"\xff" * 2048  # a damaged page
    path.write_bytes(bytes(data))
    with pytest.raises(LivretError, match="damaged|malformed|not a database"):
        Journal(path)


def test_another_sqlite_database_is_not_a_journal(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(LivretError, match="not a livret send journal"):
        Journal(path)


def test_the_lock_follows_symlinks_and_other_spellings(tmp_path):
    real = tmp_path / "state" / "j.sqlite"
    link = tmp_path / "link.sqlite"
    with Journal(real):
        link.symlink_to(real)
        spellings = [link, tmp_path / "state" / ".." / "state" / "j.sqlite"]
        (tmp_path / "dirlink").symlink_to(tmp_path / "state")
        spellings.append(tmp_path / "dirlink" / "j.sqlite")
        for other in spellings:
            with pytest.raises(LivretError, match="another `mail --send` is using this journal"):
                Journal(other)
    with Journal(link) as j:  # through the link, the real file is used and locked
        assert j.real == real.resolve()
        with pytest.raises(LivretError, match="another `mail --send`"):
            Journal(real)
    assert not link.resolve() != real.resolve()


def test_a_journal_from_before_suppressions_is_read_and_extended(tmp_path):
    from livret.mail.journal import _SCHEMA

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(str(path))
    db.executescript(_SCHEMA)  # what livret wrote before suppressions existed
    db.execute("INSERT INTO meta VALUES ('schema', '1')")
    db.commit()
    db.close()
    journal = ReadOnlyJournal(path)
    try:
        assert journal.suppressed(["a@example.org"]) == set()  # read only: nothing added
    finally:
        journal.close()
    with Journal(path) as j:
        assert j.suppress("A@example.org", "manual")
        assert not j.suppress("a@example.org", "manual")
        assert j.suppressed(["a@example.org", "b@example.org"]) == {"a@example.org"}
    journal = ReadOnlyJournal(path)
    try:
        assert journal.suppressed(["a@example.org"]) == {"a@example.org"}
    finally:
        journal.close()
