"""Statements built once and run on the driver's cursor (citoyen.services.sql).

Every test runs real statements on the test database (SQLite, or PostgreSQL
with CITOYEN_TEST_DATABASE_URL), through the session of the ``db`` fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import exc
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import update

from citoyen.db import engine
from citoyen.db import new_session
from citoyen.models import Account
from citoyen.models import AccountToken
from citoyen.models import Activity
from citoyen.models import Site
from citoyen.models import Slot
from citoyen.models.base import utcnow
from citoyen.services import sql
from tests import factories
from tests.agenda_helpers import activity
from tests.conftest import fresh

A = Account.__table__.c
ACT = Activity.__table__.c
S = Slot.__table__.c

# Built once, at module level, as the services do.
EMAILS_IN = sql.Prepared(
    select(A.email).where(A.id.in_(bindparam("ids", expanding=True)), A.role == bindparam("role")).order_by(A.email)
)
AGENTS = sql.Prepared(select(A.email).where(A.role == "agent").order_by(A.email))
PARENTS_AND_ADMINS = sql.Prepared(
    select(A.email).where(A.role.in_(("parent", "admin")), A.email != bindparam("skip")).order_by(A.email)
)
SLOTS_BETWEEN = sql.Prepared(
    select(S.day, S.capacity_overridden, ACT.created_at)
    .join(Activity.__table__, ACT.id == S.activity_id)
    .where(S.day >= bindparam("first"), S.day <= bindparam("last"))
    .order_by(S.day)
)
CREATED_AT = sql.Prepared(select(A.id).where(A.created_at == bindparam("at")))
CREATED_IN = sql.Prepared(select(A.id).where(A.created_at.in_(bindparam("at", expanding=True))))
CREATED_AT_CONSTANT = sql.Prepared(
    select(A.id).where(A.created_at == datetime(2030, 1, 2, 10, 0, 0),
                       A.created_at.in_((datetime(2030, 1, 2, 10, 0, 0), datetime(2031, 1, 1, 0, 0, 0))))
)
NEW_ACTIVITY = sql.Prepared(insert(Activity.__table__).returning(ACT.id))
NEW_SLOT = sql.Prepared(insert(Slot.__table__).returning(S.id))
NEW_ACCOUNT = sql.Prepared(insert(Account.__table__).returning(A.id))
TAKE_PLACE = sql.Prepared(
    update(Slot.__table__).where(S.id == bindparam("slot"), S.booked < S.capacity).values(booked=S.booked + 1)
)
ROLE_ROWS = sql.Prepared(select(A.id, A.email).where(A.role == bindparam("role")).order_by(A.id))
ACCOUNT_ROW = sql.Prepared(select(*A).where(A.id == bindparam("id")))
ACCOUNT_COUNT = sql.Prepared(select(func.count()).select_from(Account.__table__))


def account(db, email: str, role: str = "parent", **values) -> Account:
    """An account without a password (hashing is not what these tests are about)."""
    return factories.account(db, email=email, role=role, password=None, **values)


def new_account(db, email: str) -> int:
    """An account inserted through ``sql.run``, every defaulted column left out."""
    return sql.run(db, NEW_ACCOUNT, {"email": email, "first_name": "Zoé", "last_name": "Petit"}).scalar_one()


def emails_of(app) -> set[str]:
    """The accounts' addresses as another session sees them (what was committed)."""
    with new_session(app) as other:
        return set(other.scalars(select(Account.email)))


def place(db) -> tuple[Site, Activity]:
    organisation = factories.organisation(db)
    site = Site(organisation_id=organisation.id, name="École Jules-Ferry")
    db.add(site)
    db.commit()
    return site, activity(db, organisation, site)


def slot(db, act: Activity, day: date, capacity: int = 10, overridden: bool = False) -> Slot:
    row = Slot(activity_id=act.id, day=day, capacity=capacity, capacity_overridden=overridden)
    db.add(row)
    db.commit()
    return row


def test_an_expanding_in_takes_lists_of_any_length(db):
    ids = {email: account(db, f"{email}@example.org").id for email in ("ana", "bob", "cid", "dan")}
    account(db, "eve@example.org", role="agent")

    def emails(names, role="parent"):
        # The role after the list: each value must land on its own placeholder.
        params = {"ids": [ids[name] for name in names], "role": role}
        return sql.run(db, EMAILS_IN, params).scalars()

    assert emails(["bob"]) == ["bob@example.org"]
    assert emails(["ana", "cid", "dan"]) == ["ana@example.org", "cid@example.org", "dan@example.org"]
    assert emails([]) == []
    # The same lengths again, with other values: nothing of the first run is kept.
    assert emails(["dan"]) == ["dan@example.org"]
    assert emails(["bob", "cid", "ana"]) == ["ana@example.org", "bob@example.org", "cid@example.org"]
    assert emails(["ana", "bob"], role="agent") == []
    # The parameters given in another order.
    assert sql.run(db, EMAILS_IN, {"role": "parent", "ids": [ids["cid"], ids["ana"]]}).scalars() == [
        "ana@example.org", "cid@example.org"]


def test_constants_written_in_the_statement_are_applied(db):
    for email, role in (("ana", "parent"), ("bob", "agent"), ("cid", "admin"), ("dan", "agent"), ("eve", "parent")):
        account(db, f"{email}@example.org", role=role)

    assert sql.run(db, AGENTS).scalars() == ["bob@example.org", "dan@example.org"]
    assert sql.run(db, PARENTS_AND_ADMINS, {"skip": "eve@example.org"}).scalars() == [
        "ana@example.org", "cid@example.org"]


def test_dates_and_booleans_are_python_objects_both_ways(db):
    site, act = place(db)
    monday = date(2030, 3, 4)
    for offset, overridden in ((0, False), (1, True), (2, False), (3, True)):
        slot(db, act, monday + timedelta(days=offset), overridden=overridden)

    rows = sql.run(db, SLOTS_BETWEEN, {"first": monday + timedelta(days=1),
                                       "last": monday + timedelta(days=2)}).all()

    assert rows == [(monday + timedelta(days=1), True, act.created_at),
                    (monday + timedelta(days=2), False, act.created_at)]
    for row in rows:
        assert type(row.day) is date
        assert type(row.capacity_overridden) is bool
        assert type(row.created_at) is datetime
    assert sql.run(db, SLOTS_BETWEEN, {"first": monday + timedelta(days=4),
                                       "last": monday + timedelta(days=9)}).all() == []


def test_datetime_values_are_bound_as_the_orm_stores_them(db):
    # A whole second: the ORM stores "2030-01-02 10:00:00.000000" on SQLite, where
    # the driver's own rendering of the value would be "2030-01-02 10:00:00".
    at = datetime(2030, 1, 2, 10, 0, 0)
    ana = account(db, "ana@example.org")
    ana.created_at = at
    db.commit()

    assert sql.run(db, CREATED_AT, {"at": at}).scalars() == [ana.id]  # a parameter
    assert sql.run(db, CREATED_IN, {"at": [at, at + timedelta(days=1)]}).scalars() == [ana.id]  # a list's items
    assert sql.run(db, CREATED_AT_CONSTANT).scalars() == [ana.id]  # constants written in the statement


def test_time_defaults_are_converted_for_the_database(db):
    site, _ = place(db)

    activity_id = sql.run(db, NEW_ACTIVITY, {"organisation_id": site.organisation_id, "site_id": site.id,
                                             "name": "Accueil du soir"}).scalar_one()

    db.commit()
    row = db.get(Activity, activity_id)
    assert row.start_time == time(8, 0) and row.book_time == time(12, 0)
    assert row.needs_validation is False and row.archived is False


def test_an_insert_fills_the_python_side_defaults_left_out(db):
    site, act = place(db)

    slot_id = sql.run(db, NEW_SLOT, {"activity_id": act.id, "day": date(2030, 3, 4), "capacity": 12}).scalar_one()

    db.commit()
    row = db.get(Slot, slot_id)
    assert (row.activity_id, row.day, row.capacity) == (act.id, date(2030, 3, 4), 12)
    assert row.capacity_overridden is False  # a Boolean default=False
    assert row.booked == 0


def test_callable_defaults_are_called_on_every_run(db):
    before = utcnow()
    first, second = new_account(db, "ana@example.org"), new_account(db, "bob@example.org")
    after = utcnow()

    db.commit()
    ana, bob = db.get(Account, first), db.get(Account, second)
    assert before <= ana.created_at <= bob.created_at <= after  # default=utcnow
    assert len(ana.session_epoch) == len(bob.session_epoch) == 16  # default=new_session_epoch
    assert ana.session_epoch != bob.session_epoch  # called again, not kept from the first run
    assert ana.role == bob.role == "parent"
    assert ana.email_notifications is True and ana.failed_sign_ins == 0


def test_a_guarded_update_counts_the_rows_it_changed(db):
    site, act = place(db)
    row = slot(db, act, date(2030, 3, 4), capacity=2)

    counts = [sql.run(db, TAKE_PLACE, {"slot": row.id}).rowcount for _ in range(3)]

    assert counts == [1, 1, 0]
    db.commit()
    assert fresh(db).get(Slot, row.id).booked == 2
    assert sql.run(db, TAKE_PLACE, {"slot": row.id + 1000}).rowcount == 0


def test_statements_run_in_the_sessions_transaction(app, db):
    # What the ORM flushed and has not committed is seen: it is the same transaction.
    db.add(Account(email="flushed@example.org", first_name="Ana", last_name="Roy"))
    db.flush()
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 1

    new_account(db, "rolled.back@example.org")
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 2
    assert emails_of(app) == set()  # nothing committed yet
    db.rollback()
    assert emails_of(app) == set()
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 0

    new_account(db, "committed@example.org")
    db.commit()
    assert emails_of(app) == {"committed@example.org"}


def test_before_cursor_execute_listeners_see_each_statement(app, db):
    site, act = place(db)
    row = slot(db, act, date(2030, 3, 4), capacity=5)
    seen = []

    def listener(connection, cursor, statement, parameters, context, executemany):
        values = parameters.values() if isinstance(parameters, dict) else parameters
        seen.append((statement, list(values)))

    event.listen(engine(app), "before_cursor_execute", listener)
    try:
        sql.run(db, TAKE_PLACE, {"slot": row.id})
        sql.run(db, TAKE_PLACE, {"slot": row.id})
        sql.run(db, ACCOUNT_COUNT)
    finally:
        event.remove(engine(app), "before_cursor_execute", listener)
    sql.run(db, TAKE_PLACE, {"slot": row.id})  # no longer listened to

    updates = [values for statement, values in seen if statement.lstrip().upper().startswith("UPDATE SLOT")]
    counts = [statement for statement, _ in seen if "count(" in statement.lower()]
    assert len(updates) == 2 and all(row.id in values for values in updates)
    assert len(counts) == 1
    db.commit()
    assert fresh(db).get(Slot, row.id).booked == 3


def test_a_violated_unique_constraint_raises_sqlalchemys_integrity_error(db):
    account(db, "ana@example.org")

    with pytest.raises(exc.IntegrityError) as error:
        new_account(db, "ana@example.org")

    dbapi = db.get_bind().dialect.loaded_dbapi
    assert isinstance(error.value.orig, dbapi.IntegrityError)
    assert "account" in error.value.statement.lower()
    db.rollback()
    assert new_account(db, "bob@example.org")  # the session goes on


def test_result_helpers(db):
    ana = account(db, "ana@example.org", role="agent")
    bob = account(db, "bob@example.org", role="admin")
    cid = account(db, "cid@example.org", role="admin")

    none = sql.run(db, ROLE_ROWS, {"role": "parent"})
    assert none.all() == [] and none.first() is None and none.scalars() == []
    with pytest.raises(exc.NoResultFound):
        none.scalar_one()

    one = sql.run(db, ROLE_ROWS, {"role": "agent"})
    assert one.scalar_one() == ana.id
    assert one.all() == [(ana.id, "ana@example.org")]
    assert one.first().email == "ana@example.org" and one.first().id == ana.id  # named tuples

    two = sql.run(db, ROLE_ROWS, {"role": "admin"})
    assert two.scalars() == [bob.id, cid.id]  # the first column
    assert two.first().email == "bob@example.org"
    with pytest.raises(exc.MultipleResultsFound):
        two.scalar_one()


def test_attach_gives_a_tracked_instance(app, db):
    ana = account(db, "ana@example.org", first_name="Ana")
    db.add(AccountToken(account_id=ana.id, purpose="reset", secret_hash="f" * 64, expires_at=utcnow()))
    db.commit()

    with new_session(app) as session:
        row = sql.run(session, ACCOUNT_ROW, {"id": ana.id}).first()
        attached = sql.attach(session, Account, row)
        assert inspect(attached).persistent and attached in session
        assert not session.dirty  # as if loaded: nothing to write yet...
        assert not set(inspect(attached).unloaded) & set(A.keys())  # ...nor to read again
        assert attached.created_at == ana.created_at and attached.email_notifications is True
        assert [token.purpose for token in attached.tokens] == ["reset"]  # relationships load
        attached.first_name = "Anaïs"
        assert list(session.dirty) == [attached]
        session.commit()

    assert fresh(db).get(Account, ana.id).first_name == "Anaïs"
    assert db.get(Account, ana.id).created_at == ana.created_at


def test_attach_returns_the_instance_already_in_the_session(app, db):
    ana = account(db, "ana@example.org", first_name="Ana")

    with new_session(app) as session:
        loaded = session.get(Account, ana.id)
        loaded.first_name = "Pending"
        row = sql.run(session, ACCOUNT_ROW, {"id": ana.id}).first()
        assert sql.attach(session, Account, row) is loaded
        assert loaded.first_name == "Pending"


def test_runs_go_on_after_commit_and_rollback(app, db):
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 0
    account(db, "ana@example.org")  # commits
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 1

    # Another session commits; this one's next transaction sees it.
    with new_session(app) as other:
        new_account(other, "bob@example.org")
        other.commit()
    db.commit()
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 2

    # A write after a commit is in the new transaction: a rollback undoes it.
    new_account(db, "cid@example.org")
    db.rollback()
    assert emails_of(app) == {"ana@example.org", "bob@example.org"}
    assert sql.run(db, ACCOUNT_COUNT).scalar_one() == 2
    new_account(db, "dan@example.org")
    db.commit()
    assert emails_of(app) == {"ana@example.org", "bob@example.org", "dan@example.org"}


FIRST_NAME = sql.Prepared(select(A.first_name).where(A.id == bindparam("id")))
RENAME = sql.Prepared(update(Account.__table__).where(A.id == bindparam("account")).values(first_name=bindparam("name")))


def test_a_run_sees_the_sessions_pending_changes_as_session_execute_does(db):
    zoe = account(db, "zoe@example.fr")
    zoe.first_name = "Changée"
    assert sql.run(db, FIRST_NAME, {"id": zoe.id}).scalar_one() == "Changée"
    assert not db.dirty


def test_a_write_through_run_is_kept_by_begin_write(app, db):
    from citoyen.transactions import begin_write

    zoe = account(db, "zoe@example.fr")
    sql.run(db, RENAME, {"account": zoe.id, "name": "Écrite"})
    begin_write(db)  # would throw away a transaction it thought had only read
    db.commit()
    with new_session(app) as other:
        assert other.get(Account, zoe.id).first_name == "Écrite"


def test_a_read_through_run_is_not_a_write(db):
    from citoyen.transactions import WROTE

    zoe = account(db, "zoe@example.fr")
    db.commit()
    sql.run(db, FIRST_NAME, {"id": zoe.id})
    assert not db.info.get(WROTE)


def test_what_a_kept_form_could_not_carry_is_refused_at_once(db):
    account(db, "zoe@example.fr")
    escaped = sql.Prepared(select(A.id).where(A.email == bindparam("e mail")))
    with pytest.raises(ValueError):
        sql.run(db, escaped, {"e mail": "zoe@example.fr"})
    literal = sql.Prepared(select(A.id).where(A.id == bindparam("id", literal_execute=True)))
    with pytest.raises(ValueError):
        sql.run(db, literal, {"id": 1})
    for items in ({1, 2}, range(1, 3), frozenset({1})):
        with pytest.raises(TypeError):
            sql.run(db, EMAILS_IN, {"ids": items, "role": "parent"})


def test_attach_works_as_a_new_processs_first_use_of_the_orm(tmp_path):
    """A new app server's first request attaches its account before any
    other ORM use: the mappers are configured then."""
    script = tmp_path / "first.py"
    script.write_text(
        "from sqlalchemy import create_engine, insert, select\n"
        "from sqlalchemy.orm import Session\n"
        "from citoyen.models import Account\n"
        "from citoyen.models.base import Base\n"
        "from citoyen.services import sql\n"
        "engine = create_engine('sqlite://')\n"
        "Base.metadata.create_all(engine)\n"
        "with engine.begin() as conn:\n"
        "    conn.execute(insert(Account.__table__).values(email='zoe@example.fr', first_name='Zoé',\n"
        "                 last_name='Petit', role='parent', session_epoch='e', failed_sign_ins=0,\n"
        "                 email_notifications=True, created_at=__import__('datetime').datetime(2026, 1, 1)))\n"
        "assert not Account.__mapper__.configured\n"
        "row = sql.Prepared(select(*Account.__table__.c))\n"
        "with Session(engine) as session:\n"
        "    zoe = sql.attach(session, Account, sql.run(session, row).first())\n"
        "    assert zoe.first_name == 'Zoé' and zoe in session and not session.dirty\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
