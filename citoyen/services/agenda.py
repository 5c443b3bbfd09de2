"""The agenda of the families: enrol a child, book and cancel days, the
waiting list, absences, bulk booking, and the month view.

Capacity is never exceeded: a place is taken by one guarded UPDATE of the
slot's counter (``booked = booked + 1 WHERE booked < capacity``) in the same
transaction as the booking row, never by counting and then inserting."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import NamedTuple

from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen import filecheck
from citoyen.models import Absence
from citoyen.models import Account
from citoyen.models import Activity
from citoyen.models import Booking
from citoyen.models import Child
from citoyen.models import Closure
from citoyen.models import Enrolment
from citoyen.models import Household
from citoyen.models import HouseholdLink
from citoyen.models import LedgerEntry
from citoyen.models import Organisation
from citoyen.models import Slot
from citoyen.models.agenda import BOOKING_BOOKED
from citoyen.models.agenda import BOOKING_CANCELLED
from citoyen.models.agenda import BOOKING_WAITING
from citoyen.models.agenda import ENROLMENT_PENDING
from citoyen.models.agenda import ENROLMENT_REFUSED
from citoyen.models.agenda import ENROLMENT_VALIDATED
from citoyen.models.agenda import HOLDS_A_PLACE
from citoyen.models.base import utcnow
from citoyen.services import audit
from citoyen.services import households
from citoyen.services import notifications
from citoyen.services import sql
from citoyen.services.booking_rules import WEEKDAYS
from citoyen.services.booking_rules import Deadline
from citoyen.services.booking_rules import format_day
from citoyen.services.booking_rules import format_limit
from citoyen.services.booking_rules import public_holiday
from citoyen.services.booking_rules import school_holiday
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.timefmt import MONTHS
from citoyen.timefmt import PARIS
from citoyen.transactions import begin_write
from citoyen.wording import of

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_PERIOD_DAYS = 400  # a school year and a little more

ABSENCE_MOTIVES = {
    "illness": "Maladie",
    "family": "Raison familiale",
    "school": "Sortie ou classe de découverte",
    "other": "Autre motif",
}

# Cell states of the month view, and how each reads (never by colour alone).
BOOKED = "booked"
WAITING = "waiting"
BOOKABLE = "bookable"
FULL = "full"
CLOSED = "closed"
LATE = "late"
NOT_OPEN = "not_open"
NOT_ENROLLED = "not_enrolled"
ENROLMENT_WAITING = "enrolment_waiting"
ABSENT = "absent"

STATE_LABELS = {
    BOOKED: "Réservé",
    WAITING: "Liste d'attente",
    BOOKABLE: "Non réservé",
    FULL: "Complet",
    CLOSED: "Fermé",
    LATE: "Délai dépassé",
    NOT_OPEN: "Pas encore ouvert",
    NOT_ENROLLED: "Non inscrit",
    ENROLMENT_WAITING: "En attente",
    ABSENT: "Absence déclarée",
}
STATE_ICONS = {
    BOOKED: "✔", WAITING: "◔", BOOKABLE: "○", FULL: "✖", CLOSED: "–", LATE: "◷",
    NOT_OPEN: "…", NOT_ENROLLED: "·", ENROLMENT_WAITING: "◔", ABSENT: "⊘",
}


class DeadlinePassed(DomainError):
    pass


class SlotFull(DomainError):
    pass


class Closed(DomainError):
    pass


class MissingDocuments(DomainError):
    """Enrolment needs documents the family has not provided (or not yet had validated)."""


class NotEnrolled(DomainError):
    pass


def local_now() -> datetime:
    """Now, in the commune's time zone, without tzinfo (deadlines are local)."""
    return datetime.now(PARIS).replace(tzinfo=None)


@lru_cache(maxsize=65536)
def rule_limit(rule: Deadline, day: date, start: time) -> datetime:
    """``rule.limit``, worked out once per rule and day (it depends on nothing else)."""
    return rule.limit(day, start)


def book_rule(activity: Activity) -> Deadline:
    return Deadline(activity.book_kind, activity.book_hours, activity.book_days,
                    activity.book_time, activity.working_days)


def cancel_rule(activity: Activity) -> Deadline:
    return Deadline(activity.cancel_kind, activity.cancel_hours, activity.cancel_days,
                    activity.cancel_time, activity.working_days)


def check_day(day: date | None, field: str | None = None) -> date:
    if day is None or not (EARLIEST <= day <= LATEST):
        raise DomainError("Cette date n'est pas valide : choisissez un jour de l'année scolaire.", field)
    return day


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_day(value: str) -> date:
    """A day written as in the portal's addresses, 2026-09-14 (and only so:
    one address per day, not « 20260914 » or « 2026-W38-1 »)."""
    try:
        if not _ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return check_day(date.fromisoformat(value))
    except (TypeError, ValueError):
        raise DomainError("Cette date n'est pas valide : choisissez un jour de l'année scolaire.") from None


def check_period(start: date | None, end: date | None) -> tuple[date, date]:
    check_day(start, "start_date")
    check_day(end, "end_date")
    if end < start:
        raise DomainError("La fin de la période doit être après son début.", "end_date")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise DomainError("La période ne peut pas dépasser une année scolaire.", "end_date")
    return start, end


# ---------------------------------------------------------------- who may act for whom

def children_of(session: Session, actor: Account) -> list[Child]:
    """The validated children of the households the account is subscribed to."""
    return list(session.scalars(
        select(Child)
        .join(HouseholdLink, HouseholdLink.household_id == Child.household_id)
        .where(HouseholdLink.account_id == actor.id, Child.status == "validated")
        .order_by(Child.birth_date, Child.id)
    ))


def child_for(session: Session, actor: Account, child_id: int) -> Child:
    """A child the actor may act for: an agent, or a subscribed account.
    Another family's child does not exist for a parent."""
    child = session.get(Child, child_id) if child_id else None
    if child is None or child.status != "validated":
        raise NotFound("Cet enfant n'existe pas.")
    if actor.is_agent:
        return child
    households.household_for(session, actor, child.household_id)  # raises NotFound
    return child


def activity_for(session: Session, child: Child, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or activity.organisation_id != session.get(Household, child.household_id).organisation_id:
        raise NotFound("Cette activité n'existe pas.")
    return activity


def _activity_of_any(session: Session, children: list[Child], activity_id: int) -> Activity:
    """An activity of the commune of one of ``children`` (a family may live in
    two communes); the others' lines say « Non inscrit »."""
    communes = set(session.scalars(select(Household.organisation_id)
                                   .where(Household.id.in_({c.household_id for c in children}))))
    activity = session.get(Activity, activity_id)
    if activity is None or activity.organisation_id not in communes:
        raise NotFound("Cette activité n'existe pas.")
    return activity


def activities_for_children(session: Session, children: Iterable[Child]) -> list[Activity]:
    household_ids = {c.household_id for c in children}
    if not household_ids:
        return []
    return list(session.scalars(
        select(Activity)
        .join(Household, Household.organisation_id == Activity.organisation_id)
        .where(Household.id.in_(household_ids), Activity.archived.is_(False))
        .distinct()
        .order_by(Activity.start_time, Activity.name)
    ))


# ---------------------------------------------------------------- what the agenda knows

# What a cell offers to do, by state: the button's words and the action's last path segment.
CELL_ACTIONS = {
    BOOKABLE: ("Réserver", "reservation"),
    WAITING: ("Quitter la liste d'attente", "annulation"),
    FULL: ("Liste d'attente", "attente"),
}
CANCEL_ACTION = ("Annuler", "annulation")


class Cell:
    """One child, one activity, one day, as the family sees it. The strings
    the page shows are worked out once here, so that a month of cells renders
    with plain lookups."""

    __slots__ = ("child", "activity", "day", "state", "detail", "position", "can_cancel", "message",
                 "dom_id", "name", "child_name", "label", "icon", "verb", "action", "short_day")

    def __init__(self, child: Child, activity: Activity, day: date, state: str, detail: str = "",
                 position: int | None = None, can_cancel: bool = False, message: str = "") -> None:
        self.child = child
        self.activity = activity
        self.day = day
        self.state = state
        self.detail = detail
        self.position = position  # in the waiting list
        self.can_cancel = can_cancel
        self.message = message  # a refusal to show in the cell
        self.dom_id = f"c{child.id}-a{activity.id}-{day.year:04d}{day.month:02d}{day.day:02d}"
        self.name = activity.name
        self.child_name = child.first_name
        self.label = STATE_LABELS[state]
        self.icon = STATE_ICONS[state]
        self.short_day = f"{day.day}/{day.month}"
        verb_action = CANCEL_ACTION if state == BOOKED and can_cancel else CELL_ACTIONS.get(state)
        if verb_action:
            self.verb = verb_action[0]
            # The address of the action (« /agenda/<child>/<day>/<activity>/reservation »).
            self.action = f"/agenda/{child.id}/{day.isoformat()}/{activity.id}/{verb_action[1]}"
        else:
            self.verb = self.action = ""

    @property
    def primary(self) -> bool:
        """Booking is the main action; the others are secondary buttons."""
        return self.state == BOOKABLE


class EnrolmentRow(NamedTuple):
    activity_id: int
    start_date: date
    end_date: date
    status: str


class ClosureRow(NamedTuple):
    organisation_id: int
    site_id: int | None
    activity_id: int | None
    start_date: date
    end_date: date
    reason: str


class SlotRow(NamedTuple):
    id: int
    capacity: int
    booked: int


class BookingRow(NamedTuple):
    id: int
    slot_id: int
    child_id: int
    activity_id: int
    day: date
    status: str
    motive: str | None


@dataclass
class Context:
    """Everything the rules need for some children over some days, read in a
    fixed number of queries (whatever the number of days or children).
    Closures, slots and bookings are plain rows (read-only, cheap to load)."""

    now: datetime
    zones: dict[int, str] = field(default_factory=dict)  # household id → school zone
    enrolments: dict[int, list[Enrolment]] = field(default_factory=lambda: defaultdict(list))
    closures: list = field(default_factory=list)
    slots: dict[tuple[int, date], object] = field(default_factory=dict)  # rows: id, capacity, booked
    bookings: dict[tuple[int, int, date], object] = field(default_factory=dict)  # rows: id, slot_id, status
    positions: dict[int, int] = field(default_factory=dict)  # booking id → place in line
    rules: dict[int, tuple[Deadline, Deadline]] = field(default_factory=dict)  # activity id → book, cancel
    # The full days, (activity id, day): from ``slots``, or read alone for the month.
    full: set[tuple[int, date]] = field(default_factory=set)
    # The first moment after ``now`` at which a deadline met so far passes.
    next_change: datetime | None = None

    def deadline(self, limit: datetime) -> datetime:
        """Note a deadline the states depend on; returns it."""
        if limit >= self.now and (self.next_change is None or limit < self.next_change):
            self.next_change = limit
        return limit

    def rules_of(self, activity: Activity) -> tuple[Deadline, Deadline]:
        rules = self.rules.get(activity.id)
        if rules is None:
            rules = self.rules[activity.id] = (book_rule(activity), cancel_rule(activity))
        return rules


def load_context(session: Session, children: list[Child], start: date, end: date,
                 now: datetime | None = None, activity_ids: Iterable[int] | None = None,
                 enrolments: Iterable[Enrolment] | None = None, zones: dict[int, str] | None = None) -> Context:
    """``enrolments`` (all those of the children, already read) and ``zones``
    spare their queries when the caller has them."""
    ctx = Context(now=now or local_now())
    if not children:
        return ctx
    child_ids = [c.id for c in children]
    household_ids = {c.household_id for c in children}
    if zones is None or not household_ids <= zones.keys():
        rows = session.execute(
            select(Household.id, Household.organisation_id, Organisation.school_zone)
            .join(Organisation, Organisation.id == Household.organisation_id)
            .where(Household.id.in_(household_ids))
        ).all()
        zones = {hid: zone for hid, _org, zone in rows}
        organisation_ids = {org for _hid, org, _zone in rows}
    else:
        organisation_ids = None
    ctx.zones = zones
    wanted = set(activity_ids) if activity_ids is not None else None
    if enrolments is None:
        query = select(Enrolment).where(
            Enrolment.child_id.in_(child_ids),
            Enrolment.status.in_((ENROLMENT_PENDING, ENROLMENT_VALIDATED)),
            Enrolment.start_date <= end, Enrolment.end_date >= start,
        )
        if wanted is not None:
            query = query.where(Enrolment.activity_id.in_(list(wanted)))
        enrolments = session.scalars(query)
    for enrolment in sorted(enrolments, key=lambda e: e.id):
        if enrolment.status in (ENROLMENT_PENDING, ENROLMENT_VALIDATED) and enrolment.start_date <= end \
                and enrolment.end_date >= start and (wanted is None or enrolment.activity_id in wanted):
            ctx.enrolments[enrolment.child_id].append(enrolment)
    if organisation_ids is None:
        organisation_ids = {e.activity.organisation_id for es in ctx.enrolments.values() for e in es}
    if organisation_ids:
        ctx.closures = session.execute(
            select(Closure.organisation_id, Closure.site_id, Closure.activity_id, Closure.start_date,
                   Closure.end_date, Closure.reason)
            .where(Closure.organisation_id.in_(organisation_ids), Closure.start_date <= end,
                   Closure.end_date >= start)).all()
    activity_set = {e.activity_id for es in ctx.enrolments.values() for e in es}
    if activity_set:
        for slot in session.execute(
                select(Slot.id, Slot.activity_id, Slot.day, Slot.capacity, Slot.booked)
                .where(Slot.activity_id.in_(activity_set), Slot.day >= start, Slot.day <= end)):
            ctx.slots[(slot.activity_id, slot.day)] = slot
            if slot.booked >= slot.capacity:
                ctx.full.add((slot.activity_id, slot.day))
    waiting_slots = set()
    for booking in session.execute(
            select(Booking.id, Booking.slot_id, Booking.child_id, Booking.activity_id, Booking.day,
                   Booking.status, Absence.motive)
            .outerjoin(Absence, Absence.id == Booking.absence_id)
            .where(Booking.child_id.in_(child_ids), Booking.day >= start, Booking.day <= end)):
        ctx.bookings[(booking.child_id, booking.activity_id, booking.day)] = booking
        if booking.status == BOOKING_WAITING:
            waiting_slots.add(booking.slot_id)
    if waiting_slots:
        _waiting_positions(session, ctx, waiting_slots)
    return ctx


def _waiting_positions(session: Session, ctx: Context, slot_ids: set[int]) -> None:
    """The place in line of every waiting booking of those slots."""
    counters: dict[int, int] = defaultdict(int)
    for booking_id, slot_id in session.execute(
            select(Booking.id, Booking.slot_id)
            .where(Booking.slot_id.in_(slot_ids), Booking.status == BOOKING_WAITING)
            .order_by(Booking.slot_id, Booking.waiting_since, Booking.id)):
        counters[slot_id] += 1
        ctx.positions[booking_id] = counters[slot_id]


def closure_reason(ctx: Context, child: Child, activity: Activity, day: date) -> str | None:
    """Why the activity is closed that day, or None."""
    holiday = public_holiday(day)
    if holiday:
        return f"jour férié ({holiday})"
    for closure in ctx.closures:
        if closure.start_date <= day <= closure.end_date and closure.organisation_id == activity.organisation_id \
                and closure.site_id in (None, activity.site_id) and closure.activity_id in (None, activity.id):
            return closure.reason
    if activity.school_holidays != "ignore":
        holidays_name = school_holiday(day, ctx.zones.get(child.household_id, "B"))
        if activity.school_holidays == "closed" and holidays_name:
            return holidays_name
        if activity.school_holidays == "only" and not holidays_name:
            return "hors vacances scolaires"
    return None


def activity_closures(session: Session, activity: Activity, start: date, end: date) -> dict[date, str]:
    """Why the activity is closed, for each closed day from ``start`` to ``end``:
    public holidays, the closures agents added, and the school holidays of the
    commune's zone."""
    zone = session.scalar(select(Organisation.school_zone).where(Organisation.id == activity.organisation_id))
    ctx = Context(now=local_now(), zones={0: zone or "B"})
    ctx.closures = session.execute(
        select(Closure.organisation_id, Closure.site_id, Closure.activity_id, Closure.start_date,
               Closure.end_date, Closure.reason)
        .where(Closure.organisation_id == activity.organisation_id, Closure.start_date <= end,
               Closure.end_date >= start)).all()
    anyone = Snapshot(id=0, household_id=0, first_name="")
    closed = {}
    day = start
    while day <= end:
        reason = closure_reason(ctx, anyone, activity, day)
        if reason:
            closed[day] = reason
        day += timedelta(days=1)
    return closed


def enrolment_on(ctx: Context, child: Child, activity: Activity, day: date) -> Enrolment | None:
    found = None
    for enrolment in ctx.enrolments.get(child.id, ()):
        if enrolment.activity_id == activity.id and enrolment.start_date <= day <= enrolment.end_date:
            if enrolment.status == ENROLMENT_VALIDATED:
                return enrolment
            found = enrolment
    return found


def booked_cell(ctx: Context, child: Child, activity: Activity, day: date) -> Cell:
    """A day that holds a place: cancellable until the cancellation deadline."""
    limit = ctx.deadline(rule_limit(ctx.rules_of(activity)[1], day, activity.start_time))
    can_cancel = ctx.now <= limit
    detail = "" if can_cancel else f"Annulation possible jusqu'au {format_limit(limit)[3:]}"
    return Cell(child, activity, day, BOOKED, detail, can_cancel=can_cancel)


def assess(ctx: Context, child: Child, activity: Activity, day: date) -> Cell:
    """The state of one cell, by the same rules that booking applies."""
    enrolment = enrolment_on(ctx, child, activity, day)
    if enrolment is None:
        return Cell(child, activity, day, NOT_ENROLLED)
    if enrolment.status != ENROLMENT_VALIDATED:
        return Cell(child, activity, day, ENROLMENT_WAITING, "Inscription en attente de validation")
    if str(day.weekday()) in activity.weekdays:
        reason = closure_reason(ctx, child, activity, day)
    else:
        # Only the month leaves these days out: an address typed or kept says so too.
        reason = f"l'activité n'ouvre pas le {WEEKDAYS[day.weekday()]}"
    booking = ctx.bookings.get((child.id, activity.id, day))
    status = booking.status if booking is not None else None
    if reason and status not in HOLDS_A_PLACE:
        return Cell(child, activity, day, CLOSED, reason)
    if status in HOLDS_A_PLACE:
        return booked_cell(ctx, child, activity, day)
    if status == BOOKING_WAITING:
        if _unbooked(ctx, child, activity, day).state == BOOKABLE:
            # A place freed on the day itself, when no one in line is promoted:
            # the family in line may take it, as anyone may.
            return Cell(child, activity, day, BOOKABLE, "Une place s'est libérée (vous étiez sur la liste d'attente)")
        return Cell(child, activity, day, WAITING, position=ctx.positions.get(booking.id),
                    can_cancel=True)
    if status == BOOKING_CANCELLED and booking.motive:
        # Cancelled by « Déclarer l'absence d'un enfant »: said as such. The day
        # can be booked again while the booking deadline allows it.
        motive = ABSENCE_MOTIVES.get(booking.motive, booking.motive)
        after = _unbooked(ctx, child, activity, day)
        if after.state == LATE:
            return Cell(child, activity, day, ABSENT, motive)
        said = f"absence déclarée ({motive})"
        after.detail = f"{after.detail} ; {said}" if after.detail else said[0].upper() + said[1:]
        return after
    return _unbooked(ctx, child, activity, day)


def _unbooked(ctx: Context, child: Child, activity: Activity, day: date) -> Cell:
    """A day the child holds no place on: bookable, or why not."""
    limit = ctx.deadline(rule_limit(ctx.rules_of(activity)[0], day, activity.start_time))
    if ctx.now > limit:
        return Cell(child, activity, day, LATE, f"Réservation possible jusqu'au {format_limit(limit)[3:]}")
    opens = ctx.now.date() + timedelta(days=activity.opens_days_ahead)
    if day > opens:
        first = day - timedelta(days=activity.opens_days_ahead)
        return Cell(child, activity, day, NOT_OPEN, f"Réservation ouverte à partir du {format_day(first)}")
    if (activity.id, day) in ctx.full:
        return Cell(child, activity, day, FULL, "Plus de place ce jour-là")
    return Cell(child, activity, day, BOOKABLE)


# ---------------------------------------------------------------- the month

@dataclass
class Day:
    day: date
    cells: list[Cell]

    @property
    def label(self) -> str:
        return format_day(self.day)


@dataclass
class Month:
    year: int
    month: int
    weeks: list[list[Day | None]]
    weekdays: list[int]  # the columns shown (Monday = 0)
    previous: str
    next: str
    valid_until: datetime | None = None

    @property
    def title(self) -> str:
        return f"{MONTHS[self.month - 1].capitalize()} {self.year}"

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_month(value: str | None, today: date) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        if EARLIEST.year <= year <= LATEST.year and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    return today.year, today.month


def month_frame(year: int, month: int, weeks: list | None = None, weekdays: Iterable[int] = range(5)) -> Month:
    """A month with its neighbours (the cells are worked out by ``build_month``)."""
    first = date(year, month, 1)
    previous = first - timedelta(days=1)
    following = first + timedelta(days=calendar.monthrange(year, month)[1])
    return Month(year, month, weeks or [], sorted(weekdays), f"{previous:%Y-%m}", f"{following:%Y-%m}")


# The columns an activity's snapshot carries (the month's and a click's).
_ACTIVITY_COLUMNS = tuple(column.name for column in Activity.__table__.c)
_A = Activity.__table__.c
_SLOT = Slot.__table__.c
_E = Enrolment.__table__.c
_B = Booking.__table__.c
_CL = Closure.__table__.c
_ENROLMENT_ROWS = sql.Prepared(
    select(_E.id, _E.child_id, _E.activity_id, _E.start_date, _E.end_date, _E.status, _E.reason,
           Child.__table__.c.first_name.label("child_name"),
           *(_A[name].label("a_" + name) for name in _ACTIVITY_COLUMNS))
    .join(Activity.__table__, _A.id == _E.activity_id)
    .join(Child.__table__, Child.__table__.c.id == _E.child_id)
    .where(_E.child_id.in_(bindparam("children", expanding=True)))
    .order_by(_E.created_at.desc(), _E.id.desc())
)
_ZONES = sql.Prepared(
    select(Household.__table__.c.id, Organisation.__table__.c.school_zone)
    .join(Organisation.__table__, Organisation.__table__.c.id == Household.__table__.c.organisation_id)
    .where(Household.__table__.c.id.in_(bindparam("households", expanding=True)))
)
_MONTH_CLOSURES = sql.Prepared(
    select(_CL.organisation_id, _CL.site_id, _CL.activity_id, _CL.start_date, _CL.end_date, _CL.reason)
    .where(_CL.organisation_id.in_(bindparam("organisations", expanding=True)),
           _CL.start_date <= bindparam("last", type_=Date), _CL.end_date >= bindparam("first", type_=Date))
    .order_by(_CL.id)
)
_FULL_DAYS = sql.Prepared(
    select(_SLOT.activity_id, _SLOT.day)
    .where(_SLOT.activity_id.in_(bindparam("activities", expanding=True)),
           _SLOT.day >= bindparam("first", type_=Date), _SLOT.day <= bindparam("last", type_=Date),
           _SLOT.booked >= _SLOT.capacity)
    .order_by(_SLOT.activity_id, _SLOT.day)
)
_MONTH_BOOKINGS = sql.Prepared(
    select(_B.id, _B.slot_id, _B.child_id, _B.activity_id, _B.day, _B.status, Absence.__table__.c.motive)
    .outerjoin(Absence.__table__, Absence.__table__.c.id == _B.absence_id)
    .where(_B.child_id.in_(bindparam("children", expanding=True)),
           _B.day >= bindparam("first", type_=Date), _B.day <= bindparam("last", type_=Date))
    .order_by(_B.id)
)
_WEEK_COUNTS = sql.Prepared(
    select(_B.child_id, func.count())
    .where(_B.child_id.in_(bindparam("children", expanding=True)),
           _B.day >= bindparam("first", type_=Date), _B.day <= bindparam("last", type_=Date),
           _B.status.in_(HOLDS_A_PLACE))
    .group_by(_B.child_id)
)


def _read(session: Session, statement: sql.Prepared, params: dict) -> list:
    """Plain rows of a statement built once (no ORM work per row)."""
    return sql.run(session, statement, params).all()


@dataclass
class MonthData:
    """A month of some children's agenda as read, in a fixed number of
    queries. ``inputs`` holds every value its cells are worked out from: two
    reads with equal inputs, on the same day and before the month's
    ``valid_until``, give the same cells."""

    year: int
    month: int
    children: list
    ctx: Context
    activities: dict[int, list[Snapshot]]
    inputs: tuple


def read_month(session: Session, children: list, year: int, month: int, now: datetime | None = None,
               enrolments: list | None = None) -> MonthData:
    """``children``: those shown (objects with ``id``, ``household_id`` and
    ``first_name``, and ``school_zone`` to spare a query); ``enrolments``:
    the rows of ``enrolments_of`` for them (or more), if the caller has read them."""
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    ctx = Context(now=now or local_now())
    child_ids = [c.id for c in children]
    activities: dict[int, list[Snapshot]] = {c.id: [] for c in children}
    if not children:
        return MonthData(year, month, children, ctx, activities, ())
    if all(hasattr(c, "school_zone") for c in children):
        ctx.zones = {c.household_id: c.school_zone for c in children}
    else:
        ctx.zones = dict(_read(session, _ZONES, {"households": sorted({c.household_id for c in children})}))
    if enrolments is None:
        enrolments = enrolments_of(session, children)
    shown = set(child_ids)
    kept = sorted((e for e in enrolments if e.child_id in shown and e.start_date <= last
                   and e.end_date >= first and e.status in (ENROLMENT_PENDING, ENROLMENT_VALIDATED)),
                  key=lambda e: e.id)
    snapshots: dict[int, Snapshot] = {}
    for e in kept:
        ctx.enrolments[e.child_id].append(e)
        activity = snapshots.get(e.activity_id)
        if activity is None:
            activity = snapshots[e.activity_id] = Snapshot(
                **{name: getattr(e, "a_" + name) for name in _ACTIVITY_COLUMNS})
        if activity not in activities[e.child_id]:
            activities[e.child_id].append(activity)
    for acts in activities.values():
        acts.sort(key=lambda a: (a.start_time, a.name))
    period = {"first": first, "last": last}
    if snapshots:
        ctx.closures = _read(session, _MONTH_CLOSURES,
                             {**period, "organisations": sorted({a.organisation_id for a in snapshots.values()})})
        ctx.full = set(map(tuple, _read(session, _FULL_DAYS, {**period, "activities": sorted(snapshots)})))
    waiting_slots = set()
    for booking in _read(session, _MONTH_BOOKINGS, {**period, "children": child_ids}):
        ctx.bookings[(booking.child_id, booking.activity_id, booking.day)] = booking
        if booking.status == BOOKING_WAITING:
            waiting_slots.add(booking.slot_id)
    if waiting_slots:
        _waiting_positions(session, ctx, waiting_slots)
    inputs = (
        tuple((c.id, c.household_id, c.first_name) for c in children),
        tuple(sorted(ctx.zones.items())),
        tuple(tuple(e[:6]) + tuple(e[8:]) for e in kept),
        tuple(map(tuple, ctx.closures)),
        tuple(sorted(ctx.full)),
        tuple(tuple(b) for b in ctx.bookings.values()),
        tuple(sorted(ctx.positions.items())),
    )
    return MonthData(year, month, children, ctx, activities, inputs)


def build_month(data: MonthData) -> Month:
    """The month's cells: each day lists, per child, the activities the child
    is enrolled in that month with their state. ``valid_until``: the first
    moment one of them may change by the clock alone (a deadline, or midnight)."""
    ctx, activities = data.ctx, data.activities
    weekdays = set(range(5))
    for acts in activities.values():
        for activity in acts:
            weekdays.update(int(d) for d in activity.weekdays)
    weeks: list[list[Day | None]] = []
    for week in calendar.Calendar().monthdatescalendar(data.year, data.month):
        row: list[Day | None] = []
        for day in week:
            if day.weekday() not in weekdays:
                continue
            if day.month != data.month:
                row.append(None)
                continue
            weekday = str(day.weekday())
            cells = [assess(ctx, child, activity, day)
                     for child in data.children for activity in activities[child.id] if weekday in activity.weekdays]
            row.append(Day(day, cells))
        weeks.append(row)
    view = month_frame(data.year, data.month, weeks, weekdays)
    midnight = datetime.combine(ctx.now.date() + timedelta(days=1), datetime.min.time())
    view.valid_until = min(midnight, ctx.next_change) if ctx.next_change else midnight
    return view


@dataclass
class MonthPage:
    """What the page « Agenda » shows, as read: the account's children, the
    one selected (or « tous »), its month, this week's counts and every
    enrolment. ``inputs``: everything it is worked out from."""

    children: list[Snapshot]
    selected: str
    data: MonthData
    week: list[tuple[Snapshot, int]]
    enrolments: list
    inputs: tuple


def to_follow(enrolments: list, today: date) -> tuple[list, list, bool]:
    """What the week's summary says of enrolments (rows newest first): those
    waiting for the town hall; the refusals still worth saying (the period not
    over, and no newer enrolment of that child in that activity waiting or
    validated); and whether any enrolment lets the family book today or later."""
    waiting = [e for e in enrolments if e.status == ENROLMENT_PENDING]
    refused, seen = [], set()
    for e in enrolments:
        pair = (e.child_id, e.activity_id)
        if e.status == ENROLMENT_REFUSED and e.end_date >= today and pair not in seen:
            refused.append(e)
        if e.status in (ENROLMENT_PENDING, ENROLMENT_VALIDATED):
            seen.add(pair)
    current = any(e.status in (ENROLMENT_PENDING, ENROLMENT_VALIDATED) and e.end_date >= today
                  for e in enrolments)
    return waiting, refused, current


def month_page(session: Session, actor: Account, month: str | None, child: str | None,
               now: datetime | None = None, household_id: int | None = None) -> MonthPage:
    """The agenda of ``child`` (an id as typed in the address, or « tous »)
    for ``month`` (« 2026-11 »; this month if it is not one); with
    ``household_id``, of that household's children (an agent)."""
    now = now or local_now()
    children = child_snapshots(session, actor, household_id)
    year, month_number = parse_month(month, now.date())
    selected = child or "tous"
    shown = [c for c in children if str(c.id) == selected] or children
    if len(shown) != 1:
        selected = "tous"
    enrolments = enrolments_of(session, children)
    data = read_month(session, shown, year, month_number, now, enrolments=enrolments)
    week = week_summary(session, children, now.date(), month=data)
    inputs = (now.date(), selected, data.inputs, tuple((c.id, c.first_name) for c in children),
              tuple(map(tuple, enrolments)), tuple(n for _c, n in week))
    return MonthPage(children, selected, data, week, enrolments, inputs)


def month_view(session: Session, children: list, year: int, month: int, now: datetime | None = None,
               enrolments: list | None = None) -> Month:
    """The month agenda of some children (see ``read_month`` and ``build_month``)."""
    return build_month(read_month(session, children, year, month, now, enrolments))


def cell(session: Session, child: Child, activity: Activity, day: date,
         now: datetime | None = None, message: str = "") -> Cell:
    """One cell, read again after a change (for the fragment htmx swaps)."""
    ctx = load_context(session, [child], day, day, now, activity_ids=[activity.id])
    result = assess(ctx, child, activity, day)
    result.message = message
    return result


def week_summary(session: Session, children: list, today: date,
                 month: MonthData | None = None) -> list[tuple[object, int]]:
    """How many days each child has booked this week (Monday to Sunday).
    Counted from ``month``'s bookings when it holds the whole week for every
    one of ``children`` (the usual page: this month, all children); else read."""
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    if not children:
        return []
    if (month is not None and (monday.year, monday.month) == (sunday.year, sunday.month) == (month.year, month.month)
            and {c.id for c in month.children} >= {c.id for c in children}):
        counts = Counter(child_id for (child_id, _activity_id, day), booking in month.ctx.bookings.items()
                         if monday <= day <= sunday and booking.status in HOLDS_A_PLACE)
    else:
        counts = dict(_read(session, _WEEK_COUNTS, {"children": [c.id for c in children], "first": monday,
                                                     "last": sunday}))
    return [(child, counts.get(child.id, 0)) for child in children]


def enrolments_of(session: Session, children: list) -> list:
    """Every enrolment of the children, newest first, as rows that carry the
    child's first name (``child_name``) and the activity (``a_name``…)."""
    if not children:
        return []
    return _read(session, _ENROLMENT_ROWS, {"children": [c.id for c in children]})


_CHILD_SNAPSHOTS = sql.Prepared(
    select(Child.__table__.c.id, Child.__table__.c.household_id, Child.__table__.c.first_name,
           Organisation.__table__.c.school_zone)
    .join(HouseholdLink.__table__, HouseholdLink.__table__.c.household_id == Child.__table__.c.household_id)
    .join(Household.__table__, Household.__table__.c.id == Child.__table__.c.household_id)
    .join(Organisation.__table__, Organisation.__table__.c.id == Household.__table__.c.organisation_id)
    .where(HouseholdLink.__table__.c.account_id == bindparam("account"), Child.__table__.c.status == "validated")
    .order_by(Child.__table__.c.birth_date, Child.__table__.c.id)
)


_HOUSEHOLD_SNAPSHOTS = sql.Prepared(
    select(Child.__table__.c.id, Child.__table__.c.household_id, Child.__table__.c.first_name,
           Organisation.__table__.c.school_zone)
    .join(Household.__table__, Household.__table__.c.id == Child.__table__.c.household_id)
    .join(Organisation.__table__, Organisation.__table__.c.id == Household.__table__.c.organisation_id)
    .where(Child.__table__.c.household_id == bindparam("household"), Child.__table__.c.status == "validated")
    .order_by(Child.__table__.c.birth_date, Child.__table__.c.id)
)


def child_snapshots(session: Session, actor: Account, household_id: int | None = None) -> list[Snapshot]:
    """``children_of`` as plain snapshots (id, household_id, first_name and
    the commune's school_zone), for the month page; with ``household_id``,
    the validated children of that household (for an agent)."""
    if household_id is None:
        rows = _read(session, _CHILD_SNAPSHOTS, {"account": actor.id})
    else:
        rows = _read(session, _HOUSEHOLD_SNAPSHOTS, {"household": household_id})
    return [Snapshot(id=r.id, household_id=r.household_id, first_name=r.first_name, school_zone=r.school_zone)
            for r in rows]


def household_children(session: Session, actor: Account, household_id: int) -> list[Child]:
    """The validated children of a household, for an agent acting for the
    family (the agenda, enrolment, « Saisie groupée », absences)."""
    households.household_for(session, actor, household_id)  # raises NotFound
    return list(session.scalars(
        select(Child).where(Child.household_id == household_id, Child.status == "validated")
        .order_by(Child.birth_date, Child.id)))


# ---------------------------------------------------------------- slots and places

def ensure_slots(session: Session, activity_id: int, capacity: int, days: Iterable[date]) -> dict[date, int]:
    """The ids of the slots of an activity on ``days``, created if missing
    with the activity's default ``capacity``
    (concurrent creations meet the unique constraint and keep the first)."""
    days = sorted(set(days))
    if not days:
        return {}
    session.execute(
        _insert(session)(Slot.__table__)
        .values([{"activity_id": activity_id, "day": d, "capacity": capacity,
                  "capacity_overridden": False, "booked": 0} for d in days])
        .on_conflict_do_nothing(index_elements=["activity_id", "day"])
    )
    return dict(session.execute(
        select(Slot.day, Slot.id).where(Slot.activity_id == activity_id, Slot.day.in_(days))).all())


# The guarded update that takes a place (built once: it runs on every click).
_TAKE_PLACE = sql.Prepared(update(Slot.__table__).where(_SLOT.id == bindparam("slot"), _SLOT.booked < _SLOT.capacity)
                            .values(booked=_SLOT.booked + 1))


def _still_enrolled(child_id, activity_id, day):
    """The child's validated enrolment still covers the day, read inside the
    write: « Mettre fin à l'inscription » at the same instant either comes
    first (and the place is not taken) or sees the booking and cancels it.
    On PostgreSQL the enrolment's row is share-locked, so an end in progress
    (which locks it for update) is waited for, and its new end is read."""
    enrolment = Enrolment.__table__.c
    return (select(enrolment.id)
            .where(enrolment.child_id == child_id, enrolment.activity_id == activity_id,
                   enrolment.start_date <= day, enrolment.end_date >= day, enrolment.status == ENROLMENT_VALIDATED)
            .with_for_update(read=True).exists())


def _new_booking(dialect):
    columns = {"slot_id": Integer, "child_id": Integer, "activity_id": Integer, "day": Date, "status": String,
               "waiting_since": DateTime, "author_id": Integer, "updated_at": DateTime}
    values = {name: bindparam(name, type_=kind) for name, kind in columns.items()}
    chosen = select(*(value.label(name) for name, value in values.items())).where(
        _still_enrolled(values["child_id"], values["activity_id"], values["day"]))
    return sql.Prepared(dialect.insert(Booking.__table__).from_select(list(columns), chosen)
                        .on_conflict_do_nothing(index_elements=["slot_id", "child_id"])
                        .returning(Booking.__table__.c.id))


_NEW_BOOKING = {name: _new_booking(dialect) for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_LOCK_ENROLMENT = sql.Prepared(
    select(Enrolment.__table__.c.id)
    .where(Enrolment.__table__.c.child_id == bindparam("child_id"),
           Enrolment.__table__.c.activity_id == bindparam("activity_id"),
           Enrolment.__table__.c.start_date <= bindparam("day", type_=Date),
           Enrolment.__table__.c.end_date >= bindparam("day", type_=Date))
    .with_for_update(read=True))


def _take_place(session: Session, slot_id: int) -> bool:
    return sql.run(session, _TAKE_PLACE, {"slot": slot_id}).rowcount == 1


def _insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _place_booking(session: Session, actor_id: int, child_id: int, activity_id: int, day: date,
                   slot_id: int, status: str, existing_id: int | None) -> bool:
    """Write the child's booking row in ``status``; False if another request
    already did (a double click), in which case the caller undoes its work.
    ``existing_id`` is the row as the caller read it, if there was one."""
    waiting_since = utcnow() if status == BOOKING_WAITING else None
    if existing_id is None:
        result = sql.run(session, _NEW_BOOKING[session.get_bind().dialect.name], {
            "slot_id": slot_id, "child_id": child_id, "activity_id": activity_id, "day": day, "status": status,
            "waiting_since": waiting_since, "author_id": actor_id, "updated_at": utcnow()})
        return result.first() is not None
    allowed_from = (BOOKING_CANCELLED, BOOKING_WAITING) if status == BOOKING_BOOKED else (BOOKING_CANCELLED,)
    result = session.execute(
        update(Booking)
        .where(Booking.id == existing_id, Booking.status.in_(allowed_from),
               _still_enrolled(child_id, activity_id, day))
        .values(status=status, waiting_since=waiting_since, absence_id=None, author_id=actor_id,
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _release_place(session: Session, slot_id: int, base_url: str, promote: bool = True) -> Booking | None:
    """A place freed up: the first in line takes it (and is told), or the counter
    goes down (always, when not ``promote``: a day already begun or gone by)."""
    candidates = session.scalars(
        select(Booking).where(Booking.slot_id == slot_id, Booking.status == BOOKING_WAITING)
        .order_by(Booking.waiting_since, Booking.id).limit(10)).all() if promote else []
    for candidate in candidates:
        result = session.execute(
            update(Booking).where(Booking.id == candidate.id, Booking.status == BOOKING_WAITING)
            .values(status=BOOKING_BOOKED, waiting_since=None, updated_at=utcnow())
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            _tell_promoted(session, candidate, base_url)
            return candidate
    session.execute(
        update(Slot).where(Slot.id == slot_id, Slot.booked > 0).values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False))
    return None


def _tell_promoted(session: Session, booking: Booking, base_url: str) -> None:
    child = session.get(Child, booking.child_id)
    activity = session.get(Activity, booking.activity_id)
    household = session.get(Household, child.household_id)
    subject = f"Place libérée : {activity.name} le {booking.day:%d/%m/%Y}"
    body = (f"Une place s'est libérée : {child.first_name} est maintenant inscrit·e à "
            f"{activity.name} le {format_day(booking.day)}. Si vous n'en avez plus besoin, "
            "annulez la réservation dans l'agenda.")
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url,
                             link=f"/agenda?enfant={child.id}&mois={booking.day:%Y-%m}")


def _check_bookable(ctx: Context, child: Child, activity: Activity, day: date, waiting: bool = False) -> None:
    cell_ = assess(ctx, child, activity, day)
    if cell_.state in (BOOKABLE, BOOKED, WAITING):
        return
    if cell_.state == FULL:
        if waiting:
            return
        raise SlotFull("Complet : il n'y a plus de place ce jour-là. Vous pouvez vous inscrire "
                       "sur la liste d'attente.")
    if cell_.state == NOT_ENROLLED:
        raise NotEnrolled(f"{child.first_name} n'est pas inscrit·e à {activity.name} ce jour-là : "
                          "inscrivez-le d'abord à l'activité.")
    if cell_.state == ENROLMENT_WAITING:
        raise NotEnrolled("L'inscription à cette activité attend la validation de la mairie.")
    if cell_.state == CLOSED:
        raise Closed(f"Fermé : {cell_.detail}.")
    if cell_.state == LATE:
        raise DeadlinePassed(f"Délai dépassé : {cell_.detail[0].lower()}{cell_.detail[1:]}.")
    if cell_.state == ABSENT:
        raise DeadlinePassed(f"Une absence est déclarée ce jour-là ({cell_.detail}) et le délai de "
                             "réservation est passé.")
    raise DomainError(f"{cell_.detail}.")


class Snapshot(SimpleNamespace):
    """A child or an activity as one click read it: plain values, outside of
    any session (nothing to expire, nothing lazy)."""


@dataclass
class Click:
    """What one click needs, read in one query before the write lock is taken
    (the lock is then held only for the guarded writes). The child and the
    activity are plain snapshots, so that the cell after the change is built
    without reading them again."""

    child: Snapshot
    activity: Snapshot
    day: date
    ctx: Context
    actor_id: int
    is_agent: bool
    billing_mode: str | None
    balance: int = 0
    wrote: bool = False  # a write was tried: what was read may be out of date
    agent: Account | None = None  # an agent acting for the family: each change goes to the journal


def _journal(session: Session, click: Click, action: str) -> None:
    """An agent's click, in the journal (the family's own clicks are their bookings)."""
    if click.agent is None:
        return
    child = session.get(Child, click.child.id)
    audit.record(session, click.agent, action, "child", child.id, child.full_name,
                 f"{click.activity.name}, {click.day:%d/%m/%Y}")


def _begin_write(session: Session, click: Click, taking: bool = False) -> None:
    """The write begins. A click that takes a place (``taking``) first
    share-locks the child's enrolment on PostgreSQL: the enrolment before the
    slot, in the order « Mettre fin à l'inscription » and « Saisie groupée »
    lock them, so that none of them waits for another in a circle."""
    click.wrote = True
    begin_write(session)
    if taking and session.get_bind().dialect.name == "postgresql":
        sql.run(session, _LOCK_ENROLMENT, {"child_id": click.child.id, "activity_id": click.activity.id,
                                           "day": click.day})


_ENROLMENT_RANKS = {ENROLMENT_PENDING: 1, ENROLMENT_VALIDATED: 2}
_CLICK_STATEMENTS: dict[bool, sql.Prepared] = {}


def _click_statement(agent: bool):
    """The one query of a click (built once): the child (of a household the
    actor is subscribed to, unless an agent), the activity of the child's
    commune, the commune's settings, and that day's slot, booking, closure,
    enrolment, and the household's prepaid balance."""
    statement = _CLICK_STATEMENTS.get(agent)
    if statement is not None:
        return statement
    child, activity = Child.__table__.c, Activity.__table__.c
    slot, booking, closure, enrolment = (Slot.__table__.c, Booking.__table__.c, Closure.__table__.c,
                                         Enrolment.__table__.c)
    day = bindparam("day", type_=Date)
    closure_reason = (
        select(closure.reason)
        .where(closure.organisation_id == activity.organisation_id, closure.start_date <= day,
               closure.end_date >= day, or_(closure.site_id.is_(None), closure.site_id == activity.site_id),
               or_(closure.activity_id.is_(None), closure.activity_id == activity.id))
        .order_by(closure.id).limit(1).scalar_subquery())
    # A validated enrolment wins over a pending one, as in enrolment_on. (No
    # condition on the status here: the index on (child, activity) is the one to use.)
    enrolment_status = (
        select(func.max(case(*((enrolment.status == status, rank) for status, rank in _ENROLMENT_RANKS.items()),
                             else_=0)))
        .where(enrolment.child_id == child.id, enrolment.activity_id == activity.id,
               enrolment.start_date <= day, enrolment.end_date >= day)
        .scalar_subquery())
    balance = (
        select(func.coalesce(func.sum(LedgerEntry.__table__.c.amount_cents), 0))
        .where(LedgerEntry.__table__.c.household_id == child.household_id).scalar_subquery())
    statement = (
        select(child.id.label("c_id"), child.household_id.label("c_household_id"),
               child.first_name.label("c_first_name"),
               *(activity[name].label("a_" + name) for name in _ACTIVITY_COLUMNS),
               Organisation.__table__.c.school_zone, Organisation.__table__.c.billing_mode,
               slot.id.label("slot_id"), slot.capacity.label("slot_capacity"), slot.booked.label("slot_booked"),
               booking.id.label("booking_id"), booking.slot_id.label("booking_slot_id"),
               booking.status.label("booking_status"), Absence.__table__.c.motive.label("booking_motive"),
               closure_reason.label("closure_reason"), enrolment_status.label("enrolment_status"),
               balance.label("balance"))
        .select_from(
            Child.__table__
            .join(Household.__table__, Household.__table__.c.id == child.household_id)
            .join(Organisation.__table__, Organisation.__table__.c.id == Household.__table__.c.organisation_id)
            .join(Activity.__table__, activity.organisation_id == Organisation.__table__.c.id)
            .outerjoin(Slot.__table__, and_(slot.activity_id == activity.id, slot.day == day))
            .outerjoin(Booking.__table__, and_(booking.child_id == child.id, booking.activity_id == activity.id,
                                               booking.day == day))
            .outerjoin(Absence.__table__, Absence.__table__.c.id == booking.absence_id))
        .where(child.id == bindparam("child_id"), child.status == "validated",
               activity.id == bindparam("activity_id"))
    )
    if not agent:
        link = HouseholdLink.__table__.c
        statement = statement.where(select(link.id).where(
            link.account_id == bindparam("account_id"), link.household_id == child.household_id).exists())
    prepared = _CLICK_STATEMENTS[agent] = sql.Prepared(statement)
    return prepared


def _prepare(session: Session, actor: Account, child_id: int, activity_id: int, day: date,
             now: datetime | None) -> Click:
    check_day(day)
    row = sql.run(session, _click_statement(actor.is_agent), {
        "child_id": child_id, "activity_id": activity_id, "day": day, "account_id": actor.id}).first()
    if row is None:
        child = child_for(session, actor, child_id)  # raises the precise NotFound
        activity_for(session, child, activity_id)
        raise NotFound("Cette activité n'existe pas.")
    child = Snapshot(id=row.c_id, household_id=row.c_household_id, first_name=row.c_first_name)
    activity = Snapshot(**{name: getattr(row, "a_" + name) for name in _ACTIVITY_COLUMNS})
    ctx = Context(now=now or local_now(), zones={child.household_id: row.school_zone})
    if row.enrolment_status:
        status = ENROLMENT_VALIDATED if row.enrolment_status == _ENROLMENT_RANKS[ENROLMENT_VALIDATED] \
            else ENROLMENT_PENDING
        ctx.enrolments[child.id].append(EnrolmentRow(activity.id, day, day, status))
    if row.closure_reason is not None:
        ctx.closures.append(ClosureRow(activity.organisation_id, None, None, day, day, row.closure_reason))
    if row.slot_id is not None:
        ctx.slots[(activity.id, day)] = SlotRow(row.slot_id, row.slot_capacity, row.slot_booked)
        if row.slot_booked >= row.slot_capacity:
            ctx.full.add((activity.id, day))
    if row.booking_id is not None:
        ctx.bookings[(child.id, activity.id, day)] = BookingRow(
            row.booking_id, row.booking_slot_id, child.id, activity.id, day, row.booking_status,
            row.booking_motive)
        if row.booking_status == BOOKING_WAITING:
            _waiting_positions(session, ctx, {row.booking_slot_id})
    return Click(child, activity, day, ctx, actor.id, actor.is_agent, row.billing_mode, row.balance,
                 agent=actor if actor.is_agent else None)


def _check_account(session: Session, actor: Account | None, household_id: int, is_agent: bool | None = None,
                   billing_mode: str | None = None, balance: int | None = None) -> None:
    """A prepaid account negative for too long stops new bookings (an agent may still book)."""
    from citoyen.services.billing import booking_refusal

    if is_agent if is_agent is not None else actor.is_agent:
        return
    refusal = booking_refusal(session, household_id, billing_mode=billing_mode, balance=balance)
    if refusal:
        raise DomainError(refusal)


def _booking_of(session: Session, slot_id: int, child_id: int) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.slot_id == slot_id, Booking.child_id == child_id))


FULL_MESSAGE = "Complet : il n'y a plus de place ce jour-là. Vous pouvez vous inscrire sur la liste d'attente."


def _book(session: Session, click: Click) -> tuple[int | None, Cell | None]:
    """Take a place; returns the slot id and the cell after the change (None
    when it must be read again)."""
    child, activity, day, ctx = click.child, click.activity, click.day, click.ctx
    _check_bookable(ctx, child, activity, day)
    existing = ctx.bookings.get((child.id, activity.id, day))
    if existing is not None and existing.status in HOLDS_A_PLACE:
        return existing.slot_id, booked_cell(ctx, child, activity, day)
    _check_account(session, None, child.household_id, click.is_agent, click.billing_mode, click.balance)
    slot = ctx.slots.get((activity.id, day))
    _begin_write(session, click, taking=True)
    slot_id = slot.id if slot is not None else ensure_slots(session, activity.id, activity.default_capacity,
                                                            [day])[day]
    if not _take_place(session, slot_id):
        session.rollback()
        raise SlotFull(FULL_MESSAGE)
    if not _place_booking(session, click.actor_id, child.id, activity.id, day, slot_id, BOOKING_BOOKED,
                          existing.id if existing else None):
        session.rollback()  # another click got there first: its row stands (read it again), ours is undone
        return slot_id, None
    _journal(session, click, "agenda.book")
    session.commit()
    return slot_id, booked_cell(ctx, child, activity, day)


def _join_waiting_list(session: Session, click: Click) -> tuple[int | None, Cell | None]:
    child, activity, day, ctx = click.child, click.activity, click.day, click.ctx
    _check_bookable(ctx, child, activity, day, waiting=True)
    existing = ctx.bookings.get((child.id, activity.id, day))
    if existing is not None and existing.status != BOOKING_CANCELLED:
        return existing.slot_id, None
    # A place in line becomes a booking by itself: the same account rule as booking.
    _check_account(session, None, child.household_id, click.is_agent, click.billing_mode, click.balance)
    slot = ctx.slots.get((activity.id, day))
    _begin_write(session, click, taking=True)
    slot_id = slot.id if slot is not None else ensure_slots(session, activity.id, activity.default_capacity,
                                                            [day])[day]
    status = BOOKING_BOOKED if _take_place(session, slot_id) else BOOKING_WAITING
    if _place_booking(session, click.actor_id, child.id, activity.id, day, slot_id, status,
                      existing.id if existing else None):
        _journal(session, click, "agenda.book" if status == BOOKING_BOOKED else "agenda.wait")
        session.commit()
    else:
        session.rollback()
    return slot_id, None


def _cancel(session: Session, click: Click, base_url: str) -> tuple[int | None, Cell | None]:
    child, activity, day, ctx = click.child, click.activity, click.day, click.ctx
    booking = ctx.bookings.get((child.id, activity.id, day))
    if booking is None or booking.status == BOOKING_CANCELLED:
        raise DomainError("Cette réservation est déjà annulée.")
    if booking.status not in (BOOKING_WAITING, BOOKING_BOOKED):
        raise DomainError("La présence de ce jour est déjà pointée : la réservation ne peut plus changer.")
    if booking.status == BOOKING_BOOKED:
        limit = ctx.rules_of(activity)[1].limit(day, activity.start_time)
        if ctx.now > limit and not click.is_agent:
            raise DeadlinePassed(
                f"Délai dépassé : l'annulation était possible jusqu'au {format_limit(limit)[3:]}. "
                "En cas de maladie, utilisez « Déclarer l'absence d'un enfant ».")
    _begin_write(session, click)
    if booking.status == BOOKING_WAITING:
        result = session.execute(
            update(Booking).where(Booking.id == booking.id, Booking.status == BOOKING_WAITING)
            .values(status=BOOKING_CANCELLED, waiting_since=None, updated_at=utcnow())
            .execution_options(synchronize_session=False))
        done = result.rowcount == 1
    else:
        done = _cancel_booking(session, click.actor_id, booking.id, booking.slot_id, None, base_url,
                               promote=click.day > click.ctx.now.date())
    if not done:
        session.rollback()
        raise DomainError("Cette réservation est déjà annulée.")
    _journal(session, click, "agenda.unwait" if booking.status == BOOKING_WAITING else "agenda.cancel")
    session.commit()
    return booking.slot_id, None


def book(session: Session, actor: Account, child_id: int, activity_id: int, day: date,
         now: datetime | None = None) -> Booking:
    """Réserver: take a place for the child that day, if the rules allow and a
    place is left. A second click on the same day changes nothing."""
    click = _prepare(session, actor, child_id, activity_id, day, now)
    slot_id, _cell = _book(session, click)
    return _booking_of(session, slot_id, click.child.id)


def join_waiting_list(session: Session, actor: Account, child_id: int, activity_id: int, day: date,
                      now: datetime | None = None) -> Booking:
    """M'inscrire sur la liste d'attente (or book at once if a place is free again)."""
    click = _prepare(session, actor, child_id, activity_id, day, now)
    slot_id, _cell = _join_waiting_list(session, click)
    return _booking_of(session, slot_id, click.child.id)


def cancel(session: Session, actor: Account, child_id: int, activity_id: int, day: date, base_url: str,
           now: datetime | None = None) -> None:
    """Annuler: before the cancellation deadline, the place goes to the first
    in line on the waiting list, or back to the pool. Leaving the waiting list
    is always possible."""
    click = _prepare(session, actor, child_id, activity_id, day, now)
    _cancel(session, click, base_url)


CLICKS = {
    "book": lambda session, click, _base_url: _book(session, click),
    "wait": lambda session, click, _base_url: _join_waiting_list(session, click),
    "cancel": _cancel,
}


def click(session: Session, actor: Account, action: str, child_id: int, activity_id: int, day: date,
          base_url: str, now: datetime | None = None) -> Cell:
    """One click in the agenda (« book », « cancel » or « wait »), then the
    day's cell as it now stands, carrying the refusal's message when the
    rules said no. Raises NotFound for a child or an activity the actor may
    not act for."""
    prepared = _prepare(session, actor, child_id, activity_id, day, now)
    message = ""
    try:
        _slot_id, after = CLICKS[action](session, prepared, base_url)
    except DomainError as error:
        session.rollback()
        message, after = error.message, None
    if after is None:
        # A refusal before any write: the day is as read. After a write (or a
        # race lost): read it again.
        now_read = _prepare(session, actor, child_id, activity_id, day, now) if prepared.wrote else prepared
        after = assess(now_read.ctx, now_read.child, now_read.activity, day)
        if not message and action != "cancel" and after.state not in (BOOKED, WAITING):
            # Nothing written: the enrolment ended or the day closed meanwhile. Say why.
            try:
                _check_bookable(now_read.ctx, now_read.child, now_read.activity, day, waiting=action == "wait")
            except DomainError as error:
                message = error.message
    after.message = message
    return after


def _cancel_booking(session: Session, actor_id: int, booking_id: int, slot_id: int, absence_id: int | None,
                    base_url: str, promote: bool = True) -> bool:
    result = session.execute(
        update(Booking).where(Booking.id == booking_id, Booking.status == BOOKING_BOOKED)
        .values(status=BOOKING_CANCELLED, absence_id=absence_id, author_id=actor_id, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    _release_place(session, slot_id, base_url, promote)
    return True


# ---------------------------------------------------------------- absences

def _checked_certificate(certificate: tuple[str, bytes] | None, max_size: int) -> filecheck.CheckedFile | None:
    """The certificate's file, checked by its content before anything is written."""
    if certificate is None or not certificate[0]:
        return None
    try:
        return filecheck.check(certificate[0], certificate[1], max_size)
    except filecheck.FileRefused as refusal:
        raise DomainError(refusal.message, "certificate") from None


def _store_certificate(session: Session, storage, absence: Absence, item: filecheck.CheckedFile) -> str:
    key = storage.save(item.data)
    absence.certificate_key = key
    absence.certificate_name = item.filename
    absence.certificate_type = item.content_type
    absence.certificate_size = item.size
    return key


def declare_absence(session: Session, actor: Account, child_id: int, start: date | None, end: date | None,
                    motive: str, comment: str, base_url: str, activity_ids: Iterable[int] | None = None,
                    now: datetime | None = None, certificate: tuple[str, bytes] | None = None,
                    storage=None, max_size: int = filecheck.MAX_SIZE) -> tuple[Absence, int]:
    """Déclarer l'absence d'un enfant: record the motive (and the medical
    certificate, if one is sent), and cancel the bookings of those days even
    past the cancellation deadline. Returns the absence and the number of
    bookings cancelled."""
    start, end = check_period(start, end)
    if motive not in ABSENCE_MOTIVES:
        raise DomainError("Choisissez le motif de l'absence.", "motive")
    today = (now or local_now()).date()
    if start < today - timedelta(days=31):
        raise DomainError("Une absence se déclare au plus tard un mois après.", "start_date")
    if (end - start).days > 92:
        raise DomainError("Une absence ne peut pas dépasser trois mois.", "end_date")
    checked = _checked_certificate(certificate, max_size)
    begin_write(session)
    child = child_for(session, actor, child_id)
    comment = " ".join((comment or "").split())[:500]
    same = session.scalar(select(Absence).where(
        Absence.child_id == child.id, Absence.start_date == start, Absence.end_date == end,
        Absence.motive == motive, Absence.comment == comment, Absence.author_id == actor.id,
        Absence.created_at >= utcnow() - timedelta(minutes=2)).order_by(Absence.id.desc()).limit(1))
    live = select(Booking.id).where(Booking.child_id == child.id, Booking.day >= start, Booking.day <= end,
                                    Booking.status.in_((BOOKING_BOOKED, BOOKING_WAITING)))
    if activity_ids is not None:
        live = live.where(Booking.activity_id.in_(list(activity_ids)))
    if same is not None and session.scalar(live.limit(1)) is None:
        # The same declaration sent twice (a double click, the browser sending the form
        # again): the first one left nothing to cancel. A certificate sent the second
        # time is the parent's reason to send it again: it is joined to the first.
        kept_key, kept_name = same.certificate_key, same.certificate_name
        session.rollback()
        if checked is not None:
            if kept_key and not (storage.exists(kept_key) and storage.read(kept_key) == checked.data):
                raise DomainError(f"Cette absence est déjà enregistrée, avec le certificat « {kept_name} », "
                                  "qui est conservé : un seul certificat peut être joint à une absence.",
                                  "certificate")
            same = attach_certificate(session, storage, actor, same.id, certificate, max_size)
        return same, session.scalar(select(func.count()).select_from(Booking)
                                    .where(Booking.absence_id == same.id))
    absence = Absence(child_id=child.id, start_date=start, end_date=end, motive=motive,
                      comment=comment, author_id=actor.id)
    session.add(absence)
    key = None
    try:
        if checked is not None:
            key = _store_certificate(session, storage, absence, checked)
        session.flush()
        cancelled = 0
        for booking_id in session.scalars(live).all():
            booking = session.get(Booking, booking_id)
            if booking.status == BOOKING_WAITING:
                # It held no place: it leaves the waiting list, and is not tied
                # to the absence (nothing to bill).
                booking.status = BOOKING_CANCELLED
                booking.waiting_since = None
                cancelled += 1
            elif _cancel_booking(session, actor.id, booking_id, booking.slot_id, absence.id, base_url,
                                 promote=booking.day > today):  # nobody is given a day already begun
                cancelled += 1
        if actor.is_agent:
            audit.record(session, actor, "agenda.absence", "child", child.id, child.full_name,
                         f"{ABSENCE_MOTIVES[motive]} du {start:%d/%m/%Y} au {end:%d/%m/%Y}"
                         + (" — certificat joint" if checked else ""))
        session.commit()
    except BaseException:
        session.rollback()
        if key:
            storage.delete(key)
        raise
    return absence, cancelled


def absence_for(session: Session, actor: Account, absence_id: int) -> Absence:
    """An absence of a child the actor may act for; another family's does not exist."""
    absence = session.get(Absence, absence_id) if 0 < absence_id < 2**31 else None
    if absence is None:
        raise NotFound("Cette absence n'existe pas.")
    child_for(session, actor, absence.child_id)
    return absence


def attach_certificate(session: Session, storage, actor: Account, absence_id: int,
                       certificate: tuple[str, bytes] | None, max_size: int = filecheck.MAX_SIZE) -> Absence:
    """Joindre un certificat to an absence already declared (the doctor's
    paper often comes after the phone call). One certificate per absence."""
    checked = _checked_certificate(certificate, max_size)
    if checked is None:
        raise DomainError("Choisissez le fichier du certificat.", "certificate")
    begin_write(session)
    absence = absence_for(session, actor, absence_id)
    if not absence.certificate_key:
        key = storage.save(checked.data)
        # A guarded write: of two certificates sent at once, one is kept.
        written = session.execute(
            update(Absence).where(Absence.id == absence.id, Absence.certificate_key.is_(None))
            .values(certificate_key=key, certificate_name=checked.filename,
                    certificate_type=checked.content_type, certificate_size=checked.size)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not written:
            session.rollback()
            storage.delete(key)
            absence = absence_for(session, actor, absence_id)
    else:
        written = False
    if not written:
        if (absence.certificate_key and storage.exists(absence.certificate_key)
                and storage.read(absence.certificate_key) == checked.data):
            session.rollback()
            return absence  # the same file posted twice
        raise DomainError("Un certificat est déjà joint à cette absence.", "certificate")
    try:
        if actor.is_agent:
            audit.record(session, actor, "agenda.absence_certificate", "child", absence.child_id,
                         absence.child.full_name, f"Absence du {absence.start_date:%d/%m/%Y} : certificat joint")
        session.commit()
    except BaseException:
        session.rollback()
        storage.delete(key)
        raise
    session.refresh(absence)
    return absence


def absences_of(session: Session, children: list[Child], today: date) -> list[Absence]:
    """The absences declared for the children, from a month back, latest first."""
    if not children:
        return []
    return list(session.scalars(select(Absence).where(
        Absence.child_id.in_([c.id for c in children]), Absence.end_date >= today - timedelta(days=31))
        .order_by(Absence.start_date.desc(), Absence.id.desc())))


def recent_absences(session: Session, actor: Account, today: date, organisation_id: int | None = None,
                    days: int = 31) -> list[Absence]:
    """Absences déclarées (agents): those that end from ``days`` back, latest first."""
    if not actor.is_agent:
        raise Forbidden("Cette page est réservée aux agents.")
    query = select(Absence).join(Child, Child.id == Absence.child_id).where(
        Absence.end_date >= today - timedelta(days=days))
    if organisation_id is not None:
        query = query.join(Household, Household.id == Child.household_id).where(
            Household.organisation_id == organisation_id)
    return list(session.scalars(query.order_by(Absence.start_date.desc(), Absence.id.desc()).limit(500)))


# ---------------------------------------------------------------- enrolment

def enrol(session: Session, actor: Account, child_id: int | None, activity_id: int | None,
          start: date | None, end: date | None, base_url: str) -> Enrolment:
    """Inscrire à une activité: at once, or waiting for the town hall if the
    activity asks for validation."""
    if not child_id:
        raise DomainError("Choisissez l'enfant.", "child")
    if not activity_id:
        raise DomainError("Choisissez l'activité.", "activity")
    start, end = check_period(start, end)
    if end < local_now().date():
        raise DomainError("Cette période est déjà passée : choisissez des jours à venir.", "end_date")
    begin_write(session)
    child = child_for(session, actor, child_id)
    # One enrolment of this child at a time (PostgreSQL; SQLite's write lock does it): the
    # same form sent twice at once finds the first in the overlap check below.
    session.execute(select(Child.id).where(Child.id == child.id).with_for_update(key_share=True))
    try:
        activity = activity_for(session, child, activity_id)
    except NotFound:
        raise DomainError("Choisissez une activité de la liste.", "activity") from None
    if activity.archived:
        raise DomainError("Cette activité n'est plus proposée.", "activity")
    if not actor.is_agent:
        from citoyen.services.requirements import missing_for

        missing = missing_for(session, child, activity)
        if missing:
            raise MissingDocuments(
                f"Avant d'inscrire {child.first_name} à {activity.name}, fournissez "
                + ("ce justificatif : " if len(missing) == 1 else "ces justificatifs : ")
                + ", ".join(t.name for t in missing)
                + ". Vous pouvez le faire dans « Mes justificatifs » ; la mairie le validera.", "activity")
    overlapping = session.scalar(select(Enrolment.id).where(
        Enrolment.child_id == child.id, Enrolment.activity_id == activity.id,
        Enrolment.status.in_((ENROLMENT_PENDING, ENROLMENT_VALIDATED)),
        Enrolment.start_date <= end, Enrolment.end_date >= start))
    if overlapping is not None:
        raise DomainError(f"{child.first_name} est déjà inscrit·e à {activity.name} sur cette période.",
                          "activity")
    validated = actor.is_agent or not activity.needs_validation
    enrolment = Enrolment(child_id=child.id, activity_id=activity.id, start_date=start, end_date=end,
                          status=ENROLMENT_VALIDATED if validated else ENROLMENT_PENDING, author_id=actor.id)
    if actor.is_agent:
        enrolment.decided_by_id = actor.id
        enrolment.decided_at = utcnow()
    session.add(enrolment)
    session.flush()
    if actor.is_agent:
        household = session.get(Household, child.household_id)
        audit.record(session, actor, "agenda.enrol", "household", household.id, household.name,
                     f"{child.full_name} — {activity.name} du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
    session.commit()
    return enrolment


def pending_enrolments(session: Session, actor: Account) -> list[Enrolment]:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    return list(session.scalars(select(Enrolment).where(Enrolment.status == ENROLMENT_PENDING)
                                .order_by(Enrolment.created_at, Enrolment.id)))


def decide_enrolment(session: Session, actor: Account, enrolment_id: int, accept: bool, reason: str,
                     base_url: str) -> Enrolment:
    """Validate an enrolment (bookings open) or refuse it with a reason; the family is told."""
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    reason = " ".join((reason or "").split())
    if not accept and not reason:
        raise DomainError("Indiquez le motif du refus : la famille le lira.", "reason")
    if len(reason) > 500:
        raise DomainError("Le motif ne doit pas dépasser 500 caractères.", "reason")
    begin_write(session)
    # Locked (PostgreSQL): two agents deciding at once, the second finds it decided.
    session.execute(select(Enrolment.id).where(Enrolment.id == enrolment_id).with_for_update())
    enrolment = session.get(Enrolment, enrolment_id, populate_existing=True)
    if enrolment is None:
        raise NotFound("Cette inscription n'existe pas.")
    if enrolment.status != ENROLMENT_PENDING:
        raise DomainError("Cette inscription a déjà été traitée.")
    enrolment.status = ENROLMENT_VALIDATED if accept else ENROLMENT_REFUSED
    enrolment.reason = reason
    enrolment.decided_by_id = actor.id
    enrolment.decided_at = utcnow()
    child = enrolment.child
    activity = enrolment.activity
    household = session.get(Household, child.household_id)
    what = f"{child.full_name} — {activity.name} du {enrolment.start_date:%d/%m/%Y} au {enrolment.end_date:%d/%m/%Y}"
    audit.record(session, actor, "agenda.enrolment_validated" if accept else "agenda.enrolment_refused",
                 "household", household.id, household.name, what + ("" if accept else f" — motif : {reason}"))
    if accept:
        subject = f"Inscription validée : {activity.name}"
        body = (f"La mairie a validé l'inscription {of(child.first_name)} à {activity.name}. "
                "Vous pouvez maintenant réserver les jours dans l'agenda.")
    else:
        subject = f"Inscription refusée : {activity.name}"
        body = f"La mairie n'a pas validé l'inscription {of(child.first_name)} à {activity.name}. Motif : {reason}"
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url,
                             link=f"/agenda?enfant={child.id}&mois={enrolment.start_date:%Y-%m}")
    session.commit()
    return enrolment


def enrolment_for(session: Session, actor: Account, enrolment_id: int,
                  household_id: int | None = None) -> Enrolment:
    """An enrolment of a child the actor may act for (another family's does
    not exist), and of ``household_id`` if given (the household an agent acts for)."""
    enrolment = session.get(Enrolment, enrolment_id) if enrolment_id else None
    if enrolment is None:
        raise NotFound("Cette inscription n'existe pas.")
    child = child_for(session, actor, enrolment.child_id)  # raises NotFound
    if household_id is not None and child.household_id != household_id:
        raise NotFound("Cette inscription n'existe pas.")
    return enrolment


def endable(enrolments: list, today: date) -> list:
    """The enrolments (rows of ``enrolments_of``) that can still end before
    their planned last day: not refused, and not ending today or before."""
    return [e for e in enrolments if e.status != ENROLMENT_REFUSED and e.end_date > today]


def default_last_day(enrolment: Enrolment, today: date) -> date:
    """The last day offered: today, or the day before an enrolment not yet begun (which withdraws it)."""
    return enrolment.start_date - timedelta(days=1) if enrolment.start_date > today else today


def bookings_after(session: Session, enrolment: Enrolment, day: date) -> int:
    """The days booked (or waited for) in this enrolment's activity from ``day`` on, to its end."""
    return session.scalar(select(func.count(Booking.id)).where(
        Booking.child_id == enrolment.child_id, Booking.activity_id == enrolment.activity_id,
        Booking.day >= day, Booking.day <= enrolment.end_date,
        Booking.status.in_((BOOKING_BOOKED, BOOKING_WAITING)))) or 0


def end_enrolment(session: Session, actor: Account, enrolment_id: int, last_day: date | None, base_url: str,
                  now: datetime | None = None) -> tuple[Enrolment | None, int, int]:
    """Mettre fin à l'inscription: ``last_day`` is its last day. The bookings
    and places in line after it are cancelled (each place goes to the first
    in line, as for « Annuler »); a family may not end it before a booked day
    whose cancellation deadline has passed (that is « Déclarer l'absence »).
    An enrolment not yet begun, ended before its first day, is withdrawn
    (``None`` is returned). Returns the enrolment, the bookings cancelled and
    the places in line given up."""
    now = now or local_now()
    today = now.date()
    if last_day is None:
        raise DomainError("Indiquez le dernier jour de l'inscription, par exemple "
                          f"{today:%d/%m/%Y}.", "last_day")
    check_day(last_day, "last_day")
    enrolment = enrolment_for(session, actor, enrolment_id)
    begin_write(session)
    # Locked (PostgreSQL): two ends at once, the second finds the first done.
    session.execute(select(Enrolment.id).where(Enrolment.id == enrolment_id).with_for_update())
    enrolment = session.get(Enrolment, enrolment_id, populate_existing=True)
    if enrolment is None:
        raise NotFound("Cette inscription n'existe pas.")
    if enrolment.status == ENROLMENT_REFUSED:
        raise DomainError("Cette inscription a été refusée : elle n'est pas en cours.")
    if enrolment.end_date < today:
        raise DomainError(f"Cette inscription a pris fin le {enrolment.end_date:%d/%m/%Y}.")
    if last_day < today:
        raise DomainError(f"Le dernier jour ne peut pas être passé : choisissez le {today:%d/%m/%Y} ou un jour "
                          "après.", "last_day")
    if last_day >= enrolment.end_date:
        raise DomainError(f"L'inscription se termine déjà le {enrolment.end_date:%d/%m/%Y} : choisissez un jour "
                          "avant.", "last_day")
    child, activity = enrolment.child, enrolment.activity
    # Read locked (PostgreSQL): a place in line that a cancellation gives the
    # child meanwhile is waited for, and is cancelled as the booking it became.
    gone = session.execute(
        select(Booking.id, Booking.slot_id, Booking.status, Booking.day)
        .where(Booking.child_id == child.id, Booking.activity_id == activity.id, Booking.day > last_day,
               Booking.day <= enrolment.end_date, Booking.status.in_((BOOKING_BOOKED, BOOKING_WAITING)))
        .order_by(Booking.day, Booking.id).with_for_update()).all()
    if not actor.is_agent:
        rules = cancel_rule(activity)
        late = [b.day for b in gone
                if b.status == BOOKING_BOOKED and now > rules.limit(b.day, activity.start_time)]
        if late:
            # The last of them: the first last day that the deadlines allow.
            raise DomainError(
                f"{child.first_name} a une réservation le {late[-1]:%d/%m/%Y} et le délai d'annulation est "
                f"passé : choisissez le {late[-1]:%d/%m/%Y} ou un jour après comme dernier jour, ou "
                "déclarez l'absence de l'enfant.", "last_day")
    cancelled = left_waiting = 0
    for booking in gone:
        if booking.status == BOOKING_BOOKED:
            if _cancel_booking(session, actor.id, booking.id, booking.slot_id, None, base_url,
                               promote=booking.day > today):
                cancelled += 1
        else:
            left_waiting += session.execute(
                update(Booking).where(Booking.id == booking.id, Booking.status == BOOKING_WAITING)
                .values(status=BOOKING_CANCELLED, waiting_since=None, author_id=actor.id, updated_at=utcnow())
                .execution_options(synchronize_session=False)).rowcount
    household = session.get(Household, child.household_id)
    was = f"du {enrolment.start_date:%d/%m/%Y} au {enrolment.end_date:%d/%m/%Y}"
    withdrawn = last_day < enrolment.start_date
    if withdrawn:
        what = f"{child.full_name} — {activity.name} {was} : retirée avant son premier jour"
        session.delete(enrolment)
        enrolment = None
    else:
        enrolment.end_date = last_day
        what = f"{child.full_name} — {activity.name} {was} : dernier jour le {last_day:%d/%m/%Y}"
    undone = undone_text(cancelled, left_waiting)
    if undone:
        what += f" ({undone})"
    if actor.is_agent:
        audit.record(session, actor, "agenda.enrolment_ended", "household", household.id, household.name, what)
        if withdrawn:
            body = f"La mairie a retiré l'inscription {of(child.first_name)} à {activity.name} ({was})."
        else:
            body = (f"La mairie a mis fin à l'inscription {of(child.first_name)} à {activity.name} : "
                    f"son dernier jour est le {last_day:%d/%m/%Y}.")
        if undone:
            body += f" Après ce jour : {undone}."
        for account in households.linked_accounts(session, household):
            notifications.notify(session, account, f"Fin d'inscription : {activity.name}", body, base_url,
                                 link=f"/agenda?enfant={child.id}")
    session.commit()
    return enrolment, cancelled, left_waiting


def undone_text(cancelled: int, left_waiting: int) -> str:
    """« 2 réservations annulées, 1 place en liste d'attente retirée »."""
    parts = []
    if cancelled:
        parts.append(f"{cancelled} réservation{'s' if cancelled > 1 else ''} annulée{'s' if cancelled > 1 else ''}")
    if left_waiting:
        plural = "s" if left_waiting > 1 else ""
        parts.append(f"{left_waiting} place{plural} en liste d'attente retirée{plural}")
    return ", ".join(parts)


# ---------------------------------------------------------------- saisie groupée

def _bulk_create(session: Session, actor: Account, ctx: Context, activities: list[Activity],
                 lines: list[BulkLine]) -> None:
    """Book many days in a few statements: the slots are locked (the write
    lock on SQLite, row locks on PostgreSQL), the places counted, then the
    counters raised by guarded updates and the bookings written in bulk."""
    by_activity: dict[int, list[date]] = defaultdict(list)
    for line in lines:
        by_activity[line.activity.id].append(line.day)
    slot_ids: dict[tuple[int, date], int] = {}
    for activity in activities:
        for d, slot_id in ensure_slots(session, activity.id, activity.default_capacity,
                                       by_activity[activity.id]).items():
            slot_ids[(activity.id, d)] = slot_id
    if not slot_ids:
        return
    free = {sid: capacity - booked for sid, capacity, booked in session.execute(
        select(Slot.id, Slot.capacity, Slot.booked).where(Slot.id.in_(list(slot_ids.values()))).with_for_update())}
    taken: dict[int, int] = defaultdict(int)
    new_rows, reused = [], []
    now = utcnow()
    for line in lines:
        slot_id = slot_ids[(line.activity.id, line.day)]
        if free[slot_id] <= 0:
            line.ok, line.why = False, "complet"
            continue
        free[slot_id] -= 1
        taken[slot_id] += 1
        existing = ctx.bookings.get((line.child.id, line.activity.id, line.day))
        if existing is None:
            new_rows.append({"slot_id": slot_id, "child_id": line.child.id, "activity_id": line.activity.id,
                             "day": line.day, "status": BOOKING_BOOKED, "author_id": actor.id, "updated_at": now})
        else:
            reused.append({"booking_id": existing.id})
    connection = session.connection()
    slot = Slot.__table__
    booking = Booking.__table__
    if taken:
        raised = connection.execute(
            slot.update().where(slot.c.id == bindparam("slot_id"),
                                slot.c.booked + bindparam("places") <= slot.c.capacity)
            .values(booked=slot.c.booked + bindparam("places")),
            [{"slot_id": sid, "places": n} for sid, n in taken.items()])
        if raised.rowcount != len(taken):
            raise DomainError("Les places ont changé pendant l'enregistrement : réessayez.")
    if reused:
        updated = connection.execute(
            booking.update().where(booking.c.id == bindparam("booking_id"), booking.c.status == BOOKING_CANCELLED)
            .values(status=BOOKING_BOOKED, absence_id=None, author_id=actor.id, updated_at=now), reused)
        if updated.rowcount != len(reused):
            raise DomainError("Les réservations ont changé pendant l'enregistrement : réessayez.")
    if new_rows:
        try:
            connection.execute(booking.insert(), new_rows)
        except IntegrityError:
            raise DomainError("Les réservations ont changé pendant l'enregistrement : réessayez.") from None


@dataclass
class BulkLine:
    child: Child
    activity: Activity
    day: date
    ok: bool
    why: str = ""


def bulk(session: Session, actor: Account, child_ids: Iterable[int], activity_ids: Iterable[int],
         start: date | None, end: date | None, weekdays: Iterable[int], action: str, base_url: str,
         apply: bool = False, now: datetime | None = None) -> list[BulkLine]:
    """Saisie groupée: several children, a period, weekdays and activities.
    Without ``apply``, say what would be booked (or cancelled) and what would
    not, and why; with it, do it, in one transaction."""
    start, end = check_period(start, end)
    if action not in ("create", "delete"):
        raise DomainError("Choisissez Créer ou Supprimer.")
    weekdays = {int(w) for w in weekdays if w is not None and 0 <= int(w) <= 6}
    if not weekdays:
        raise DomainError("Choisissez au moins un jour de la semaine.", "weekdays")
    child_ids = list(dict.fromkeys(int(c) for c in child_ids if c is not None))
    activity_ids = list(dict.fromkeys(int(a) for a in activity_ids if a is not None))
    if not child_ids:
        raise DomainError("Choisissez au moins un enfant.", "children")
    if not activity_ids:
        raise DomainError("Choisissez au moins une activité.", "activities")
    if apply:
        begin_write(session)
    children = [child_for(session, actor, c) for c in child_ids]
    if action == "create":
        for household_id in {c.household_id for c in children}:
            _check_account(session, actor, household_id)
    activities = [_activity_of_any(session, children, a) for a in activity_ids]
    if apply:
        # Share-locked (PostgreSQL): « Mettre fin à l'inscription » at the same
        # instant is applied wholly before this, or sees what this books.
        session.execute(select(Enrolment.id).where(
            Enrolment.child_id.in_(child_ids), Enrolment.activity_id.in_(activity_ids),
            Enrolment.start_date <= end, Enrolment.end_date >= start).order_by(Enrolment.id)
            .with_for_update(read=True))
    ctx = load_context(session, children, start, end, now, activity_ids=activity_ids)
    lines: list[BulkLine] = []
    day = start
    days = []
    while day <= end:
        if day.weekday() in weekdays:
            days.append(day)
        day += timedelta(days=1)
    # The places each line would take, in the order « Créer » takes them (``_bulk_create``).
    free: dict[tuple[int, date], int] = {}
    for child in children:
        for activity in activities:
            for d in days:
                if not activity.opens_on(d):
                    continue
                state = assess(ctx, child, activity, d)
                if action == "create":
                    ok = state.state == BOOKABLE
                    why = {BOOKED: "déjà réservé", WAITING: "sur liste d'attente"}.get(state.state, state.label)
                    gone = ctx.bookings.get((child.id, activity.id, d))
                    if ok and gone is not None and gone.status == BOOKING_CANCELLED and gone.motive:
                        # A day of a declared absence is booked again one by one, not in bulk.
                        ok, why = False, state.detail[0].lower() + state.detail[1:]
                        lines.append(BulkLine(child, activity, d, ok, why))
                        continue
                    if ok:
                        key = (activity.id, d)
                        if key not in free:
                            slot = ctx.slots.get(key)
                            free[key] = slot.capacity - slot.booked if slot is not None \
                                else activity.default_capacity
                        if free[key] <= 0:
                            lines.append(BulkLine(child, activity, d, False, "complet"))
                            continue
                        free[key] -= 1
                else:
                    ok = state.state == BOOKED and state.can_cancel
                    why = "pas de réservation" if state.state != BOOKED else "délai dépassé"
                if state.detail and not ok and state.state not in (BOOKED, WAITING):
                    why = f"{why} — {state.detail}"
                lines.append(BulkLine(child, activity, d, ok, "" if ok else why))
    if not apply:
        return lines
    if action == "create":
        _bulk_create(session, actor, ctx, activities, [line for line in lines if line.ok])
    else:
        for line in lines:
            if line.ok:
                booking = ctx.bookings[(line.child.id, line.activity.id, line.day)]
                # As the one-click « Annuler »: no one in line is given a day already begun.
                if not _cancel_booking(session, actor.id, booking.id, booking.slot_id, None, base_url,
                                       promote=line.day > ctx.now.date()):
                    line.ok, line.why = False, "déjà annulé"
    if actor.is_agent:
        _journal_bulk(session, actor, action, lines, start, end)
    session.commit()
    return lines


def _journal_bulk(session: Session, agent: Account, action: str, lines: list[BulkLine], start: date,
                  end: date) -> None:
    """A « Saisie groupée » applied by an agent: one row per child, with what was done."""
    done = Counter(line.child.id for line in lines if line.ok)
    for child in dict.fromkeys(line.child for line in lines):
        if not done[child.id]:
            continue
        verb = "réservés" if action == "create" else "annulés"
        names = ", ".join(dict.fromkeys(line.activity.name for line in lines if line.ok and line.child is child))
        audit.record(session, agent, "agenda.bulk", "child", child.id, child.full_name,
                     f"{done[child.id]} jour{'s' if done[child.id] > 1 else ''} {verb} ({names}) "
                     f"du {start:%d/%m/%Y} au {end:%d/%m/%Y}")
