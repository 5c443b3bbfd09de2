"""When a link with a household ends: an agent renews a household's code
(the old one stops working) or detaches an account from a household (a
separation, a mistake); both are in the journal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Guardian
from citoyen.models import HouseholdLink
from citoyen.models import Notification
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


def subscribed(db, account, household):
    households.subscribe(db, account, households.Attempt("code", code=household.subscription_code),
                         "http://localhost")


def journal(db) -> list[tuple[str, str]]:
    fresh(db)
    return [(a.action, a.details) for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_a_renewed_code_replaces_the_old_one(client, auth, agent, parent, household, db, make_account):
    subscribed(db, parent, household)
    newcomer = make_account(email="newcomer@example.org")
    old = household.subscription_code
    before = len(journal(db))
    auth.sign_in(agent.email)
    page = text(client.get(f"/agent/foyers/{household.id}"))
    assert "Renouveler le code abonné" in page
    response = client.post(f"/agent/foyers/{household.id}/code", follow_redirects=True)
    fresh(db)
    new = db.get(type(household), household.id).subscription_code
    assert new != old
    assert f"Nouveau code abonné du foyer Martin : {new}. L'ancien code ne fonctionne plus" in text(response)
    assert journal(db)[before:] == [("household.code_renewed", "")]  # the code is not in the journal
    # The account already subscribed keeps its access; the old code no longer subscribes anyone.
    auth.sign_in(parent.email)
    assert client.get(f"/foyer/{household.id}/adresse").status_code == 200
    auth.sign_in(newcomer.email)
    response = client.post("/abonnements/code", data={"code-code": old})
    assert response.status_code == 422
    assert households.households_of(fresh(db), newcomer) == []
    client.post("/abonnements/code", data={"code-code": new})
    assert [h.id for h in households.households_of(fresh(db), newcomer)] == [household.id]


def test_an_agent_detaches_an_account_after_a_page_that_says_what_it_does(client, auth, agent, parent, household,
                                                                        db):
    subscribed(db, parent, household)
    before = len(journal(db))
    auth.sign_in(agent.email)
    page = text(client.get(f"/agent/foyers/{household.id}"))
    path = f"/agent/foyers/{household.id}/comptes/{parent.id}/detacher"
    assert f'href="{path}"' in page
    confirm = text(client.get(path))
    assert "ne verra plus ce foyer" in confirm and parent.email in confirm
    assert households.households_of(fresh(db), parent) != []  # nothing done by looking
    response = client.post(path, follow_redirects=True)
    assert "n'est plus rattaché au foyer Martin" in text(response)
    assert households.households_of(fresh(db), parent) == []
    assert journal(db)[before:] == [("household.account_detached", f"{parent.full_name} <{parent.email}>")]
    note = db.scalars(select(Notification).where(Notification.account_id == parent.id)).all()[-1]
    assert note.subject == "Votre compte n'est plus rattaché au foyer Martin"
    # The parent no longer reaches the household.
    auth.sign_in(parent.email)
    assert client.get(f"/foyer/{household.id}/adresse").status_code == 404
    # Detached twice (a second tab): not found, nothing more in the journal.
    auth.sign_in(agent.email)
    assert client.post(path).status_code == 404
    assert len(journal(db)) == before + 1


def test_a_detached_guardian_keeps_the_record_and_a_pending_invitation_cannot_link_again(
        app, client, auth, agent, town, db, outbox):
    created = households.create_household(db, agent, town, name="Petit", guardian_first_name="Léa",
                                          guardian_last_name="Petit", guardian_email="lea.petit@example.org")
    guardian_id = created.guardians[0].id
    auth.sign_in(agent.email)
    client.post(f"/agent/foyers/{created.id}/responsables/{guardian_id}/inviter")
    link = outbox.link("lea.petit@example.org")
    fresh(db)
    account_id = db.get(Guardian, guardian_id).account_id
    assert account_id is not None
    client.post(f"/agent/foyers/{created.id}/comptes/{account_id}/detacher")
    fresh(db)
    guardian = db.get(Guardian, guardian_id)
    assert guardian is not None and guardian.account_id is None
    assert db.scalars(select(HouseholdLink).where(HouseholdLink.account_id == account_id)).all() == []
    family = app.test_client()
    family.post(link, data={"password": "Famille2026", "confirm": "Famille2026"})
    fresh(db)
    assert db.scalars(select(HouseholdLink).where(HouseholdLink.account_id == account_id)).all() == []


def test_only_agents_end_links_and_only_linked_accounts_are_detached(client, auth, agent, parent, household, db,
                                                                   make_account):
    subscribed(db, parent, household)
    stranger = make_account(email="stranger@example.org")
    auth.sign_in(parent.email)
    assert client.post(f"/agent/foyers/{household.id}/code").status_code == 403
    assert client.post(f"/agent/foyers/{household.id}/comptes/{parent.id}/detacher").status_code == 403
    auth.sign_in(agent.email)
    assert client.get(f"/agent/foyers/{household.id}/comptes/{stranger.id}/detacher").status_code == 404
    assert client.post(f"/agent/foyers/{household.id}/comptes/{stranger.id}/detacher").status_code == 404
    assert client.post(f"/agent/foyers/999999/comptes/{parent.id}/detacher").status_code == 404
    assert client.post("/agent/foyers/999999/code").status_code == 404
    assert [h.id for h in households.households_of(fresh(db), parent)] == [household.id]
