"""Simultaneous requests: nothing is lost, counted twice or refused with an error.

Each thread has its own session, as each request has; a barrier starts them
together. Runs on SQLite and on PostgreSQL like the rest of the suite."""

from __future__ import annotations

import threading

from sqlalchemy import func
from sqlalchemy import select

from citoyen.db import new_session
from citoyen.models import Account
from citoyen.services import accounts
from citoyen.services.errors import DomainError
from tests.factories import PASSWORD

THREADS = 8


def run_together(app, work, count=THREADS):
    """Run ``work(session, i)`` in ``count`` threads at once; return results and errors."""
    barrier = threading.Barrier(count)
    results, errors = [], []
    lock = threading.Lock()

    def runner(i):
        with new_session(app) as session:
            barrier.wait()
            try:
                outcome = work(session, i)
            except DomainError as error:
                outcome = error
            except Exception as error:  # noqa: BLE001 - any other error is a failure
                with lock:
                    errors.append(repr(error))
                return
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_simultaneous_sign_ups_with_one_address_create_one_account(app, db):
    def sign_up(session, i):
        return accounts.register(
            session, app.config, first_name="Camille", last_name=f"Martin{i}",
            email="Camille@Example.org" if i % 2 else "camille@example.org",
            password=PASSWORD, base_url="http://localhost",
        )

    results, errors = run_together(app, sign_up)
    assert errors == []
    created = [r for r in results if isinstance(r, Account)]
    refused = [r for r in results if isinstance(r, accounts.EmailTaken)]
    assert len(created) == 1 and len(refused) == THREADS - 1
    assert db.scalar(select(func.count()).select_from(Account)) == 1


def test_simultaneous_wrong_passwords_lock_the_account(app, make_account, db):
    account = make_account(email="parent@example.org")
    most = app.config["LOGIN_MAX_FAILURES"]

    def wrong(session, i):
        return accounts.authenticate(session, app.config, "parent@example.org", "Mauvais1")

    results, errors = run_together(app, wrong)
    assert errors == []
    assert len(results) == THREADS
    assert all(isinstance(r, accounts.InvalidCredentials | accounts.AccountLocked) for r in results)
    # Only the failures before the lock are answered as a wrong password.
    assert sum(isinstance(r, accounts.InvalidCredentials) for r in results) <= most - 1
    db.rollback()
    db.expire_all()
    refreshed = db.get(Account, account.id)
    assert refreshed.locked_until is not None
    # An attempt that read the account before the lock still counts towards the
    # next one; an attempt that read it after is refused without counting.
    assert 0 <= refreshed.failed_sign_ins <= THREADS - most


def test_simultaneous_sign_ins_of_many_families_all_succeed(app, make_account):
    for i in range(THREADS):
        make_account(email=f"parent{i}@example.org")

    def sign_in(session, i):
        return accounts.authenticate(session, app.config, f"parent{i}@example.org", PASSWORD)

    results, errors = run_together(app, sign_in)
    assert errors == []
    assert all(isinstance(r, Account) for r in results) and len(results) == THREADS


def test_one_reset_link_used_at_once_in_several_tabs_works_once(app, make_account, db):
    account = make_account(email="parent@example.org")
    token = accounts.issue_token(db, app.config, account, "reset", 1)
    db.commit()

    def reset(session, i):
        return accounts.reset_password(session, app.config, token, f"Nouveau{i}mdp")

    results, errors = run_together(app, reset)
    assert errors == []
    assert len([r for r in results if isinstance(r, Account)]) == 1
    assert len([r for r in results if isinstance(r, accounts.TokenUsed)]) == THREADS - 1
