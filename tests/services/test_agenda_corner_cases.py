"""The parent side of the agenda: a day the activity does not run, a
certificate sent with a declaration sent again, the preview of « Saisie
groupée » against « Créer », and « N h avant le début » across a change of
time."""

from __future__ import annotations

import io
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import Absence
from citoyen.models import Booking
from citoyen.models import Slot
from citoyen.services import agenda
from citoyen.services.booking_rules import Deadline
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from citoyen.storage import LocalStorage
from citoyen.timefmt import PARIS
from tests import samples
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import at
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import declare
from tests.blueprints.helpers import stored_files
from tests.blueprints.helpers import text
from tests.conftest import HX
from tests.conftest import fresh


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def monday():
    return next_weekday(0)


@pytest.fixture
def wednesday():
    return next_weekday(2)


def count(db, model) -> int:
    fresh(db)
    return db.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- a day the activity does not run

def test_the_canteen_cannot_be_booked_on_a_day_it_does_not_run(db, town, wednesday):
    assert "2" not in town.canteen.weekdays
    with pytest.raises(agenda.Closed, match="Fermé : l'activité n'ouvre pas le mercredi"):
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, wednesday)
    assert count(db, Booking) == 0
    assert count(db, Slot) == 0


def test_nor_put_on_its_waiting_list(db, town, wednesday):
    after = agenda.click(db, town.parent, "wait", town.leo.id, town.canteen.id, wednesday, BASE_URL)
    assert after.state == agenda.CLOSED
    assert after.message == "Fermé : l'activité n'ouvre pas le mercredi."
    assert count(db, Booking) == 0


def test_the_cell_of_such_a_day_says_closed_and_why(db, town, wednesday):
    shown = agenda.cell(db, town.leo, town.canteen, wednesday)
    assert (shown.state, shown.label, shown.detail) == (agenda.CLOSED, "Fermé", "l'activité n'ouvre pas le mercredi")
    assert shown.action == ""
    # The days it runs are unchanged.
    assert agenda.cell(db, town.leo, town.canteen, next_weekday(0)).state == agenda.BOOKABLE


def test_the_one_click_address_refuses_it_without_javascript(client, auth, db, town, wednesday):
    auth.sign_in(town.parent.email)
    response = client.post(f"/agenda/{town.leo.id}/{wednesday.isoformat()}/{town.canteen.id}/reservation")
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert "Fermé : l'activité n'ouvre pas le mercredi." in page
    assert count(db, Booking) == 0
    assert count(db, Slot) == 0


@pytest.mark.parametrize("path", ["reservation", "attente"])
def test_the_one_click_address_refuses_it_in_the_cell(client, auth, db, town, wednesday, path):
    auth.sign_in(town.parent.email)
    response = client.post(f"/agenda/{town.leo.id}/{wednesday.isoformat()}/{town.canteen.id}/{path}", headers=HX)
    assert response.status_code == 422
    body = text(response)
    assert "Fermé" in body and "l'activité n'ouvre pas le mercredi" in body
    assert "<button" not in body
    assert count(db, Booking) == 0


# ---------------------------------------------------------------- a declaration sent again with a certificate

def test_a_certificate_sent_with_the_same_declaration_again_is_joined_to_it(client, auth, db, app, town, monday):
    auth.sign_in(town.parent.email)
    assert declare(client, town, monday).status_code == 303
    pdf = samples.pdf("Certificat médical")
    again = declare(client, town, monday, certificate=(io.BytesIO(pdf), "certificat.pdf"))
    assert again.status_code == 303
    page = text(client.get(again.headers["Location"]))
    assert "Le certificat « certificat.pdf » est joint." in page
    fresh(db)
    [absence] = db.scalars(select(Absence)).all()
    assert absence.certificate_name == "certificat.pdf"
    assert client.get(f"/agenda/absences/{absence.id}/certificat").data == pdf
    assert len(stored_files(app)) == 1


def test_the_same_declaration_and_certificate_twice_is_one_absence_and_one_file(client, auth, db, app, town,
                                                                                monday):
    auth.sign_in(town.parent.email)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    pdf = samples.pdf("Certificat médical")
    for _ in range(2):
        response = declare(client, town, monday, certificate=(io.BytesIO(pdf), "certificat.pdf"))
        assert response.status_code == 303
    assert count(db, Absence) == 1
    assert len(stored_files(app)) == 1


def test_another_certificate_sent_again_leaves_the_first_and_says_so(client, auth, db, app, town, monday):
    auth.sign_in(town.parent.email)
    first = samples.pdf("Certificat du lundi")
    declare(client, town, monday, certificate=(io.BytesIO(first), "lundi.pdf"))
    response = declare(client, town, monday, certificate=(io.BytesIO(samples.pdf("Autre")), "autre.pdf"))
    assert response.status_code == 422
    page = text(response)
    assert ("Cette absence est déjà enregistrée, avec le certificat « lundi.pdf », qui est conservé : "
            "un seul certificat peut être joint à une absence.") in page
    assert "\nFièvre</textarea>" in page
    fresh(db)
    [absence] = db.scalars(select(Absence)).all()
    assert absence.certificate_name == "lundi.pdf"
    assert client.get(f"/agenda/absences/{absence.id}/certificat").data == first
    assert len(stored_files(app)) == 1


def test_declare_absence_joins_a_certificate_to_the_declaration_sent_again(db, town, monday, tmp_path):
    storage = LocalStorage(str(tmp_path / "uploads"))
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    first, cancelled = agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre",
                                              BASE_URL, storage=storage)
    assert cancelled == 1 and first.certificate_key is None
    pdf = samples.pdf("Certificat")
    again, cancelled_again = agenda.declare_absence(
        db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre", BASE_URL,
        certificate=("certificat.pdf", pdf), storage=storage)
    assert (again.id, cancelled_again) == (first.id, 1)
    fresh(db)
    absence = db.get(Absence, first.id)
    assert absence.certificate_name == "certificat.pdf"
    assert storage.read(absence.certificate_key) == pdf
    with pytest.raises(DomainError, match="qui est conservé") as refused:
        agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre", BASE_URL,
                               certificate=("autre.pdf", samples.pdf("Autre")), storage=storage)
    assert refused.value.field == "certificate"
    fresh(db)
    assert db.get(Absence, first.id).certificate_name == "certificat.pdf"
    assert count(db, Absence) == 1


def test_a_bad_file_with_the_declaration_sent_again_is_refused_at_the_field(db, town, monday, tmp_path):
    storage = LocalStorage(str(tmp_path / "uploads"))
    agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre", BASE_URL,
                           storage=storage)
    with pytest.raises(DomainError) as refused:
        agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre", BASE_URL,
                               certificate=("certificat.pdf", samples.html()), storage=storage)
    assert refused.value.field == "certificate"
    fresh(db)
    assert db.scalar(select(Absence)).certificate_key is None


# ---------------------------------------------------------------- « Saisie groupée »: preview and « Créer »

def test_the_preview_uses_up_the_places_as_creer_does(db, town, monday):
    town.canteen.default_capacity = 1
    db.commit()
    args = (db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id], monday, monday, [0], "create",
            BASE_URL)
    preview = agenda.bulk(*args)
    assert [(line.child.first_name, line.ok, line.why) for line in preview] == [
        ("Léo", True, ""), ("Inès", False, "complet")]
    done = agenda.bulk(*args, apply=True)
    assert [(line.ok, line.why) for line in done] == [(line.ok, line.why) for line in preview]


def test_the_preview_counts_the_places_already_taken_day_by_day(db, town, monday):
    after = next_weekday(0, after=monday, weeks=1)
    town.canteen.default_capacity = 2
    db.commit()
    zoe = household(db, town.organisation, "Durand", ["Zoé"]).children[0]
    enrol(db, zoe, town.canteen)
    agenda.book(db, town.agent, zoe.id, town.canteen.id, monday)
    args = (db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id], monday, after, [0], "create",
            BASE_URL)
    preview = agenda.bulk(*args)
    assert [(line.child.first_name, line.day, line.ok, line.why) for line in preview] == [
        ("Léo", monday, True, ""), ("Léo", after, True, ""),
        ("Inès", monday, False, "complet"), ("Inès", after, True, "")]
    done = agenda.bulk(*args, apply=True)
    assert [(line.ok, line.why) for line in done] == [(line.ok, line.why) for line in preview]
    fresh(db)
    assert {(s.day, s.booked) for s in db.scalars(select(Slot))} == {(monday, 2), (after, 2)}


def test_the_preview_page_says_complet_for_the_line_left_without_a_place(client, auth, db, town, monday):
    town.canteen.default_capacity = 1
    db.commit()
    auth.sign_in(town.parent.email)
    day = monday.strftime("%d/%m/%Y")
    page = text(client.post("/agenda/saisie-groupee", data={
        "children": [str(town.leo.id), str(town.ines.id)], "activities": [str(town.canteen.id)],
        "start_date": day, "end_date": day, "weekdays": ["0"], "action": "preview"}))
    assert "Aperçu : 1 réservation à créer sur 2 demandées" in page
    assert "Non : complet" in page


# ---------------------------------------------------------------- « N h avant le début » across a change of time

def elapsed_hours(before: datetime, after: datetime) -> float:
    """Hours really gone by between two local times."""
    utc = [moment.replace(tzinfo=PARIS).astimezone(UTC) for moment in (before, after)]
    return (utc[1] - utc[0]).total_seconds() / 3600


def test_hours_are_counted_as_time_gone_by_when_summer_time_starts():
    # Summer time starts on Sunday 28 March 2027: 72 h before Tuesday 8:00 is Saturday 7:00.
    limit = Deadline("hours", hours=72).limit(date(2027, 3, 30), time(8, 0))
    assert limit == datetime(2027, 3, 27, 7, 0)
    assert elapsed_hours(limit, datetime(2027, 3, 30, 8, 0)) == 72


def test_hours_are_counted_as_time_gone_by_when_summer_time_ends():
    # Summer time ends on Sunday 31 October 2027: 96 h before Wednesday 8:00 is Saturday 9:00.
    limit = Deadline("hours", hours=96).limit(date(2027, 11, 3), time(8, 0))
    assert limit == datetime(2027, 10, 30, 9, 0)
    assert elapsed_hours(limit, datetime(2027, 11, 3, 8, 0)) == 96


def test_hours_on_ordinary_days_are_unchanged():
    assert Deadline("hours", hours=24).limit(date(2027, 6, 2), time(8, 0)) == datetime(2027, 6, 1, 8, 0)
    assert Deadline("hours", hours=2).limit(date(2027, 6, 2), time(16, 30)) == datetime(2027, 6, 2, 14, 30)


def hours_activity(db, town, hours, start, end):
    act = activity(db, town.organisation, town.site, name="Accueil matin bis", start_time=time(8, 0),
                   end_time=time(9, 0), weekdays="01234", book_kind="hours", book_hours=hours,
                   cancel_kind="hours", cancel_hours=hours)
    enrol(db, town.leo, act, start=start, end=end)
    return act


def test_booking_72_hours_ahead_across_the_start_of_summer_time(db, town):
    act = hours_activity(db, town, 72, date(2027, 3, 1), date(2027, 4, 30))
    day = date(2027, 3, 30)
    # Saturday 7:30 is 71 h 30 before Tuesday 8:00 (an hour is skipped on Sunday).
    late = agenda.click(db, town.parent, "book", town.leo.id, act.id, day, BASE_URL, now=datetime(2027, 3, 27, 7, 30))
    assert late.state == agenda.LATE
    assert late.message == "Délai dépassé : réservation possible jusqu'au samedi 27 mars 2027 à 7 h 00."
    ok = agenda.click(db, town.parent, "book", town.leo.id, act.id, day, BASE_URL, now=datetime(2027, 3, 27, 6, 30))
    assert (ok.state, ok.message) == (agenda.BOOKED, "")


def test_booking_and_cancelling_96_hours_ahead_across_the_end_of_summer_time(db, town):
    act = hours_activity(db, town, 96, date(2027, 10, 1), date(2027, 11, 30))
    day = date(2027, 11, 3)
    # Saturday 8:30 is 96 h 30 before Wednesday 8:00 (an hour is lived twice on Sunday).
    now = datetime(2027, 10, 30, 8, 30)
    booked = agenda.click(db, town.parent, "book", town.leo.id, act.id, day, BASE_URL, now=now)
    assert (booked.state, booked.message) == (agenda.BOOKED, "")
    assert booked.can_cancel
    cancelled = agenda.click(db, town.parent, "cancel", town.leo.id, act.id, day, BASE_URL, now=now)
    assert (cancelled.state, cancelled.message) == (agenda.BOOKABLE, "")
    late = agenda.click(db, town.parent, "book", town.leo.id, act.id, day, BASE_URL,
                        now=datetime(2027, 10, 30, 9, 1))
    assert late.state == agenda.LATE


# ---------------------------------------------------------------- a place freed on the day


@pytest.mark.parametrize("how", ["click", "bulk"])
def test_a_place_freed_on_the_day_promotes_no_one_whichever_the_button(db, town, monday, make_account, how):
    """« Annuler » and « Saisie groupée » › « Supprimer » follow one rule: the
    first in line is not given a day already begun (they could not know in time,
    and would be billed)."""
    evening = activity(db, town.organisation, town.site, name="Accueil soir", start_time=time(16, 30),
                       end_time=time(18, 0), weekdays="01234", default_capacity=1, book_kind="hours",
                       book_hours=2, cancel_kind="hours", cancel_hours=2)
    enrol(db, town.leo, evening)
    other = make_account(email="autre@example.org")
    zoe = household(db, town.organisation, "Durand", ["Zoé"], account=other).children[0]
    enrol(db, zoe, evening)
    before = at(monday - timedelta(days=3))
    agenda.book(db, town.parent, town.leo.id, evening.id, monday, now=before)
    waiting = agenda.join_waiting_list(db, other, zoe.id, evening.id, monday, now=before)
    that_morning = at(monday, 9)
    if how == "click":
        agenda.cancel(db, town.parent, town.leo.id, evening.id, monday, BASE_URL, now=that_morning)
    else:
        lines = agenda.bulk(db, town.parent, [town.leo.id], [evening.id], monday, monday, [0], "delete", BASE_URL,
                            apply=True, now=that_morning)
        assert [line.ok for line in lines] == [True]
    fresh(db)
    assert db.get(Booking, waiting.id).status == "waiting"
    assert db.scalar(select(Slot.booked).where(Slot.activity_id == evening.id, Slot.day == monday)) == 0


# ---------------------------------------------------------------- a family in two communes


def test_saisie_groupee_takes_each_childs_own_commune(client, auth, db, town, monday):
    from citoyen.models import Site
    from tests import factories

    other_town = factories.organisation(db, name="Autreville", slug="autreville", postcodes="88888")
    school = Site(organisation_id=other_town.id, name="École d'Autreville")
    db.add(school)
    db.commit()
    canteen_there = activity(db, other_town, school, name="Cantine d'Autreville")
    paul = household(db, other_town, "Martin", ["Paul"], account=town.parent).children[0]
    enrol(db, paul, canteen_there)
    children = [town.leo.id, paul.id]
    lines = agenda.bulk(db, town.parent, children, [canteen_there.id], monday, monday, [0], "create", BASE_URL)
    assert [(line.child.first_name, line.ok, line.why) for line in lines] == [
        ("Léo", False, "Non inscrit"), ("Paul", True, "")]
    with pytest.raises(NotFound):
        agenda.bulk(db, town.parent, [town.leo.id], [canteen_there.id], monday, monday, [0], "create", BASE_URL)
    auth.sign_in(town.parent.email)
    response = client.post("/agenda/saisie-groupee", data={
        "children": [str(c) for c in children], "activities": [str(canteen_there.id)],
        "start_date": monday.strftime("%d/%m/%Y"), "end_date": monday.strftime("%d/%m/%Y"), "weekdays": ["0"],
        "action": "preview"})
    assert response.status_code == 200
    assert "Cette activité n'existe pas." not in text(response)


def test_a_place_freed_on_the_day_may_be_taken_by_the_family_in_line(db, town, monday, make_account):
    """No one is promoted on the day, but the family in line is not left behind
    a newcomer: its cell offers the free place, to whoever clicks first."""
    evening = activity(db, town.organisation, town.site, name="Accueil soir", start_time=time(16, 30),
                       end_time=time(18, 0), weekdays="01234", default_capacity=1, book_kind="hours",
                       book_hours=2, cancel_kind="hours", cancel_hours=2)
    for child in (town.leo, town.ines):
        enrol(db, child, evening)
    other = make_account(email="autre@example.org")
    zoe = household(db, town.organisation, "Durand", ["Zoé"], account=other).children[0]
    enrol(db, zoe, evening)
    before = at(monday - timedelta(days=3))
    agenda.book(db, town.parent, town.leo.id, evening.id, monday, now=before)
    waiting = agenda.join_waiting_list(db, other, zoe.id, evening.id, monday, now=before)
    assert agenda.cell(db, zoe, evening, monday, now=before).state == agenda.WAITING
    agenda.cancel(db, town.parent, town.leo.id, evening.id, monday, BASE_URL, now=at(monday, 9))
    cell = agenda.cell(db, zoe, evening, monday, now=at(monday, 9, 30))
    assert (cell.state, cell.verb) == (agenda.BOOKABLE, "Réserver")
    assert cell.detail == "Une place s'est libérée (vous étiez sur la liste d'attente)"
    taken = agenda.click(db, other, "book", zoe.id, evening.id, monday, BASE_URL, now=at(monday, 9, 30))
    assert (taken.state, taken.message) == (agenda.BOOKED, "")
    fresh(db)
    assert db.get(Booking, waiting.id).status == "booked"
    late = agenda.click(db, town.parent, "book", town.ines.id, evening.id, monday, BASE_URL, now=at(monday, 10))
    assert late.state == agenda.FULL
    assert db.scalar(select(Slot.booked).where(Slot.activity_id == evening.id, Slot.day == monday)) == 1
