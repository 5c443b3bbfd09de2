"""SQLite writers wait their turn in the kernel.

A SQLite database has one writer at a time. A transaction that asks for the
write lock while another holds it (BEGIN IMMEDIATE) is answered "busy", and
SQLite's busy timeout then retries it after sleeping 1, 2, 5, 10… ms: a click
that needs the lock 0.3 ms after another click took it sleeps a whole
millisecond or more, and the processor stays idle meanwhile.

``GatedConnection`` makes BEGIN IMMEDIATE first take an exclusive ``flock`` on
a file beside the database (``<database>-writers``), held until the
transaction ends. A writer waiting for it sleeps in the kernel and wakes as
soon as the writer before it commits; SQLite's own lock is then free, or
nearly so. The gate only orders writers: SQLite's lock still guards the data,
on its own terms, and a process that dies lets go of both.

A thread that already holds the gate (a second session opened inside a
write) does not wait for it again: its write waits on SQLite's lock, as
without the gate, rather than on itself.

SQLite copies the write-ahead log back into the database (a checkpoint, with
its disk syncs) inside the COMMIT that fills the log past 1,000 pages: with
the gate, every other writer would wait for those syncs too. Gated
connections leave that to themselves instead: every ``CHECKPOINT_EVERY``
commits that wrote, in a process, the connection that made the last one
checkpoints once it has let go of the gate (PASSIVE: it never waits for a
writer nor a reader, and what it could not copy is copied next time).

Under steady load some reader always holds a snapshot, so the log is never
wholly copied at once and SQLite never starts it again from the beginning:
it grows for as long as the load lasts (hundreds of MB in the benchmark's
few minutes). Once it is past ``WAL_LIMIT_PAGES``, the checkpoint takes the
gate, waits the few milliseconds the readers need to finish (RESTART, for
``RESTART_WAIT_MS`` at most: a long reader only puts it off to the next
time), and the next write starts the log again, cut back to
``WAL_LIMIT_PAGES`` (``journal_size_limit``).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
import threading

CHECKPOINT_EVERY = 200  # commits that wrote, in a process (a click writes about 4 pages)
WAL_LIMIT_PAGES = 16_384  # 64 MB of 4 KB pages
RESTART_WAIT_MS = 200  # writers wait at the gate meanwhile
_holding: set[tuple[str, int]] = set()  # (gate, thread): threads that hold a gate, through any connection
_written = itertools.count(1)  # commits that wrote, in this process
# A child process holds none of its parent's gates (its descriptors are
# replaced, never unlocked: the lock belongs to the parent's open file).
os.register_at_fork(after_in_child=_holding.clear)


def gate_path(database: str) -> str | None:
    """The gate's file for a database path; none for a database in memory."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.realpath(database) + "-writers"


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection whose BEGIN IMMEDIATE waits at the writers' gate."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._gate = gate_path(os.fsdecode(database))
        self._gate_fd: int | None = None
        self._gate_pid = 0
        self._holder: tuple[str, int] | None = None  # (gate, thread) that took it through this connection
        self._changes = 0  # total_changes at the last commit
        if self._gate_file() is not None:
            self.execute("PRAGMA wal_autocheckpoint=0")
            page_size = self.execute("PRAGMA page_size").fetchone()[0]
            self.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_PAGES * page_size}")

    def _gate_file(self) -> int | None:
        if self._gate is None:
            return None
        if self._gate_fd is None or self._gate_pid != os.getpid():
            # A descriptor inherited through fork shares its lock with the
            # parent: each process opens its own, and lets go of the other
            # (closing it never unlocks the parent's).
            if self._gate_fd is not None:
                os.close(self._gate_fd)
                self._gate_fd, self._holder = None, None
            try:
                self._gate_fd = os.open(self._gate, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
            except OSError:
                # Out of reach (a file of another user's, a read-only folder):
                # this connection's writers wait on SQLite's lock alone, as
                # they would without the gate.
                self._gate = self._gate_fd = None
                self.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's own, as without the gate
                return None
            self._gate_pid = os.getpid()
        return self._gate_fd

    def _take_gate(self) -> bool:
        """Wait for the gate and take it; False if this call did not take it
        (no gate, or this thread holds it already, through this connection
        or another)."""
        fd = self._gate_file()
        holder = (self._gate, threading.get_ident())
        if fd is None or self._holder is not None or holder in _holding:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._holder = holder
        _holding.add(holder)
        return True

    def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE, once this connection's turn at the gate has come."""
        took = self._take_gate()
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            if took:
                self._open_gate()
            raise

    def _open_gate(self) -> None:
        if self._holder is not None:
            _holding.discard(self._holder)
            self._holder = None
            if self._gate_pid == os.getpid():  # never the lock a parent took before a fork
                fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def _transaction_ended(self) -> None:
        # A COMMIT that failed leaves the transaction, and SQLite's lock, as
        # they were: the gate stays with them until the rollback.
        if not self.in_transaction:
            self._open_gate()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._transaction_ended()
        if self.total_changes != self._changes:
            self._changes = self.total_changes
            if self._gate is not None and next(_written) % CHECKPOINT_EVERY == 0:
                self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the log back into the database, as far as no reader needs it;
        past ``WAL_LIMIT_PAGES``, all of it, so that the log starts again."""
        try:
            _busy, pages, copied = self.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if pages > WAL_LIMIT_PAGES and copied < pages:
                patience = self.execute("PRAGMA busy_timeout").fetchone()[0]
                took = self._take_gate()
                try:
                    self.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                    try:
                        self.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    finally:
                        self.execute(f"PRAGMA busy_timeout={patience}")
                finally:
                    if took:
                        self._open_gate()
        except (sqlite3.Error, OSError):
            pass  # the commit stands; the next checkpoint copies what this one could not

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._transaction_ended()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._open_gate()
            if self._gate_fd is not None:
                os.close(self._gate_fd)  # an inherited one too: the parent's lock stays the parent's
            self._gate_fd, self._holder = None, None
