"""Paiements in the browser's terms: the top-up form, the page that leaves for
the bank, the two doors the bank comes back through, and the agents' cash desk."""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy import select

from citoyen.models import LedgerEntry
from citoyen.services import households
from citoyen.services.households import Attempt
from tests import factories
from tests.blueprints.helpers import text
from tests.services.test_payments import BANK_OPTIONS
from tests.services.test_payments import SETTINGS
from tests.services.test_payments import Bank


@pytest.fixture
def app_config():
    return {"PAYMENT_BACKENDS": SETTINGS["PAYMENT_BACKENDS"]}


@pytest.fixture
def family(db, agent, parent):
    town = factories.organisation(db)
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), "http://localhost")
    return household


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
    from datetime import date

    today = date.today().strftime("%d/%m/%Y")
    csv = client.get(f"/agent/soldes/export.csv?start={today}&end={today}")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "12,50" in csv.data.decode("utf-8-sig")
