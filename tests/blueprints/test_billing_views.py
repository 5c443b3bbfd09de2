"""Tarifs and Facturation in Espace agent; the CLI run."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import select
from sqlalchemy import update

from citoyen.models import BillingRun
from citoyen.models import Invoice
from citoyen.models import Organisation
from citoyen.services import agenda
from tests.agenda_helpers import build_town
from tests.blueprints.helpers import text
from tests.conftest import fresh


def booked_last_month(db, town, count=2):
    """Bookings on past days of last month (written as the agents' lists would)."""
    from datetime import timedelta

    from citoyen.models import Booking

    last = date.today().replace(day=1) - timedelta(days=1)
    days = [last.replace(day=d) for d in range(1, 29) if last.replace(day=d).weekday() < 5][:count]
    slots = agenda.ensure_slots(db, town.canteen.id, 10, days)
    for day in days:
        db.add(Booking(slot_id=slots[day], child_id=town.leo.id, activity_id=town.canteen.id, day=day,
                       status="booked"))
    db.commit()
    return last.replace(day=1)


def test_prices_page_keeps_bad_input(client, auth, db):
    town = build_town(db)
    auth.sign_in(town.agent.email)
    url = f"/agent/activites/{town.canteen.id}/tarifs"
    assert "Tranches de quotient familial" in text(client.get(url))
    bad = client.post(url, data={"brackets-0-ceiling": "500", "brackets-0-price": "abc"})
    assert bad.status_code == 422 and 'value="abc"' in text(bad) and "par exemple" in text(bad)
    ok = client.post(url, data={"brackets-0-ceiling": "500", "brackets-0-price": "1,20",
                                "brackets-1-ceiling": "", "brackets-1-price": "4"})
    assert ok.status_code == 303
    page = text(client.get(url))
    assert 'value="1,20"' in page and 'value="4,00"' in page


def test_run_from_the_back_office(app, client, auth, db):
    town = build_town(db)
    db.execute(update(Organisation).values(billing_mode="postpaid"))
    db.commit()
    from citoyen.services import billing

    billing.set_prices(db, town.agent, town.canteen.id, [("", "3")])
    month = booked_last_month(db, town)
    auth.sign_in(town.agent.email)
    assert "Lancer la facturation" in text(client.get("/agent/facturation"))
    future = client.post("/agent/facturation", data={"month": "2099-01-01"})
    assert future.status_code == 422
    assert "Facturez un mois terminé : janvier 2099 se termine le 31/01/2099." in text(future)
    assert client.post("/agent/facturation", data={"month": " "}).status_code == 422  # blanks: not a month
    response = client.post("/agent/facturation", data={"month": month.isoformat()})
    assert response.status_code == 303
    for _ in range(50):
        fresh(db)
        run = db.scalar(select(BillingRun))
        if run.status != "running":
            break
        time.sleep(0.1)
    assert run.status == "done" and run.documents == 1 and run.amount_cents == 600
    assert "Terminée" in text(client.get(f"/agent/facturation/{run.id}"))


def test_cli_bills_a_month(app, db):
    town = build_town(db)
    db.execute(update(Organisation).values(billing_mode="postpaid"))
    db.commit()
    from citoyen.services import billing

    billing.set_prices(db, town.agent, town.canteen.id, [("", "3")])
    month = booked_last_month(db, town)
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["billing", "run", "--month", "septembre"])
    assert bad.exit_code != 0
    result = runner.invoke(args=["billing", "run", "--month", month.strftime("%Y-%m")])
    assert result.exit_code == 0, result.output
    assert "1 document(s)" in result.output and "6,00 €" in result.output
    fresh(db)
    assert db.scalar(select(Invoice.amount_cents)) == 600


def test_family_sees_its_prices_and_downloads_the_attestation(client, auth, db):
    from citoyen.models import Child
    from citoyen.services import billing

    town = build_town(db)
    billing.set_prices(db, town.agent, town.canteen.id, [("800", "1,50"), ("", "4")])
    year = date.today().year - 1
    leo = db.get(Child, town.leo.id)
    leo.birth_date = date(year - 2, 1, 1)
    db.commit()
    auth.sign_in(town.parent.email)
    page = text(client.get("/paiements"))
    assert "quotient familial n'est pas renseigné" in page and "4,00" in page
    assert "Attestation fiscale" in page and "Inès Martin : pas d'attestation possible" in page
    pdf = client.get(f"/paiements/{town.household.id}/attestation?enfant={leo.id}&annee={year}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    refused = client.get(f"/paiements/{town.household.id}/attestation?enfant={town.ines.id}&annee={year}")
    assert refused.status_code == 422 and "6 ans ou plus" in text(refused)
    assert client.get(f"/paiements/{town.household.id}/attestation?enfant=x").status_code == 422


def test_billing_settings_by_an_administrator(app, client, auth, db, admin):
    from tests import factories

    town = factories.organisation(db)
    app.config["PAYMENT_BACKENDS"] = {"*": {"kind": "systempayv2", "options": {
        "service_url": "https://banque.example/", "secret_test": "TRESSECRET"}}}
    auth.sign_in(admin.email)
    url = f"/agent/communes/{town.id}/facturation"
    page = text(client.get(url))
    assert "Post-paiement" in page and "https://banque.example/" in page and "TRESSECRET" not in page
    bad = client.post(url, data={"billing_mode": "postpaid", "siret": "123", "free_motives": ["illness"]})
    assert bad.status_code == 422 and "14 chiffres" in text(bad) and 'value="123"' in text(bad)
    ok = client.post(url, data={"billing_mode": "postpaid", "siret": "214 509 999 00017",
                                "free_motives": ["illness"]})
    assert ok.status_code == 303
    fresh(db)
    town = db.get(Organisation, town.id)
    assert (town.billing_mode, town.siret, town.free_absence_motives) == ("postpaid", "21450999900017", "illness")


def test_the_run_refuses_a_month_not_ended_or_not_offered(client, auth, db):
    import re

    from citoyen.services import billing

    town = build_town(db)
    auth.sign_in(town.agent.email)
    page = text(client.get("/agent/facturation"))
    offered = re.findall(r'<option[^>]*value="([^"]+)"', page)
    from datetime import datetime

    from citoyen.timefmt import PARIS

    this_month = datetime.now(PARIS).date().replace(day=1)
    assert this_month.isoformat() not in offered and billing.default_month().isoformat() in offered
    end = billing.month_end(this_month)
    for asked, said in [
        (this_month.isoformat(), f"Facturez un mois terminé : {billing.month_label(this_month)} se termine le "
                                 f"{end:%d/%m/%Y}."),
        (this_month.strftime("%Y-%m"), "Facturez un mois terminé"),
        ("0001-01-01", "Choisissez le mois à facturer dans la liste."),
        ("2026-01-15", "Choisissez le mois à facturer dans la liste."),
        ("9999-12-01", "Choisissez le mois à facturer dans la liste."),
        ("n'importe quoi", "Choisissez le mois à facturer dans la liste."),
    ]:
        response = client.post("/agent/facturation", data={"month": asked})
        assert response.status_code == 422, asked
        error = re.search(r'<p class="field-error" id="month-error">([^<]*)</p>', text(response))
        assert error and error.group(1).startswith(said), (asked, error and error.group(1))
    fresh(db)
    assert db.scalar(select(BillingRun)) is None
