"""The ledger and online top-ups through the test bank: the real SystemPay
signatures on both sides, idempotent settlement, and money never created or lost."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from citoyen.demo_bank import DEMO_SECRET
from citoyen.demo_bank import answer_fields
from citoyen.demo_bank import create_bank
from citoyen.demo_bank import sign
from citoyen.models import LedgerEntry
from citoyen.models import Payment
from citoyen.models.base import utcnow
from citoyen.services import households
from citoyen.services import ledger
from citoyen.services import payments
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.households import Attempt
from tests import factories
from tests.services.helpers import BASE_URL
from tests.services.test_concurrency import run_together

BANK_OPTIONS = {"service_url": "http://banque.test/vads-payment/", "secret_test": DEMO_SECRET,
                "signature_algo": "hmac_sha256", "vads_site_id": "12345678"}
SETTINGS = {"PAYMENT_BACKENDS": {"*": {"kind": "systempayv2", "options": BANK_OPTIONS}},
            "TOPUP_MIN_CENTS": 100, "TOPUP_MAX_CENTS": 100_000}
URLS = {"return": "http://localhost/paiements/retour", "notify": "http://localhost/paiements/notification"}


class Bank:
    """The test bank, driven as a family's browser would; notifications are kept."""

    def __init__(self):
        self.sent = []
        self.app = create_bank({"TESTING": True, "NOTIFY": lambda url, fields: self.sent.append(fields)})
        self.client = self.app.test_client()

    def choose(self, redirect, choice: str) -> str:
        """Post the portal's form to the bank, click ``choice``; the return query string."""
        page = self.client.post("/vads-payment/", data=dict(redirect.fields))
        assert page.status_code == 200, page.get_data(as_text=True)
        token = page.get_data(as_text=True).split("/vads-payment/")[1].split('"')[0]
        back = self.client.post(f"/vads-payment/{token}", data={"choix": choice})
        return back.headers["Location"].split("?", 1)[1]


@pytest.fixture
def bank():
    return Bank()


@pytest.fixture
def family(db, agent, parent):
    town = factories.organisation(db)
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE_URL)
    return household


def _start(db, parent, household, amount="20"):
    return payments.start_topup(db, SETTINGS, parent, household, amount, URLS)


def _notify(db, fields) -> payments.Outcome:
    return payments.settle(db, SETTINGS, urllib.parse.urlencode(fields), BASE_URL, "notification")


def _rows(db, household) -> list[LedgerEntry]:
    db.expire_all()
    return list(db.scalars(select(LedgerEntry).where(LedgerEntry.household_id == household.id)))


def test_paid_top_up_credits_once_whatever_the_order(db, parent, family, bank, outbox):
    payment, redirect = _start(db, parent, family, "30,50")
    assert payment.status == "pending" and redirect.url == BANK_OPTIONS["service_url"]
    back = bank.choose(redirect, "payer")
    [notification] = bank.sent
    assert _notify(db, notification).credited
    assert not _notify(db, notification).credited  # the same notification again
    assert not payments.settle(db, SETTINGS, back, BASE_URL, "return").credited
    assert [r.amount_cents for r in _rows(db, family)] == [3050]
    assert ledger.balance(db, family.id) == 3050
    assert "30,50" in outbox.last(parent.email).text_body


def test_the_return_before_the_notification_credits_once(db, parent, family, bank):
    payment, redirect = _start(db, parent, family)
    back = bank.choose(redirect, "payer")
    assert payments.settle(db, SETTINGS, back, BASE_URL, "return").credited
    assert not _notify(db, bank.sent[0]).credited
    assert ledger.balance(db, family.id) == 2000


@pytest.mark.parametrize("choice, status", [("refuser", "refused"), ("abandonner", "abandoned")])
def test_refused_or_abandoned_credits_nothing(db, parent, family, bank, choice, status):
    payment, redirect = _start(db, parent, family)
    back = bank.choose(redirect, choice)
    outcome = payments.settle(db, SETTINGS, back, BASE_URL, "return")
    assert outcome.payment.status == status and not outcome.credited
    for fields in bank.sent:
        _notify(db, fields)
    assert _rows(db, family) == []


def test_forged_or_unknown_messages_change_nothing(db, parent, family, bank, caplog):
    payment, redirect = _start(db, parent, family)
    bank.choose(redirect, "refuser")
    fields = dict(bank.sent[0])
    # The family edits the answer: the signature no longer matches.
    forged = {**fields, "vads_result": "00", "vads_auth_result": "00"}
    assert _notify(db, forged).payment is None
    # Signed with another certificate.
    other = {**forged}
    other["signature"] = sign({k: v for k, v in other.items() if k != "signature"}, "autrecertificat")
    assert _notify(db, other).payment is None
    # Unsigned.
    assert _notify(db, {k: v for k, v in forged.items() if k != "signature"}).payment is None
    # Properly signed, for a transaction the portal never made.
    unknown = answer_fields({**{k: v for k, v in fields.items() if k.startswith("vads_")},
                             "vads_ext_info_eopayment_trans_id": "CITinconnu"}, "payer", DEMO_SECRET)
    assert _notify(db, unknown).payment is None
    assert "not signed" in caplog.text and "unknown transaction" in caplog.text
    assert _rows(db, family) == []
    db.expire_all()
    assert db.get(Payment, payment.id).status == "pending"


def test_a_signed_answer_with_another_amount_is_ignored(db, parent, family, bank, caplog):
    payment, redirect = _start(db, parent, family, "20")
    fields = dict(redirect.fields)
    fields["vads_amount"] = "1"
    answer = answer_fields({k: v for k, v in fields.items() if k.startswith("vads_")}, "payer", DEMO_SECRET)
    outcome = _notify(db, answer)
    assert not outcome.credited and "differs" in caplog.text
    assert _rows(db, family) == []


@pytest.mark.parametrize("amount", ["0", "-5", "10000000", "abc", "1,234", "", "0,5", "2000"])
def test_bad_top_up_amounts_are_refused_at_the_field(db, parent, family, amount):
    with pytest.raises(DomainError) as raised:
        _start(db, parent, family, amount)
    assert raised.value.field == "amount"
    assert db.scalar(select(func.count()).select_from(Payment)) == 0


def test_no_backend_no_online_payment(db, parent, family):
    with pytest.raises(DomainError, match="mairie"):
        payments.start_topup(db, {}, parent, family, "20", URLS)


def test_a_payment_given_up_is_still_credited_once_when_paid(db, parent, family, bank):
    payment, redirect = _start(db, parent, family)
    back = bank.choose(redirect, "payer")
    db.execute(update(Payment).values(created_at=utcnow() - timedelta(hours=3)))
    db.commit()
    assert payments.abandon_stale(db) == 1
    assert payments.settle(db, SETTINGS, back, BASE_URL, "return").credited
    assert not _notify(db, bank.sent[0]).credited
    assert ledger.balance(db, family.id) == 2000


def test_simultaneous_notifications_credit_once(app, db, parent, family, bank):
    payment, redirect = _start(db, parent, family, "15")
    bank.choose(redirect, "payer")
    body = urllib.parse.urlencode(bank.sent[0])
    results, errors = run_together(
        app, lambda session, i: payments.settle(session, SETTINGS, body, BASE_URL, f"thread {i}"))
    assert errors == []
    assert sum(1 for r in results if r.credited) == 1
    assert ledger.balance(db, family.id) == 1500
    assert len(_rows(db, family)) == 1


def test_cash_and_refunds_by_agents_only(db, parent, agent, family):
    with pytest.raises(Forbidden):
        ledger.record_cash(db, parent, family, "10")
    ledger.record_cash(db, agent, family, "25,00", "guichet")
    with pytest.raises(DomainError) as raised:
        ledger.refund(db, agent, family, "30", "trop-perçu")
    assert raised.value.field == "amount" and "25,00" in raised.value.message
    with pytest.raises(DomainError) as raised:
        ledger.refund(db, agent, family, "5", "")
    assert raised.value.field == "reason"
    ledger.refund(db, agent, family, "5", "trop-perçu")
    assert ledger.balance(db, family.id) == 2000
    assert sorted(r.amount_cents for r in _rows(db, family)) == [-500, 2500]


amounts = st.integers(min_value=1, max_value=50_000)
operations = st.lists(st.one_of(
    st.tuples(st.just("topup"), amounts, st.sampled_from(["payer", "refuser", "abandonner"]),
              st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("cash"), amounts),
    st.tuples(st.just("refund"), amounts),
), max_size=8)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_sequences_never_create_or_lose_a_cent(db, parent, agent, family, ops):
    bank = Bank()
    expected = ledger.balance(db, family.id)
    for op in ops:
        if op[0] == "topup":
            _, cents, choice, deliveries = op
            if not 100 <= cents <= 100_000:
                continue
            _, redirect = _start(db, parent, family, f"{cents // 100},{cents % 100:02d}")
            bank.sent.clear()
            back = bank.choose(redirect, choice)
            for _ in range(deliveries):  # the bank may repeat itself
                for fields in bank.sent:
                    _notify(db, fields)
                payments.settle(db, SETTINGS, back, BASE_URL, "return")
            if choice == "payer":
                expected += cents
        elif op[0] == "cash":
            ledger.record_cash(db, agent, family, f"{op[1] / 100:.2f}".replace(".", ","))
            expected += op[1]
        else:
            try:
                ledger.refund(db, agent, family, f"{op[1] / 100:.2f}".replace(".", ","), "test")
                expected -= op[1]
            except DomainError:
                assert op[1] > expected
        assert ledger.balance(db, family.id) == expected == sum(r.amount_cents for r in _rows(db, family))
        assert expected >= 0


def test_the_check_command_gives_up_payments_the_bank_never_answered(app, db, parent, family):
    payment, _ = _start(db, parent, family)
    recent, _ = _start(db, parent, family)
    db.execute(update(Payment).where(Payment.id == payment.id)
               .values(created_at=utcnow() - timedelta(hours=3)))
    db.commit()
    app.config["PAYMENT_BACKENDS"] = SETTINGS["PAYMENT_BACKENDS"]
    result = app.test_cli_runner().invoke(args=["payments", "check"])
    assert result.exit_code == 0, result.output
    assert "1 paiement(s) sans réponse" in result.output
    db.expire_all()
    assert db.get(Payment, payment.id).status == "abandoned"
    assert db.get(Payment, recent.id).status == "pending"


def test_balances_and_how_long_they_are_negative(db, agent, parent, family):
    from datetime import date

    from citoyen.services import invoices

    invoice = invoices.issue(db, family, "Facture", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    db.execute(update(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id)
               .values(created_at=utcnow() - timedelta(days=20)))
    db.commit()
    with pytest.raises(Forbidden):
        ledger.balances(db, parent)
    [state] = ledger.balances(db, agent, negative_only=True)
    assert state.balance == -3500 and state.negative_since < utcnow() - timedelta(days=19)
    assert len(ledger.balances(db, agent, negative_days=15)) == 1
    ledger.record_cash(db, agent, family, "35")
    assert ledger.balances(db, agent, negative_days=15) == []
    assert ledger.balances(db, agent)[0].balance == 0


def test_treasury_export(db, agent, family):
    from datetime import date

    ledger.record_cash(db, agent, family, "12,50", "=HYPERLINK()")
    today = date.today()
    content = ledger.export_csv(db, agent, today, today)
    header, row = content.strip().split("\r\n")
    assert header.startswith("Date;Heure;Identifiant famille;Foyer;Nature")
    assert ";Espèces;" in row and ";12,50;" in row and "HYPERLINK" in row
    with pytest.raises(DomainError) as raised:
        ledger.export_csv(db, agent, today, today - timedelta(days=1))
    assert raised.value.field == "end"


@given(cents=st.integers(min_value=-10**9, max_value=10**9))
def test_amounts_are_written_the_french_way_whatever_their_sign(cents):
    from citoyen.services.households import format_cents

    text = format_cents(cents)
    assert text.endswith("\u00a0€")
    number = text[:-2].replace("\u202f", "").replace(",", ".")
    assert round(float(number) * 100) == cents
