"""A small town with activities, a family and its enrolments, for the agenda tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from citoyen.models import Account
from citoyen.models import Activity
from citoyen.models import Child
from citoyen.models import Enrolment
from citoyen.models import Household
from citoyen.models import HouseholdLink
from citoyen.models import Organisation
from citoyen.models import Site
from citoyen.models.agenda import ENROLMENT_VALIDATED
from citoyen.services.agenda import local_now
from tests import factories

BASE_URL = "http://localhost"
_numbers = itertools.count(1)


@dataclass
class Town:
    organisation: Organisation
    site: Site
    canteen: Activity
    morning: Activity
    household: Household
    parent: Account
    agent: Account
    leo: Child
    ines: Child


def next_weekday(weekday: int, after: date | None = None, weeks: int = 2) -> date:
    """A ``weekday`` (Monday = 0) at least ``weeks`` weeks ahead, never a public holiday."""
    from citoyen.services.booking_rules import public_holiday

    day = (after or local_now().date()) + timedelta(days=7 * weeks)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    while public_holiday(day):
        day += timedelta(days=7)
    return day


def activity(db, organisation, site, **values) -> Activity:
    defaults = {
        "name": "Restauration scolaire", "weekdays": "0134", "start_time": time(11, 45),
        "end_time": time(13, 30), "default_capacity": 10, "school_holidays": "ignore",
        "book_kind": "days", "book_days": 1, "book_time": time(12, 0), "cancel_kind": "days",
        "cancel_days": 1, "cancel_time": time(12, 0), "opens_days_ahead": 365,
    }
    defaults.update(values)
    row = Activity(organisation_id=organisation.id, site_id=site.id, **defaults)
    db.add(row)
    db.commit()
    return row


def enrol(db, child, activity, start=None, end=None, status=ENROLMENT_VALIDATED) -> Enrolment:
    today = local_now().date()
    row = Enrolment(child_id=child.id, activity_id=activity.id, start_date=start or today - timedelta(days=30),
                    end_date=end or today + timedelta(days=330), status=status)
    db.add(row)
    db.commit()
    return row


def household(db, organisation, name="Martin", children=("Léo", "Inès"), account=None) -> Household:
    number = next(_numbers)
    row = Household(organisation_id=organisation.id, name=name, family_number=f"F{number:06d}",
                    subscription_code=f"CODE-TEST-{number:04d}")
    for i, first in enumerate(children):
        row.children.append(Child(first_name=first, last_name=name, birth_date=date(2016 + i, 3, 8)))
    db.add(row)
    db.commit()
    if account is not None:
        db.add(HouseholdLink(account_id=account.id, household_id=row.id, method="code"))
        db.commit()
    return row


def build_town(db, parent=None, agent=None) -> Town:
    organisation = factories.organisation(db)
    site = Site(organisation_id=organisation.id, name="École Jules-Ferry")
    db.add(site)
    db.commit()
    canteen = activity(db, organisation, site)
    morning = activity(db, organisation, site, name="Accueil matin", start_time=time(7, 30),
                       end_time=time(8, 30), weekdays="01234", default_capacity=20)
    parent = parent or factories.account(db, email="parent.agenda@example.org")
    agent = agent or factories.account(db, email="agent.agenda@example.org", role="agent")
    family = household(db, organisation, account=parent)
    leo, ines = family.children
    for child in (leo, ines):
        enrol(db, child, canteen)
    enrol(db, leo, morning)
    return Town(organisation, site, canteen, morning, family, parent, agent, leo, ines)


def at(day: date, hour: int = 8, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


def one_place_and_zoe(db, town: Town, account: Account) -> Child:
    """The canteen down to one place a day, and Zoé of the Durand family
    (``account`` subscribed to it) enrolled in it: the family in line."""
    town.canteen.default_capacity = 1
    db.commit()
    durand = household(db, town.organisation, name="Durand", children=("Zoé",), account=account)
    zoe = durand.children[0]
    enrol(db, zoe, town.canteen)
    return zoe
