"""Paiements in the browser's terms: the top-up form, the page that leaves for
the bank, the two doors the bank comes back through, and the agents' cash desk."""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy import select

from citoyen.models import LedgerEntry
from citoyen.services import households
from tests import factories
from tests.blueprints.helpers import subscribed_family
from tests.blueprints.helpers import text
from tests.services.test_payments import BANK_OPTIONS
from tests.services.test_payments import SETTINGS
from tests.services.test_payments import Bank


@pytest.fixture
def app_config():
    return {"PAYMENT_BACKENDS": SETTINGS["PAYMENT_BACKENDS"]}


@pytest.fixture
def family(db, agent, parent):
    return subscribed_family(db, agent, parent, child=False)


class Redirect:
    def __init__(self, body: str):
        import re

        self.fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body)
        self.fields = [(n, v.replace("&#43;", "+").replace("&amp;", "&").replace("&#34;", '"')
                        .replace("&#39;", "'")) for n, v in self.fields if n != "csrf_token"]


def test_top_up_through_the_bank(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    page = text(client.get("/paiements"))
    assert "Solde de votre compte d'avance" in page and "Recharger mon compte" in page
    response = client.post(f"/paiements/{family.id}/recharger", data={f"h{family.id}-amount": "25"})
    assert response.status_code == 200
    body = text(response)
    assert f'action="{BANK_OPTIONS["service_url"]}"' in body and "Continuer vers la banque" in body
    assert "form-action 'self' http://banque.test" in response.headers["Content-Security-Policy"]
    bank = Bank()
    back = bank.choose(Redirect(body), "payer")
    # The notification arrives through its own door, without session or token.
    anonymous = client.application.test_client()
    notified = anonymous.post("/paiements/notification", data=urllib.parse.urlencode(bank.sent[0]),
                              content_type="application/x-www-form-urlencoded")
    assert notified.status_code == 200
    returned = client.get("/paiements/retour?" + back)
    assert returned.status_code == 303
    page = text(client.get("/paiements"))
    assert "est accepté" in page and "25,00" in page and "Rechargement en ligne" in page
    assert len(list(db.scalars(select(LedgerEntry)))) == 1


def test_bad_amount_keeps_what_was_typed(client, auth, parent, family):
    auth.sign_in(parent.email)
    response = client.post(f"/paiements/{family.id}/recharger", data={f"h{family.id}-amount": "-5"})
    assert response.status_code == 422
    assert "supérieur à zéro" in text(response) and 'value="-5"' in text(response)


def test_refused_payment_says_so(client, auth, parent, family):
    auth.sign_in(parent.email)
    body = text(client.post(f"/paiements/{family.id}/recharger", data={f"h{family.id}-amount": "25"}))
    back = Bank().choose(Redirect(body), "refuser")
    client.get("/paiements/retour?" + back)
    assert "La banque a refusé le paiement" in text(client.get("/paiements"))


def test_unsigned_notification_is_refused(client):
    response = client.post("/paiements/notification", data={"vads_result": "00"})
    assert response.status_code == 400


def test_another_household_cannot_be_topped_up(client, auth, family, make_account, db, agent):
    other = households.create_household(db, agent, factories.organisation(db, slug="b"), name="Benali",
                                        guardian_first_name="Karim", guardian_last_name="Benali")
    stranger = make_account(email="karim@example.org")
    auth.sign_in(stranger.email)
    assert client.post(f"/paiements/{family.id}/recharger", data={}).status_code == 404
    assert client.post(f"/paiements/{other.id}/recharger", data={}).status_code == 404


def test_agent_records_cash_and_a_refund(client, auth, agent, family):
    auth.sign_in(agent.email)
    url = f"/agent/foyers/{family.id}/compte"
    assert "Paiement en espèces" in text(client.get(url))
    bad = client.post(url + "/especes", data={"cash-amount": "abc", "cash-note": "guichet"})
    assert bad.status_code == 422 and "par exemple" in text(bad) and 'value="guichet"' in text(bad)
    assert client.post(url + "/especes", data={"cash-amount": "40"}).status_code == 303
    too_much = client.post(url + "/remboursement", data={"refund-amount": "50", "refund-reason": "x"})
    assert too_much.status_code == 422 and "ne peut pas dépasser le solde" in text(too_much)
    client.post(url + "/remboursement", data={"refund-amount": "10", "refund-reason": "Trop-perçu"})
    page = text(client.get(url))
    assert "30,00" in page and "Remboursement — Trop-perçu" in page


def test_statement_download(client, auth, parent, family, agent, app):
    from tests.factories import PASSWORD

    auth.sign_in(parent.email)
    page = text(client.get("/paiements"))
    assert "Relevé de compte" in page and "Télécharger au format PDF" in page
    prefix = f"r{family.id}-"
    response = client.get(f"/paiements/{family.id}/releve",
                          query_string={prefix + "periode": "mois", prefix + "annee": "2026",
                                        prefix + "mois": "2", prefix + "detail": "simplifie"})
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == 'attachment; filename="releve-compte-2026-02.pdf"'
    bad = client.get(f"/paiements/{family.id}/releve", query_string={prefix + "periode": "siecle"})
    assert bad.status_code == 422 and "Vérifiez la période choisie" in text(bad)
    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    response = staff.get(f"/agent/foyers/{family.id}/compte/releve",
                         query_string={"periode": "tout", "detail": "detaille"})
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_mes_factures_pdf_and_pay(client, auth, parent, family, agent, db, app):
    from datetime import date

    from citoyen.services import invoices
    from tests.factories import PASSWORD

    invoice = invoices.issue(db, family, "Facture post-paiement pour septembre 2026", date(2026, 9, 1),
                             date(2026, 9, 30), [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    auth.sign_in(parent.email)
    page = text(client.get("/paiements/factures"))
    assert invoice.number in page and "Reste à payer" in page and "35,00" in page and "À payer" in page
    pdf = client.get(f"/paiements/{family.id}/factures/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    to_bank = client.post(f"/paiements/{family.id}/factures/{invoice.id}/payer")
    assert to_bank.status_code == 200 and "35,00" in text(to_bank)
    back = Bank().choose(Redirect(text(to_bank)), "payer")
    assert client.get("/paiements/retour?" + back).headers["Location"].endswith("/paiements/factures")
    page = text(client.get("/paiements/factures"))
    assert "Payée" in page and "est accepté" in page
    again = client.post(f"/paiements/{family.id}/factures/{invoice.id}/payer")
    assert again.status_code == 303 and "déjà réglée" in text(client.get("/paiements/factures"))

    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    assert invoice.number in text(staff.get(f"/agent/foyers/{family.id}/compte"))
    assert staff.get(f"/agent/foyers/{family.id}/factures/{invoice.id}.pdf").data.startswith(b"%PDF")


def test_agent_credit_note_with_bad_input(client, auth, agent, family, db):
    from datetime import date

    from citoyen.services import invoices

    invoice = invoices.issue(db, family, "Facture", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    auth.sign_in(agent.email)
    url = f"/agent/foyers/{family.id}/avoir"
    bad = client.post(url, data={"avoir-invoice": str(invoice.id), "avoir-amount": "99",
                                 "avoir-reason": "Erreur de saisie"})
    assert bad.status_code == 422 and "ne peut pas dépasser" in text(bad)
    assert 'value="Erreur de saisie"' in text(bad)
    blank = client.post(url, data={"avoir-invoice": " ", "avoir-amount": "5", "avoir-reason": "x"})
    assert blank.status_code == 422 and "Choisissez la facture" in text(blank)
    wrong = client.post(url, data={"avoir-invoice": "999", "avoir-amount": "5", "avoir-reason": "x"})
    assert wrong.status_code == 422 and "Choisissez la facture" in text(wrong)
    ok = client.post(url, data={"avoir-invoice": str(invoice.id), "avoir-amount": "5",
                                "avoir-reason": "Erreur de saisie"})
    assert ok.status_code == 303
    page = text(client.get(f"/agent/foyers/{family.id}/compte"))
    assert "Avoir" in page and "30,00" in page


def test_agent_balances_and_export(client, auth, agent, family, db):
    from citoyen.services import ledger

    ledger.record_cash(db, agent, family, "12,50")
    auth.sign_in(agent.email)
    page = text(client.get("/agent/soldes?filtre=tous"))
    assert "Martin" in page and "12,50" in page
    assert "Aucun compte" in text(client.get("/agent/soldes?filtre=negatifs"))
    bad = client.get("/agent/soldes/export.csv?start=31/02/2026&end=01/03/2026")
    assert bad.status_code == 422 and 'value="31/02/2026"' in text(bad)
    from datetime import datetime

    from citoyen.timefmt import PARIS

    today = datetime.now(PARIS).strftime("%d/%m/%Y")
    csv = client.get(f"/agent/soldes/export.csv?start={today}&end={today}")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "12,50" in csv.data.decode("utf-8-sig")


def test_paying_an_invoice_already_being_paid_says_so(client, auth, parent, family, db):
    from datetime import date

    from citoyen.services import invoices

    invoice = invoices.issue(db, family, "Facture", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    auth.sign_in(parent.email)
    first = client.post(f"/paiements/{family.id}/factures/{invoice.id}/payer")
    assert first.status_code == 200 and "35,00" in text(first)
    second = client.post(f"/paiements/{family.id}/factures/{invoice.id}/payer")
    assert second.status_code == 303
    page = text(client.get("/paiements/factures"))
    assert ("Un paiement de cette facture est déjà en cours. Attendez quelques minutes avant de "
            "réessayer.") in page


def _field_error(body: str, field_id: str) -> str:
    import re

    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', body)
    return found.group(1) if found else ""


def test_huge_or_odd_amounts_are_refused_at_their_field(client, auth, parent, agent, family, db):
    from datetime import date

    from citoyen.services import invoices

    invoice = invoices.issue(db, family, "Facture", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    auth.sign_in(parent.email)
    for amount in ("1e999999", "NaN", "Infinity"):
        response = client.post(f"/paiements/{family.id}/recharger", data={f"h{family.id}-amount": amount})
        body = text(response)
        assert response.status_code == 422 and f'value="{amount}"' in body
        assert _field_error(body, f"h{family.id}-amount") == "Indiquez un montant en euros, par exemple 20 ou 42,50."
    response = client.post(f"/paiements/{family.id}/recharger", data={f"h{family.id}-amount": "1000000000"})
    assert "de 1,00\u00a0€ à 1\u202f000,00\u00a0€" in text(response)  # the hint and the error agree
    assert _field_error(text(response), f"h{family.id}-amount") == (
        "Le montant doit être compris entre 1,00\u00a0€ et 1\u202f000,00\u00a0€.")
    auth.sign_out()
    auth.sign_in(agent.email)
    url = f"/agent/foyers/{family.id}"
    for path, data, field_id in [
        ("/compte/especes", {"cash-amount": "1e999999", "cash-note": "guichet"}, "cash-amount"),
        ("/compte/remboursement", {"refund-amount": "1e999999", "refund-reason": "trop-perçu"}, "refund-amount"),
        ("/avoir", {"avoir-invoice": str(invoice.id), "avoir-amount": "1e999999", "avoir-reason": "erreur"},
         "avoir-amount"),
    ]:
        response = client.post(url + path, data=data)
        assert response.status_code == 422, path
        assert _field_error(text(response), field_id) == "Indiquez un montant en euros, par exemple 20 ou 42,50."
        assert 'value="1e999999"' in text(response)
    for made_up in ("10000000000000000000000000", "abc", "-1"):
        response = client.post(url + "/avoir", data={"avoir-invoice": made_up, "avoir-amount": "5",
                                                     "avoir-reason": "Erreur de saisie"})
        assert response.status_code == 422
        assert _field_error(text(response), "avoir-invoice") == "Choisissez la facture à corriger."
        assert 'value="Erreur de saisie"' in text(response)
    response = client.get("/agent/soldes/export.csv?start=31/12/9999&end=31/12/9999")
    assert response.status_code == 422 and 'value="31/12/9999"' in text(response)
    assert _field_error(text(response), "start") == "Indiquez une date entre le 01/01/2000 et le 31/12/2099."
    assert len(list(db.scalars(select(LedgerEntry)))) == 1  # the invoice only


def test_a_double_click_on_the_agent_money_forms_records_once(client, auth, agent, family, db):
    import re
    from datetime import date

    from citoyen.models import AuditEntry
    from citoyen.models import Invoice
    from citoyen.services import invoices

    invoice = invoices.issue(db, family, "Facture", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    auth.sign_in(agent.email)
    url = f"/agent/foyers/{family.id}/compte"

    def keys():
        page = text(client.get(url))
        return dict(re.findall(r'name="(\w+)-idempotency_key" type="hidden" value="([^"]+)"', page))

    key = keys()["avoir"]
    for _ in range(2):
        response = client.post(f"/agent/foyers/{family.id}/avoir", data={
            "avoir-invoice": str(invoice.id), "avoir-amount": "5", "avoir-reason": "Erreur",
            "avoir-idempotency_key": key})
        assert response.status_code == 303
        assert "Avoir A" in text(client.get(url))
    for form, path, data, said in [
        ("cash", "/especes", {"cash-amount": "40", "cash-note": "guichet"}, "Paiement en espèces de 40,00"),
        ("refund", "/remboursement", {"refund-amount": "2", "refund-reason": "Trop-perçu"},
         "Remboursement de 2,00"),
    ]:
        key = keys()[form]
        for _ in range(2):
            response = client.post(url + path, data={**data, f"{form}-idempotency_key": key})
            assert response.status_code == 303
            assert said in text(client.get(url))
    db.expire_all()
    assert sorted(e.kind for e in db.scalars(select(LedgerEntry))) == [
        "advance_used", "advance_used", "cash", "credit_note", "invoice", "refund"]
    assert len(list(db.scalars(select(Invoice).where(Invoice.kind == "credit_note")))) == 1
    assert len(list(db.scalars(select(AuditEntry).where(AuditEntry.action.like("money.%"))))) == 3
    # A new page, a new key: a second payment is a new one.
    assert keys()["cash"] != key


def test_an_avoir_that_settles_the_invoice_sent_twice_makes_one(client, auth, agent, family, db):
    import re
    from datetime import date

    from citoyen.models import Invoice
    from citoyen.services import invoices

    invoice = invoices.issue(db, family, "Facture", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    auth.sign_in(agent.email)
    url = f"/agent/foyers/{family.id}/compte"
    key = re.search(r'name="avoir-idempotency_key" type="hidden" value="([^"]+)"', text(client.get(url))).group(1)
    for _ in range(2):
        response = client.post(f"/agent/foyers/{family.id}/avoir", data={
            "avoir-invoice": str(invoice.id), "avoir-amount": "35", "avoir-reason": "Erreur",
            "avoir-idempotency_key": key})
        assert response.status_code == 303
        assert "Avoir A" in text(client.get(url))
    db.expire_all()
    assert len(db.scalars(select(Invoice).where(Invoice.corrects_id == invoice.id)).all()) == 1


def test_invoice_dates_are_days_in_the_commune_time(client, auth, parent, agent, family, db, tmp_path):
    from datetime import date
    from datetime import datetime

    from sqlalchemy import update

    from citoyen.models import Invoice
    from citoyen.services import invoices
    from tests.services.test_statement_pdf import _text

    invoice = invoices.issue(db, family, "Facture post-paiement pour septembre 2026", date(2026, 9, 1),
                             date(2026, 9, 30), [invoices.Line("Restauration scolaire", 10, 350)])
    db.commit()
    # Issued at 22:30 UTC on 30 September: 00:30 on 1 October in Paris.
    db.execute(update(Invoice).values(issued_at=datetime(2026, 9, 30, 22, 30)))
    db.commit()
    auth.sign_in(parent.email)
    page = text(client.get("/paiements/factures"))
    assert "1 octobre 2026" in page and "30/09/2026" not in page
    pdf = client.get(f"/paiements/{family.id}/factures/{invoice.id}.pdf")
    (tmp_path / "f.pdf").write_bytes(pdf.data)
    assert "Émis le 01/10/2026" in _text(pdf.data, tmp_path)
    auth.sign_out()
    auth.sign_in(agent.email)
    page = text(client.get(f"/agent/foyers/{family.id}/compte"))
    assert "1 octobre 2026" in page and "30/09/2026" not in page
