"""Espace agent: search, account state, actions, audit log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from citoyen.models import Account
from citoyen.models import AuditEntry
from citoyen.models.base import utcnow
from tests import factories
from tests.blueprints.helpers import text
from tests.conftest import fresh


def test_agent_searches_accounts_and_sees_their_state(client, auth, agent, make_account, db):
    make_account(email="inactif@example.org", first_name="Ines", last_name="Dupont", activated=False)
    locked = make_account(email="bloque@example.org", first_name="Bruno", last_name="Dupont")
    locked.locked_until = utcnow() + timedelta(minutes=10)
    db.commit()
    auth.sign_in(agent.email)
    body = text(client.get("/agent/comptes?q=dupont"))
    assert "inactif@example.org" in body and "Non activé" in body
    assert "bloque@example.org" in body and "Bloqué" in body
    assert "2 comptes pour « dupont »" in body


def test_live_search_returns_only_the_results_fragment(client, auth, agent, hx):
    auth.sign_in(agent.email)
    response = client.get("/agent/comptes?q=agent", headers=hx)
    body = text(response)
    assert body.lstrip().startswith('<div id="results"')
    assert "<html" not in body
    assert "agent@example.org" in body


def test_agent_unlocks_an_account_and_it_is_audited(client, auth, agent, parent, db):
    parent.locked_until = utcnow() + timedelta(minutes=10)
    parent.failed_sign_ins = 3
    db.commit()
    auth.sign_in(agent.email)
    page = text(client.get(f"/agent/comptes/{parent.id}"))
    assert "Débloquer le compte" in page
    assert client.post(f"/agent/comptes/{parent.id}/deblocage").status_code == 303
    fresh(db)
    assert db.get(Account, parent.id).locked_until is None
    entry = db.scalar(select(AuditEntry))
    assert entry.action == "account.unlock"
    assert entry.actor_id == agent.id and entry.target_id == parent.id
    assert "Déblocage du compte" in text(client.get(f"/agent/comptes/{parent.id}"))


def test_agent_resends_an_activation_link(client, auth, agent, make_account, outbox, db):
    waiting = make_account(email="attente@example.org", activated=False)
    auth.sign_in(agent.email)
    response = client.post(f"/agent/comptes/{waiting.id}/activation", follow_redirects=True)
    assert "Un nouveau lien d'activation a été envoyé." in text(response)
    assert outbox.link("attente@example.org").startswith("/activation/")
    assert db.scalar(select(AuditEntry.action)) == "account.resend_activation"


def test_resending_activation_to_an_active_account_is_explained(client, auth, agent, parent):
    auth.sign_in(agent.email)
    response = client.post(f"/agent/comptes/{parent.id}/activation", follow_redirects=True)
    assert "Ce compte est déjà activé." in text(response)


def test_unknown_account_is_a_french_404(client, auth, agent):
    auth.sign_in(agent.email)
    response = client.get("/agent/comptes/999")
    assert response.status_code == 404
    assert "Page introuvable" in text(response)


def test_admin_changes_a_role_and_it_is_audited(client, auth, admin, parent, db):
    auth.sign_in(admin.email)
    assert client.post(f"/agent/comptes/{parent.id}/role", data={"role": "agent"}).status_code == 303
    fresh(db)
    assert db.get(Account, parent.id).role == "agent"
    entry = db.scalar(select(AuditEntry))
    assert entry.action == "account.role" and "Famille → Agent" in entry.details
    assert "Famille → Agent" in text(client.get("/agent/journal"))


def test_the_last_admin_cannot_be_demoted(client, auth, admin, db):
    auth.sign_in(admin.email)
    response = client.post(f"/agent/comptes/{admin.id}/role", data={"role": "parent"})
    assert response.status_code == 422
    assert "seul compte administrateur" in text(response)


def test_admin_creates_an_agent_who_sets_a_password_from_the_invitation(client, app, auth, admin, outbox):
    auth.sign_in(admin.email)
    response = client.post("/agent/agents/nouveau", data={
        "last_name": "Petit", "first_name": "Léa", "email": "Lea.Petit@Belval.example", "role": "agent"})
    assert response.status_code == 303
    link = outbox.link("lea.petit@belval.example")
    assert link.startswith("/invitation/")
    visitor = app.test_client()
    assert visitor.post(link, data={"password": "Agent2026x", "confirm": "Agent2026x"}).status_code == 303
    assert visitor.post("/connexion", data={"email": "lea.petit@belval.example", "password": "Agent2026x"}).status_code == 303
    assert visitor.get("/agent/").status_code == 200


def test_creating_an_agent_with_a_taken_address_keeps_the_form(client, auth, admin):
    auth.sign_in(admin.email)
    response = client.post("/agent/agents/nouveau", data={
        "last_name": "Petit", "first_name": "Léa", "email": "ADMIN@example.org", "role": "agent"})
    assert response.status_code == 422
    assert "Un compte existe déjà" in text(response)
    assert 'value="Petit"' in text(response)


def test_admin_edits_the_contact_page(client, auth, admin, db):
    org = factories.organisation(db)
    auth.sign_in(admin.email)
    response = client.post(f"/agent/communes/{org.id}", data={
        "service_name": "Guichet unique", "phone": "pas un numéro", "email": "", "address": "", "opening_hours": ""})
    assert response.status_code == 422
    assert "Indiquez un numéro de téléphone" in text(response)
    assert 'value="Guichet unique"' in text(response)
    response = client.post(f"/agent/communes/{org.id}", data={
        "service_name": "Guichet unique", "phone": "01 02 03 04 05", "email": "guichet@testville.example",
        "address": "Place de la Mairie", "opening_hours": "Tous les matins"})
    assert response.status_code == 303
    body = text(client.get("/contact"))
    assert "Guichet unique" in body and "01 02 03 04 05" in body and "Tous les matins" in body
    assert db.scalar(select(AuditEntry.action)) == "organisation.update"


def test_a_search_with_a_control_character_finds_without_failing(client, auth, agent):
    auth.sign_in(agent.email)
    for path in ("/agent/comptes?q=%00martin", "/agent/foyers?q=mar%00tin%1b"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "\x00" not in response.get_data(as_text=True)


def test_an_agent_adding_a_child_or_a_guardian_goes_back_to_the_households_page(client, auth, agent, db):
    from citoyen.services import households
    from tests import factories

    household = households.create_household(db, agent, factories.organisation(db), name="Martin",
                                            guardian_first_name="Camille", guardian_last_name="Martin")
    auth.sign_in(agent.email)
    response = client.post(f"/foyer/{household.id}/enfants/nouveau", data={
        "first_name": "Léo", "last_name": "Martin", "birth_date": "08/03/2018"})
    assert response.status_code == 303 and response.location.endswith(f"/agent/foyers/{household.id}")
    page = client.get(response.location).get_data(as_text=True)
    assert "La fiche de Léo est enregistrée." in page and "en attente de validation" not in page
    response = client.post(f"/foyer/{household.id}/responsables/nouveau", data={
        "first_name": "Alex", "last_name": "Durand"})
    assert response.status_code == 303 and response.location.endswith(f"/agent/foyers/{household.id}")
