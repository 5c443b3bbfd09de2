"""An administrator sets the commune's school-holiday zone on the commune's page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.services import agenda
from tests.agenda_helpers import build_town
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.services.test_school_zone import ZONE_A_ONLY
from tests.services.test_school_zone import ZONE_B_ONLY
from tests.services.test_school_zone import closing_activity
from tests.services.test_school_zone import state_on
from tests.services.test_school_zone import zone_of


@pytest.fixture
def town(db, agent):
    return build_town(db, agent=agent)


@pytest.fixture
def evening(db, town):
    return closing_activity(db, town)


@pytest.fixture
def page_url(town):
    return f"/agent/communes/{town.organisation.id}"


@pytest.fixture
def zone_url(page_url):
    return f"{page_url}/vacances-scolaires"


def test_the_commune_page_offers_the_zones_with_a_hint(client, auth, admin, page_url):
    auth.sign_in(admin.email)
    body = text(client.get(page_url))
    assert '<label for="school_zone">Zone de vacances scolaires</label>' in body
    assert 'id="school_zone-hint"' in body and "sont fermées pendant les vacances de cette zone" in body
    options = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', body)
    assert options == [("A", "Zone A"), ("B", "Zone B"), ("C", "Zone C")]
    assert re.search(r'<option[^>]*selected[^>]*value="B"|<option[^>]*value="B"[^>]*selected', body)
    assert "Enregistrer la zone" in body


def test_the_admin_changes_the_zone_and_the_agenda_follows(
        client, auth, admin, db, town, evening, page_url, zone_url):
    assert state_on(db, town.leo, evening, ZONE_A_ONLY).state == agenda.BOOKABLE
    auth.sign_in(admin.email)

    response = client.post(zone_url, data={"school_zone": "A"})

    assert response.status_code == 303 and response.headers["Location"] == page_url
    assert zone_of(db, town.organisation) == "A"
    closed = state_on(db, town.leo, evening, ZONE_A_ONLY)
    assert closed.state == agenda.CLOSED and closed.detail == "Vacances d'hiver"
    assert state_on(db, town.leo, evening, ZONE_B_ONLY).state == agenda.BOOKABLE
    page = text(client.get(page_url))
    assert "La zone de vacances scolaires est enregistrée." in page
    assert re.search(r'<option[^>]*selected[^>]*value="A"|<option[^>]*value="A"[^>]*selected', page)
    fresh(db)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.school_zone"))
    assert entry.details == "Zone B → Zone A" and entry.actor_id == admin.id
    journal = text(client.get("/agent/journal"))
    assert "Zone de vacances scolaires de la commune" in journal and "Zone B → Zone A" in journal


def test_an_unknown_zone_is_refused_next_to_the_field(client, auth, admin, db, town, page_url, zone_url):
    auth.sign_in(admin.email)

    response = client.post(zone_url, data={"school_zone": "D"})

    assert response.status_code == 422
    body = text(response)
    message = "Choisissez la zone de vacances scolaires de la commune : Zone A, Zone B ou Zone C."
    assert f'<p class="field-error" id="school_zone-error">{message}</p>' in body
    assert 'aria-invalid="true"' in body
    # The whole page, with the contact details as saved.
    assert "<h1>Coordonnées de Ville de Testville</h1>" in body and 'value="Service Enfance"' in body
    assert zone_of(db, town.organisation) == "B"
    assert db.scalar(select(AuditEntry.id)) is None


def test_a_refusal_through_htmx_swaps_only_the_zone_form(client, auth, admin, hx, zone_url):
    auth.sign_in(admin.email)

    response = client.post(zone_url, data={"school_zone": ""}, headers=hx)

    assert response.status_code == 422
    body = text(response)
    assert body.lstrip().startswith('<form method="post"') and 'id="school-zone-form"' in body
    assert "Choisissez la zone de vacances scolaires" in body and "<h1>" not in body


def test_the_contact_form_refused_keeps_the_zone_form(client, auth, admin, db, town, page_url):
    auth.sign_in(admin.email)
    organisation = town.organisation
    response = client.post(page_url, data={
        "service_name": "Guichet", "phone": "abc", "email": "", "address": "", "opening_hours": ""})
    assert response.status_code == 422
    body = text(response)
    assert 'value="Guichet"' in body and 'id="school-zone-form"' in body
    assert zone_of(db, organisation) == "B"


def test_an_agent_who_is_not_admin_cannot_change_the_zone(client, auth, agent, db, town, zone_url):
    auth.sign_in(agent.email)

    assert client.post(zone_url, data={"school_zone": "A"}).status_code == 403

    assert zone_of(db, town.organisation) == "B"
    assert db.scalar(select(AuditEntry.id)) is None


def test_an_unknown_commune_is_not_found(client, auth, admin):
    auth.sign_in(admin.email)
    assert client.post("/agent/communes/424242/vacances-scolaires", data={"school_zone": "A"}).status_code == 404
