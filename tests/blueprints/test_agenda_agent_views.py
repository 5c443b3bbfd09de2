"""The agents' side of activities through HTTP."""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import Activity
from citoyen.models import AuditEntry
from citoyen.models import Booking
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


@pytest.fixture
def on_the_day(monkeypatch):
    """Puts the agents' clock on a day at noon (attendance is marked on the day, or after)."""
    from citoyen.services import activities as activity_service

    def put(day):
        monkeypatch.setattr(activity_service, "local_now", lambda: datetime.combine(day, time(12, 0)))
    return put


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
    closed = (monday + timedelta(days=1)).strftime("%d/%m/%Y")
    response = client.post(f"/agent/activites/{town.canteen.id}/fermetures",
                           data={"start_date": closed, "end_date": closed, "reason": "Grève"})
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


def test_attendance_keeps_the_counters_right(client, auth, town, db, monday, on_the_day):
    from citoyen.services import activities as activity_service

    booking = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    on_the_day(monday)
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


def test_unbooked_presence_from_the_daily_list(client, auth, town, db, monday, on_the_day):
    on_the_day(monday)
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


def _canteen_form(town, **changes) -> dict:
    canteen = town.canteen
    values = {**ACTIVITY, "name": canteen.name, "site_id": town.site.id, "weekdays": list(canteen.weekdays),
              "start_time": "11:45", "end_time": "13:30", "school_holidays": "ignore", "needs_validation": "",
              "default_capacity": str(canteen.default_capacity)}
    values.update(changes)
    return values


def test_lowering_the_default_capacity_below_the_bookings_asks_first(client, auth, town, db, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.ines.id, town.canteen.id, monday)
    past = Slot(activity_id=town.canteen.id, day=date.today() - timedelta(days=14), capacity=10, booked=0,
                capacity_overridden=False)
    db.add(past)
    db.commit()
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/activites/{town.canteen.id}", data=_canteen_form(town, default_capacity="1"))
    assert response.status_code == 422
    page = text(response)
    assert "1 réservation(s) sur 1 jour(s) dépassent cette capacité" in page
    assert 'name="confirm"' in page and 'value="1"' in page  # the box to confirm, what was typed kept
    fresh(db)
    assert db.get(Activity, town.canteen.id).default_capacity == 10
    assert db.scalar(select(Slot.capacity).where(Slot.activity_id == town.canteen.id, Slot.day == monday)) == 10
    assert "activity.update" not in actions(db)
    response = client.post(f"/agent/activites/{town.canteen.id}",
                           data=_canteen_form(town, default_capacity="1", confirm="y"))
    assert response.status_code == 303
    fresh(db)
    assert db.scalar(select(Slot.capacity).where(Slot.activity_id == town.canteen.id, Slot.day == monday)) == 1
    assert db.get(Slot, past.id).capacity == 10  # a past day keeps the capacity it had
    assert set(db.scalars(select(Booking.status).where(Booking.day == monday))) == {"booked"}  # they stay
    assert actions(db)[-1] == "activity.update"


def test_raising_the_default_capacity_gives_the_places_to_the_waiting_list(client, auth, town, db, monday):
    town.canteen.default_capacity = 1
    db.commit()
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.join_waiting_list(db, town.parent, town.ines.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/activites/{town.canteen.id}", data=_canteen_form(town, default_capacity="5"))
    assert response.status_code == 303
    fresh(db)
    slot = db.scalar(select(Slot).where(Slot.activity_id == town.canteen.id, Slot.day == monday))
    assert (slot.capacity, slot.booked) == (5, 2)
    assert set(db.scalars(select(Booking.status).where(Booking.slot_id == slot.id))) == {"booked"}
    assert db.scalar(select(Notification).where(Notification.subject.like("Place libérée%"))) is not None


def test_the_csv_list_keeps_a_formula_typed_as_a_name_as_text(client, auth, town, db, monday):
    from citoyen.models import Child
    from citoyen.models import Household

    leo = db.get(Child, town.leo.id)
    leo.first_name, leo.class_name = '=HYPERLINK("http://evil.example";"x")', "-2+3"
    db.get(Household, town.household.id).name = "@SUM(1+1)"
    db.commit()
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    body = client.get(f"/agent/listes.csv?jour={monday.isoformat()}").get_data(as_text=True)
    assert "'=HYPERLINK" in body and "'-2+3" in body and "'@SUM(1+1)" in body
    assert ";=" not in body and ";@" not in body and ";-2" not in body


@pytest.mark.parametrize("site_id", ["99999999999999999999999", "0", "abc", ""])
def test_an_activity_on_a_site_not_offered_is_refused_at_the_field(client, auth, town, db, site_id):
    auth.sign_in(town.agent.email)
    response = client.post("/agent/activites/nouvelle", data={**ACTIVITY, "site_id": site_id})
    assert response.status_code == 422
    page = text(response)
    assert "Choisissez le lieu." in page or "Choisissez dans la liste." in page
    assert 'value="Accueil soir 1"' in page
    assert db.scalar(select(Activity).where(Activity.name == "Accueil soir 1")) is None


@pytest.mark.parametrize("commune", ["99999999999999999999999", "9223372036854775808", "x"])
def test_the_absences_of_a_commune_that_cannot_exist_are_not_found(client, auth, town, commune):
    auth.sign_in(town.agent.email)
    assert client.get(f"/agent/absences?commune={commune}").status_code == 404
    assert client.get(f"/agent/absences?commune={town.organisation.id}").status_code == 200


def test_a_new_site_goes_to_the_commune_chosen(client, auth, town, db):
    from citoyen.models import Site
    from tests import factories

    other = factories.organisation(db, name="Autreville", slug="autreville")
    auth.sign_in(town.agent.email)
    page = text(client.get("/agent/activites"))
    assert 'name="organisation_id"' in page and "Autreville" in page
    response = client.post("/agent/lieux", data={"name": "École Pasteur", "organisation_id": "999999"})
    assert response.status_code == 422 and "Choisissez la commune." in text(response)
    assert 'value="École Pasteur"' in text(response)
    response = client.post("/agent/lieux", data={"name": "École Pasteur", "organisation_id": str(other.id)})
    assert response.status_code == 303
    fresh(db)
    assert db.scalar(select(Site.organisation_id).where(Site.name == "École Pasteur")) == other.id


def test_a_single_commune_is_not_asked_for(client, auth, town, db):
    from citoyen.models import Site

    auth.sign_in(town.agent.email)
    assert 'name="organisation_id"' not in text(client.get("/agent/activites"))
    assert client.post("/agent/lieux", data={"name": "École Pasteur"}).status_code == 303
    fresh(db)
    assert db.scalar(select(Site.organisation_id).where(Site.name == "École Pasteur")) == town.organisation.id


def test_archiving_says_what_was_done(client, auth, town, db):
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/activites/{town.canteen.id}/archiver", follow_redirects=True)
    assert "L'activité n'est plus proposée aux familles." in text(response)
    response = client.post(f"/agent/activites/{town.canteen.id}/archiver", follow_redirects=True)
    assert "L'activité est de nouveau proposée." in text(response)


def test_attendance_of_a_day_to_come_is_refused(client, auth, town, db, monday):
    booking = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/reservations/{booking.id}/pointage",
                           data={"status": "absent_justified", "jour": monday.isoformat()})
    assert response.status_code == 303 and f"jour={monday.isoformat()}" in response.location
    assert "Le pointage se fait le jour même ou après" in text(client.get(response.location))
    fresh(db)
    assert db.get(Booking, booking.id).status == "booked"
    assert db.scalar(select(Slot.booked).where(Slot.id == booking.slot_id)) == 1


def test_unbooked_presence_on_a_day_the_activity_does_not_open_is_refused(client, auth, town, db, monday,
                                                                          on_the_day):
    wednesday = monday + timedelta(days=2)  # the canteen opens Monday, Tuesday, Thursday, Friday
    tuesday = monday + timedelta(days=1)
    db.add(Closure(organisation_id=town.organisation.id, start_date=tuesday, end_date=tuesday, reason="Grève"))
    db.commit()
    auth.sign_in(town.agent.email)
    for day, message in ((wednesday, "n'ouvre pas le mercredi"), (tuesday, "est fermée le mardi")):
        on_the_day(day)
        response = client.post(f"/agent/activites/{town.canteen.id}/presence",
                               data={"jour": day.isoformat(), "enfant": str(town.leo.id)}, follow_redirects=True)
        assert message in text(response)
    fresh(db)
    assert db.scalar(select(Booking).where(Booking.child_id == town.leo.id)) is None
    on_the_day(monday - timedelta(days=7))
    response = client.post(f"/agent/activites/{town.canteen.id}/presence",
                           data={"jour": monday.isoformat(), "enfant": str(town.leo.id)}, follow_redirects=True)
    assert "Le pointage se fait le jour même ou après" in text(response)


def test_the_daily_lists_take_a_typed_day(client, auth, town, db, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/listes?jour={monday:%d/%m/%Y}"))
    assert "Martin" in page and f"Listes du lundi {monday.day} " in page
    csv = client.get(f"/agent/listes.csv?jour={monday:%d/%m/%Y}")
    assert f"liste-{monday.isoformat()}.csv" in csv.headers["Content-Disposition"]
    response = client.get("/agent/listes?jour=31/02/2026")
    assert response.status_code == 422
    page = text(response)
    assert "Indiquez une date valide, au format JJ/MM/AAAA." in page and 'value="31/02/2026"' in page
    assert 'aria-describedby="jour-error"' in page
    assert client.get("/agent/listes.csv?jour=zzz").status_code == 303


def test_another_sites_closure_is_not_on_this_activitys_page(client, auth, town, db, monday):
    from citoyen.models import Site

    other = Site(organisation_id=town.organisation.id, name="École Pasteur")
    db.add(other)
    db.flush()
    db.add(Closure(organisation_id=town.organisation.id, site_id=other.id, start_date=monday, end_date=monday,
                   reason="Travaux Pasteur"))
    db.add(Closure(organisation_id=town.organisation.id, site_id=town.site.id, start_date=monday,
                   end_date=monday, reason="Travaux Jules-Ferry"))
    db.commit()
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/activites/{town.canteen.id}"))
    assert "Travaux Jules-Ferry" in page and "Travaux Pasteur" not in page


def test_the_occupancy_leaves_out_closed_days(client, auth, town, db, monday):
    db.add(Closure(organisation_id=town.organisation.id, start_date=monday, end_date=monday, reason="Grève"))
    db.commit()
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/activites/{town.canteen.id}"))
    tuesday = monday + timedelta(days=1)
    assert re.search(rf"(?<!\d){tuesday.day}/{tuesday.month} : 0 sur 10\.", page)
    assert not re.search(rf"(?<!\d){monday.day}/{monday.month} : ", page)


def test_a_closure_is_deleted_after_a_confirmation_page(client, auth, town, db, monday):
    db.add(Closure(organisation_id=town.organisation.id, activity_id=town.canteen.id, start_date=monday,
                   end_date=monday, reason="Grève"))
    db.commit()
    closure_id = db.scalar(select(Closure.id))
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/activites/{town.canteen.id}"))
    link = f"/agent/fermetures/{closure_id}/supprimer?back=/agent/activites/{town.canteen.id}"
    assert f'href="{link}"' in page.replace("%2F", "/")
    confirm = client.get(link)
    assert confirm.status_code == 200
    assert "Supprimer la fermeture « Grève »" in text(confirm) and 'name="back"' in text(confirm)
    fresh(db)
    assert db.get(Closure, closure_id) is not None  # the page alone deletes nothing
    assert client.get("/agent/fermetures/99999999999/supprimer").status_code == 404
    for elsewhere in ("https://evil.example/", "/agent/\\evil.example", "//evil.example/agent/"):
        response = client.get(f"/agent/fermetures/{closure_id}/supprimer", query_string={"back": elsewhere})
        assert 'name="back" value="/agent/activites"' in text(response), elsewhere
    response = client.post(f"/agent/fermetures/{closure_id}/supprimer", data={"back": "https://evil.example/"})
    assert response.status_code == 303 and response.location.endswith("/agent/activites")
    fresh(db)
    assert db.get(Closure, closure_id) is None


def test_a_refusal_without_a_reason_says_so_next_to_that_enrolment(client, auth, town, db, monday):
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    first = agenda.enrol(db, town.parent, town.leo.id, study.id, monday, monday + timedelta(days=30), BASE_URL)
    agenda.enrol(db, town.parent, town.ines.id, study.id, monday, monday + timedelta(days=30), BASE_URL)
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/inscriptions/{first.id}/refuser", data={"reason": "  "})
    assert response.status_code == 422
    page = text(response)
    assert f'id="reason-{first.id}-error">Indiquez le motif du refus' in page
    assert f'aria-describedby="reason-{first.id}-error"' in page and page.count("field-error") == 1
    response = client.post(f"/agent/inscriptions/{first.id}/refuser", data={"reason": "Trop long. " * 60})
    assert response.status_code == 422
    page = text(response)
    assert "Le motif ne doit pas dépasser 500 caractères." in page and "Trop long. Trop long." in page
    assert client.post(f"/agent/inscriptions/{first.id}/refuser",
                       data={"reason": "Complet.\r\n" * 50}).status_code == 303  # a line break counts once
    fresh(db)
    assert db.get(Enrolment, first.id).status == "refused"


def test_a_capacity_for_a_day_the_activity_does_not_open_is_refused(client, auth, town, db, monday):
    auth.sign_in(town.agent.email)
    sunday = monday - timedelta(days=1)
    response = client.post(f"/agent/activites/{town.canteen.id}/capacite",
                           data={"day": sunday.strftime("%d/%m/%Y"), "capacity": "3"})
    assert response.status_code == 422
    assert "n'ouvre pas le dimanche" in text(response)
    fresh(db)
    assert db.scalar(select(Slot).where(Slot.day == sunday)) is None


def test_a_closure_cancels_the_bookings_of_its_days_and_tells_the_families(client, auth, town, db, monday):
    from citoyen.models import Site
    from citoyen.services import activities as activity_service

    town.canteen.default_capacity = 1
    db.commit()
    booked = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    waiting = agenda.join_waiting_list(db, town.parent, town.ines.id, town.canteen.id, monday)
    kept = agenda.book(db, town.parent, town.leo.id, town.morning.id, monday)  # another activity
    other_site = Site(organisation_id=town.organisation.id, name="École Pasteur")
    db.add(other_site)
    db.commit()
    activity_service.add_closure(db, town.agent, town.organisation, monday, monday, "Travaux Pasteur",
                                 site_id=other_site.id)
    fresh(db)
    assert db.get(Booking, booked.id).status == "booked"  # another site's closure leaves it
    auth.sign_in(town.agent.email)
    day = monday.strftime("%d/%m/%Y")
    response = client.post(f"/agent/activites/{town.canteen.id}/fermetures",
                           data={"start_date": day, "end_date": day, "reason": "Grève"}, follow_redirects=True)
    assert "1 réservation(s) de ces jours sont annulées ; les familles sont prévenues." in text(response)
    fresh(db)
    assert db.get(Booking, booked.id).status == "cancelled"
    assert db.get(Booking, waiting.id).status == "cancelled"
    assert db.get(Booking, kept.id).status == "booked"
    assert db.scalar(select(Slot.booked).where(Slot.id == booked.slot_id)) == 0
    assert activity_service.counters_match(db) == []
    notes = list(db.scalars(select(Notification).where(Notification.subject == "Fermeture : Grève")))
    assert len(notes) == 1  # one message per family
    assert "Léo, Restauration scolaire le lundi" in notes[0].body and "Inès" in notes[0].body
    assert "ne seront pas facturés" in notes[0].body
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "activity.closure_add")
                      .order_by(AuditEntry.id.desc()))
    assert "1 réservation(s) annulée(s)" in entry.details


def test_a_weekday_dropped_asks_first_then_cancels_its_bookings(client, auth, town, db, monday):
    tuesday = monday + timedelta(days=1)
    on_monday = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    on_tuesday = agenda.book(db, town.parent, town.leo.id, town.canteen.id, tuesday)
    auth.sign_in(town.agent.email)
    without_monday = _canteen_form(town, weekdays=["1", "3", "4"])
    response = client.post(f"/agent/activites/{town.canteen.id}", data=without_monday)
    assert response.status_code == 422
    assert "1 réservation(s) ou place(s) en liste d'attente tombent un jour où l'activité n'ouvrira plus" \
        in text(response)
    fresh(db)
    assert db.get(Activity, town.canteen.id).weekdays == "0134"
    assert db.get(Booking, on_monday.id).status == "booked"
    response = client.post(f"/agent/activites/{town.canteen.id}", data={**without_monday, "confirm": "y"})
    assert response.status_code == 303
    fresh(db)
    assert db.get(Activity, town.canteen.id).weekdays == "134"
    assert db.get(Booking, on_monday.id).status == "cancelled"
    assert db.get(Booking, on_tuesday.id).status == "booked"
    assert db.scalar(select(Slot.booked).where(Slot.id == on_monday.slot_id)) == 0
    note = db.scalar(select(Notification).where(Notification.subject.like("%jours d'ouverture modifiés")))
    assert note is not None and "Léo, Restauration scolaire le lundi" in note.body


def test_a_closure_of_days_gone_by_leaves_their_bookings_to_the_agents(town, db, monday, on_the_day):
    from citoyen.services import activities as activity_service

    booked = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    later = monday + timedelta(days=1)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, later)
    on_the_day(later)  # seen from the Tuesday, the Monday is gone by
    _, cancelled = activity_service.add_closure(db, town.agent, town.organisation, monday, later, "Grève")
    assert cancelled == 1
    fresh(db)
    assert db.get(Booking, booked.id).status == "booked"


def test_an_activity_stays_in_its_commune(client, auth, town, db):
    """Its families, closures and holidays are its commune's: the form offers
    only that commune's sites, and the service refuses another's."""
    from citoyen.models import Site
    from citoyen.services import activities as activity_service
    from citoyen.services.errors import DomainError
    from tests import factories

    other = factories.organisation(db, name="Autreville", slug="autreville")
    elsewhere = Site(organisation_id=other.id, name="École d'Autreville")
    db.add(elsewhere)
    db.commit()
    auth.sign_in(town.agent.email)
    page = text(client.get(f"/agent/activites/{town.canteen.id}"))
    assert town.site.name in page and "École d'Autreville" not in page
    response = client.post(f"/agent/activites/{town.canteen.id}", data=_canteen_form(town, site_id=elsewhere.id))
    assert response.status_code == 422
    assert "Choisissez le lieu." in text(response)
    with pytest.raises(DomainError) as refused:
        values = {name: getattr(town.canteen, name) for name in activity_service.ACTIVITY_FIELDS}
        activity_service.update_activity(db, town.agent, town.canteen.id, {**values, "site_id": elsewhere.id},
                                         BASE_URL)
    assert refused.value.field == "site_id"
    assert refused.value.message == "Choisissez un lieu de la commune de l'activité."
    fresh(db)
    canteen = db.get(Activity, town.canteen.id)
    assert (canteen.site_id, canteen.organisation_id) == (town.site.id, town.organisation.id)
    # A new activity may go to either commune: each site says which.
    page = text(client.get("/agent/activites/nouvelle"))
    assert f"{town.site.name} ({town.organisation.name})" in page and "École d'Autreville (Autreville)" in page



def test_raising_a_days_capacity_on_the_day_promotes_no_one(client, auth, town, db, monday, on_the_day):
    """As for a family's cancellation, no one is promoted to a day begun or gone
    by (the family could not come, and would be billed): the place is the
    agents' to give, for a child present without a booking."""
    from tests.agenda_helpers import enrol
    from tests.agenda_helpers import household

    zoe = household(db, town.organisation, name="Durand", children=("Zoé",)).children[0]
    enrol(db, zoe, town.canteen)
    slot = db.scalar(select(Slot).where(Slot.activity_id == town.canteen.id, Slot.day == monday))
    if slot is None:
        agenda.ensure_slots(db, town.canteen.id, town.canteen.default_capacity, [monday])
        db.commit()
        slot = db.scalar(select(Slot).where(Slot.activity_id == town.canteen.id, Slot.day == monday))
    slot.capacity, slot.capacity_overridden = 1, True
    db.commit()
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    waiting = agenda.join_waiting_list(db, town.parent, town.ines.id, town.canteen.id, monday)
    on_the_day(monday)
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/activites/{town.canteen.id}/capacite",
                           data={"day": monday.strftime("%d/%m/%Y"), "capacity": "2"})
    assert response.status_code == 303
    fresh(db)
    assert db.get(Booking, waiting.id).status == "waiting"
    assert db.scalar(select(Notification.id).where(Notification.subject.like("Place libérée%"))) is None
    response = client.post(f"/agent/activites/{town.canteen.id}/presence",
                           data={"jour": monday.isoformat(), "enfant": str(zoe.id)})
    assert response.status_code == 303
    fresh(db)
    assert db.scalar(select(Booking.status).where(Booking.child_id == zoe.id, Booking.day == monday)) == "present"
    assert db.get(Slot, slot.id).booked == 2
    # The activity's default capacity raised the same day: still no one promoted that day.
    client.post(f"/agent/activites/{town.canteen.id}", data=_canteen_form(town, default_capacity="40"))
    fresh(db)
    assert db.get(Booking, waiting.id).status == "waiting"


def test_a_school_holidays_change_asks_then_cancels_the_days_it_closes(client, auth, town, db, monday):
    from citoyen.services.booking_rules import school_holiday

    holiday = monday + timedelta(days=14)
    while not (school_holiday(holiday, "B") and town.canteen.opens_on(holiday)):
        holiday += timedelta(days=1)
    term_day = monday
    while school_holiday(term_day, "B") or not town.canteen.opens_on(term_day):
        term_day += timedelta(days=1)
    town.canteen.school_holidays = "ignore"
    db.commit()
    on_holiday = agenda.book(db, town.parent, town.leo.id, town.canteen.id, holiday)
    in_term = agenda.book(db, town.parent, town.leo.id, town.canteen.id, term_day)
    auth.sign_in(town.agent.email)
    closed_in_holidays = _canteen_form(town, school_holidays="closed")
    response = client.post(f"/agent/activites/{town.canteen.id}", data=closed_in_holidays)
    assert response.status_code == 422
    assert "1 réservation(s) ou place(s) en liste d'attente tombent un jour où l'activité n'ouvrira plus" \
        in text(response)
    fresh(db)
    assert db.get(Booking, on_holiday.id).status == "booked"
    response = client.post(f"/agent/activites/{town.canteen.id}", data={**closed_in_holidays, "confirm": "y"})
    assert response.status_code == 303
    fresh(db)
    assert db.get(Activity, town.canteen.id).school_holidays == "closed"
    assert db.get(Booking, on_holiday.id).status == "cancelled"
    assert db.get(Booking, in_term.id).status == "booked"
    assert db.scalar(select(Slot.booked).where(Slot.id == on_holiday.slot_id)) == 0
    assert db.scalar(select(Notification.id).where(Notification.subject.like("%jours d'ouverture modifiés")))


def test_the_daily_list_keeps_the_children_of_an_archived_activity(client, auth, town, db, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    auth.sign_in(town.agent.email)
    assert client.post(f"/agent/activites/{town.canteen.id}/archiver").status_code == 303
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    assert "Restauration scolaire" in _activity_choices(page)
    assert "Léo" in page.split("<main", 1)[1]
    # A day without its children, it is not offered.
    later = text(client.get(f"/agent/listes?jour={(monday + timedelta(days=7)).isoformat()}"))
    assert "Restauration scolaire" not in _activity_choices(later)


def _activity_choices(page: str) -> str:
    return page.split('name="activite"', 1)[1].split("</select>", 1)[0]


def test_a_child_booked_but_marked_absent_is_pointed_present_on_the_list(client, auth, town, db, monday,
                                                                        on_the_day):
    booking = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    on_the_day(monday)
    auth.sign_in(town.agent.email)
    client.post(f"/agent/reservations/{booking.id}/pointage", data={"status": "absent_justified"})
    page = text(client.get(f"/agent/listes?jour={monday.isoformat()}&activite={town.canteen.id}"))
    offered = page.split('name="enfant"', 1)[1].split("</select>", 1)[0] if 'name="enfant"' in page else ""
    assert "Léo" not in offered
    response = client.post(f"/agent/activites/{town.canteen.id}/presence",
                           data={"jour": monday.isoformat(), "enfant": str(town.leo.id)}, follow_redirects=True)
    assert "Léo Martin est déjà sur la liste de ce jour." in text(response)
    fresh(db)
    assert (db.get(Booking, booking.id).status, db.get(Booking, booking.id).unbooked) == ("absent_justified", False)
