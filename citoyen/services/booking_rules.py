"""Booking rules and the days an activity is closed, without the database.

Deadlines are local (Europe/Paris) naive datetimes. Public holidays come from
the ``holidays`` package and the school holidays of a zone from
``vacances-scolaires-france``: both are maintained upstream, so nothing here
is typed by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import lru_cache

# Imported with the module (when a worker starts), not on a family's first
# click: the package loads its every country then, a third of a second.
from holidays.countries import France
from vacances_scolaires_france import SchoolHolidayDates
from vacances_scolaires_france import UnsupportedYearException

from citoyen.models.agenda import RULE_DAYS
from citoyen.models.agenda import RULE_HOURS
from citoyen.models.agenda import RULE_WEEK
from citoyen.timefmt import MONTHS
from citoyen.timefmt import PARIS

WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WEEKDAYS_PLURAL = ("lundis", "mardis", "mercredis", "jeudis", "vendredis", "samedis", "dimanches")


@dataclass(frozen=True)
class Deadline:
    """One rule: N hours before the start, N days before at a time, or a
    weekday of the previous week at a time."""

    kind: str
    hours: int = 0
    days: int = 0
    at: time = time(12, 0)
    working_days: bool = False

    def limit(self, day: date, start: time) -> datetime:
        """The last moment the rule allows, for an activity on ``day`` starting at ``start``.
        « N h avant le début » counts hours gone by: across a change of time
        the limit is an hour earlier or later on the clock."""
        if self.kind == RULE_HOURS:
            begins = datetime.combine(day, start, PARIS).astimezone(UTC)
            return (begins - timedelta(hours=self.hours)).astimezone(PARIS).replace(tzinfo=None)
        if self.kind == RULE_WEEK:
            monday = day - timedelta(days=day.weekday())
            return datetime.combine(monday - timedelta(days=7 - self.days % 7), self.at)
        if self.kind == RULE_DAYS:
            return datetime.combine(days_before(day, self.days, self.working_days), self.at)
        raise ValueError(f"unknown rule {self.kind!r}")

    def describe(self) -> str:
        """The rule in French, for the agents' pages."""
        if self.kind == RULE_HOURS:
            return f"{self.hours} h avant le début"
        if self.kind == RULE_WEEK:
            return f"le {WEEKDAYS[self.days % 7]} de la semaine précédente à {format_clock(self.at)}"
        unit = "jour ouvré" if self.working_days else "jour"
        if self.days == 0:
            return f"le jour même à {format_clock(self.at)}"
        plural = "s" if self.days > 1 else ""
        unit = unit.replace("jour", f"jour{plural}", 1)
        return f"{self.days} {unit} avant, à {format_clock(self.at)}"


def format_clock(value: time) -> str:
    return f"{value.hour} h {value.minute:02d}"


def format_day(day: date) -> str:
    """« lundi 23 novembre 2026 »."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def format_limit(moment: datetime) -> str:
    """« le vendredi 20 novembre 2026 à 12 h 00 »."""
    return f"le {format_day(moment.date())} à {format_clock(moment.time())}"


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    """French public holidays of a year, with their French names."""
    return dict(France(years=year, language="fr"))


def public_holiday(day: date) -> str | None:
    return public_holidays(day.year).get(day)


_SCHOOL = SchoolHolidayDates()

# The zones the package has dates for (``SchoolHolidayDates.SUPPORTED_ZONES``),
# with the words a commune knows them by.
SCHOOL_ZONES = {"A": "Zone A", "B": "Zone B", "C": "Zone C"}


@lru_cache(maxsize=64)
def _school_holidays(year: int, zone: str) -> dict[date, str]:
    """The days of school holidays of ``zone`` in ``year``, with their names
    (empty for years the package has no data for yet)."""
    try:
        days = _SCHOOL.holidays_for_year_and_zone(year, zone)
    except (UnsupportedYearException, ValueError):
        return {}
    return {day: entry["nom_vacances"] for day, entry in days.items()}


def school_holiday(day: date, zone: str) -> str | None:
    """The name of the school holidays of ``zone`` that ``day`` is in, or None."""
    return _school_holidays(day.year, zone).get(day)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and public_holiday(day) is None


def days_before(day: date, count: int, working: bool) -> date:
    """``count`` days before ``day``, counting only working days if asked."""
    if not working:
        return day - timedelta(days=count)
    current = day
    left = count
    while left > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current
