"""The agents' side of activities through HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import Activity
from citoyen.models import AuditEntry
from citoyen.models import Closure
from citoyen.models import Enrolment
from citoyen.models import Notification
from citoyen.models import Slot
from citoyen.services import agenda
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import text
from tests.conftest import fresh


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def monday():
    return next_weekday(0)


def actions(db):
    fresh(db)
    return [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


ACTIVITY = {
    "name": "Accueil soir 1", "weekdays": ["0", "1", "3", "4"], "start_time": "16:30", "end_time": "18:00",
    "default_capacity": "25", "school_holidays": "closed", "book_kind": "hours", "book_hours": "48",
    "book_days": "1", "book_time": "12:00", "cancel_kind": "week", "cancel_hours": "0", "cancel_days": "3",
    "cancel_time": "12:00", "opens_days_ahead": "60", "needs_validation": "y",
}


def test_agent_creates_and_edits_an_activity(client, auth, town, db):
    auth.sign_in(town.agent.email)
    assert "Restauration scolaire" in text(client.get("/agent/activites"))
    response = client.post("/agent/activites/nouvelle", data={**ACTIVITY, "site_id": town.site.id})
    assert response.status_code == 303
    fresh(db)
    created = db.scalar(select(Activity).where(Activity.name == "Accueil soir 1"))
    assert created.weekdays == "0134" and created.needs_validation and created.cancel_kind == "week"
    page = text(client.get(f"/agent/activites/{created.id}"))
    assert "48 h avant le début" in page and "le jeudi de la semaine précédente à 12 h 00" in page
    response = client.post(f"/agent/activites/{created.id}", data={**ACTIVITY, "site_id": town.site.id,
                                                                    "default_capacity": "abc"})
    assert response.status_code == 422
    assert "Indiquez un nombre entier" in text(response)
    response = client.post(f"/agent/activites/{created.id}", data={**ACTIVITY, "site_id": town.site.id,
                                                                    "weekdays": []})
    assert "au moins un jour" in text(response)
    assert actions(db) == ["activity.create"]
    client.post(f"/agent/activites/{created.id}", data={**ACTIVITY, "site_id": town.site.id,
                                                         "default_capacity": "30"})
    assert actions(db)[-1] == "activity.update"


def test_closures_and_day_capacity(client, auth, town, db, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.ines.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    day = monday.strftime("%d/%m/%Y")
    response = client.post(f"/agent/activites/{town.canteen.id}/fermetures",
                           data={"start_date": day, "end_date": day, "reason": "Grève"})
    assert response.status_code == 303
    fresh(db)
    closure = db.scalar(select(Closure))
    assert closure.activity_id == town.canteen.id
    response = client.post(f"/agent/activites/{town.canteen.id}/capacite", data={"day": day, "capacity": "1"})
    assert response.status_code == 422
    assert "1 réservation(s) dépassent" in text(response)
    response = client.post(f"/agent/activites/{town.canteen.id}/capacite",
                           data={"day": day, "capacity": "1", "confirm": "y"})
    assert response.status_code == 303
    fresh(db)
    assert db.scalar(select(Slot.capacity).where(Slot.day == monday, Slot.activity_id == town.canteen.id)) == 1
    client.post(f"/agent/fermetures/{closure.id}/supprimer")
    assert actions(db) == ["activity.closure_add", "activity.capacity", "activity.closure_delete"]


def test_enrolment_queue_validate_and_refuse(client, auth, town, db, monday):
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    first = agenda.enrol(db, town.parent, town.leo.id, study.id, monday, monday + timedelta(days=30), BASE_URL)
    second = agenda.enrol(db, town.parent, town.ines.id, study.id, monday, monday + timedelta(days=30), BASE_URL)
    auth.sign_in(town.agent.email)
    page = text(client.get("/agent/inscriptions"))
    assert "Léo Martin — Étude" in page and "Inès Martin — Étude" in page
    client.post(f"/agent/inscriptions/{first.id}/valider")
    response = client.post(f"/agent/inscriptions/{second.id}/refuser", data={"reason": ""}, follow_redirects=True)
    assert "motif du refus" in text(response)
    client.post(f"/agent/inscriptions/{second.id}/refuser", data={"reason": "Complet"})
    fresh(db)
    assert [e.status for e in db.scalars(select(Enrolment).where(Enrolment.activity_id == study.id)
                                         .order_by(Enrolment.id))] == ["validated", "refused"]
    subjects = [n.subject for n in db.scalars(select(Notification).order_by(Notification.id))]
    assert subjects == ["Inscription validée : Étude", "Inscription refusée : Étude"]
    assert actions(db) == ["agenda.enrolment_validated", "agenda.enrolment_refused"]
    assert client.post("/agent/inscriptions/999999/valider").status_code == 404


def test_daily_list_printable_and_csv(client, auth, town, db, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    assert "Restauration scolaire" in page and "Léo" in page and "1 enfant" in page
    assert "Inès" not in page.split("Enfant présent sans réservation")[0]
    csv = client.get(f"/agent/listes.csv?jour={monday.isoformat()}")
    assert csv.mimetype == "text/csv"
    assert "Martin;Léo" in csv.get_data(as_text=True)


def test_daily_list_says_pai_allergies_and_who_may_collect(client, auth, town, db, monday):
    from citoyen.models import AuthorizedPickup
    from citoyen.models import Child

    leo = db.get(Child, town.leo.id)
    leo.pai, leo.allergies, leo.diet = True, "Arachide", "sans_porc"
    db.add(AuthorizedPickup(child_id=leo.id, first_name="Jeanne", last_name="Roux", relation="grand-mère",
                            phone="06 12 34 56 78"))
    db.commit()
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    assert "<strong>PAI</strong>" in page and "Allergies : Arachide" in page and "Régime : Sans porc" in page
    assert "Jeanne Roux (grand-mère) 06 12 34 56 78" in page
    csv = client.get(f"/agent/listes.csv?jour={monday.isoformat()}").get_data(as_text=True)
    assert "PAI ; Allergies : Arachide" in csv and "Jeanne Roux" in csv


def test_attendance_keeps_the_counters_right(client, auth, town, db, monday):
    from citoyen.services import activities as activity_service

    booking = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    for status, counter in (("present", 1), ("absent_justified", 0), ("absent_unjustified", 1), ("booked", 1)):
        response = client.post(f"/agent/reservations/{booking.id}/pointage", data={"status": status})
        assert response.status_code == 303, status
        fresh(db)
        assert db.scalar(select(Slot.booked).where(Slot.id == booking.slot_id)) == counter, status
        assert activity_service.counters_match(db) == []
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    assert "Non pointé" in page and "Présent" in page
    assert client.post("/agent/reservations/999999/pointage", data={"status": "present"}).status_code == 404
    assert "activity.attendance" in actions(db)


def test_unbooked_presence_from_the_daily_list(client, auth, town, db, monday):
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    assert "Enfant présent sans réservation" in page
    response = client.post(f"/agent/activites/{town.canteen.id}/presence",
                           data={"jour": monday.isoformat(), "enfant": str(town.leo.id)})
    assert response.status_code == 303
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    assert "Présent (sans réservation)" in page
    bad = client.post(f"/agent/activites/{town.canteen.id}/presence", data={"jour": monday.isoformat(),
                                                                             "enfant": "x"})
    assert bad.status_code == 303


def test_activity_page_shows_the_coming_weeks_as_a_table_and_a_chart(client, auth, town, db, monday):
    town.canteen.default_capacity = 2
    db.commit()
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.ines.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday + timedelta(days=1))
    auth.sign_in(town.agent.email)
    body = text(client.get(f"/agent/activites/{town.canteen.id}"))
    assert "Occupation des quatre prochaines semaines" in body
    assert '<svg viewBox=' in body and 'role="img"' in body
    # The chart says the figures in words too, and marks the full day.
    assert f"{monday.day}/{monday.month} : 2 sur 2." in body
    assert f"{(monday + timedelta(days=1)).day}/{(monday + timedelta(days=1)).month} : 1 sur 2." in body
    assert body.count("chart-bar chart-bar-full") == 1
    assert 'value="2" aria-label="Remplissage du' in body  # the table's meter


@pytest.mark.parametrize("day, child", [("3000-99-99", "1"), ("", "1"), ("2026-12-01", "9" * 25), ("2026-12-01", "²")])
def test_unbooked_presence_with_a_bad_day_or_child_says_so(client, auth, town, day, child):
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/activites/{town.canteen.id}/presence", data={"jour": day, "enfant": child},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Choisissez l'enfant présent." in text(response)
