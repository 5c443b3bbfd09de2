"""An agent acts on a family's agenda from the back office (« Agenda du
foyer »): the month, one click per day, enrolment, « Saisie groupée » and
absences, for families who come to the counter or call; every change is in
the journal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Booking
from citoyen.models import Enrolment
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import text
from tests.blueprints.helpers import words
from tests.conftest import fresh


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def monday():
    return next_weekday(0)



def cell(town, day, child=None, act=None, what="reservation") -> str:
    return f"/agenda/{(child or town.leo).id}/{day.isoformat()}/{(act or town.canteen).id}/{what}"


def journal(db) -> list[tuple[str, str, str]]:
    fresh(db)
    return [(a.action, a.target_label, a.details) for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def bookings(db) -> list[tuple[int, int, object, str]]:
    fresh(db)
    return sorted((b.child_id, b.activity_id, b.day, b.status) for b in db.scalars(select(Booking)))


def test_the_household_page_leads_to_the_familys_agenda_and_records(client, auth, town):
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/foyers/{town.household.id}"))
    assert f'href="/agenda?foyer={town.household.id}"' in page
    assert f'href="/agenda/inscription?foyer={town.household.id}"' in page
    assert f'href="/agenda/absence?foyer={town.household.id}"' in page
    assert f'href="/foyer/{town.household.id}/enfants/nouveau"' in page
    assert f'href="/foyer/{town.household.id}/responsables/nouveau"' in page


def test_the_agent_sees_the_month_of_the_households_children(client, auth, town, monday, db):
    other = household(db, town.organisation, name="Durand", children=("Zoé",))
    auth.sign_in(town.agent.email)
    response = client.get(f"/agenda?foyer={town.household.id}&mois={monday:%Y-%m}")
    body = words(response)
    assert response.status_code == 200
    assert "Agenda du foyer Martin" in body
    assert "Léo" in body and "Inès" in body and "Zoé" not in body
    assert "Chaque réservation, annulation, inscription ou absence que vous enregistrez ici est inscrite au journal" \
        in body
    html = text(response)
    # Every address of the page keeps the household: the buttons, the months, the filter.
    assert f"{cell(town, monday)}?enfant=tous&mois={monday:%Y-%m}&foyer={town.household.id}" in html
    assert f'name="foyer" value="{town.household.id}"' in html
    assert f"foyer={town.household.id}" in re.search(r'<a href="([^"]+)" rel="next"', html).group(1)
    response = client.get(f"/agenda?foyer={other.id}&mois={monday:%Y-%m}")
    assert "Zoé" in words(response) and "Léo" not in words(response)


def test_an_agents_clicks_book_and_cancel_and_are_in_the_journal(client, auth, town, monday, db, hx):
    auth.sign_in(town.agent.email)
    back = f"?enfant=tous&mois={monday:%Y-%m}&foyer={town.household.id}"
    response = client.post(cell(town, monday) + back, headers=hx)
    assert response.status_code == 200
    assert "Réservé" in text(response)
    # The cell that comes back keeps the household in its button's address.
    assert f"foyer={town.household.id}" in text(response)
    assert bookings(db) == [(town.leo.id, town.canteen.id, monday, "booked")]
    response = client.post(cell(town, monday, what="annulation") + back, headers=hx)
    assert "Non réservé" in text(response)
    label = f"Restauration scolaire, {monday:%d/%m/%Y}"
    assert journal(db) == [("agenda.book", "Léo Martin", label), ("agenda.cancel", "Léo Martin", label)]
    # Without JavaScript, the month of the household comes back.
    response = client.post(cell(town, monday) + back)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith(f"/agenda?enfant=tous&mois={monday:%Y-%m}&foyer={town.household.id}")
    assert "La réservation est enregistrée." in words(client.get(response.headers["Location"]))


def test_a_refused_click_writes_nothing_in_the_journal(client, auth, town, monday, db, hx):
    auth.sign_in(town.agent.email)
    response = client.post(cell(town, monday, what="annulation") + f"?foyer={town.household.id}", headers=hx)
    assert response.status_code == 422
    assert "déjà annulée" in text(response)
    assert journal(db) == []


def test_a_familys_own_clicks_are_not_in_the_journal(client, auth, town, monday, db, hx):
    auth.sign_in(town.parent.email)
    client.post(cell(town, monday), headers=hx)
    assert bookings(db) == [(town.leo.id, town.canteen.id, monday, "booked")]
    assert journal(db) == []


def test_a_waiting_list_place_taken_by_an_agent_is_in_the_journal(client, auth, town, monday, db, hx):
    full = activity(db, town.organisation, town.site, name="Accueil soir 1", default_capacity=0)
    from tests.agenda_helpers import enrol

    enrol(db, town.leo, full)
    auth.sign_in(town.agent.email)
    response = client.post(cell(town, monday, act=full, what="attente") + f"?foyer={town.household.id}", headers=hx)
    assert response.status_code == 200
    assert bookings(db) == [(town.leo.id, full.id, monday, "waiting")]
    assert [a for a, _label, _details in journal(db)] == ["agenda.wait"]
    client.post(cell(town, monday, act=full, what="annulation") + f"?foyer={town.household.id}", headers=hx)
    assert [a for a, _label, _details in journal(db)] == ["agenda.wait", "agenda.unwait"]
    # Without JavaScript, the message speaks of the family, not to it.
    response = client.post(cell(town, monday, act=full, what="attente") + f"?foyer={town.household.id}",
                           follow_redirects=True)
    assert "sa famille sera prévenue si une place se libère" in words(response)


def test_a_family_cannot_use_the_household_parameter(client, auth, town, monday, db):
    other = household(db, town.organisation, name="Durand", children=("Zoé",))
    auth.sign_in(town.parent.email)
    response = client.get(f"/agenda?foyer={other.id}&mois={monday:%Y-%m}")
    body = words(response)
    assert response.status_code == 200
    assert "Zoé" not in body and "Léo" in body
    assert "Agenda du foyer" not in body
    response = client.get(f"/agenda/inscription?foyer={other.id}")
    assert "Zoé" not in words(response)


@pytest.mark.parametrize("path", ["/agenda", "/agenda/inscription", "/agenda/saisie-groupee", "/agenda/absence"])
def test_a_household_that_does_not_exist_is_not_found(client, auth, town, path):
    auth.sign_in(town.agent.email)
    response = client.get(f"{path}?foyer=999999")
    assert response.status_code == 404
    assert "Traceback" not in text(response)


def test_an_agent_enrols_a_child_and_the_enrolment_is_validated_at_once(client, auth, town, db):
    late = activity(db, town.organisation, town.site, name="Accueil soir 2", needs_validation=True)
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agenda/inscription?foyer={town.household.id}"))
    assert "Léo Martin" in page and "Accueil soir 2" in page
    assert f'action="/agenda/inscription?foyer={town.household.id}"' in page
    response = client.post(f"/agenda/inscription?foyer={town.household.id}", data={
        "child": str(town.ines.id), "activity": str(late.id), "start_date": "", "end_date": ""})
    assert response.status_code == 422  # the period is needed: the form comes back, for this household
    assert "Inès Martin" in text(response)
    today = next_weekday(0)
    response = client.post(f"/agenda/inscription?foyer={town.household.id}", data={
        "child": str(town.ines.id), "activity": str(late.id), "start_date": today.strftime("%d/%m/%Y"),
        "end_date": (today + timedelta(days=60)).strftime("%d/%m/%Y")})
    assert response.status_code in (302, 303)
    assert f"foyer={town.household.id}" in response.headers["Location"]
    fresh(db)
    enrolment = db.scalar(select(Enrolment).where(Enrolment.activity_id == late.id))
    assert enrolment.status == "validated"
    assert [a for a, _label, _details in journal(db)] == ["agenda.enrol"]


def test_an_agents_bulk_booking_is_in_the_journal_per_child(client, auth, town, monday, db):
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agenda/saisie-groupee?foyer={town.household.id}"))
    assert f'action="/agenda/saisie-groupee?foyer={town.household.id}"' in page
    data = {"children": [str(town.leo.id), str(town.ines.id)], "activities": [str(town.canteen.id)],
            "start_date": monday.strftime("%d/%m/%Y"),
            "end_date": (monday + timedelta(days=6)).strftime("%d/%m/%Y"), "weekdays": ["0", "1"]}
    response = client.post(f"/agenda/saisie-groupee?foyer={town.household.id}", data={**data, "action": "preview"})
    assert response.status_code == 200
    assert journal(db) == []
    response = client.post(f"/agenda/saisie-groupee?foyer={town.household.id}", data={**data, "action": "create"})
    assert "Réservations créées : 4" in words(response)
    period = f"du {monday:%d/%m/%Y} au {monday + timedelta(days=6):%d/%m/%Y}"
    assert journal(db) == [
        ("agenda.bulk", "Léo Martin", f"2 jours réservés (Restauration scolaire) {period}"),
        ("agenda.bulk", "Inès Martin", f"2 jours réservés (Restauration scolaire) {period}"),
    ] or journal(db) == [
        ("agenda.bulk", "Inès Martin", f"2 jours réservés (Restauration scolaire) {period}"),
        ("agenda.bulk", "Léo Martin", f"2 jours réservés (Restauration scolaire) {period}"),
    ]
    response = client.post(f"/agenda/saisie-groupee?foyer={town.household.id}", data={**data, "action": "delete"})
    assert "Réservations supprimées : 4" in words(response)
    assert [d for a, _l, d in journal(db)][-1].startswith("2 jours annulés (Restauration scolaire)")


def test_an_agent_declares_an_absence_for_the_household(client, auth, town, monday, db, hx):
    auth.sign_in(town.agent.email)
    client.post(cell(town, monday) + f"?foyer={town.household.id}", headers=hx)
    page = text(client.get(f"/agenda/absence?foyer={town.household.id}"))
    assert f'action="/agenda/absence?foyer={town.household.id}"' in page
    response = client.post(f"/agenda/absence?foyer={town.household.id}", data={
        "child": str(town.leo.id), "start_date": monday.strftime("%d/%m/%Y"), "end_date": monday.strftime("%d/%m/%Y"),
        "motive": "illness", "comment": "Appel du père"}, content_type="multipart/form-data")
    assert response.status_code in (302, 303)
    assert f"foyer={town.household.id}" in response.headers["Location"]
    assert bookings(db) == [(town.leo.id, town.canteen.id, monday, "cancelled")]
    assert [a for a, _label, _details in journal(db)] == ["agenda.book", "agenda.absence"]
    page = text(client.get(f"/agenda/absence?foyer={town.household.id}"))
    assert f"foyer={town.household.id}" in re.search(r'action="(/agenda/absences/\d+/certificat[^"]*)"',
                                                      page).group(1)
