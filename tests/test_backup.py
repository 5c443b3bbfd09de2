"""« flask backup »: a copy of the SQLite database as of one instant, taken
while the portal writes, that opens on its own."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import datetime

import pytest

from citoyen import backup
from citoyen.db import engine

NOON = datetime(2026, 11, 23, 12, 0, 0)


def _database(tmp_path):
    path = tmp_path / "live.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE booking (id INTEGER PRIMARY KEY, day TEXT)")
    connection.executemany("INSERT INTO booking (day) VALUES (?)", [(f"2026-11-{d:02}",) for d in range(1, 21)])
    return path, connection


def test_the_copy_holds_what_was_committed_and_not_what_was_being_written(tmp_path):
    path, live = _database(tmp_path)
    # Committed, but still in the write-ahead log only: a plain file copy would lose it.
    assert (tmp_path / "live.db-wal").stat().st_size > 0
    live.execute("BEGIN IMMEDIATE")
    live.execute("INSERT INTO booking (day) VALUES ('2026-12-01')")  # not committed
    made = backup.backup_sqlite(str(path), tmp_path / "copies", NOON)
    live.execute("COMMIT")
    assert made.path == tmp_path / "copies" / "citoyen-20261123-120000.db"
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    copy = sqlite3.connect(made.path)
    assert copy.execute("SELECT count(*) FROM booking").fetchone() == (20,)
    # It stands alone: no log beside it, and it is not in WAL mode.
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy.close()
    assert sorted(p.name for p in (tmp_path / "copies").iterdir()) == ["citoyen-20261123-120000.db"]


def test_older_copies_beyond_keep_are_removed_and_nothing_else(tmp_path):
    path, _ = _database(tmp_path)
    copies = tmp_path / "copies"
    copies.mkdir()
    (copies / "notes.txt").write_text("à garder")
    (copies / "citoyen-20261120-120000.db").write_bytes(b"old")
    (copies / "citoyen-20261121-120000.db").write_bytes(b"old")
    first = backup.backup_sqlite(str(path), copies, NOON, keep=2)
    second = backup.backup_sqlite(str(path), copies, NOON, keep=2)  # the same second
    assert second.path.name == "citoyen-20261123-120000-2.db"
    assert [p.name for p in first.removed] == ["citoyen-20261120-120000.db"]
    assert [p.name for p in second.removed] == ["citoyen-20261121-120000.db"]
    assert sorted(p.name for p in copies.iterdir()) == [
        "citoyen-20261123-120000-2.db", "citoyen-20261123-120000.db", "notes.txt"]


def test_a_failed_copy_says_why_in_french_and_leaves_nothing_behind(tmp_path):
    with pytest.raises(backup.BackupError, match="n'existe pas"):
        backup.backup_sqlite(str(tmp_path / "absent.db"), tmp_path / "copies", NOON)
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(backup.BackupError, match="La copie a échoué"):
        backup.backup_sqlite(str(broken), tmp_path / "copies", NOON)
    assert list((tmp_path / "copies").iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    path, _ = _database(tmp_path)
    with pytest.raises(backup.BackupError, match="ne peut pas être créé"):
        backup.backup_sqlite(str(path), blocker / "copies", NOON)


def test_the_command_copies_the_portals_database(app, db, tmp_path, parent):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", str(tmp_path / "copies"), "--keep", "3"])
    url = engine(app).url
    if url.get_backend_name() != "sqlite":
        assert result.exit_code == 1
        assert "sauvegardez-la avec pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    assert "Copie de la base :" in result.output
    (made,) = (tmp_path / "copies").iterdir()
    copy = sqlite3.connect(made)
    assert copy.execute("SELECT email FROM account").fetchall() == [(parent.email,)]
    assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    copy.close()
    bad = runner.invoke(args=["backup", str(tmp_path / "copies"), "--keep", "-1"])
    assert bad.exit_code == 2
    assert os.listdir(tmp_path / "copies") == [made.name]
