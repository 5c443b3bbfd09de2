"""The agents' side of activities: sites, activities and their booking rule,
closures, capacity per day, and the daily lists. Every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import time
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from citoyen.models import Account
from citoyen.models import Activity
from citoyen.models import Booking
from citoyen.models import Child
from citoyen.models import Closure
from citoyen.models import Household
from citoyen.models import Organisation
from citoyen.models import Site
from citoyen.models import Slot
from citoyen.models.agenda import BOOKING_BOOKED
from citoyen.models.agenda import BOOKING_CANCELLED
from citoyen.models.agenda import BOOKING_WAITING
from citoyen.models.agenda import HOLDS_A_PLACE
from citoyen.models.agenda import RULE_KINDS
from citoyen.models.base import utcnow
from citoyen.services import audit
from citoyen.services import households
from citoyen.services import notifications
from citoyen.services.agenda import _release_place
from citoyen.services.agenda import _take_place
from citoyen.services.agenda import activity_closures
from citoyen.services.agenda import check_day
from citoyen.services.agenda import check_period
from citoyen.services.agenda import ensure_slots
from citoyen.services.agenda import local_now
from citoyen.services.booking_rules import format_day
from citoyen.services.booking_rules import school_holiday
from citoyen.services.documents import MAX_ID
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write

ACTIVITY_FIELDS = (
    "name", "site_id", "weekdays", "start_time", "end_time", "default_capacity", "school_holidays",
    "needs_validation", "book_kind", "book_hours", "book_days", "book_time", "cancel_kind",
    "cancel_hours", "cancel_days", "cancel_time", "working_days", "opens_days_ahead",
)
SCHOOL_HOLIDAYS = {
    "closed": "Fermée pendant les vacances scolaires",
    "only": "Ouverte seulement pendant les vacances scolaires",
    "ignore": "Ouverte avec ou sans vacances scolaires",
}
RULE_LABELS = {
    "hours": "N heures avant le début",
    "days": "N jours avant, à une heure donnée",
    "week": "Un jour de la semaine précédente, à une heure donnée",
}


def _require_agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


def sites(session: Session, actor: Account, organisation_id: int | None = None) -> list[Site]:
    """The sites, of one commune if ``organisation_id`` is given."""
    _require_agent(actor)
    query = select(Site).order_by(Site.name, Site.id)
    if organisation_id is not None:
        query = query.where(Site.organisation_id == organisation_id)
    return list(session.scalars(query))


def activities(session: Session, actor: Account) -> list[Activity]:
    _require_agent(actor)
    return list(session.scalars(select(Activity).order_by(Activity.archived, Activity.name, Activity.id)))


def get(session: Session, actor: Account, activity_id: int) -> Activity:
    _require_agent(actor)
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("Cette activité n'existe pas.")
    return activity


def create_site(session: Session, actor: Account, organisation: Organisation, name: str) -> Site:
    """Ajouter un lieu (école, centre de loisirs)."""
    _require_agent(actor)
    name = " ".join((name or "").split())
    if not name:
        raise DomainError("Indiquez le nom du lieu.", "name")
    if len(name) > 150:
        raise DomainError("Le nom du lieu ne doit pas dépasser 150 caractères.", "name")
    begin_write(session)
    site = Site(organisation_id=organisation.id, name=name)
    session.add(site)
    session.flush()
    audit.record(session, actor, "activity.site_create", "site", site.id, site.name)
    session.commit()
    return site


def _clean(session: Session, values: dict) -> dict:
    out = {k: values[k] for k in ACTIVITY_FIELDS if k in values}
    name = " ".join((out.get("name") or "").split())
    if not name:
        raise DomainError("Indiquez le nom de l'activité.", "name")
    if len(name) > 150:
        raise DomainError("Le nom ne doit pas dépasser 150 caractères.", "name")
    out["name"] = name
    site_id = out.get("site_id")
    if not isinstance(site_id, int) or not 1 <= site_id <= MAX_ID or session.get(Site, site_id) is None:
        raise DomainError("Choisissez le lieu.", "site_id")
    weekdays = "".join(sorted({d for d in str(out.get("weekdays") or "") if d in "0123456"}))
    if not weekdays:
        raise DomainError("Choisissez au moins un jour d'ouverture.", "weekdays")
    out["weekdays"] = weekdays
    for key in ("start_time", "end_time", "book_time", "cancel_time"):
        if not isinstance(out.get(key), time):
            raise DomainError("Indiquez une heure, par exemple 12:00.", key)
    if out["end_time"] <= out["start_time"]:
        raise DomainError("L'heure de fin doit être après l'heure de début.", "end_time")
    capacity = out.get("default_capacity")
    if capacity is None or not 0 <= capacity <= 10_000:
        raise DomainError("Indiquez une capacité entre 0 et 10 000 places.", "default_capacity")
    for key in ("book_kind", "cancel_kind"):
        if out.get(key) not in RULE_KINDS:
            raise DomainError("Choisissez la règle.", key)
    for key in ("book_hours", "cancel_hours"):
        if out.get(key) is None or not 0 <= out[key] <= 24 * 60:
            raise DomainError("Indiquez un nombre d'heures entre 0 et 1440.", key)
    for key, kind in (("book_days", "book_kind"), ("cancel_days", "cancel_kind")):
        limit = 6 if out[kind] == "week" else 60
        if out.get(key) is None or not 0 <= out[key] <= limit:
            message = ("Indiquez le jour de la semaine (0 = lundi … 6 = dimanche)." if out[kind] == "week"
                       else "Indiquez un nombre de jours entre 0 et 60.")
            raise DomainError(message, key)
    if out.get("opens_days_ahead") is None or not 1 <= out["opens_days_ahead"] <= 400:
        raise DomainError("Indiquez un nombre de jours entre 1 et 400.", "opens_days_ahead")
    if out.get("school_holidays") not in SCHOOL_HOLIDAYS:
        raise DomainError("Choisissez l'ouverture pendant les vacances scolaires.", "school_holidays")
    out["needs_validation"] = bool(out.get("needs_validation"))
    out["working_days"] = bool(out.get("working_days"))
    return out


def _describe(activity: Activity) -> str:
    return (f"{activity.name} : capacité {activity.default_capacity}, jours {activity.weekdays}, "
            f"{activity.start_time:%H:%M}–{activity.end_time:%H:%M}")


def create_activity(session: Session, actor: Account, values: dict) -> Activity:
    """Créer une activité (in the organisation of its site)."""
    _require_agent(actor)
    begin_write(session)
    clean = _clean(session, values)
    activity = Activity(organisation_id=session.get(Site, clean["site_id"]).organisation_id, **clean)
    session.add(activity)
    session.flush()
    audit.record(session, actor, "activity.create", "activity", activity.id, activity.name, _describe(activity))
    session.commit()
    return activity


def update_activity(session: Session, actor: Account, activity_id: int, values: dict, base_url: str,
                    confirmed: bool = False) -> Activity:
    """Modifier une activité. A new default capacity applies from today on to
    every day whose capacity an agent did not set (past days keep theirs).
    Lowering it below the bookings already made needs confirmation (the
    bookings stay); raising it gives the new places to the waiting lists.
    A weekday it no longer opens on needs confirmation too: the bookings of
    those days to come are cancelled and the families told."""
    _require_agent(actor)
    begin_write(session)
    activity = get(session, actor, activity_id)
    clean = _clean(session, values)
    if session.get(Site, clean["site_id"]).organisation_id != activity.organisation_id:
        # Its families, closures and holidays are its commune's: it stays there.
        session.rollback()
        raise DomainError("Choisissez un lieu de la commune de l'activité.", "site_id")
    today = local_now().date()
    dropped = {int(d) for d in activity.weekdays} - {int(d) for d in clean["weekdays"]}
    zone = session.scalar(select(Organisation.school_zone).where(Organisation.id == activity.organisation_id))

    def newly_closed(day: date) -> bool:
        """A day it opened on and no longer does: a weekday dropped, or school
        holidays it now closes for (or, open only then, days outside them)."""
        return day.weekday() in dropped or (_holidays_close(clean["school_holidays"], day, zone)
                                            and not _holidays_close(activity.school_holidays, day, zone))

    changed = dropped or clean["school_holidays"] != activity.school_holidays
    stranded = [row for row in session.execute(_live_bookings().where(
        Booking.activity_id == activity.id, Booking.day >= today)).all()
        if newly_closed(row[0].day)] if changed else []
    held = sum(1 for booking, _ in stranded if booking.status == BOOKING_BOOKED)
    if stranded and not confirmed:
        session.rollback()
        raise DomainError(
            f"{len(stranded)} réservation(s) ou place(s) en liste d'attente tombent un jour où l'activité "
            "n'ouvrira plus : elles seront annulées et les familles prévenues. Cochez la confirmation pour "
            "continuer.", "confirm")
    following = (Slot.activity_id == activity.id, Slot.capacity_overridden.is_(False), Slot.day >= today)
    capacity = clean["default_capacity"]
    over, days = session.execute(
        select(func.coalesce(func.sum(Slot.booked - capacity), 0), func.count())
        .where(*following, Slot.booked > capacity)).one()
    if over and not confirmed:
        session.rollback()
        raise DomainError(
            f"{over} réservation(s) sur {days} jour(s) dépassent cette capacité : elles seront gardées, "
            "mais plus personne ne pourra réserver ces jours-là tant que le nombre de réservations ne sera "
            "pas redescendu. Cochez la confirmation pour continuer.", "confirm")
    before = _describe(activity)
    for key, value in clean.items():
        setattr(activity, key, value)
    session.flush()
    if stranded:  # first: none of them may take a place freed below
        _cancel_bookings(session, actor, stranded, f"{activity.name} : jours d'ouverture modifiés",
                         f"La mairie a changé les jours d'ouverture de {activity.name}. Ces jours ne seront "
                         "pas facturés.", base_url)
    session.execute(update(Slot).where(*following).values(capacity=capacity)
                    .execution_options(synchronize_session=False))
    waiting = session.scalars(
        select(Slot.id).where(*following, Slot.day > today, Slot.booked < Slot.capacity,
                              select(Booking.id).where(Booking.slot_id == Slot.id,
                                                       Booking.status == BOOKING_WAITING).exists())
        .order_by(Slot.day)).all()
    for slot_id in waiting:
        _fill_from_waiting_list(session, slot_id, base_url)
    audit.record(session, actor, "activity.update", "activity", activity.id, activity.name,
                 f"{before} → {_describe(activity)}"
                 + (f" — {held} réservation(s) annulée(s)" if stranded else ""))
    session.commit()
    return activity


def _holidays_close(setting: str, day: date, zone: str | None) -> bool:
    """Whether the activity's school-holidays setting closes it that day."""
    if setting == "ignore":
        return False
    on_holiday = bool(school_holiday(day, zone or "B"))
    return on_holiday if setting == "closed" else not on_holiday


def _fill_from_waiting_list(session: Session, slot_id: int, base_url: str) -> None:
    """The free places of a day go to the first in line, in order (each family is told)."""
    while session.scalar(select(Booking.id).where(Booking.slot_id == slot_id,
                                                  Booking.status == BOOKING_WAITING).limit(1)):
        if not _take_place(session, slot_id):
            break
        if _release_place(session, slot_id, base_url) is None:
            break


def set_archived(session: Session, actor: Account, activity_id: int, archived: bool) -> Activity:
    _require_agent(actor)
    begin_write(session)
    activity = get(session, actor, activity_id)
    activity.archived = archived
    audit.record(session, actor, "activity.archive" if archived else "activity.restore", "activity",
                 activity.id, activity.name)
    session.commit()
    return activity


def over_capacity(session: Session, actor: Account, activity_id: int, day: date, capacity: int) -> int:
    """How many bookings of that day are beyond ``capacity`` (asked before lowering it)."""
    _require_agent(actor)
    booked = session.scalar(select(Slot.booked).where(Slot.activity_id == activity_id, Slot.day == day)) or 0
    return max(0, booked - capacity)


def set_day_capacity(session: Session, actor: Account, activity_id: int, day: date | None,
                     capacity: int | None, confirmed: bool, base_url: str) -> Slot:
    """Capacité d'un jour. Lowering it below the bookings already made needs
    confirmation; the bookings stay (no one is removed), new ones wait.
    Raising it gives the new places to the waiting list, in order."""
    _require_agent(actor)
    check_day(day, "day")
    if capacity is None or not 0 <= capacity <= 10_000:
        raise DomainError("Indiquez une capacité entre 0 et 10 000 places.", "capacity")
    begin_write(session)
    activity = get(session, actor, activity_id)
    if not activity.opens_on(day):
        raise DomainError(f"L'activité « {activity.name} » n'ouvre pas le {format_day(day)}.", "day")
    slot_id = ensure_slots(session, activity.id, activity.default_capacity, [day])[day]
    slot = session.get(Slot, slot_id)
    session.refresh(slot)
    if capacity < slot.booked and not confirmed:
        session.rollback()
        raise DomainError(
            f"{slot.booked - capacity} réservation(s) dépassent cette capacité : elles seront gardées, "
            "mais plus personne ne pourra réserver ce jour-là tant que le nombre de réservations ne sera "
            "pas redescendu. Cochez la confirmation pour continuer.", "confirm")
    before = slot.capacity
    slot.capacity = capacity
    slot.capacity_overridden = True
    session.flush()
    if day > local_now().date():  # as for a family's cancellation: no one is promoted to a day begun
        _fill_from_waiting_list(session, slot.id, base_url)
    audit.record(session, actor, "activity.capacity", "activity", activity.id, activity.name,
                 f"{day:%d/%m/%Y} : {before} → {capacity} places")
    session.commit()
    return slot


def closures(session: Session, actor: Account, activity: Activity | None = None) -> list[Closure]:
    _require_agent(actor)
    query = select(Closure).order_by(Closure.start_date.desc())
    if activity is not None:
        query = query.where(Closure.organisation_id == activity.organisation_id,
                            (Closure.activity_id == activity.id) | Closure.activity_id.is_(None),
                            (Closure.site_id == activity.site_id) | Closure.site_id.is_(None))
    return list(session.scalars(query.limit(200)))


def add_closure(session: Session, actor: Account, organisation: Organisation, start: date | None,
                end: date | None, reason: str, activity_id: int | None = None,
                site_id: int | None = None, base_url: str = "") -> tuple[Closure, int]:
    """Ajouter une fermeture (grève, journée pédagogique…). The bookings and
    places in line of those days are cancelled (a closed day is not billed)
    and the families are told. Returns the closure and the number of
    bookings cancelled."""
    _require_agent(actor)
    start, end = check_period(start, end)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("Indiquez le motif de la fermeture : les familles le liront.", "reason")
    if len(reason) > 200:
        raise DomainError("Le motif ne doit pas dépasser 200 caractères.", "reason")
    begin_write(session)
    closure = Closure(organisation_id=organisation.id, start_date=start, end_date=end, reason=reason,
                      activity_id=activity_id, site_id=site_id)
    session.add(closure)
    session.flush()
    cancelled = _cancel_closed_days(session, actor, closure, base_url)
    audit.record(session, actor, "activity.closure_add", "activity" if activity_id else "organisation",
                 activity_id or organisation.id, reason, f"du {start:%d/%m/%Y} au {end:%d/%m/%Y}"
                 + (f" — {cancelled} réservation(s) annulée(s)" if cancelled else ""))
    session.commit()
    return closure, cancelled


def _live_bookings():
    """Bookings and places in line, with their activity's name."""
    return (select(Booking, Activity.name).join(Activity, Activity.id == Booking.activity_id)
            .where(Booking.status.in_((BOOKING_BOOKED, BOOKING_WAITING))).order_by(Booking.day, Booking.id))


def _cancel_closed_days(session: Session, actor: Account, closure: Closure, base_url: str) -> int:
    """Cancel the bookings (and places in line) a new closure falls on, from today on
    (days gone by may be billed already: the agents see to them); tell each family once."""
    query = _live_bookings().where(Activity.organisation_id == closure.organisation_id,
                                   Booking.day >= max(closure.start_date, local_now().date()),
                                   Booking.day <= closure.end_date)
    if closure.activity_id is not None:
        query = query.where(Booking.activity_id == closure.activity_id)
    if closure.site_id is not None:
        query = query.where(Activity.site_id == closure.site_id)
    return _cancel_bookings(session, actor, session.execute(query).all(), f"Fermeture : {closure.reason}",
                            f"La mairie a fermé ces jours-là ({closure.reason}). Ils ne seront pas facturés.",
                            base_url)


def _cancel_bookings(session: Session, actor: Account, rows, subject: str, intro: str, base_url: str) -> int:
    """Cancel these bookings and places in line (rows: booking, activity's name); each
    family gets one message, ``intro`` then a line per day. Returns the bookings cancelled."""
    told: dict[int, list[str]] = {}
    cancelled = 0
    for booking, activity_name in rows:
        held = booking.status == BOOKING_BOOKED
        done = session.execute(
            update(Booking).where(Booking.id == booking.id, Booking.status == booking.status)
            .values(status=BOOKING_CANCELLED, waiting_since=None, author_id=actor.id, updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if not done:
            continue
        if held:
            cancelled += 1
            session.execute(update(Slot).where(Slot.id == booking.slot_id, Slot.booked > 0)
                            .values(booked=Slot.booked - 1).execution_options(synchronize_session=False))
        child = session.get(Child, booking.child_id)
        what = "la réservation" if held else "la place sur la liste d'attente"
        told.setdefault(child.household_id, []).append(
            f"{child.first_name}, {activity_name} le {format_day(booking.day)} : {what} est annulée.")
    for household_id, lines in told.items():
        for account in households.linked_accounts(session, session.get(Household, household_id)):
            notifications.notify(session, account, subject, intro + "\n" + "\n".join(lines), base_url,
                                 link="/agenda")
    session.expire_all()
    return cancelled


def closure(session: Session, actor: Account, closure_id: int) -> Closure:
    _require_agent(actor)
    found = session.get(Closure, closure_id) if 0 < closure_id <= MAX_ID else None
    if found is None:
        raise NotFound("Cette fermeture n'existe pas.")
    return found


def delete_closure(session: Session, actor: Account, closure_id: int) -> None:
    _require_agent(actor)
    begin_write(session)
    closure = session.get(Closure, closure_id)
    if closure is None:
        raise NotFound("Cette fermeture n'existe pas.")
    audit.record(session, actor, "activity.closure_delete", "activity" if closure.activity_id else "organisation",
                 closure.activity_id or closure.organisation_id, closure.reason,
                 f"du {closure.start_date:%d/%m/%Y} au {closure.end_date:%d/%m/%Y}")
    session.delete(closure)
    session.commit()


@dataclass
class ListRow:
    booking: Booking
    child: Child
    household: Household


def daily_list(session: Session, actor: Account, activity_id: int, day: date) -> tuple[list[ListRow], list[ListRow]]:
    """Who is booked on an activity that day (and who waits), by name."""
    _require_agent(actor)
    check_day(day)
    rows = session.execute(
        select(Booking, Child, Household)
        .join(Child, Child.id == Booking.child_id)
        .join(Household, Household.id == Child.household_id)
        .where(Booking.activity_id == activity_id, Booking.day == day)
        .order_by(Child.last_name, Child.first_name, Child.id)
        .options(selectinload(Child.pickups))
    ).all()
    booked = [ListRow(b, c, h) for b, c, h in rows if b.status in ATTENDANCE_LABELS]
    waiting = sorted((ListRow(b, c, h) for b, c, h in rows if b.status == BOOKING_WAITING),
                     key=lambda r: (r.booking.waiting_since, r.booking.id))
    return booked, waiting


def listed_activity_ids(session: Session, actor: Account, day: date) -> set[int]:
    """The activities with children on their list that day (booked, pointed or
    waiting), archived or no longer open that weekday included."""
    _require_agent(actor)
    return set(session.scalars(select(Booking.activity_id).where(
        Booking.day == day, Booking.status.in_((*ATTENDANCE_LABELS, BOOKING_WAITING))).distinct()))


def care_notes(child: Child) -> list[str]:
    """What the staff must know that day: PAI, allergies, diet, appliances."""
    from citoyen.services.changes import DIETS

    notes = []
    if child.pai:
        notes.append("PAI")
    if child.allergies:
        notes.append(f"Allergies : {child.allergies}")
    if child.diet:
        notes.append(f"Régime : {DIETS.get(child.diet, child.diet)}")
    for flag, label in ((child.glasses, "lunettes"), (child.hearing_aid, "appareil auditif"),
                        (child.dental_appliance, "appareil dentaire")):
        if flag:
            notes.append(label.capitalize())
    return notes


def pickup_notes(child: Child) -> str:
    """Who may collect the child, besides the guardians."""
    people = ", ".join(f"{p.full_name}{' (' + p.relation + ')' if p.relation else ''} {p.phone}"
                       for p in child.pickups)
    alone = "Peut partir seul. " if child.allows_leave_alone else ""
    return alone + (f"Autorisés : {people}" if people else "Responsables seulement")


def occupancy(session: Session, actor: Account, activity: Activity, start: date, weeks: int = 4) -> list[tuple[date, int, int]]:
    """(day, booked, capacity) over the coming weeks, opening days only (not
    the days it is closed: public and school holidays, closures)."""
    _require_agent(actor)
    end = start + timedelta(days=7 * weeks)
    slots = {s.day: s for s in session.scalars(select(Slot).where(
        Slot.activity_id == activity.id, Slot.day >= start, Slot.day < end))}
    closed = activity_closures(session, activity, start, end)
    out = []
    day = start
    while day < end:
        if activity.opens_on(day) and day not in closed:
            slot = slots.get(day)
            out.append((day, slot.booked if slot else 0, slot.capacity if slot else activity.default_capacity))
        day += timedelta(days=1)
    return out


def counters_match(session: Session) -> list[tuple[int, int, int]]:
    """Slots whose counter differs from their bookings: (slot id, counter, bookings). Empty when all is well."""
    counted = dict(session.execute(
        select(Booking.slot_id, func.count()).where(Booking.status.in_(HOLDS_A_PLACE)).group_by(Booking.slot_id)
    ).all())
    return [(s.id, s.booked, counted.get(s.id, 0)) for s in session.scalars(select(Slot))
            if s.booked != counted.get(s.id, 0)]


def overbooked(session: Session) -> int:
    """The number of slots holding more bookings than their capacity allowed when booked."""
    return session.scalar(select(func.count()).select_from(Slot).where(Slot.booked > Slot.capacity)) or 0


ATTENDANCE_LABELS = {
    "booked": "Non pointé",
    "present": "Présent",
    "absent_justified": "Absent (justifié)",
    "absent_unjustified": "Absent (non justifié)",
}


def unbooked_presence(session: Session, actor: Account, activity_id: int, child_id: int, day: date) -> Booking:
    """Pointer un enfant présent sans réservation: a place is still taken by a
    guarded update (a full day stays full), and the day may carry a surcharge."""
    from citoyen.services.agenda import _take_place
    from citoyen.services.agenda import ensure_slots

    _require_agent(actor)
    check_day(day)
    begin_write(session)
    activity = session.get(Activity, activity_id)
    # The child's row is locked (PostgreSQL), so that the same presence sent
    # twice at once takes one place, not two.
    child = session.get(Child, child_id, with_for_update=True, populate_existing=True)
    if activity is None or child is None:
        raise NotFound("Cet enfant ou cette activité n'existe pas.")
    household = session.get(Household, child.household_id)
    if household.organisation_id != activity.organisation_id:
        raise DomainError("Cet enfant ne dépend pas de cette commune.", "child")
    _check_attendance_day(activity, day)
    if not activity.opens_on(day):
        raise DomainError(f"L'activité « {activity.name} » n'ouvre pas le {format_day(day)}.", "child")
    closed = activity_closures(session, activity, day, day).get(day)
    if closed:
        raise DomainError(f"L'activité « {activity.name} » est fermée le {format_day(day)} : {closed}.", "child")
    slot_id = ensure_slots(session, activity.id, activity.default_capacity, [day])[day]
    booking = session.scalar(select(Booking).where(Booking.slot_id == slot_id, Booking.child_id == child.id))
    if booking is not None and booking.status in ATTENDANCE_LABELS:
        # Booked, even if marked absent: pointed present on the list, without a surcharge.
        raise DomainError(f"{child.full_name} est déjà sur la liste de ce jour.", "child")
    if not _take_place(session, slot_id):
        session.rollback()
        raise DomainError("Complet : augmentez la capacité du jour pour pointer un enfant non réservé.", "child")
    if booking is None:
        booking = Booking(slot_id=slot_id, child_id=child.id, activity_id=activity.id, day=day)
        session.add(booking)
    booking.status, booking.unbooked, booking.waiting_since = "present", True, None
    booking.author_id, booking.updated_at = actor.id, utcnow()
    audit.record(session, actor, "activity.attendance", "activity", activity.id, activity.name,
                 f"{child.full_name} le {day:%d/%m/%Y} : présent sans réservation")
    session.commit()
    return booking


def _check_attendance_day(activity: Activity, day: date) -> None:
    """A child is marked present or absent on the day itself, or after."""
    if day > local_now().date():
        raise DomainError(f"Le pointage se fait le jour même ou après : pour « {activity.name} », "
                          f"à partir du {format_day(day)}.", "status")


def unbooked_candidates(session: Session, activity: Activity, day: date) -> list[Child]:
    """Children enrolled in the activity that day and not on its list."""
    from citoyen.models import Enrolment

    listed = select(Booking.child_id).where(Booking.activity_id == activity.id, Booking.day == day,
                                            Booking.status.in_(tuple(ATTENDANCE_LABELS)))
    return list(session.scalars(
        select(Child).join(Enrolment, Enrolment.child_id == Child.id)
        .where(Enrolment.activity_id == activity.id, Enrolment.status == "validated",
               Enrolment.start_date <= day, Enrolment.end_date >= day, Child.id.not_in(listed))
        .order_by(Child.last_name, Child.first_name).distinct()))


def mark_attendance(session: Session, actor: Account, booking_id: int, status: str) -> Booking:
    """Pointer: present, absent (justified or not), or back to not marked.
    A justified absence gives the place back (the counters keep equal to the
    bookings that hold a place); the others keep it."""
    _require_agent(actor)
    if status not in ATTENDANCE_LABELS:
        raise DomainError("Choisissez présent ou absent.")
    begin_write(session)
    # Locked (PostgreSQL): two clicks at once on the same row would both move the counter.
    booking = session.get(Booking, booking_id, with_for_update=True, populate_existing=True)
    if booking is None or booking.status not in ATTENDANCE_LABELS:
        raise NotFound("Cette réservation n'existe pas.")
    before = booking.status
    if before == status:
        return booking
    activity = session.get(Activity, booking.activity_id)
    _check_attendance_day(activity, booking.day)
    holds_before, holds_after = before in HOLDS_A_PLACE, status in HOLDS_A_PLACE
    if holds_before and not holds_after:
        session.execute(update(Slot).where(Slot.id == booking.slot_id, Slot.booked > 0)
                        .values(booked=Slot.booked - 1).execution_options(synchronize_session=False))
    elif holds_after and not holds_before:
        # Marking again someone who was there: the counter may go past a capacity lowered since.
        session.execute(update(Slot).where(Slot.id == booking.slot_id).values(booked=Slot.booked + 1)
                        .execution_options(synchronize_session=False))
    booking.status = status
    child = session.get(Child, booking.child_id)
    audit.record(session, actor, "activity.attendance", "activity", activity.id, activity.name,
                 f"{child.full_name} le {booking.day:%d/%m/%Y} : {ATTENDANCE_LABELS[before]} → "
                 f"{ATTENDANCE_LABELS[status]}")
    session.commit()
    return booking
