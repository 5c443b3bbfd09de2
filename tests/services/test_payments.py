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
    from datetime import datetime

    from citoyen.timefmt import PARIS

    ledger.record_cash(db, agent, family, "12,50", "=HYPERLINK()")
    today = datetime.now(PARIS).date()  # a day of the export is a day in the commune
    content = ledger.export_csv(db, agent, today, today)
    header, row = content.strip().split("\r\n")
    assert header.startswith("Date;Heure;Identifiant famille;Foyer;Nature")
    assert ";Espèces;" in row and ";12,50;" in row and "HYPERLINK" in row
    assert ";=" not in row  # a cell a spreadsheet would run as a formula stays text
    household = db.get(type(family), family.id)
    household.name = "@SUM(1+1)"
    db.commit()
    assert ";'@SUM(1+1);" in ledger.export_csv(db, agent, today, today)
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


def test_a_card_refused_then_paid_in_the_same_payment_credits_once(db, parent, family):
    payment, redirect = _start(db, parent, family, "25")
    asked = {k: v for k, v in redirect.fields if k.startswith("vads_")}
    refused = answer_fields(asked, "refuser", DEMO_SECRET)
    paid = answer_fields(asked, "payer", DEMO_SECRET)
    assert not _notify(db, refused).credited
    db.expire_all()
    assert db.get(Payment, payment.id).status == "refused"
    # The family retries with another card, within the same bank session.
    assert _notify(db, paid).credited
    assert not _notify(db, paid).credited  # replayed
    # "Paid" is final: a late refusal changes nothing.
    assert not _notify(db, refused).credited
    db.expire_all()
    assert db.get(Payment, payment.id).status == "paid"
    assert [r.amount_cents for r in _rows(db, family)] == [2500]
    assert ledger.balance(db, family.id) == 2500


@pytest.mark.parametrize("amount", ["1e999999", "1e9", "NaN", "sNaN", "Infinity", "-Infinity", "1E+2",
                                    "1_000", "\u0661\u0662", "0e5"])
def test_what_is_not_a_number_is_said_so(db, parent, agent, family, amount):
    for call in (lambda: _start(db, parent, family, amount),
                 lambda: ledger.record_cash(db, agent, family, amount),
                 lambda: ledger.refund(db, agent, family, amount, "trop-perçu")):
        with pytest.raises(DomainError) as raised:
            call()
        assert raised.value.field == "amount"
        assert raised.value.message == "Indiquez un montant en euros, par exemple 20 ou 42,50."
    assert _rows(db, family) == []


@pytest.mark.parametrize("amount", ["1000,01", "200000", "1" * 30])
def test_a_top_up_above_its_limit_states_the_limit_of_the_page(db, parent, family, amount):
    with pytest.raises(DomainError) as raised:
        _start(db, parent, family, amount)
    assert raised.value.message == "Le montant doit être compris entre 1,00\u00a0€ et 1\u202f000,00\u00a0€."


def test_an_export_of_dates_out_of_reach_is_refused_at_the_field(db, agent, family):
    from datetime import date

    with pytest.raises(DomainError) as raised:
        ledger.export_csv(db, agent, date(9999, 12, 31), date(9999, 12, 31))
    assert raised.value.field == "start" and "31/12/2099" in raised.value.message
    with pytest.raises(DomainError) as raised:
        ledger.export_csv(db, agent, date(2026, 1, 1), date(9999, 12, 31))
    assert raised.value.field == "end"


def test_the_same_cash_or_refund_form_sent_twice_records_once(db, agent, family):
    from citoyen.models import AuditEntry

    key = "k" * 32
    first = ledger.record_cash(db, agent, family, "40", "guichet", key=key)
    again = ledger.record_cash(db, agent, family, "40", "guichet", key=key)
    assert again.id == first.id
    refund_key = "r" * 32
    assert ledger.refund(db, agent, family, "10", "trop-perçu", key=refund_key).id == \
        ledger.refund(db, agent, family, "10", "trop-perçu", key=refund_key).id
    assert sorted(r.amount_cents for r in _rows(db, family)) == [-1000, 4000]
    assert len(list(db.scalars(select(AuditEntry).where(AuditEntry.action.like("money.%"))))) == 2
    # The same key with something else is not the same submission.
    with pytest.raises(DomainError, match="déjà servi"):
        ledger.record_cash(db, agent, family, "41", "guichet", key=key)
    db.rollback()
    assert ledger.balance(db, family.id) == 3000


def test_simultaneous_submissions_of_one_cash_form_record_once(app, db, agent, family):
    key = "s" * 32

    def pay(session, i):
        return ledger.record_cash(session, session.get(type(agent), agent.id),
                                  session.get(type(family), family.id), "15", key=key).id

    results, errors = run_together(app, pay)
    assert errors == [] and len(set(results)) == 1
    assert [r.amount_cents for r in _rows(db, family)] == [1500]


def test_statement_and_export_read_days_in_the_commune_time(db, agent, family, tmp_path):
    from datetime import date
    from datetime import datetime

    from tests.services.test_statement_pdf import _text

    entry = ledger.record_cash(db, agent, family, "50", "nouvel an")
    # 23:30 UTC on 31 December is 00:30 on 1 January in Paris.
    db.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id)
               .values(created_at=datetime(2025, 12, 31, 23, 30)))
    db.commit()
    in_2026 = " ".join(_text(ledger.statement_pdf(db, family, 2026, None, True), tmp_path).split())
    assert "01/01/2026 Paiement en espèces" in in_2026
    in_2025 = _text(ledger.statement_pdf(db, family, 2025, None, True), tmp_path)
    assert "Aucun mouvement sur cette période" in in_2025
    january = _text(ledger.statement_pdf(db, family, 2026, 1, False), tmp_path)
    assert "janvier 2026" in january and "50,00 €" in january
    header, row = ledger.export_csv(db, agent, date(2026, 1, 1), date(2026, 1, 1)).strip().split("\r\n")
    assert row.startswith("01/01/2026;00:30;")
    assert ledger.export_csv(db, agent, date(2025, 12, 31), date(2025, 12, 31)).strip() == header


def test_a_commune_backend_cannot_settle_another_commune_payment(db, parent, agent, family, caplog):
    other_town = factories.organisation(db, name="Ville de Belval", slug="belval", postcodes="45990")
    other_options = {**BANK_OPTIONS, "secret_test": "secretdebelval2026", "vads_site_id": "87654321"}
    settings = {**SETTINGS, "PAYMENT_BACKENDS": {
        "testville": {"kind": "systempayv2", "options": BANK_OPTIONS},
        "belval": {"kind": "systempayv2", "options": other_options}}}
    assert payments.backend_config(settings, other_town)["options"] is other_options
    payment, redirect = payments.start_topup(db, settings, parent, family, "20", URLS)
    asked = {k: v for k, v in redirect.fields if k.startswith("vads_")}
    # Signed with Belval's secret, for a payment of a Testville family.
    forged = answer_fields(asked, "payer", "secretdebelval2026")
    outcome = payments.settle(db, settings, urllib.parse.urlencode(forged), BASE_URL, "notification")
    assert outcome.payment is None and not outcome.credited
    assert "did not sign it" in caplog.text
    assert _rows(db, family) == []
    db.expire_all()
    assert db.get(Payment, payment.id).status == "pending"
    # Signed by its own commune's backend, it is credited.
    genuine = answer_fields(asked, "payer", DEMO_SECRET)
    assert payments.settle(db, settings, urllib.parse.urlencode(genuine), BASE_URL, "notification").credited
    assert ledger.balance(db, family.id) == 2000


def test_the_test_banks_own_address_says_what_it_is_in_french():
    """The address ``make run`` prints, and any other, answer in French."""
    client = create_bank({"TESTING": True}).test_client()
    home = client.get("/")
    assert home.status_code == 200
    assert "aucun paiement réel" in home.get_data(as_text=True)
    for response in (client.get("/nulle-part"), client.get("/vads-payment/")):
        assert response.status_code == 404
        body = response.get_data(as_text=True)
        assert "Cette page n&#39;existe pas" in body and "Not Found" not in body
