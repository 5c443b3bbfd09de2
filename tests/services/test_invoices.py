"""Invoices: numbers without gaps even under concurrent runs, credit notes
instead of edits, « Reste à payer » read from the ledger, payment online."""

from __future__ import annotations

import urllib.parse
from datetime import date

import pytest
from sqlalchemy import select

from citoyen.models import Invoice
from citoyen.services import households
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services import payments
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.services.households import Attempt
from tests import factories
from tests.services.helpers import BASE_URL
from tests.services.test_concurrency import run_together
from tests.services.test_payments import SETTINGS
from tests.services.test_payments import URLS
from tests.services.test_payments import Bank

LINES = [invoices.Line("Restauration scolaire — Léa — 12 jours", 12, 350),
         invoices.Line("Accueil soir 1 — Léa — 4 jours", 4, 125)]


@pytest.fixture
def family(db, agent, parent):
    town = factories.organisation(db, billing_mode="postpaid")
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE_URL)
    return household


def _issue(db, household, today=date(2026, 10, 1)):
    invoice = invoices.issue(db, household, "Facture post-paiement pour septembre 2026",
                             date(2026, 9, 1), date(2026, 9, 30), LINES, today=today)
    db.commit()
    return invoice


def test_an_invoice_is_a_debit_and_numbers_follow(db, family):
    first, second = _issue(db, family), _issue(db, family)
    assert (first.number, second.number) == ("F2026-000001", "F2026-000002")
    assert first.amount_cents == 12 * 350 + 4 * 125 == 4700
    assert ledger.balance(db, family.id) == -9400
    assert invoices.remaining(db, first) == 4700
    assert invoices.state(first, 4700) == "À payer"
    assert _issue(db, family, today=date(2027, 1, 5)).number == "F2027-000001"


def test_a_rolled_back_invoice_gives_its_number_back(db, family):
    invoices.issue(db, family, "x", date(2026, 9, 1), date(2026, 9, 30), LINES, today=date(2026, 10, 1))
    db.rollback()
    assert _issue(db, family).number == "F2026-000001"


def test_concurrent_runs_number_without_gaps_or_doubles(app, db, family):
    def run(session, i):
        household = session.get(type(family), family.id)
        invoice = invoices.issue(session, household, f"run {i}", date(2026, 9, 1), date(2026, 9, 30),
                                 LINES, today=date(2026, 10, 1))
        session.commit()
        return invoice.number

    results, errors = run_together(app, run)
    assert errors == []
    assert sorted(results) == [f"F2026-{n:06d}" for n in range(1, len(results) + 1)]


def test_credit_note_reduces_what_is_left(db, agent, parent, family):
    invoice = _issue(db, family)
    with pytest.raises(Forbidden):
        invoices.credit_note(db, parent, family, invoice.id, "5", "erreur")
    with pytest.raises(DomainError) as raised:
        invoices.credit_note(db, agent, family, invoice.id, "50", "erreur")
    assert raised.value.field == "amount" and "47,00" in raised.value.message
    note = invoices.credit_note(db, agent, family, invoice.id, "7", "Sortie annulée",
                                today=date(2026, 10, 3))
    assert note.number == "A2026-000001" and note.corrects_id == invoice.id
    assert invoices.remaining(db, invoice) == 4000
    assert db.get(Invoice, invoice.id).amount_cents == 4700  # never edited
    assert ledger.balance(db, family.id) == -4000


def test_pay_an_invoice_online_once(db, parent, family):
    invoice = _issue(db, family)
    payment, redirect = payments.start_invoice_payment(db, SETTINGS, parent, family, invoice.id, URLS)
    assert payment.amount_cents == 4700 and payment.invoice_id == invoice.id
    bank = Bank()
    back = bank.choose(redirect, "payer")
    notification = urllib.parse.urlencode(bank.sent[0])
    assert payments.settle(db, SETTINGS, notification, BASE_URL, "notification").credited
    assert not payments.settle(db, SETTINGS, back, BASE_URL, "return").credited
    db.expire_all()
    assert invoices.remaining(db, invoice) == 0 and ledger.balance(db, family.id) == 0
    with pytest.raises(DomainError, match="déjà réglée"):
        payments.start_invoice_payment(db, SETTINGS, parent, family, invoice.id, URLS)


def test_an_invoice_of_another_household_cannot_be_paid(db, agent, parent, family):
    other = households.create_household(db, agent, factories.organisation(db, slug="b"), name="Benali",
                                        guardian_first_name="Karim", guardian_last_name="Benali")
    theirs = _issue(db, other)
    with pytest.raises(NotFound):
        payments.start_invoice_payment(db, SETTINGS, parent, family, theirs.id, URLS)
    assert list(db.scalars(select(Invoice.id))) == [theirs.id]


def test_the_invoice_pdf(db, agent, family, tmp_path):
    from tests.services.test_statement_pdf import _text

    invoice = _issue(db, family)
    invoices.credit_note(db, agent, family, invoice.id, "7", "Sortie annulée")
    pdf = invoices.pdf(db, invoice)
    assert pdf.startswith(b"%PDF") and len(pdf) < 100_000
    text = _text(pdf, tmp_path)
    assert "Facture n° F2026-000001" in text and "Restauration scolaire" in text
    assert "47,00 €" in text and "Reste à payer" in text and "40,00 €" in text
    note = db.scalar(select(Invoice).where(Invoice.kind == "credit_note"))
    assert "corrige la facture F2026-000001" in _text(invoices.pdf(db, note), tmp_path)


def test_credit_on_the_account_settles_a_new_invoice_first(db, agent, family):
    ledger.record_cash(db, agent, family, "20")
    invoice = _issue(db, family)
    assert invoices.remaining(db, invoice) == 2700
    assert ledger.balance(db, family.id) == 2000 - 4700
    # A second invoice finds no credit left.
    assert invoices.remaining(db, _issue(db, family)) == 4700


def test_many_pdfs_at_once_match_one_by_one(db, family):
    first, second = _issue(db, family), _issue(db, family)
    produced = dict(invoices.pdfs(db, [first.id, second.id]))
    assert set(produced) == {first, second}
    assert all(document.startswith(b"%PDF") for document in produced.values())
    assert len(produced[first]) == len(invoices.pdf(db, first))


def test_money_received_pays_the_open_invoices_oldest_first(db, agent, parent, family):
    first, second = _issue(db, family), _issue(db, family)
    ledger.record_cash(db, agent, family, "50")
    assert (invoices.remaining(db, first), invoices.remaining(db, second)) == (0, 4700 - 300)
    payment, redirect = payments.start_topup(db, SETTINGS, parent, family, "10", URLS)
    back = Bank().choose(redirect, "payer")
    payments.settle(db, SETTINGS, back, BASE_URL, "return")
    db.expire_all()
    assert invoices.remaining(db, second) == 4700 - 1300
    assert ledger.balance(db, family.id) == -9400 + 6000


def test_an_invoice_paid_twice_pays_the_next_open_invoice(db, agent, parent, family, outbox):
    first, second = _issue(db, family), _issue(db, family)
    payment, redirect = payments.start_invoice_payment(db, SETTINGS, parent, family, first.id, URLS)
    # Meanwhile the family pays the same invoice in cash at the town hall.
    ledger.record_cash(db, agent, family, "47")
    assert (invoices.remaining(db, first), invoices.remaining(db, second)) == (0, 4700)
    back = Bank().choose(redirect, "payer")
    assert payments.settle(db, SETTINGS, back, BASE_URL, "return").credited
    db.expire_all()
    # The surplus is not left idle on the account: it settles the next invoice.
    assert (invoices.remaining(db, first), invoices.remaining(db, second)) == (0, 0)
    assert ledger.balance(db, family.id) == 0
    assert "vont à vos autres factures" in outbox.last(parent.email).text_body


def test_a_surplus_without_another_invoice_stays_on_the_account(db, agent, parent, family):
    invoice = _issue(db, family)
    payment, redirect = payments.start_invoice_payment(db, SETTINGS, parent, family, invoice.id, URLS)
    ledger.record_cash(db, agent, family, "20")
    back = Bank().choose(redirect, "payer")
    assert payments.settle(db, SETTINGS, back, BASE_URL, "return").credited
    db.expire_all()
    assert invoices.remaining(db, invoice) == 0 and ledger.balance(db, family.id) == 2000
    # The credit then settles the next invoice first.
    assert invoices.remaining(db, _issue(db, family)) == 4700 - 2000


def test_an_invoice_is_not_paid_online_twice_at_once(db, parent, family):
    from datetime import timedelta

    from sqlalchemy import func
    from sqlalchemy import update

    from citoyen.models import Payment
    from citoyen.models.base import utcnow

    invoice = _issue(db, family)
    payments.start_invoice_payment(db, SETTINGS, parent, family, invoice.id, URLS)
    with pytest.raises(DomainError) as raised:
        payments.start_invoice_payment(db, SETTINGS, parent, family, invoice.id, URLS)
    assert raised.value.message == ("Un paiement de cette facture est déjà en cours. "
                                    "Attendez quelques minutes avant de réessayer.")
    assert db.scalar(select(func.count()).select_from(Payment)) == 1
    # Once the bank's payment page has expired, the family may try again.
    db.execute(update(Payment).values(created_at=utcnow() - payments.PAYMENT_SESSION - timedelta(minutes=1)))
    db.commit()
    second, _ = payments.start_invoice_payment(db, SETTINGS, parent, family, invoice.id, URLS)
    assert second.amount_cents == 4700


def test_the_same_credit_note_form_sent_twice_makes_one_avoir(db, agent, family):
    invoice = _issue(db, family)
    key = "a" * 32
    note = invoices.credit_note(db, agent, family, invoice.id, "7", "Sortie annulée", key=key)
    again = invoices.credit_note(db, agent, family, invoice.id, "7", "Sortie annulée", key=key)
    assert again.id == note.id and again.number == note.number
    assert invoices.remaining(db, invoice) == 4000
    assert len(list(db.scalars(select(Invoice).where(Invoice.kind == "credit_note")))) == 1
