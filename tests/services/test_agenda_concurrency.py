"""Many parents click the last places at once: capacity is never exceeded and
no one gets an error other than « Complet ». Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.db import new_session
from citoyen.models import Booking
from citoyen.models import Slot
from citoyen.services import activities
from citoyen.services import agenda
from citoyen.services.errors import DomainError
from tests import factories
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.conftest import fresh

THREADS = 24
PER_THREAD = 8  # 192 clicks in all


def run_together(app, work, count=THREADS):
    barrier = threading.Barrier(count)
    results, errors = [], []
    lock = threading.Lock()

    def runner(i):
        with new_session(app) as session:
            barrier.wait()
            for outcome in work(session, i):
                with lock:
                    results.append(outcome)

    def guarded(i):
        try:
            runner(i)
        except Exception as error:  # noqa: BLE001 - any error other than a domain one fails the test
            with lock:
                errors.append(repr(error))

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results, errors


@pytest.fixture
def crowd(db):
    """A town whose canteen has 10 places, and 192 children enrolled in it."""
    town = build_town(db)
    children = []
    for i in range(THREADS):
        parent = factories.account(db, email=f"parent{i}@example.org", password=None)
        family = household(db, town.organisation, name=f"Famille{i:02d}",
                           children=[f"Enfant{j}" for j in range(PER_THREAD)], account=parent)
        for child in family.children:
            enrol(db, child, town.canteen)
        children.append((parent, [c.id for c in family.children]))
    return town, children


def test_hundreds_of_clicks_on_the_last_places_never_overbook(app, db, crowd):
    town, families = crowd
    day = next_weekday(0)

    def click(session, i):
        parent, child_ids = families[i]
        for child_id in child_ids:
            try:
                yield agenda.book(session, parent, child_id, town.canteen.id, day).status
            except DomainError as error:
                session.rollback()
                yield type(error).__name__

    results, errors = run_together(app, click)
    assert errors == []
    assert results.count("booked") == 10
    assert results.count("SlotFull") == THREADS * PER_THREAD - 10
    fresh(db)
    slot = db.scalar(select(Slot).where(Slot.activity_id == town.canteen.id, Slot.day == day))
    assert slot.booked == 10
    assert len(db.scalars(select(Booking).where(Booking.status == "booked")).all()) == 10
    assert activities.counters_match(db) == []


def test_simultaneous_cancellations_and_bookings_keep_the_counter_right(app, db, crowd):
    town, families = crowd
    day = next_weekday(1)
    for parent, child_ids in families[:10]:
        agenda.book(db, parent, child_ids[0], town.canteen.id, day)
    for parent, child_ids in families[10:]:
        agenda.join_waiting_list(db, parent, child_ids[0], town.canteen.id, day)

    def work(session, i):
        parent, child_ids = families[i]
        try:
            if i < 10:
                agenda.cancel(session, parent, child_ids[0], town.canteen.id, day, BASE_URL)
                yield "cancelled"
            else:
                yield agenda.book(session, parent, child_ids[1], town.canteen.id, day).status
        except DomainError as error:
            session.rollback()
            yield type(error).__name__

    results, errors = run_together(app, work)
    assert errors == []
    assert results.count("cancelled") == 10
    fresh(db)
    slot = db.scalar(select(Slot).where(Slot.activity_id == town.canteen.id, Slot.day == day))
    assert slot.booked <= slot.capacity
    assert activities.counters_match(db) == []
    # Every place freed went to the first in line: the waiting list is served before new clicks.
    promoted = db.scalars(select(Booking).where(Booking.status == "booked")).all()
    assert len(promoted) == slot.booked == 10


def test_a_double_click_from_two_tabs_books_once(app, db, crowd):
    town, families = crowd
    day = next_weekday(3)
    parent, child_ids = families[0]

    def click(session, i):
        yield agenda.book(session, parent, child_ids[0], town.canteen.id, day).status

    results, errors = run_together(app, click, count=8)
    assert errors == []
    assert results == ["booked"] * 8
    fresh(db)
    slot = db.scalar(select(Slot).where(Slot.activity_id == town.canteen.id, Slot.day == day))
    assert slot.booked == 1
    assert activities.counters_match(db) == []


def test_simultaneous_bulk_bookings_never_overbook(app, db, crowd):
    town, families = crowd
    start = next_weekday(0)
    end = start + timedelta(days=27)

    def bulk(session, i):
        parent, child_ids = families[i]
        try:
            lines = agenda.bulk(session, parent, child_ids[:2], [town.canteen.id], start, end, [0, 1, 3, 4],
                                "create", BASE_URL, apply=True)
            yield sum(line.ok for line in lines)
        except DomainError as error:
            session.rollback()
            yield type(error).__name__

    results, errors = run_together(app, bulk, count=12)
    assert errors == []
    fresh(db)
    for slot in db.scalars(select(Slot).where(Slot.activity_id == town.canteen.id)):
        assert slot.booked == slot.capacity == 10
    assert activities.counters_match(db) == []
    assert sum(r for r in results if isinstance(r, int)) == 10 * len(
        db.scalars(select(Slot).where(Slot.activity_id == town.canteen.id)).all())
