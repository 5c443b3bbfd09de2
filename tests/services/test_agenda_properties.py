"""Property tests: deadlines, and the counters under any sequence of actions."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy import select

from citoyen.models import Booking
from citoyen.models import Slot
from citoyen.services import activities
from citoyen.services import agenda
from citoyen.services.booking_rules import Deadline
from citoyen.services.booking_rules import days_before
from citoyen.services.booking_rules import is_working_day
from citoyen.services.booking_rules import public_holiday
from citoyen.services.errors import DomainError
from citoyen.timefmt import PARIS
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.conftest import fresh

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
clock = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(day=days, count=st.integers(0, 10), at=clock)
def test_working_days_deadline_is_a_working_day_n_working_days_before(day, count, at):
    limit = Deadline("days", days=count, at=at, working_days=True).limit(day, time(11, 45))
    assert limit.time() == at
    if count:
        assert is_working_day(limit.date())
        between = [limit.date() + timedelta(days=i) for i in range(1, (day - limit.date()).days)]
        assert sum(is_working_day(d) for d in between) == count - 1
    else:
        assert limit.date() == day


@given(day=days, count=st.integers(0, 30), at=clock)
def test_calendar_days_deadline(day, count, at):
    limit = Deadline("days", days=count, at=at).limit(day, time(11, 45))
    assert limit == datetime.combine(day - timedelta(days=count), at)


@given(day=days, hours=st.integers(0, 200), start=clock)
def test_hours_deadline(day, hours, start):
    """« N h avant le début » is N hours gone by, whatever the changes of time between."""
    limit = Deadline("hours", hours=hours).limit(day, start)
    begins = datetime.combine(day, start, PARIS)
    # A local time lived twice (the night summer time ends) stands for either of its instants.
    instants = {limit.replace(tzinfo=PARIS, fold=fold).astimezone(UTC) for fold in (0, 1)}
    assert begins.astimezone(UTC) - timedelta(hours=hours) in instants
    if limit.replace(tzinfo=PARIS).utcoffset() == begins.utcoffset():
        assert datetime.combine(day, start) - limit == timedelta(hours=hours)


@given(day=days, weekday=st.integers(0, 6), at=clock)
def test_weekly_deadline_falls_in_the_previous_week(day, weekday, at):
    limit = Deadline("week", days=weekday, at=at).limit(day, time(8))
    monday = day - timedelta(days=day.weekday())
    assert limit.date().weekday() == weekday
    assert monday - timedelta(days=7) <= limit.date() < monday


def test_working_days_skip_weekends_and_public_holidays():
    # Monday 2 November 2026, the day before at noon in working days: Friday 30 October.
    assert days_before(date(2026, 11, 2), 1, True) == date(2026, 10, 30)
    # Thursday 12 November 2026: Wednesday 11 is Armistice, so Tuesday 10.
    assert public_holiday(date(2026, 11, 11)) == "Armistice"
    assert days_before(date(2026, 11, 12), 1, True) == date(2026, 11, 10)


@given(now=st.datetimes(min_value=datetime(2027, 2, 1), max_value=datetime(2027, 3, 16)),
       count=st.integers(0, 5), working=st.booleans())
def test_the_agenda_offers_booking_exactly_until_the_limit(now, count, working):
    """The state a family sees and the limit agree, at every moment."""
    from citoyen.models import Activity
    from citoyen.models import Child
    from citoyen.models import Enrolment

    day = date(2027, 3, 15)
    activity = Activity(id=1, organisation_id=1, site_id=1, weekdays="01234", start_time=time(11, 45),
                        default_capacity=5, school_holidays="ignore", book_kind="days", book_days=count,
                        book_time=time(12, 0), book_hours=0, cancel_kind="days", cancel_days=count,
                        cancel_hours=0, cancel_time=time(12, 0), working_days=working, opens_days_ahead=365)
    child = Child(id=1, household_id=1, first_name="Léo")
    ctx = agenda.Context(now=now)
    ctx.enrolments[1] = [Enrolment(child_id=1, activity_id=1, start_date=day, end_date=day,
                                   status="validated")]
    limit = agenda.book_rule(activity).limit(day, activity.start_time)
    state = agenda.assess(ctx, child, activity, day).state
    assert state == ("bookable" if now <= limit else "late")


actions = st.lists(
    st.tuples(st.sampled_from(["book", "cancel", "wait"]), st.integers(0, 5), st.integers(0, 2)),
    min_size=1, max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions, capacity=st.integers(0, 3))
def test_capacity_is_never_exceeded_and_counters_equal_the_bookings(app, db, steps, capacity):
    fresh(db)
    db.execute(delete(Booking))
    db.execute(delete(Slot))
    db.commit()
    town = getattr(app, "_agenda_town", None)
    if town is None:
        town = build_town(db)
        from tests.agenda_helpers import enrol
        from tests.agenda_helpers import household

        extra = household(db, town.organisation, name="Autres", children=("A", "B", "C", "D"),
                          account=town.parent)
        for child in extra.children:
            enrol(db, child, town.canteen)
        app._agenda_town = town
        app._agenda_children = [town.leo.id, town.ines.id] + [c.id for c in extra.children]
    town.canteen.default_capacity = capacity
    db.merge(town.canteen)
    db.commit()
    children = app._agenda_children
    first = next_weekday(0)
    days_ = [first, first + timedelta(days=1), first + timedelta(days=3)]
    for action, child_index, day_index in steps:
        child_id, day = children[child_index], days_[day_index]
        try:
            if action == "book":
                agenda.book(db, town.parent, child_id, town.canteen.id, day)
            elif action == "wait":
                agenda.join_waiting_list(db, town.parent, child_id, town.canteen.id, day)
            else:
                agenda.cancel(db, town.parent, child_id, town.canteen.id, day, BASE_URL)
        except DomainError:
            db.rollback()
    fresh(db)
    assert activities.counters_match(db) == []
    for slot in db.scalars(select(Slot)):
        assert slot.booked <= slot.capacity
        waiting = db.scalars(select(Booking).where(Booking.slot_id == slot.id,
                                                   Booking.status == "waiting")).all()
        # No one waits while a place is free.
        assert not waiting or slot.booked == slot.capacity
