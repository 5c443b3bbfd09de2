"""Mes abonnements, Mon foyer, Mes enfants, and the households in Espace agent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citoyen.models import Child
from citoyen.models import Household
from citoyen.services import households
from tests import factories
from tests.blueprints.helpers import text
from tests.conftest import fresh


@pytest.fixture
def town(db):
    return factories.organisation(db)


@pytest.fixture
def household(db, agent, town):
    return households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                       guardian_last_name="Martin")


def test_home_asks_to_link_the_account(client, auth, parent):
    auth.sign_in(parent.email)
    assert "pas encore rattaché à votre dossier famille" in text(client.get("/"))
    assert client.get("/foyer").headers["Location"] == "/abonnements"


def test_subscription_page_has_the_three_ways(client, auth, parent):
    auth.sign_in(parent.email)
    body = text(client.get("/abonnements"))
    for words in ("Mes abonnements", "Avec votre code abonné", "Avec une de vos factures",
                  "Avec votre identifiant famille", "Code abonné", "Référence de la facture",
                  "Montant de la facture", "Identifiant famille", "Nom de famille", "M'abonner"):
        assert words in body, words


def test_subscribing_with_the_code_takes_effect_at_once(client, auth, parent, household):
    auth.sign_in(parent.email)
    response = client.post("/abonnements/code", data={"code-code": household.subscription_code.lower()})
    assert response.status_code == 303 and response.headers["Location"] == "/foyer"
    body = text(client.get("/foyer"))
    assert "Foyer Martin" in body and household.family_number in body
    assert "pas encore rattaché" not in text(client.get("/"))


def test_a_wrong_code_is_explained_next_to_the_field_and_kept(client, auth, parent, household):
    auth.sign_in(parent.email)
    response = client.post("/abonnements/code", data={"code-code": "AAAA-BBBB-CCCC"})
    assert response.status_code == 422
    body = text(response)
    assert 'id="code-code-error"' in body and "Il vous reste 4 essais" in body
    assert 'value="AAAA-BBBB-CCCC"' in body


def test_family_number_form_keeps_what_was_typed(client, auth, parent, household):
    auth.sign_in(parent.email)
    response = client.post("/abonnements/identifiant", data={
        "family-family_number": household.family_number, "family-last_name": "Durand",
        "family-first_name": "Zoé"})
    assert response.status_code == 422
    body = text(response)
    assert 'value="Durand"' in body and 'value="Zoé"' in body


def test_bad_invoice_amount(client, auth, parent, household):
    auth.sign_in(parent.email)
    response = client.post("/abonnements/facture", data={
        "invoice-invoice_reference": "F1", "invoice-invoice_amount": "beaucoup"})
    assert response.status_code == 422
    assert "par exemple 42,50" in text(response)


@pytest.mark.parametrize("amount", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "1e5", "1_000"])
def test_an_invoice_amount_that_is_not_a_plain_number_gets_the_field_message(
        client, auth, parent, household, amount):
    auth.sign_in(parent.email)
    response = client.post("/abonnements/facture", data={
        "invoice-invoice_reference": "F1", "invoice-invoice_amount": amount})
    assert response.status_code == 422
    body = text(response)
    assert "par exemple 42,50" in body and f'value="{amount}"' in body


def test_add_a_child_pending_the_town_hall(client, auth, parent, household, db):
    auth.sign_in(parent.email)
    client.post("/abonnements/code", data={"code-code": household.subscription_code})
    url = f"/foyer/{household.id}/enfants/nouveau"
    response = client.post(url, data={"first_name": "Léo", "last_name": "Martin", "birth_date": "2099-01-01"})
    assert response.status_code == 422
    assert "ne peut pas être dans le futur" in text(response)
    assert 'value="Léo"' in text(response)
    response = client.post(url, data={"first_name": "Léo", "last_name": "Martin", "birth_date": "pas une date"})
    assert response.status_code == 422
    assert "Indiquez une date valide" in text(response)
    response = client.post(url, data={"first_name": "Léo", "last_name": "Martin", "birth_date": "2017-03-08"})
    assert response.status_code == 303
    assert "En attente de validation par la mairie" in text(client.get("/enfants"))
    fresh(db)
    assert db.scalar(select(Child.status)) == "pending"


def test_another_familys_household_routes_answer_404(client, auth, parent, household, make_account, db, agent, town):
    other = households.create_household(db, agent, town, name="Benali", guardian_first_name="Karim",
                                        guardian_last_name="Benali")
    auth.sign_in(parent.email)
    client.post("/abonnements/code", data={"code-code": household.subscription_code})
    for method in ("GET", "POST"):
        response = client.open(f"/foyer/{other.id}/enfants/nouveau", method=method,
                               data={"first_name": "X", "last_name": "Y", "birth_date": "2018-01-01"})
        assert response.status_code == 404, method
    assert "Benali" not in text(client.get("/foyer"))
    assert "Benali" not in text(client.get("/enfants"))


def test_agent_creates_a_household_and_sees_its_code(client, auth, agent, town, db):
    auth.sign_in(agent.email)
    response = client.post("/agent/foyers/nouveau", data={
        "name": "Durand", "guardian_last_name": "Durand", "guardian_first_name": "Zoé",
        "guardian_phone": "06 12 34 56 78", "postcode": "45990"})
    assert response.status_code == 303
    fresh(db)
    created = db.scalar(select(Household).where(Household.name == "Durand"))
    page = text(client.get(response.headers["Location"]))
    assert created.subscription_code in page and created.family_number in page


def test_agent_household_form_errors_keep_the_input(client, auth, agent, town):
    auth.sign_in(agent.email)
    response = client.post("/agent/foyers/nouveau", data={
        "name": "Durand", "guardian_last_name": "Durand", "guardian_first_name": "Zoé",
        "guardian_phone": "123"})
    assert response.status_code == 422
    body = text(response)
    assert "numéro de téléphone français" in body and 'value="Zoé"' in body


def test_agent_searches_households(client, auth, agent, household):
    auth.sign_in(agent.email)
    assert "Martin" in text(client.get("/agent/foyers?q=mart"))
    assert "Aucun foyer" in text(client.get("/agent/foyers?q=zzz"))


def test_subscribing_is_rate_limited_per_client_address(client, app, auth, parent, make_account, household, db):
    app.config["RATELIMIT_SUBSCRIBE"] = "3/15minute"
    auth.sign_in(parent.email)
    for _ in range(3):
        client.post("/abonnements/code", data={"code-code": "AAAA-BBBB-CCCC"})
    # Another account from the same address is slowed down too.
    other = make_account(email="autre@example.org")
    auth.sign_out()
    auth.sign_in(other.email)
    response = client.post("/abonnements/code", data={"code-code": household.subscription_code})
    assert response.status_code == 429
    assert "Trop de tentatives" in text(response)
    assert households.households_of(fresh(db), other) == []


def test_agent_invites_a_guardian_who_sets_a_password_and_sees_the_household(
        app, client, auth, agent, town, db, outbox):
    created = households.create_household(db, agent, town, name="Petit", guardian_first_name="Léa",
                                          guardian_last_name="Petit", guardian_email="lea.petit@example.org")
    auth.sign_in(agent.email)
    page = text(client.get(f"/agent/foyers/{created.id}"))
    assert "Inviter par courriel" in page
    guardian_id = created.guardians[0].id
    response = client.post(f"/agent/foyers/{created.id}/responsables/{guardian_id}/inviter", follow_redirects=True)
    assert "est invité(e)" in text(response) and "(compte rattaché)" in text(response)
    link = outbox.link("lea.petit@example.org")
    assert link.startswith("/invitation/")
    family = app.test_client()
    assert family.post(link, data={"password": "Famille2026", "confirm": "Famille2026"}).status_code == 303
    family.post("/connexion", data={"email": "lea.petit@example.org", "password": "Famille2026"})
    assert "Foyer Petit" in text(family.get("/foyer"))


def test_inviting_a_guardian_without_email_is_explained(client, auth, agent, household):
    auth.sign_in(agent.email)
    guardian_id = household.guardians[0].id
    response = client.post(f"/agent/foyers/{household.id}/responsables/{guardian_id}/inviter",
                           follow_redirects=True)
    assert "Renseignez d'abord l'adresse e-mail" in text(response)
    assert client.post(f"/agent/foyers/{household.id}/responsables/999/inviter").status_code == 404
