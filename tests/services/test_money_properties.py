"""A stateful property test: random sequences of top-ups (paid, refused, repeated
notifications), cash, refunds, bookings, cancellations, absences and monthly
billing keep every balance equal to the sum of its rows, and never create or
lose a cent."""

from __future__ import annotations

import urllib.parse

from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from citoyen.models import Activity
from citoyen.models import LedgerEntry
from citoyen.models import Organisation
from citoyen.services import agenda
from citoyen.services import billing
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services import payments
from citoyen.services.errors import DomainError
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.services.test_billing import _days
from tests.services.test_payments import SETTINGS
from tests.services.test_payments import URLS
from tests.services.test_payments import Bank


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def test_money_is_never_created_or_lost(db):
    town = build_town(db)
    billing.set_prices(db, town.agent, town.canteen.id, [("", "3,50")])
    db.execute(update(Activity).values(default_capacity=10_000))
    db.commit()
    days = _days(4)

    class Money(RuleBasedStateMachine):
        @initialize(mode=st.sampled_from(["prepaid", "postpaid"]))
        def start(self, mode):
            db.execute(update(Organisation).values(billing_mode=mode))
            db.commit()
            # A new family for each sequence: nothing is shared between examples.
            self.home = household(db, town.organisation, account=town.parent)
            self.leo, self.ines = self.home.children
            for child in (self.leo, self.ines):
                enrol(db, child, town.canteen)
            self.expected = 0   # what the family has given minus what it owes
            self.booked = set()  # (child, day index) holding a place
            self.charged_absences = set()  # booked days cancelled by an absence the town charges
            self.bank = Bank()
            self.billed = False

        @rule(cents=st.integers(100, 20_000), choice=st.sampled_from(["payer", "refuser", "abandonner"]),
              repeat=st.integers(1, 3))
        def top_up(self, cents, choice, repeat):
            _, redirect = payments.start_topup(db, SETTINGS, town.parent, self.home, _euros(cents), URLS)
            self.bank.sent.clear()
            back = self.bank.choose(redirect, choice)
            for _ in range(repeat):
                for fields in self.bank.sent:
                    payments.settle(db, SETTINGS, urllib.parse.urlencode(fields), BASE_URL, "notification")
                payments.settle(db, SETTINGS, back, BASE_URL, "return")
            if choice == "payer":
                self.expected += cents

        @rule(cents=st.integers(1, 10_000))
        def cash(self, cents):
            ledger.record_cash(db, town.agent, self.home, _euros(cents))
            self.expected += cents

        @rule(cents=st.integers(1, 10_000))
        def refund(self, cents):
            try:
                ledger.refund(db, town.agent, self.home, _euros(cents), "test")
                self.expected -= cents
            except DomainError:
                assert cents > ledger.balance(db, self.home.id)

        @precondition(lambda self: not self.billed)
        @rule(index=st.integers(0, 3), child=st.sampled_from(["leo", "ines"]))
        def book(self, index, child):
            agenda.book(db, town.parent, getattr(self, child).id, town.canteen.id, days[index])
            self.booked.add((child, index))
            self.charged_absences.discard((child, index))

        @precondition(lambda self: not self.billed)
        @rule(index=st.integers(0, 3))
        def cancel(self, index):
            try:
                agenda.cancel(db, town.parent, self.leo.id, town.canteen.id, days[index], BASE_URL)
            except DomainError:
                assert ("leo", index) not in self.booked
            self.booked.discard(("leo", index))

        @precondition(lambda self: not self.billed)
        @rule(index=st.integers(0, 3), motive=st.sampled_from(["illness", "family"]))
        def absence(self, index, motive):
            agenda.declare_absence(db, town.parent, self.ines.id, days[index], days[index], motive, "", BASE_URL)
            if ("ines", index) in self.booked:
                self.booked.discard(("ines", index))
                if motive == "family":  # not a motive the town excuses
                    self.charged_absences.add(("ines", index))

        @rule()
        def bill(self):
            documents, amount = billing.bill_household(db, self.home.id, days[0], BASE_URL)
            if not self.billed:
                # Only days of the first day's month are billed.
                month = [i for i, day in enumerate(days) if day.month == days[0].month]
                charged = {d for d in self.booked | self.charged_absences if d[1] in month}
                assert amount == 350 * len(charged)
            else:
                assert (documents, amount) == (0, 0)  # billed once
            self.expected -= amount
            self.billed = True

        @invariant()
        def balance_is_the_sum_of_the_rows(self):
            if not hasattr(self, "expected"):
                return
            db.expire_all()
            rows = db.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                             .where(LedgerEntry.household_id == self.home.id))
            assert ledger.balance(db, self.home.id) == rows == self.expected
            for invoice, left in invoices.of_household(db, self.home.id):
                assert 0 <= left <= invoice.amount_cents

    run_state_machine_as_test(Money, settings=settings(
        max_examples=12, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
