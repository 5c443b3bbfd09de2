"""The commune's school-holiday zone: who may set it, which values it takes,
the audit row, and the agenda days it closes."""

from __future__ import annotations

from datetime import date
from datetime import time

import pytest
from sqlalchemy import select
from vacances_scolaires_france import SchoolHolidayDates

from citoyen.models import AuditEntry
from citoyen.models import Organisation
from citoyen.services import agenda
from citoyen.services import audit
from citoyen.services import organisations
from citoyen.services.booking_rules import SCHOOL_ZONES
from citoyen.services.booking_rules import school_holiday
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from tests.agenda_helpers import activity
from tests.agenda_helpers import at
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.conftest import fresh

# From the package's data: winter holidays 2027 start in zone A on Saturday
# 13 February and end in zone B on Sunday 7 March.
ZONE_A_ONLY = date(2027, 2, 15)  # a Monday
ZONE_B_ONLY = date(2027, 3, 1)  # a Monday


@pytest.fixture
def town(db, agent):
    return build_town(db, agent=agent)


@pytest.fixture
def evening(db, town):
    return closing_activity(db, town)


def closing_activity(db, town):
    """An activity that closes during the school holidays, Léo enrolled all winter."""
    act = activity(db, town.organisation, town.site, name="Accueil soir 1", start_time=time(16, 30),
                   end_time=time(18, 0), weekdays="01234", school_holidays="closed")
    enrol(db, town.leo, act, start=date(2027, 1, 4), end=date(2027, 3, 31))
    return act


def state_on(db, child, act, day: date) -> agenda.Cell:
    """The cell the family sees in the month agenda, well before the day."""
    fresh(db)
    month = agenda.month_view(db, [child], day.year, day.month, now=at(date(2027, 1, 4)))
    (found,) = [cell for week in month.weeks for entry in week if entry is not None and entry.day == day
                for cell in entry.cells if cell.activity.id == act.id]
    return found


def zone_of(db, organisation) -> str:
    fresh(db)
    return db.scalar(select(Organisation.school_zone).where(Organisation.id == organisation.id))


def audit_rows(db) -> list[AuditEntry]:
    fresh(db)
    return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_the_zones_offered_are_those_the_package_has_dates_for():
    assert set(SCHOOL_ZONES) == set(SchoolHolidayDates.SUPPORTED_ZONES)
    assert SCHOOL_ZONES == {"A": "Zone A", "B": "Zone B", "C": "Zone C"}


def test_the_chosen_days_differ_between_zones_a_and_b():
    assert school_holiday(ZONE_A_ONLY, "A") and not school_holiday(ZONE_A_ONLY, "B")
    assert school_holiday(ZONE_B_ONLY, "B") and not school_holiday(ZONE_B_ONLY, "A")


def test_changing_the_zone_moves_the_closed_days(db, admin, town, evening):
    assert zone_of(db, town.organisation) == "B"
    assert state_on(db, town.leo, evening, ZONE_A_ONLY).state == agenda.BOOKABLE
    assert state_on(db, town.leo, evening, ZONE_B_ONLY).state == agenda.CLOSED

    organisations.set_school_zone(db, admin, town.organisation, "A")

    closed = state_on(db, town.leo, evening, ZONE_A_ONLY)
    assert closed.state == agenda.CLOSED and closed.detail == "Vacances d'hiver"
    assert state_on(db, town.leo, evening, ZONE_B_ONLY).state == agenda.BOOKABLE
    # An activity that ignores the school holidays stays open.
    ignoring = activity(db, town.organisation, town.site, name="Accueil matin 2", weekdays="01234")
    enrol(db, town.leo, ignoring, start=date(2027, 1, 4), end=date(2027, 3, 31))
    assert state_on(db, town.leo, ignoring, ZONE_A_ONLY).state == agenda.BOOKABLE


def test_a_change_writes_an_audit_row_naming_both_zones(db, admin, town):
    organisations.set_school_zone(db, admin, town.organisation, "C")

    (entry,) = audit_rows(db)
    assert entry.action == "organisation.school_zone"
    assert audit.label(entry.action) == "Zone de vacances scolaires de la commune"
    assert (entry.target_type, entry.target_id) == ("organisation", town.organisation.id)
    assert entry.actor_id == admin.id
    assert entry.details == "Zone B → Zone C"


def test_the_same_zone_again_writes_no_audit_row(db, admin, town):
    organisations.set_school_zone(db, admin, town.organisation, " b ")

    assert zone_of(db, town.organisation) == "B"
    assert audit_rows(db) == []


def test_a_zone_typed_in_lower_case_is_understood(db, admin, town):
    organisations.set_school_zone(db, admin, town.organisation, " a ")

    assert zone_of(db, town.organisation) == "A"


@pytest.mark.parametrize("zone", ["", "D", "AB", "Corse", "Zone A", None])
def test_an_unknown_zone_is_refused_and_nothing_changes(db, admin, town, zone):
    with pytest.raises(DomainError) as caught:
        organisations.set_school_zone(db, admin, town.organisation, zone)

    assert caught.value.field == "school_zone"
    assert caught.value.message == (
        "Choisissez la zone de vacances scolaires de la commune : Zone A, Zone B ou Zone C."
    )
    assert zone_of(db, town.organisation) == "B"
    assert audit_rows(db) == []


def test_only_administrators_set_the_zone(db, agent, town):
    with pytest.raises(Forbidden):
        organisations.set_school_zone(db, agent, town.organisation, "A")

    assert zone_of(db, town.organisation) == "B"
    assert audit_rows(db) == []
