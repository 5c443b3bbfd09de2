"""begin_write: a transaction that has read goes on as a write transaction,
holding the write lock, with what it read read again (SQLite); nothing the
caller wrote is thrown away."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy import update

from citoyen.db import engine
from citoyen.db import new_session
from citoyen.models import Account
from citoyen.transactions import begin_write
from tests import factories
from tests.conftest import is_postgres

pytestmark = pytest.mark.skipif(is_postgres(), reason="the write lock of SQLite's WAL mode")


def _file(app) -> str:
    return engine(app).url.database


def _locked(app) -> bool:
    """Whether another connection is refused the write lock at once."""
    other = sqlite3.connect(_file(app), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    else:
        other.execute("ROLLBACK")
        return False
    finally:
        other.close()


def test_a_reading_transaction_goes_on_holding_the_write_lock_on_the_same_connection(app, db):
    zoe = factories.account(db, email="zoe@example.fr", password=None)
    db.commit()
    with new_session(app) as session:
        session.scalars(select(Account)).all()
        driver = session.connection().connection.driver_connection
        assert not _locked(app)
        begin_write(session)
        assert session.connection().connection.driver_connection is driver
        assert _locked(app)
        begin_write(session)  # a second call keeps the lock and the connection
        assert _locked(app) and session.connection().connection.driver_connection is driver
        session.execute(update(Account).where(Account.id == zoe.id).values(first_name="Écrite"))
        session.commit()
    assert not _locked(app)
    with new_session(app) as session:
        assert session.get(Account, zoe.id).first_name == "Écrite"


def test_what_was_read_before_is_read_again_and_a_write_after_anothers_commit_goes_through(app, db):
    zoe = factories.account(db, email="zoe@example.fr", password=None)
    db.commit()
    with new_session(app) as session:
        mine = session.get(Account, zoe.id)
        assert mine.first_name == zoe.first_name
        # Another request commits after this one's first read: writing on the
        # old snapshot would fail at once (SQLITE_BUSY_SNAPSHOT).
        with new_session(app) as other:
            other.execute(update(Account).where(Account.id == zoe.id).values(last_name="Autre"))
            other.commit()
        begin_write(session)
        assert mine.last_name == "Autre"  # expired, read again under the lock
        mine.first_name = "Moi"
        session.commit()
    with new_session(app) as session:
        account = session.get(Account, zoe.id)
        assert (account.first_name, account.last_name) == ("Moi", "Autre")


def test_pending_changes_are_never_thrown_away(app, db):
    zoe = factories.account(db, email="zoe@example.fr", password=None)
    db.commit()
    with new_session(app) as session:
        session.get(Account, zoe.id).first_name = "Gardée"
        begin_write(session)
        session.commit()
    with new_session(app) as session:
        assert session.get(Account, zoe.id).first_name == "Gardée"


def test_with_no_transaction_it_opens_a_write_transaction(app, db):
    with new_session(app) as session:
        begin_write(session)
        assert _locked(app)
        session.rollback()
    assert not _locked(app)
