"""« Mettre fin à l'inscription »: a child leaves an activity (from its last
day on, the days booked are cancelled and their places go to the waiting
list), by the family within the cancellation deadlines, or by an agent."""

from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Booking
from citoyen.models import Enrolment
from citoyen.models import Notification
from citoyen.services import agenda
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.agenda_helpers import one_place_and_zoe
from tests.blueprints.helpers import text
from tests.blueprints.helpers import words
from tests.conftest import fresh


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def monday():
    return next_weekday(0)



def canteen_enrolment(db, town, child=None) -> Enrolment:
    fresh(db)
    child = child or town.leo
    return db.scalar(select(Enrolment).where(Enrolment.child_id == child.id,
                                             Enrolment.activity_id == town.canteen.id))


def statuses(db, child) -> dict:
    fresh(db)
    return {b.day: b.status for b in db.scalars(select(Booking).where(Booking.child_id == child.id))}


def end(client, enrolment, day, foyer=None):
    query = f"?foyer={foyer}" if foyer else ""
    return client.post(f"/agenda/inscriptions/{enrolment.id}/fin{query}",
                       data={"last_day": day.strftime("%d/%m/%Y") if hasattr(day, "strftime") else day})


def test_the_enrol_page_lists_the_current_enrolments_with_their_end(client, auth, town, db):
    auth.sign_in(town.parent.email)
    page = words(client.get("/agenda/inscription"))
    assert "Inscriptions en cours" in page
    assert "Mettre fin à l'inscription de Léo à Restauration scolaire du" in page
    assert "Mettre fin à l'inscription de Léo à Accueil matin du" in page
    form = words(client.get(f"/agenda/inscriptions/{canteen_enrolment(db, town).id}/fin"))
    assert "Dernier jour" in form and "Léo Martin" in form


def test_a_family_ends_an_enrolment_and_the_later_days_are_cancelled(client, auth, town, monday, db):
    for day in (monday, monday + timedelta(days=1), monday + timedelta(days=7)):
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    enrolment = canteen_enrolment(db, town)
    auth.sign_in(town.parent.email)
    response = end(client, enrolment, monday + timedelta(days=1))
    assert response.status_code in (302, 303)
    assert f"enfant={town.leo.id}" in response.headers["Location"]
    assert (f"L'inscription de Léo à Restauration scolaire prend fin le {monday + timedelta(days=1):%d/%m/%Y}. "
            "1 réservation annulée.") in words(client.get(response.headers["Location"]))
    assert canteen_enrolment(db, town).end_date == monday + timedelta(days=1)
    assert statuses(db, town.leo) == {monday: "booked", monday + timedelta(days=1): "booked",
                                      monday + timedelta(days=7): "cancelled"}
    # The family's own change is not an agent's: nothing in the journal.
    assert db.scalars(select(AuditEntry)).all() == []
    # After its end, the month says « Non inscrit » and the day cannot be booked.
    later = monday + timedelta(days=8)
    response = client.post(f"/agenda/{town.leo.id}/{later.isoformat()}/{town.canteen.id}/reservation",
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "n'est pas inscrit" in text(response)


def test_the_place_freed_goes_to_the_first_in_line(client, auth, town, monday, db, make_account):
    other_parent = make_account(email="durand@example.org")
    zoe = one_place_and_zoe(db, town, other_parent)
    day = monday + timedelta(days=7)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    agenda.join_waiting_list(db, other_parent, zoe.id, town.canteen.id, day)
    assert statuses(db, zoe) == {day: "waiting"}
    auth.sign_in(town.parent.email)
    end(client, canteen_enrolment(db, town), monday)
    assert statuses(db, town.leo)[day] == "cancelled"
    assert statuses(db, zoe) == {day: "booked"}


def test_a_family_cannot_end_before_a_day_past_its_cancellation_deadline(client, auth, town, monday, db,
                                                                        monkeypatch):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday + timedelta(days=7))
    # Sunday afternoon: Monday's booking could be cancelled until Sunday noon.
    monkeypatch.setattr(agenda, "local_now", lambda: datetime.combine(monday - timedelta(days=1), time(15, 0)))
    enrolment = canteen_enrolment(db, town)
    auth.sign_in(town.parent.email)
    typed = (monday - timedelta(days=1)).strftime("%d/%m/%Y")
    response = end(client, enrolment, typed)
    assert response.status_code == 422
    body = words(response)
    assert (f"Léo a une réservation le {monday:%d/%m/%Y} et le délai d'annulation est passé : choisissez le "
            f"{monday:%d/%m/%Y} ou un jour après comme dernier jour, ou déclarez l'absence de l'enfant.") in body
    assert f'value="{typed}"' in text(response)
    assert statuses(db, town.leo) == {monday: "booked", monday + timedelta(days=7): "booked"}
    assert canteen_enrolment(db, town).end_date == enrolment.end_date
    # With Monday as its last day, the next week is cancelled.
    response = end(client, enrolment, monday)
    assert response.status_code in (302, 303)
    assert statuses(db, town.leo) == {monday: "booked", monday + timedelta(days=7): "cancelled"}


def test_an_enrolment_not_yet_begun_is_withdrawn(client, auth, town, monday, db):
    future = enrol(db, town.ines, town.morning, start=monday + timedelta(days=14), end=monday + timedelta(days=60))
    future_id = future.id
    auth.sign_in(town.parent.email)
    form = text(client.get(f"/agenda/inscriptions/{future_id}/fin"))
    assert f'value="{monday + timedelta(days=13):%Y-%m-%d}"' in form  # the day before its first day
    response = end(client, future, monday)
    assert response.status_code in (302, 303)
    assert "L'inscription d'Inès à Accueil matin est retirée." in words(client.get(response.headers["Location"]))
    fresh(db)
    assert db.get(Enrolment, future_id) is None


@pytest.mark.parametrize("typed, message", [
    ("", "Indiquez le dernier jour de l'inscription."),
    ("31/02/2027", None),
    ("past", "Le dernier jour ne peut pas être passé"),
    ("after", "L'inscription se termine déjà le"),
])
def test_bad_last_days_are_refused_next_to_the_field(client, auth, town, db, typed, message):
    enrolment = canteen_enrolment(db, town)
    auth.sign_in(town.parent.email)
    if typed == "past":
        typed = (agenda.local_now().date() - timedelta(days=1)).strftime("%d/%m/%Y")
    elif typed == "after":
        typed = enrolment.end_date.strftime("%d/%m/%Y")
    response = end(client, enrolment, typed)
    assert response.status_code == 422
    assert 'class="field-error"' in text(response)
    if message:
        assert message in words(response)
    assert f'value="{typed}"' in text(response)
    assert canteen_enrolment(db, town).end_date == enrolment.end_date


def test_another_familys_enrolment_does_not_exist(client, auth, town, db, make_account):
    stranger = make_account(email="stranger@example.org")
    enrolment = canteen_enrolment(db, town)
    auth.sign_in(stranger.email)
    assert client.get(f"/agenda/inscriptions/{enrolment.id}/fin").status_code == 404
    assert end(client, enrolment, agenda.local_now().date()).status_code == 404
    assert client.get("/agenda/inscriptions/999999/fin").status_code == 404
    assert canteen_enrolment(db, town).end_date == enrolment.end_date


def test_a_refused_enrolment_cannot_be_ended(client, auth, town, db):
    enrolment = canteen_enrolment(db, town)
    enrolment.status = "refused"
    db.commit()
    auth.sign_in(town.parent.email)
    response = end(client, enrolment, agenda.local_now().date())
    assert response.status_code == 422
    assert "Cette inscription a été refusée : elle n'est pas en cours." in words(response)


def test_an_agent_ends_it_past_the_deadline_in_the_journal_and_the_family_is_told(client, auth, town, monday, db,
                                                                                 monkeypatch):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    monkeypatch.setattr(agenda, "local_now", lambda: datetime.combine(monday - timedelta(days=1), time(15, 0)))
    enrolment = canteen_enrolment(db, town)
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agenda/inscription?foyer={town.household.id}"))
    assert f"/agenda/inscriptions/{enrolment.id}/fin?foyer={town.household.id}" in page
    response = end(client, enrolment, monday - timedelta(days=1), foyer=town.household.id)
    assert response.status_code in (302, 303)
    assert f"foyer={town.household.id}" in response.headers["Location"]
    assert statuses(db, town.leo) == {monday: "cancelled"}
    entry = db.scalars(select(AuditEntry)).one()
    assert entry.action == "agenda.enrolment_ended"
    assert f"dernier jour le {monday - timedelta(days=1):%d/%m/%Y} (1 réservation annulée)" in entry.details
    note = db.scalars(select(Notification).where(Notification.account_id == town.parent.id)).one()
    assert note.subject == "Fin d'inscription : Restauration scolaire"
    assert "Après ce jour : 1 réservation annulée." in note.body


def test_an_enrolment_ended_again_with_the_same_day_is_refused(db, town, monday):
    """Sent twice (a double click without JavaScript): the second is refused, nothing is cancelled twice."""
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday + timedelta(days=7))
    enrolment = canteen_enrolment(db, town)
    agenda.end_enrolment(db, town.parent, enrolment.id, monday, BASE_URL)
    with pytest.raises(agenda.DomainError, match="se termine déjà"):
        agenda.end_enrolment(db, town.parent, enrolment.id, monday, BASE_URL)
    assert statuses(db, town.leo) == {monday + timedelta(days=7): "cancelled"}


def test_the_refusal_names_the_last_day_that_cannot_be_cancelled(client, auth, town, monday, db, monkeypatch):
    study = activity(db, town.organisation, town.site, name="Étude", cancel_days=3)
    enrol(db, town.leo, study)
    tuesday, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
    for day in (tuesday, thursday):
        agenda.book(db, town.parent, town.leo.id, study.id, day)
    monkeypatch.setattr(agenda, "local_now", lambda: datetime.combine(monday, time(13, 0)))
    fresh(db)
    enrolment = db.scalar(select(Enrolment).where(Enrolment.activity_id == study.id))
    auth.sign_in(town.parent.email)
    response = end(client, enrolment, monday)
    assert response.status_code == 422
    assert f"choisissez le {thursday:%d/%m/%Y} ou un jour après" in words(response)
    assert end(client, enrolment, thursday).status_code in (302, 303)


def test_places_in_line_are_counted_and_the_month_of_the_last_day_comes_back(client, auth, town, monday, db):
    full = activity(db, town.organisation, town.site, name="Accueil soir 1", default_capacity=0)
    enrol(db, town.leo, full)
    later = monday + timedelta(days=35)
    agenda.join_waiting_list(db, town.parent, town.leo.id, full.id, later)
    fresh(db)
    enrolment = db.scalar(select(Enrolment).where(Enrolment.activity_id == full.id))
    auth.sign_in(town.parent.email)
    response = end(client, enrolment, monday)
    assert response.headers["Location"].endswith(f"mois={monday:%Y-%m}")
    assert "1 place en liste d'attente retirée." in words(client.get(response.headers["Location"]))
    assert statuses(db, town.leo)[later] == "cancelled"


def test_an_enrolment_ending_today_is_not_offered_to_end(client, auth, town, db):
    enrolment = canteen_enrolment(db, town)
    enrolment.end_date = agenda.local_now().date()
    db.commit()
    auth.sign_in(town.parent.email)
    page = words(client.get("/agenda/inscription"))
    assert "Mettre fin à l'inscription de Léo à Restauration scolaire" not in page
    assert "Mettre fin à l'inscription de Léo à Accueil matin" in page


def test_the_household_in_the_address_must_be_the_enrolments(client, auth, town, db):
    other = household(db, town.organisation, name="Durand", children=("Zoé",))
    enrolment = canteen_enrolment(db, town)
    auth.sign_in(town.agent.email)
    assert client.get(f"/agenda/inscriptions/{enrolment.id}/fin?foyer={other.id}").status_code == 404
    assert end(client, enrolment, agenda.local_now().date(), foyer=other.id).status_code == 404
    assert canteen_enrolment(db, town).end_date == enrolment.end_date
