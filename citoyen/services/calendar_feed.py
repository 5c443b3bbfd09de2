"""A child's private calendar feed (iCalendar): the booked days, behind a secret
URL that a guardian can renew (the old URL then stops working)."""

from __future__ import annotations

import secrets
from datetime import date
from datetime import datetime
from datetime import timedelta

from icalendar import Calendar
from icalendar import Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Child
from citoyen.models import Household
from citoyen.models.agenda import HOLDS_A_PLACE
from citoyen.models.agenda import Activity
from citoyen.models.agenda import Booking
from citoyen.services import audit
from citoyen.services.changes import child_of
from citoyen.services.errors import NotFound
from citoyen.timefmt import PARIS
from citoyen.timefmt import commune_today
from citoyen.transactions import begin_write


def renew(session: Session, actor: Account, household: Household, child_id: int) -> str:
    """Create the feed's secret, or replace it (the previous address stops working)."""
    begin_write(session)
    child = child_of(session, household, child_id)
    replaced = child.calendar_token is not None
    child.calendar_token = secrets.token_urlsafe(32)
    if actor.is_agent:
        audit.record(session, actor, "household.calendar_renewed" if replaced else "household.calendar_created",
                     "household", household.id, household.name, child.full_name)
    session.commit()
    return child.calendar_token


def feed(session: Session, token: str, today: date | None = None) -> bytes:
    """The iCalendar document of the child whose secret this is, or NotFound."""
    if not token or len(token) > 64:
        raise NotFound("Ce calendrier n'existe pas.")
    child = session.scalar(select(Child).where(Child.calendar_token == token))
    if child is None:
        raise NotFound("Ce calendrier n'existe pas.")
    today = today or commune_today()
    calendar = Calendar()
    calendar.add("prodid", "-//Citoyen//Portail famille//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Réservations de {child.first_name}")
    rows = session.execute(
        select(Booking, Activity).join(Activity, Activity.id == Booking.activity_id)
        .where(Booking.child_id == child.id, Booking.status.in_(HOLDS_A_PLACE),
               Booking.day >= today - timedelta(days=31), Booking.day <= today + timedelta(days=366))
        .order_by(Booking.day, Activity.start_time))
    for booking, activity in rows:
        event = Event()
        event.add("uid", f"booking-{booking.id}@citoyen")
        event.add("summary", f"{activity.name} — {child.first_name}")
        event.add("location", activity.site.name)
        event.add("dtstart", datetime.combine(booking.day, activity.start_time, PARIS))
        event.add("dtend", datetime.combine(booking.day, activity.end_time, PARIS))
        event.add("dtstamp", datetime.now(PARIS))
        calendar.add_component(event)
    calendar.add_missing_timezones()  # the VTIMEZONE of Europe/Paris the events name
    return calendar.to_ical()
