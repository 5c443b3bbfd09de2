"""Transactions that write after they read.

On SQLite (WAL), a transaction that has read and then writes cannot wait for
another writer: if anyone committed since its first read, SQLite answers
"database is locked" at once. ``begin_write`` ends whatever the session was
reading and opens a transaction that takes the write lock first (BEGIN
IMMEDIATE), waiting its turn like any writer. On PostgreSQL it only ends the
previous transaction; row locks and guarded updates do the rest.

Services call it once the slow work (password hashing) is done, right before
the reads that decide what to write."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

IMMEDIATE = "citoyen_sqlite_immediate"
WROTE = "citoyen_wrote"
UPGRADED = "citoyen_write_lock_taken"  # BEGIN IMMEDIATE run in the session's transaction


@event.listens_for(Session, "after_flush")
def _remember_writes(session: Session, _context) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _remember_statements(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(WROTE, None)
        session.info.pop(UPGRADED, None)


def begin_write(session: Session) -> None:
    sqlite = session.get_bind().dialect.name == "sqlite"
    if session.in_transaction():
        if session.new or session.dirty or session.deleted or session.info.get(WROTE):
            # Never throw away the caller's changes, pending or flushed: they go in
            # the same transaction.
            return
        if sqlite:
            # The same connection goes on, with what it read ended and the
            # write lock taken: as a rollback then BEGIN IMMEDIATE would, without
            # giving the connection back to the pool and taking it again.
            connection = session.connection()
            if connection.get_execution_options().get(IMMEDIATE) or session.info.get(UPGRADED):
                return  # already a write transaction, that has not written yet
            driver = connection.connection.driver_connection
            driver.rollback()
            session.expire_all()  # what was read is read again, as after a rollback
            driver.begin_immediate()
            session.info[UPGRADED] = True
            return
        session.rollback()
    if sqlite:
        session.connection(execution_options={IMMEDIATE: True})
