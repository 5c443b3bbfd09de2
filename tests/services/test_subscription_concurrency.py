"""« M'abonner » under simultaneous wrong attempts: never more than five are
checked before the lock (runs on SQLite and on PostgreSQL like the suite)."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import Account
from citoyen.models import SubscriptionFailure
from citoyen.services import households
from citoyen.services.households import Attempt
from tests.services.test_concurrency import run_together


def test_simultaneous_wrong_attempts_never_exceed_the_limit(app, db, make_account):
    account_id = make_account(email="devine@example.org").id

    def guess(session, i):
        account = session.get(Account, account_id)
        return households.subscribe(session, account, Attempt("code", code=f"AAAA-BBBB-{i:04d}"),
                                    "http://localhost")

    results, errors = run_together(app, guess, count=12)
    assert errors == []
    kinds = sorted(type(r).__name__ for r in results)
    # The fifth wrong attempt is told about the lock it starts.
    assert kinds.count("WrongSubscription") == households.MAX_FAILURES - 1
    assert kinds.count("SubscriptionLocked") == 12 - households.MAX_FAILURES + 1
    db.rollback()
    assert db.scalar(select(func.count()).select_from(SubscriptionFailure)) == households.MAX_FAILURES
