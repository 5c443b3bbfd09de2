"""Booking, cancelling, the waiting list, absences, enrolment and bulk booking."""

from __future__ import annotations

from datetime import date
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import Absence
from citoyen.models import AuditEntry
from citoyen.models import Booking
from citoyen.models import Notification
from citoyen.models import Slot
from citoyen.services import activities
from citoyen.services import agenda
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from tests import factories
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import at
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.conftest import fresh


@pytest.fixture
def town(db):
    return build_town(db)


@pytest.fixture
def monday():
    return next_weekday(0)


def slot_of(db, act, day) -> Slot:
    fresh(db)
    return db.scalar(select(Slot).where(Slot.activity_id == act.id, Slot.day == day))


def test_book_takes_a_place_and_cancel_gives_it_back(db, town, monday):
    booking = agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    assert booking.status == "booked"
    assert slot_of(db, town.canteen, monday).booked == 1
    agenda.cancel(db, town.parent, town.leo.id, town.canteen.id, monday, BASE_URL)
    assert slot_of(db, town.canteen, monday).booked == 0
    with pytest.raises(DomainError, match="déjà annulée"):
        agenda.cancel(db, town.parent, town.leo.id, town.canteen.id, monday, BASE_URL)
    # Booking again reuses the row.
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    assert slot_of(db, town.canteen, monday).booked == 1
    assert len(db.scalars(select(Booking)).all()) == 1


def test_a_second_click_books_once(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    assert slot_of(db, town.canteen, monday).booked == 1


def test_deadline_to_book_says_the_exact_limit(db, town, monday):
    sunday_one_pm = at(monday - timedelta(days=1), 13)
    with pytest.raises(agenda.DeadlinePassed) as error:
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday, now=sunday_one_pm)
    sunday = monday - timedelta(days=1)
    assert f"dimanche {sunday.day}" in error.value.message
    assert "à 12 h 00" in error.value.message
    # One minute before the limit is fine.
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday, now=at(sunday, 11, 59))


def test_deadline_to_cancel(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    with pytest.raises(agenda.DeadlinePassed, match="Déclarer l'absence"):
        agenda.cancel(db, town.parent, town.leo.id, town.canteen.id, monday, BASE_URL, now=at(monday, 9))
    assert slot_of(db, town.canteen, monday).booked == 1


def test_closed_days_are_refused_with_their_reason(db, town, monday):
    activities.add_closure(db, town.agent, town.organisation, monday, monday, "Grève")
    with pytest.raises(agenda.Closed, match="Fermé : Grève"):
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "activity.closure_add")) is not None


def test_public_holidays_are_closed(db, town):
    christmas = date(local_year_ahead(), 12, 25)
    ctx = agenda.load_context(db, [town.leo], christmas, christmas, now=at(christmas - timedelta(days=30)))
    assert agenda.closure_reason(ctx, town.leo, town.canteen, christmas) == "jour férié (Noël)"


def local_year_ahead() -> int:
    return agenda.local_now().year + 1


def test_school_holidays_close_periscolaire_activities(db, town):
    town.canteen.school_holidays = "closed"
    db.commit()
    day = date(2027, 2, 22)  # zone B winter holidays 2027 (from the package's data)
    ctx = agenda.load_context(db, [town.leo], day, day, now=at(day - timedelta(days=30)))
    reason = agenda.closure_reason(ctx, town.leo, town.canteen, day)
    assert reason and "Vacances" in reason


def test_not_enrolled_child_cannot_book(db, town, monday):
    with pytest.raises(agenda.NotEnrolled):
        agenda.book(db, town.parent, town.ines.id, town.morning.id, monday)


def test_another_family_child_does_not_exist(db, town, monday):
    other_parent = factories.account(db, email="other@example.org")
    household(db, town.organisation, name="Benali", children=("Yasmine",), account=other_parent)
    with pytest.raises(NotFound):
        agenda.book(db, other_parent, town.leo.id, town.canteen.id, monday)
    with pytest.raises(NotFound):
        agenda.book(db, town.parent, 999_999, town.canteen.id, monday)


@pytest.mark.parametrize("day", [date(1900, 1, 1), date(3000, 1, 1)])
def test_absurd_dates_are_refused(db, town, day):
    with pytest.raises(DomainError, match="date n'est pas valide"):
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)


def test_full_day_offers_the_waiting_list_and_a_cancellation_promotes_the_first(db, town, monday):
    town.canteen.default_capacity = 1
    db.commit()
    waiting_parent = factories.account(db, email="benali@example.org")
    other = household(db, town.organisation, name="Benali", children=("Yasmine", "Adam"), account=waiting_parent)
    yasmine, adam = other.children
    for child in (yasmine, adam):
        enrol(db, child, town.canteen)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    with pytest.raises(agenda.SlotFull, match="liste d'attente"):
        agenda.book(db, waiting_parent, yasmine.id, town.canteen.id, monday)
    first = agenda.join_waiting_list(db, waiting_parent, yasmine.id, town.canteen.id, monday)
    second = agenda.join_waiting_list(db, waiting_parent, adam.id, town.canteen.id, monday)
    assert (first.status, second.status) == ("waiting", "waiting")
    month = agenda.month_view(db, [yasmine, adam], monday.year, monday.month)
    cells = [c for week in month.weeks for d in week if d and d.day == monday for c in d.cells]
    assert [(c.state, c.position) for c in cells] == [("waiting", 1), ("waiting", 2)]

    agenda.cancel(db, town.parent, town.leo.id, town.canteen.id, monday, BASE_URL)
    fresh(db)
    assert db.get(Booking, first.id).status == "booked"
    assert db.get(Booking, second.id).status == "waiting"
    assert slot_of(db, town.canteen, monday).booked == 1
    note = db.scalar(select(Notification).where(Notification.account_id == waiting_parent.id))
    assert "Place libérée" in note.subject and "Yasmine" in note.body


def test_raising_the_capacity_promotes_the_waiting_list(db, town, monday):
    town.canteen.default_capacity = 1
    db.commit()
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.join_waiting_list(db, town.parent, town.ines.id, town.canteen.id, monday)
    with pytest.raises(DomainError):
        activities.set_day_capacity(db, town.agent, town.canteen.id, monday, 0, False, BASE_URL)
    activities.set_day_capacity(db, town.agent, town.canteen.id, monday, 2, False, BASE_URL)
    fresh(db)
    assert {b.status for b in db.scalars(select(Booking))} == {"booked"}
    assert slot_of(db, town.canteen, monday).booked == 2
    assert activities.counters_match(db) == []


def test_lowering_capacity_below_bookings_asks_first(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.ines.id, town.canteen.id, monday)
    with pytest.raises(DomainError, match="1 réservation"):
        activities.set_day_capacity(db, town.agent, town.canteen.id, monday, 1, False, BASE_URL)
    activities.set_day_capacity(db, town.agent, town.canteen.id, monday, 1, True, BASE_URL)
    assert slot_of(db, town.canteen, monday).booked == 2  # no one removed


def test_absence_cancels_past_the_deadline_and_keeps_the_motive(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.leo.id, town.morning.id, monday)
    absence, count = agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness",
                                            "Fièvre", BASE_URL, now=at(monday, 10))
    assert count == 2
    fresh(db)
    assert {b.status for b in db.scalars(select(Booking))} == {"cancelled"}
    assert {b.absence_id for b in db.scalars(select(Booking))} == {absence.id}
    assert slot_of(db, town.canteen, monday).booked == 0
    with pytest.raises(DomainError, match="motif"):
        agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "", "", BASE_URL)


def test_a_day_cancelled_by_an_absence_says_so_and_is_bookable_again_only_in_time(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    next_day = monday + timedelta(days=1)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, next_day)
    agenda.declare_absence(db, town.parent, town.leo.id, monday, next_day, "illness", "", BASE_URL,
                           now=at(monday, 10))
    fresh(db)
    # Monday morning: Monday is past its deadline (the day before at 12:00), Tuesday is not.
    ctx = agenda.load_context(db, [town.leo], monday, next_day, now=at(monday, 10))
    gone = agenda.assess(ctx, town.leo, town.canteen, monday)
    assert (gone.state, gone.label, gone.detail, gone.action) == ("absent", "Absence déclarée", "Maladie", "")
    later = agenda.assess(ctx, town.leo, town.canteen, next_day)
    assert (later.state, later.detail) == ("bookable", "Absence déclarée (Maladie)")
    with pytest.raises(agenda.DeadlinePassed, match="absence est déclarée ce jour-là"):
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday, now=at(monday, 10))
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, next_day, now=at(monday, 10))
    fresh(db)
    again = db.scalar(select(Booking).where(Booking.day == next_day))
    assert (again.status, again.absence_id) == ("booked", None)


def test_enrolment_waits_for_validation_then_opens_bookings(db, town, monday, outbox):
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True,
                     start_time=time(16, 30), end_time=time(18, 0))
    enrolment = agenda.enrol(db, town.parent, town.leo.id, study.id, monday - timedelta(days=7),
                             monday + timedelta(days=60), BASE_URL)
    assert enrolment.status == "pending"
    with pytest.raises(agenda.NotEnrolled, match="attend la validation"):
        agenda.book(db, town.parent, town.leo.id, study.id, monday)
    with pytest.raises(DomainError, match="déjà inscrit"):
        agenda.enrol(db, town.parent, town.leo.id, study.id, monday, monday, BASE_URL)
    with pytest.raises(DomainError, match="motif du refus"):
        agenda.decide_enrolment(db, town.agent, enrolment.id, False, "", BASE_URL)
    agenda.decide_enrolment(db, town.agent, enrolment.id, True, "", BASE_URL)
    agenda.book(db, town.parent, town.leo.id, study.id, monday)
    note = db.scalar(select(Notification).where(Notification.account_id == town.parent.id))
    assert note.subject == "Inscription validée : Étude"
    assert outbox.last(town.parent.email).subject == "Inscription validée : Étude"
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "agenda.enrolment_validated"))


def test_refused_enrolment_tells_the_family_why(db, town, monday):
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    enrolment = agenda.enrol(db, town.parent, town.ines.id, study.id, monday, monday, BASE_URL)
    agenda.decide_enrolment(db, town.agent, enrolment.id, False, "Plus de place en étude", BASE_URL)
    note = db.scalar(select(Notification).where(Notification.account_id == town.parent.id))
    assert "Plus de place en étude" in note.body
    with pytest.raises(DomainError, match="déjà été traitée"):
        agenda.decide_enrolment(db, town.agent, enrolment.id, True, "", BASE_URL)


def test_enrolment_period_is_checked(db, town, monday):
    with pytest.raises(DomainError, match="année scolaire"):
        agenda.enrol(db, town.parent, town.leo.id, town.morning.id, monday, monday + timedelta(days=3650),
                     BASE_URL)


def test_bulk_preview_then_create_then_delete(db, town, monday):
    activities.add_closure(db, town.agent, town.organisation, monday + timedelta(days=7),
                           monday + timedelta(days=7), "Journée pédagogique")
    end = monday + timedelta(days=27)
    preview = agenda.bulk(db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id], monday, end,
                          [0], "create", BASE_URL)
    assert len(preview) == 8
    refused = [line for line in preview if not line.ok]
    assert len(refused) == 2 and all("Journée pédagogique" in line.why for line in refused)
    assert db.scalar(select(Booking.id)) is None  # a preview changes nothing
    done = agenda.bulk(db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id], monday, end,
                       [0], "create", BASE_URL, apply=True)
    assert sum(line.ok for line in done) == 6
    assert activities.counters_match(db) == []
    removed = agenda.bulk(db, town.parent, [town.leo.id], [town.canteen.id], monday, end, [0], "delete",
                          BASE_URL, apply=True)
    assert sum(line.ok for line in removed) == 3
    assert activities.counters_match(db) == []
    with pytest.raises(DomainError, match="année scolaire"):
        agenda.bulk(db, town.parent, [town.leo.id], [town.canteen.id], monday, monday + timedelta(days=3650),
                    [0], "create", BASE_URL)


def test_bulk_booking_of_a_school_year_is_quick(db, town):
    import time as clock

    start = agenda.local_now().date() + timedelta(days=7)
    started = clock.perf_counter()
    done = agenda.bulk(db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id, town.morning.id], start,
                       start + timedelta(days=300), range(5), "create", BASE_URL, apply=True)
    elapsed = clock.perf_counter() - started
    assert sum(line.ok for line in done) > 400
    assert activities.counters_match(db) == []
    assert elapsed < 5  # the bench measures it; here only a gross regression fails


def test_month_view_queries_do_not_grow_with_days_or_children(app, db, town, monday):
    from sqlalchemy import event

    from citoyen.db import engine

    counts = []

    def count(children):
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        fresh(db)
        children = agenda.children_of(db, town.parent)[:len(children)]
        event.listen(engine(app), "before_cursor_execute", listener)
        try:
            agenda.month_view(db, children, monday.year, monday.month)
        finally:
            event.remove(engine(app), "before_cursor_execute", listener)
        return len(seen)

    counts.append(count([town.leo]))
    agenda.bulk(db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id], monday,
                monday + timedelta(days=20), range(5), "create", BASE_URL, apply=True)
    counts.append(count([town.leo, town.ines]))
    assert counts[0] == counts[1] <= 7, counts


def test_booking_leaves_the_callers_objects_in_its_session(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    assert town.leo in db and town.canteen in db
    town.leo.class_name = "CM1"
    db.commit()
    fresh(db)
    assert db.get(type(town.leo), town.leo.id).class_name == "CM1"


def test_bulk_booking_leaves_the_days_of_a_declared_absence_alone(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday + timedelta(days=7))
    agenda.declare_absence(db, town.parent, town.leo.id, monday + timedelta(days=7), monday + timedelta(days=7),
                           "school", "Classe verte", BASE_URL)
    lines = agenda.bulk(db, town.parent, [town.leo.id], [town.canteen.id], monday, monday + timedelta(days=13),
                        [0], "create", BASE_URL, apply=True)
    outcome = {line.day: (line.ok, line.why) for line in lines}
    assert outcome[monday] == (True, "")
    assert outcome[monday + timedelta(days=7)] == (False, "absence déclarée (Sortie ou classe de découverte)")
    fresh(db)
    still = db.scalar(select(Booking).where(Booking.day == monday + timedelta(days=7)))
    assert still.status == "cancelled" and still.absence_id is not None


def test_an_absence_takes_a_child_off_the_waiting_list_without_billing_it(db, town, monday, make_account):
    town.canteen.default_capacity = 1
    db.commit()
    other = make_account(email="autre@example.org")
    family = household(db, town.organisation, "Durand", ["Zoé"], account=other)
    enrol(db, family.children[0], town.canteen)
    agenda.book(db, other, family.children[0].id, town.canteen.id, monday)
    waiting = agenda.join_waiting_list(db, town.parent, town.leo.id, town.canteen.id, monday)
    assert waiting.status == "waiting"
    agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "family", "", BASE_URL)
    fresh(db)
    row = db.get(Booking, waiting.id)
    assert (row.status, row.absence_id) == ("cancelled", None)


def test_the_weeks_counts_from_the_months_bookings_are_those_read(db, town, monday):
    """The week's counts of the agenda page come from the month it read when
    the month holds the whole week (the usual page); they are the counts read
    on their own, whatever the day, the month shown and the children shown."""
    booked = set()
    for child, offset in ((town.leo, 0), (town.leo, 1), (town.leo, 3), (town.ines, 2), (town.leo, 7),
                          (town.ines, 8), (town.leo, -4)):
        try:
            agenda.book(db, town.parent, child.id, town.canteen.id, monday + timedelta(days=offset))
            booked.add((child.id, offset))
        except DomainError:  # a holiday, some years
            pass
    if (town.leo.id, 1) in booked:
        agenda.cancel(db, town.parent, town.leo.id, town.canteen.id, monday + timedelta(days=1), BASE_URL)
        booked.discard((town.leo.id, 1))
    children = [town.leo, town.ines]
    counted_from_month = 0
    for today in (monday + timedelta(days=n) for n in range(-10, 24)):
        read = agenda.week_summary(db, children, today)
        for shown in (children, [town.ines]):
            for month_day in (today, today + timedelta(days=31)):
                data = agenda.read_month(db, shown, month_day.year, month_day.month, at(today))
                assert agenda.week_summary(db, children, today, month=data) == read, (today, shown, month_day)
        sunday = today + timedelta(days=6 - today.weekday())
        counted_from_month += (today - timedelta(days=today.weekday())).month == sunday.month
    assert counted_from_month  # the month's own path was taken
    leo_this_week = sum(1 for child_id, offset in booked if child_id == town.leo.id and 0 <= offset < 7)
    assert leo_this_week >= 1  # Monday is never a holiday
    assert dict(agenda.week_summary(db, children, monday))[town.leo] == leo_this_week


def test_an_absence_on_a_day_begun_gives_its_place_to_no_one(db, town, monday, make_account):
    town.canteen.default_capacity = 1
    db.commit()
    other = make_account(email="autre@example.org")
    family = household(db, town.organisation, "Durand", ["Zoé"], account=other)
    enrol(db, family.children[0], town.canteen)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    waiting = agenda.join_waiting_list(db, other, family.children[0].id, town.canteen.id, monday)
    # Declared on the day itself: nobody is given that day (they could no longer cancel it).
    agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "", BASE_URL,
                           now=at(monday, 10))
    fresh(db)
    assert db.get(Booking, waiting.id).status == "waiting"
    assert slot_of(db, town.canteen, monday).booked == 0
    assert db.scalar(select(Notification).where(Notification.subject.like("Place libérée%"))) is None


def test_an_absence_sent_twice_is_recorded_once(db, town, monday):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, town.parent, town.leo.id, town.morning.id, monday)
    first, count = agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre",
                                          BASE_URL, activity_ids=[town.canteen.id])
    again, count_again = agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness",
                                                "Fièvre", BASE_URL, activity_ids=[town.canteen.id])
    assert (again.id, count_again) == (first.id, count) == (first.id, 1)
    # The same words for the other activity a moment later: a declaration of its own.
    other, cancelled = agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "Fièvre",
                                              BASE_URL, activity_ids=[town.morning.id])
    assert other.id != first.id and cancelled == 1
    assert db.scalar(select(func.count()).select_from(Absence)) == 2
