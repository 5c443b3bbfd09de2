"""Modifier / Enregistrer in Mon foyer, and « À valider » in Espace agent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citoyen.models import ChangeSet
from citoyen.services import households
from citoyen.services.households import Attempt
from tests import factories
from tests.blueprints.helpers import text
from tests.factories import PASSWORD

ADDRESS = {"address_line1": "5 rue Neuve", "address_line2": "", "postcode": "45990", "city": "Belval"}


@pytest.fixture
def household(db, agent, parent):
    town = factories.organisation(db)
    created = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                          guardian_last_name="Martin", city="Orléans", postcode="45000")
    households.subscribe(db, parent, Attempt("code", code=created.subscription_code), "http://localhost")
    return created


def test_edit_in_place_with_htmx_then_the_agent_validates(app, client, auth, parent, agent, household, hx):
    auth.sign_in(parent.email)
    form = client.get(f"/foyer/{household.id}/adresse", headers=hx)
    assert text(form).lstrip().startswith("<form") and 'value="Orléans"' in text(form)
    response = client.post(f"/foyer/{household.id}/adresse", data=ADDRESS, headers=hx)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#address-{household.id}"
    body = text(response)
    assert "En attente de validation par la mairie" in body and "Belval" in body
    assert "Orléans" in body  # still the address in force
    page = text(client.get("/foyer"))
    assert "En attente de validation par la mairie" in page

    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    queue = text(staff.get("/agent/modifications"))
    assert "Martin" in queue and "Adresse" in queue
    change_id = text(staff.get("/agent/modifications")).split("/agent/modifications/")[1].split('"')[0]
    detail = text(staff.get(f"/agent/modifications/{change_id}"))
    assert "Avant et après" in detail and "Orléans" in detail and "Belval" in detail
    assert staff.post(f"/agent/modifications/{change_id}/valider").status_code == 303
    page = text(client.get("/foyer"))
    assert "Belval" in page and "En attente de validation" not in page
    assert "Modification validée" in text(client.get("/messages/"))


def test_edit_without_javascript_and_withdraw(client, auth, parent, household, db):
    auth.sign_in(parent.email)
    response = client.post(f"/foyer/{household.id}/adresse", data=ADDRESS)
    assert response.status_code == 303
    change = db.scalar(select(ChangeSet))
    assert client.post(f"/foyer/{household.id}/modifications/{change.id}/retirer").status_code == 303
    assert "En attente de validation" not in text(client.get("/foyer"))


def test_bad_input_is_shown_next_to_the_field_and_kept(client, auth, parent, household):
    auth.sign_in(parent.email)
    response = client.post(f"/foyer/{household.id}/adresse", data={**ADDRESS, "postcode": "12"})
    assert response.status_code == 422
    body = text(response)
    assert "code postal à 5 chiffres" in body and 'value="5 rue Neuve"' in body


def test_contacts_apply_at_once(client, auth, parent, household):
    auth.sign_in(parent.email)
    guardian = household.guardians[0]
    response = client.post(f"/foyer/{household.id}/responsables/{guardian.id}",
                           data={"mobile_phone": "06 12 34 56 78", "email": ""}, follow_redirects=True)
    assert "Votre modification est enregistrée." in text(response)
    assert "06 12 34 56 78" in text(response)


def test_refusal_needs_a_reason(app, client, auth, parent, agent, household, db):
    auth.sign_in(parent.email)
    client.post(f"/foyer/{household.id}/adresse", data=ADDRESS)
    change = db.scalar(select(ChangeSet))
    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    response = staff.post(f"/agent/modifications/{change.id}/refuser", data={"reason_choice": "", "reason_text": ""})
    assert response.status_code == 422 and "Indiquez le motif du refus" in text(response)
    assert 'id="reason_text-error">Indiquez le motif du refus' in text(response)  # next to the field
    response = staff.post(f"/agent/modifications/{change.id}/refuser", data={"reason_text": "x" * 501})
    assert response.status_code == 422
    assert 'id="reason_text-error">Le motif ne doit pas dépasser 500 caractères.' in text(response)
    response = staff.post(f"/agent/modifications/{change.id}/refuser",
                          data={"reason_choice": "Justificatif manquant", "reason_text": ""})
    assert response.status_code == 303
    assert "Justificatif manquant" in text(client.get("/messages/")) or \
        "Modification refusée" in text(client.get("/messages/"))


def test_another_familys_sections_are_not_found(client, auth, make_account, household):
    make_account(email="autre@example.org")
    auth.sign_in("autre@example.org")
    guardian = household.guardians[0]
    for path in (f"/foyer/{household.id}/adresse", f"/foyer/{household.id}/responsables/{guardian.id}",
                 f"/foyer/{household.id}/modifications/1/retirer"):
        method = "POST" if path.endswith("retirer") else "GET"
        assert client.open(path, method=method).status_code == 404, path


def test_bank_details_in_place_masked_for_the_family(client, auth, parent, household, hx):
    auth.sign_in(parent.email)
    response = client.post(f"/foyer/{household.id}/banque", headers=hx, data={
        "account_holder": "Camille Martin", "iban": "FR76 3000 6000 0112 3456 7890 189", "bic": ""})
    assert response.status_code == 200 and response.headers["HX-Retarget"] == f"#bank-{household.id}"
    body = text(response)
    assert "En attente de validation par la mairie" in body
    assert "30006000011234567890" not in body.replace(" ", "")
    bad = client.post(f"/foyer/{household.id}/banque", headers=hx, data={
        "account_holder": "Camille Martin", "iban": "FR76 3000 6000 0112 3456 7890 188", "bic": ""})
    assert bad.status_code == 422
    assert "IBAN n'est pas valide" in text(bad) and 'value="Camille Martin"' in text(bad)


def test_a_child_refused_without_a_reason_says_so_next_to_its_reason(client, auth, parent, agent, household, db):
    from datetime import date

    from citoyen.models import Child
    from citoyen.services import households as household_service

    child = household_service.add_child(db, parent, household, first_name="Léo", last_name="Martin",
                                        birth_date=date(2018, 3, 8))
    other = household_service.add_child(db, parent, household, first_name="Zoé", last_name="Martin",
                                        birth_date=date(2019, 9, 14))
    auth.sign_in(agent.email)
    response = client.post(f"/agent/enfants/{child.id}/refuser", data={"reason_choice": "", "reason_text": " "})
    assert response.status_code == 422
    page = text(response)
    assert f'id="reason-child-{child.id}-error">Indiquez le motif du refus' in page
    assert page.count('class="field-error"') == 1 and f"reason-child-{other.id}-error" not in page
    response = client.post(f"/agent/enfants/{child.id}/refuser", data={"reason_text": "x" * 501})
    assert response.status_code == 422 and 'value="' + "x" * 501 + '"' in text(response)
    assert db.get(Child, child.id) is not None
