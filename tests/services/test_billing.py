"""Prices by quotient familial, what a month charges, and the monthly run
(invoices post-paid, debits prepaid), safe to stop, restart or run twice."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from citoyen.db import new_session
from citoyen.models import BilledMonth
from citoyen.models import Invoice
from citoyen.models import LedgerEntry
from citoyen.models import Notification
from citoyen.models import Organisation
from citoyen.models import Slot
from citoyen.models.base import utcnow
from citoyen.services import agenda
from citoyen.services import billing
from citoyen.services import ledger
from citoyen.services.errors import DomainError
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.conftest import fresh
from tests.services.test_concurrency import run_together

GRID = [("500", "1,20"), ("1000", "2,50"), ("", "4,00")]


@pytest.fixture
def town(db):
    town = build_town(db)
    billing.set_prices(db, town.agent, town.canteen.id, GRID)
    return town


def _mode(db, town, mode):
    db.execute(update(Organisation).where(Organisation.id == town.organisation.id).values(billing_mode=mode))
    db.commit()


def _days(count=4):
    """``count`` school days (Mondays and Tuesdays) in one month, ahead of any deadline."""
    first = next_weekday(0, weeks=3)
    month = first.replace(day=1)
    days = []
    day = month
    while len(days) < count:
        if day.weekday() in (0, 1) and day >= first - timedelta(days=21) and day.month == month.month \
                and day > date.today() + timedelta(days=3):
            days.append(day)
        day += timedelta(days=1)
        if day.month != month.month:  # not enough in this month: take the next one
            month = (month + timedelta(days=32)).replace(day=1)
            day, days = month, []
    return days


def test_prices_by_quotient(db, town):
    grid = billing.brackets_of(db, [town.canteen.id])[town.canteen.id]
    assert billing.price_for(grid, 300) == 120
    assert billing.price_for(grid, 500) == 120
    assert billing.price_for(grid, 501) == 250
    assert billing.price_for(grid, 5000) == 400
    assert billing.price_for(grid, None) == 400  # no quotient: the top bracket
    assert billing.price_for([], 300) is None


@pytest.mark.parametrize("rows, field", [
    ([("500", "")], "brackets-0-price"),
    ([("abc", "2")], "brackets-0-ceiling"),
    ([("500", "2"), ("600", "3")], "brackets-0-ceiling"),  # no top bracket
    ([("", "2"), ("", "3")], "brackets-0-ceiling"),
    ([("500", "-2"), ("", "3")], "brackets-0-price"),
])
def test_bad_price_grids_are_refused(db, town, rows, field):
    with pytest.raises(DomainError) as raised:
        billing.set_prices(db, town.agent, town.canteen.id, rows)
    assert raised.value.field == field
    assert len(billing.brackets_of(db, [town.canteen.id])[town.canteen.id]) == 3


def test_what_a_month_charges(db, town):
    days = _days(4)
    for day in days:
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    agenda.cancel(db, town.parent, town.leo.id, town.canteen.id, days[0], BASE_URL)  # in time: free
    agenda.declare_absence(db, town.parent, town.leo.id, days[1], days[1], "illness", "", BASE_URL)
    agenda.declare_absence(db, town.parent, town.leo.id, days[2], days[2], "family", "", BASE_URL)
    [charge] = billing.charges(db, town.household, days[0])
    assert charge.days == 2 and charge.unit_cents == 400  # the family absence and the day booked
    assert "Restauration scolaire — Léo" in charge.label


def test_post_paid_month_is_one_invoice_billed_once(db, town):
    _mode(db, town, "postpaid")
    days = _days(3)
    for day in days:
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
        agenda.book(db, town.parent, town.ines.id, town.canteen.id, day)
    documents, amount = billing.bill_household(db, town.household.id, days[0], BASE_URL)
    assert (documents, amount) == (1, 6 * 400)
    assert billing.bill_household(db, town.household.id, days[0], BASE_URL) == (0, 0)
    invoice = db.scalar(select(Invoice))
    assert invoice.label.startswith("Facture post-paiement pour ")
    assert [(line.quantity, line.unit_cents) for line in invoice.lines] == [(3, 400), (3, 400)]
    assert ledger.balance(db, town.household.id) == -2400


def test_prepaid_month_debits_and_warns_when_negative(db, town):
    days = _days(2)
    for day in days:
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    ledger.record_cash(db, town.agent, town.household, "5")
    assert billing.bill_household(db, town.household.id, days[0], BASE_URL) == (1, 800)
    assert ledger.balance(db, town.household.id) == -300
    assert db.scalar(select(func.count()).select_from(Notification)
                     .where(Notification.subject == "Votre compte d'avance est négatif")) == 1
    assert billing.booking_refusal(db, town.household.id) is None  # not yet 15 days
    db.execute(update(LedgerEntry).where(LedgerEntry.kind == "consumption")
               .values(created_at=utcnow() - timedelta(days=16)))
    db.commit()
    refusal = billing.booking_refusal(db, town.household.id)
    assert "depuis plus de 15 jours" in refusal and "-3,00" in refusal
    # Joining a waiting list is refused too: a place in line becomes a booking by itself.
    later = days[1] + timedelta(days=7)
    for click in (agenda.book, agenda.join_waiting_list):
        with pytest.raises(DomainError, match="depuis plus de 15 jours"):
            click(db, town.parent, town.ines.id, town.canteen.id, later)
        db.rollback()
    ledger.record_cash(db, town.agent, town.household, "3")
    assert billing.booking_refusal(db, town.household.id) is None


def test_days_before_the_sixth_birthday_are_apart(db, town):
    days = _days(2)
    leo = town.leo
    db.execute(update(type(leo)).where(type(leo).id == leo.id)
               .values(birth_date=days[1].replace(year=days[1].year - 6)))
    db.commit()
    for day in days:
        agenda.book(db, town.parent, leo.id, town.canteen.id, day)
    found = {c.under_six: c.days for c in billing.charges(db, town.household, days[0])}
    assert found == {True: 1, False: 1}


def test_the_run_bills_every_household_once_even_twice_at_once(app, db, town):
    _mode(db, town, "postpaid")
    other = household(db, town.organisation, name="Benali", children=("Yasmine",))
    enrol(db, other.children[0], town.canteen)
    days = _days(2)
    for day in days:
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
        agenda.book(db, town.agent, other.children[0].id, town.canteen.id, day)
    month = days[0].replace(day=1)

    def run(session, i):
        for household_id in (town.household.id, other.id):
            billing.bill_household(session, household_id, month, BASE_URL)

    results, errors = run_together(app, run, count=4)
    assert errors == []
    fresh(db)
    numbers = sorted(db.scalars(select(Invoice.number)))
    assert len(numbers) == 2 and numbers == sorted({n for n in numbers})
    assert [n[-6:] for n in numbers] == ["000001", "000002"]
    assert db.scalar(select(func.count()).select_from(BilledMonth)) == 2


def test_run_with_progress(app, db, town):
    _mode(db, town, "postpaid")
    today = date.today()
    with pytest.raises(DomainError):
        billing.start_run(db, town.agent, town.organisation.id, today + timedelta(days=40))
    last_month = billing.default_month()
    run = billing.start_run(db, town.agent, town.organisation.id, last_month)
    assert run.total == 1 and run.status == "running"
    with pytest.raises(DomainError, match="déjà en cours"):
        billing.start_run(db, town.agent, town.organisation.id, last_month)
    billing.execute_run(lambda: new_session(app), run.id, BASE_URL, progress_every=1)
    fresh(db)
    assert run.status == "done" and run.done == 1


def _received(db, when):
    """Date the rows just written (money received, debits) as if written at ``when`` (UTC)."""
    from sqlalchemy import null

    db.execute(update(LedgerEntry).where(LedgerEntry.idempotency_key.is_(null()),
                                         LedgerEntry.created_at > utcnow() - timedelta(minutes=5))
               .values(created_at=when))
    db.commit()


def test_attestation_fiscale(db, town, tmp_path):
    from datetime import datetime

    from citoyen.models import Child
    from citoyen.services import invoices
    from citoyen.services.errors import NotFound
    from tests.services.test_statement_pdf import _text

    year = date.today().year - 1
    leo = db.get(Child, town.leo.id)
    leo.birth_date = date(year - 3, 5, 1)
    db.commit()
    # Prepaid: money in, then a debit of Léo's days under 6 in March, one for another child.
    ledger.record_cash(db, town.agent, town.household, "30")
    db.add(LedgerEntry(household_id=town.household.id, amount_cents=-1200, kind="consumption",
                       label="x", child_id=leo.id, service_month=date(year, 3, 1), under_six=True))
    db.add(LedgerEntry(household_id=town.household.id, amount_cents=-999, kind="consumption",
                       label="y", child_id=town.ines.id, service_month=date(year, 3, 1), under_six=True))
    db.commit()
    _received(db, datetime(year, 3, 31, 10))
    # Post-paid: an invoice of 20 € for Léo, half paid (with what is left on the account).
    invoices.issue(db, town.household, "Facture", date(year, 4, 1), date(year, 4, 30),
                   [invoices.Line("Accueil", 10, 200, leo.id, True)])
    db.commit()
    _received(db, datetime(year, 5, 2, 10))
    assert billing.tax_amount(db, leo, year) == 1200 + 801
    text = _text(billing.tax_certificate(db, town.household, leo.id, year), tmp_path)
    assert f"Attestation fiscale {year}" in text and "20,01 €" in text and "Léo" in text
    assert "()" not in text
    ines = db.get(Child, town.ines.id)
    ines.birth_date = date(year - 10, 1, 1)
    db.commit()
    with pytest.raises(DomainError) as raised:
        billing.tax_certificate(db, town.household, ines.id, year)
    assert raised.value.field == "child" and "6 ans ou plus" in raised.value.message
    other = household(db, town.organisation, name="Benali", children=("Yasmine",))
    with pytest.raises(NotFound):
        billing.tax_certificate(db, town.household, other.children[0].id, year)


def test_the_attestation_certifies_money_received_not_credit_notes(db, town):
    from datetime import datetime

    from citoyen.models import Child
    from citoyen.services import invoices

    _mode(db, town, "postpaid")
    year = date.today().year - 1
    leo = db.get(Child, town.leo.id)
    leo.birth_date = date(year - 3, 5, 1)
    db.commit()
    invoice = invoices.issue(db, town.household, "Facture", date(year, 3, 1), date(year, 3, 31),
                             [invoices.Line("Accueil — Léo", 10, 200, leo.id, True)])
    db.commit()
    _received(db, datetime(year, 4, 2, 10))
    # An avoir of the whole invoice: nothing was paid, nothing is certified.
    invoices.credit_note(db, town.agent, town.household, invoice.id, "20", "Séances non dues")
    _received(db, datetime(year, 4, 3, 10))
    assert billing.tax_amount(db, leo, year) == 0
    second = invoices.issue(db, town.household, "Facture", date(year, 4, 1), date(year, 4, 30),
                            [invoices.Line("Accueil — Léo", 10, 200, leo.id, True)])
    db.commit()
    invoices.credit_note(db, town.agent, town.household, second.id, "5", "Sortie annulée")
    ledger.record_cash(db, town.agent, town.household, "15")
    _received(db, datetime(year, 5, 10, 10))
    assert invoices.remaining(db, second) == 0
    assert billing.tax_amount(db, leo, year) == 1500  # the cash, not the 5 € avoir


def test_the_attestation_does_not_certify_debits_never_paid(db, town):
    from datetime import datetime

    from citoyen.models import Child

    year = date.today().year - 1
    leo = db.get(Child, town.leo.id)
    leo.birth_date = date(year - 3, 5, 1)
    db.commit()
    db.add(LedgerEntry(household_id=town.household.id, amount_cents=-1200, kind="consumption",
                       label="x", child_id=leo.id, service_month=date(year, 3, 1), under_six=True))
    db.commit()
    _received(db, datetime(year, 4, 1, 10))
    assert ledger.balance(db, town.household.id) == -1200
    assert billing.tax_amount(db, leo, year) == 0  # the account is debtor: nothing was paid
    ledger.record_cash(db, town.agent, town.household, "5")
    _received(db, datetime(year, 6, 1, 10))
    assert billing.tax_amount(db, leo, year) == 500
    # Money topped up then given back was not spent on childcare.
    ledger.record_cash(db, town.agent, town.household, "20")
    _received(db, datetime(year, 7, 1, 10))
    ledger.refund(db, town.agent, town.household, "13", "Trop-perçu")
    _received(db, datetime(year, 7, 2, 10))
    assert ledger.balance(db, town.household.id) == 0
    assert billing.tax_amount(db, leo, year) == 1200


def test_the_attestation_year_is_the_year_the_money_was_received(db, town):
    from datetime import datetime

    from citoyen.models import Child
    from citoyen.services import invoices

    _mode(db, town, "postpaid")
    year = date.today().year - 1
    leo = db.get(Child, town.leo.id)
    leo.birth_date = date(year - 3, 5, 1)
    db.commit()
    invoices.issue(db, town.household, "Facture décembre", date(year - 1, 12, 1), date(year - 1, 12, 31),
                   [invoices.Line("Accueil — Léo", 10, 200, leo.id, True)])
    db.commit()
    _received(db, datetime(year - 1, 12, 31, 9))
    # Paid in cash at 23:30 UTC on 31 December: 00:30 on 1 January in Paris.
    ledger.record_cash(db, town.agent, town.household, "20")
    _received(db, datetime(year - 1, 12, 31, 23, 30))
    assert billing.tax_amount(db, leo, year - 1) == 0
    assert billing.tax_amount(db, leo, year) == 2000


def test_the_attestation_names_the_validated_guardians_only(db, town, tmp_path):
    from citoyen.models import Child
    from citoyen.models import Guardian
    from tests.services.test_statement_pdf import _text

    year = date.today().year - 1
    leo = db.get(Child, town.leo.id)
    leo.birth_date = date(year - 3, 5, 1)
    db.add(Guardian(household_id=town.household.id, first_name="Inconnu", last_name="Intrus",
                    status="pending"))
    db.commit()
    text = _text(billing.tax_certificate(db, town.household, leo.id, year), tmp_path)
    assert "Intrus" not in text and "()" not in text and "foyer Martin a payé" in " ".join(text.split())
    db.add(Guardian(household_id=town.household.id, first_name="Camille", last_name="Martin"))
    db.commit()
    text = " ".join(_text(billing.tax_certificate(db, town.household, leo.id, year), tmp_path).split())
    assert "foyer Martin (Camille Martin) a payé" in text and "Intrus" not in text


def test_a_negative_account_for_too_long_stops_new_bookings(db, town):
    days = _days(3)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, days[0])
    billing.bill_household(db, town.household.id, days[0], BASE_URL)
    db.execute(update(LedgerEntry).values(created_at=utcnow() - timedelta(days=20)))
    db.commit()
    with pytest.raises(DomainError, match="depuis plus de 15 jours"):
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, days[1])
    with pytest.raises(DomainError, match="depuis plus de 15 jours"):
        agenda.bulk(db, town.parent, [town.leo.id], [town.canteen.id], days[1], days[2], [0, 1, 3, 4],
                    "create", BASE_URL, apply=True)
    agenda.book(db, town.agent, town.leo.id, town.canteen.id, days[1])  # the town hall still can
    ledger.record_cash(db, town.agent, town.household, "10")
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, days[2])


def test_unbooked_presence_takes_a_place_and_carries_the_surcharge(db, town, monkeypatch):
    from citoyen.services import activities
    from citoyen.services.errors import Forbidden

    billing.update_settings(db, factories_admin(db), town.organisation.id, "prepaid", "", ["illness"], "25")
    day = _days(1)[0]
    # Attendance is marked on the day itself.
    monkeypatch.setattr(activities, "local_now", lambda: datetime.combine(day, time(12, 0)))
    with pytest.raises(Forbidden):
        activities.unbooked_presence(db, town.parent, town.canteen.id, town.leo.id, day)
    assert {c.id for c in activities.unbooked_candidates(db, town.canteen, day)} == {town.leo.id, town.ines.id}
    booking = activities.unbooked_presence(db, town.agent, town.canteen.id, town.leo.id, day)
    assert booking.status == "present" and booking.unbooked
    with pytest.raises(DomainError, match="déjà sur la liste"):
        activities.unbooked_presence(db, town.agent, town.canteen.id, town.leo.id, day)
    [charge] = billing.charges(db, town.household, day)
    assert charge.unbooked and charge.unit_cents == 500  # 4,00 € + 25 %
    assert "présence sans réservation" in charge.label
    db.execute(update(Slot).values(capacity=1))
    db.commit()
    with pytest.raises(DomainError, match="Complet"):
        activities.unbooked_presence(db, town.agent, town.canteen.id, town.ines.id, day)


def factories_admin(db):
    from tests import factories

    return factories.account(db, email="admin.billing@example.org", role="admin")


def test_a_month_not_ended_is_not_billed(db, town):
    from citoyen.models import BillingRun

    _mode(db, town, "prepaid")
    for month in (date(2026, 11, 1), date(2026, 12, 1), date(9999, 12, 1)):
        with pytest.raises(DomainError) as raised:
            billing.start_run(db, town.agent, town.organisation.id, month, today=date(2026, 11, 22))
        assert raised.value.field == "month"
    assert raised.value.message.startswith("Facturez un mois terminé : décembre 9999")
    with pytest.raises(DomainError) as raised:
        billing.start_run(db, town.agent, town.organisation.id, date(2026, 11, 1), today=date(2026, 11, 30))
    assert raised.value.message == "Facturez un mois terminé : novembre 2026 se termine le 30/11/2026."
    db.rollback()
    assert db.scalar(select(func.count()).select_from(BillingRun)) == 0
    # The day after its last day, it may be billed.
    run = billing.start_run(db, town.agent, town.organisation.id, date(2026, 11, 1), today=date(2026, 12, 1))
    assert run.month == date(2026, 11, 1)
