"""The writers' gate of SQLite: a writer waits in the kernel (flock) for the
one before it to end, then finds SQLite's write lock free; the gate is let go
whichever way the transaction ends; a thread never waits for itself."""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from citoyen import sqlite_gate
from citoyen.db import make_engine
from citoyen.sqlite_gate import GatedConnection
from citoyen.sqlite_gate import gate_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "gate.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.commit()
    setup.close()
    return path


def connect(path: str, timeout: float = 0) -> GatedConnection:
    """A connection that never sleeps on SQLite's lock: busy is an error at once."""
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, factory=GatedConnection,
                           check_same_thread=False)


def gate_taken(path: str) -> bool:
    """Whether another holder is refused the gate at once."""
    fd = os.open(gate_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def await_waiter(path: str, alive) -> None:
    """Until the kernel lists a writer blocked at the gate (/proc/locks)."""
    inode = os.stat(gate_path(path)).st_ino
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert alive(), "the second writer ended before waiting at the gate"
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if "->" in fields and fields[-3].endswith(f":{inode}"):
                    return
        time.sleep(0.01)
    raise AssertionError("no writer waited at the gate")


def test_engines_on_sqlite_files_are_gated(tmp_path):
    engine = make_engine("sqlite:///" + str(tmp_path / "e.db"))
    with engine.connect() as connection:
        assert isinstance(connection.connection.driver_connection, GatedConnection)
    engine.dispose()
    assert gate_path(":memory:") is None
    assert gate_path(str(tmp_path / "e.db")) == str(tmp_path / "e.db") + "-writers"


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_write_holds_the_gate_until_it_ends(database, end):
    writer = connect(database)
    writer.begin_immediate()
    writer.execute("INSERT INTO t VALUES (1)")
    assert gate_taken(database)
    getattr(writer, end)()
    assert not gate_taken(database)
    if end != "close":
        writer.begin_immediate()  # and it can be taken again
        assert gate_taken(database)
        writer.rollback()
        writer.close()


def test_a_failed_begin_lets_go_of_the_gate(database):
    writer = connect(database)
    writer.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError):
        writer.begin_immediate()  # a transaction is already open
    assert not gate_taken(database)
    writer.close()


def test_a_second_writer_in_another_process_waits_at_the_gate_not_on_sqlite(database):
    first = connect(database)
    first.begin_immediate()
    first.execute("INSERT INTO t VALUES (1)")
    # The second writer has no busy timeout: had it met SQLite's lock, it
    # would fail at once with « database is locked ».
    script = ("import sqlite3, sys\n"
              "from citoyen.sqlite_gate import GatedConnection\n"
              "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None, factory=GatedConnection)\n"
              "c.begin_immediate()\n"
              "n = c.execute('SELECT count(*) FROM t').fetchone()[0]\n"
              "c.execute('INSERT INTO t VALUES (2)')\n"
              "c.commit()\n"
              "print(n)\n")
    second = subprocess.Popen([sys.executable, "-c", script, database], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        await_waiter(database, lambda: second.poll() is None)
        first.commit()
        out, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, err
    assert out.strip() == "1"  # it began once the first had committed
    assert [n for (n,) in first.execute("SELECT n FROM t ORDER BY rowid")] == [1, 2]
    first.close()


def test_a_second_writer_in_another_thread_waits_at_the_gate(database):
    first = connect(database)
    first.begin_immediate()
    first.execute("INSERT INTO t VALUES (1)")
    seen = []

    def second_writer():
        second = connect(database)
        try:
            second.begin_immediate()
            seen.append(second.execute("SELECT count(*) FROM t").fetchone()[0])
            second.execute("INSERT INTO t VALUES (2)")
            second.commit()
        except sqlite3.Error as error:
            seen.append(error)
        finally:
            second.close()

    thread = threading.Thread(target=second_writer)
    thread.start()
    await_waiter(database, thread.is_alive)
    first.commit()
    thread.join(60)
    assert seen == [1]
    first.close()


def test_a_thread_holding_the_gate_does_not_wait_for_itself(database):
    first = connect(database)
    first.begin_immediate()
    second = connect(database, timeout=0.05)
    # Past the gate (this thread holds it), SQLite's lock answers: busy.
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.begin_immediate()
    assert gate_taken(database)  # the first still holds it
    first.commit()
    assert not gate_taken(database)
    second.begin_immediate()
    second.commit()
    first.close()
    second.close()


def test_a_gate_out_of_reach_leaves_sqlite_s_lock_alone(database, tmp_path):
    os.mkdir(gate_path(database))  # not a file that can be opened for writing
    writer = connect(database)
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # SQLite's own checkpoints
    writer.begin_immediate()
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    writer.close()


def test_a_forked_process_opens_its_own_gate(database, monkeypatch):
    writer = connect(database)
    writer.begin_immediate()  # the parent holds the gate when it forks
    real_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)
    writer.rollback()  # in the child: the parent's lock is not the child's to let go
    assert gate_taken(database)
    monkeypatch.undo()
    fcntl.flock(writer._gate_fd, fcntl.LOCK_UN)  # the parent's own connection lets it go
    assert not gate_taken(database)
    monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)
    writer.begin_immediate()  # the child opens a descriptor of its own
    assert writer._gate_fd is not None and gate_taken(database)
    # and has let go of the inherited one: one descriptor on the gate
    assert [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")].count(gate_path(database)) == 1
    writer.rollback()
    assert not gate_taken(database)
    monkeypatch.undo()
    writer.close()


def test_gated_connections_checkpoint_every_so_many_writes_once_the_gate_is_open(database, monkeypatch):
    monkeypatch.setattr(sqlite_gate, "CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(sqlite_gate, "_written", itertools.count(1))
    writer = connect(database)
    # Not inside a COMMIT, while the gate is held: SQLite's own checkpoints are off.
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    checkpoints = []
    checkpoint = GatedConnection.checkpoint
    monkeypatch.setattr(GatedConnection, "checkpoint",
                        lambda self: (checkpoints.append(gate_taken(database)), checkpoint(self)))

    def in_database_file() -> list[int]:
        """The marks already copied from the log into the database's own file."""
        with open(database, "rb") as fh:
            content = fh.read()
        return [n for n in range(7) if f"mark-{n:03d}".encode() in content]

    for n in range(7):
        writer.begin_immediate()
        writer.execute("INSERT INTO t VALUES (?)", (f"mark-{n:03d}",))
        writer.commit()
        if n == 1:
            writer.begin_immediate()
            writer.commit()  # nothing written: not counted
            writer.execute("BEGIN")
            writer.execute("SELECT count(*) FROM t").fetchall()
            writer.commit()  # a read: not counted
    assert checkpoints == [False, False]  # after the 3rd and the 6th write, the gate open
    assert in_database_file() == [0, 1, 2, 3, 4, 5]  # the 7th is still in the log only
    writer.close()


def test_a_log_past_its_limit_is_started_again_once_no_reader_holds_it(database, monkeypatch):
    monkeypatch.setattr(sqlite_gate, "CHECKPOINT_EVERY", 2)
    monkeypatch.setattr(sqlite_gate, "WAL_LIMIT_PAGES", 8)
    monkeypatch.setattr(sqlite_gate, "RESTART_WAIT_MS", 20)
    monkeypatch.setattr(sqlite_gate, "_written", itertools.count(1))
    writer = connect(database, timeout=30)
    reader = sqlite3.connect(database, isolation_level=None)
    wal = database + "-wal"

    def write(count: int) -> None:
        for _ in range(count):
            writer.begin_immediate()
            writer.execute("INSERT INTO t VALUES (?)", (b"x" * 8192,))
            writer.commit()

    # A reader holding an old snapshot: the log cannot be wholly copied, nor
    # started again. The checkpoint waits for it a little, then lets the gate go.
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchall()
    write(10)
    assert not gate_taken(database)
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 30000  # the connection's own patience, back
    grown = os.path.getsize(wal)
    assert grown > 8 * 4096
    reader.execute("COMMIT")
    # A reader that is done a moment after the copy began: the checkpoint
    # waits for it, copies it all, and the next write starts the log again,
    # cut back to its limit.
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchall()
    execute = GatedConnection.execute
    restarts = []

    def reader_done_meanwhile(self, statement, *args):
        if "RESTART" in statement and reader.in_transaction:
            reader.execute("COMMIT")
            restarts.append(statement)
        return execute(self, statement, *args)

    monkeypatch.setattr(GatedConnection, "execute", reader_done_meanwhile)
    write(2)
    assert restarts and not reader.in_transaction
    assert os.path.getsize(wal) > grown  # started again at the next write only
    write(1)
    assert os.path.getsize(wal) <= 8 * 4096
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 13
    reader.close()
    writer.close()


def test_a_second_begin_on_a_held_connection_keeps_the_gate(database):
    writer = connect(database)
    writer.begin_immediate()
    with pytest.raises(sqlite3.OperationalError):
        writer.begin_immediate()  # already in a transaction
    assert gate_taken(database)  # still held, with the write lock it guards
    writer.rollback()
    assert not gate_taken(database)
    writer.close()


def test_a_failed_commit_keeps_the_gate_until_the_rollback(database):
    writer = connect(database)
    writer.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    writer.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    writer.execute("PRAGMA foreign_keys=ON")
    writer.begin_immediate()
    writer.execute("INSERT INTO child VALUES (42)")
    with pytest.raises(sqlite3.IntegrityError):
        writer.commit()
    assert writer.in_transaction and gate_taken(database)
    writer.rollback()
    assert not gate_taken(database)
    writer.close()


def test_each_database_has_its_own_gate(database, tmp_path):
    other_path = str(tmp_path / "other.db")
    sqlite3.connect(other_path).close()
    first, other = connect(database), connect(other_path)
    first.begin_immediate()
    other.begin_immediate()  # the same thread, another database: its own gate, taken
    assert gate_taken(database) and gate_taken(other_path)
    other.commit()
    assert gate_taken(database) and not gate_taken(other_path)
    first.commit()
    first.close()
    other.close()


def test_a_checkpoint_that_fails_lets_go_of_the_gate_and_the_commit_stands(database, monkeypatch):
    monkeypatch.setattr(sqlite_gate, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(sqlite_gate, "WAL_LIMIT_PAGES", 0)
    writer = connect(database, timeout=30)
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchall()  # the log cannot be copied whole
    execute = GatedConnection.execute

    def failing_restore(self, statement, *args):
        if statement == "PRAGMA busy_timeout=30000":
            raise sqlite3.OperationalError("disk I/O error")
        return execute(self, statement, *args)

    monkeypatch.setattr(GatedConnection, "execute", failing_restore)
    writer.begin_immediate()
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()  # no error: the row is committed
    assert not gate_taken(database)
    monkeypatch.undo()
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    reader.close()
    writer.close()
