"""Activities and the agenda: sites, activities with their booking rule,
closures, enrolments, slots (one activity on one day, with its counter),
bookings (the waiting list is bookings in state ``waiting``) and absences."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import time

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import Time
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from citoyen.models.base import Base
from citoyen.models.base import utcnow

# How a deadline is counted (to book, and to cancel).
RULE_HOURS = "hours"  # N hours before the start of the activity
RULE_DAYS = "days"  # N days before, at a given time ("the day before at 12:00")
RULE_WEEK = "week"  # a weekday of the previous week, at a given time ("Thursday 12:00")
RULE_KINDS = (RULE_HOURS, RULE_DAYS, RULE_WEEK)

ENROLMENT_PENDING = "pending"
ENROLMENT_VALIDATED = "validated"
ENROLMENT_REFUSED = "refused"

BOOKING_BOOKED = "booked"
BOOKING_WAITING = "waiting"
BOOKING_CANCELLED = "cancelled"
BOOKING_PRESENT = "present"
BOOKING_ABSENT_JUSTIFIED = "absent_justified"
BOOKING_ABSENT_UNJUSTIFIED = "absent_unjustified"
# The states that hold a place (counted in Slot.booked).
HOLDS_A_PLACE = (BOOKING_BOOKED, BOOKING_PRESENT, BOOKING_ABSENT_UNJUSTIFIED)


class Site(Base):
    """A school or a leisure centre where activities take place."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(150))


class Activity(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    name: Mapped[str] = mapped_column(String(150))
    # Opening weekdays, Monday = 0: "0134" is Monday, Tuesday, Thursday, Friday.
    weekdays: Mapped[str] = mapped_column(String(7), default="0134")
    start_time: Mapped[time] = mapped_column(Time, default=time(8, 0))
    end_time: Mapped[time] = mapped_column(Time, default=time(9, 0))
    default_capacity: Mapped[int] = mapped_column(Integer, default=30)
    # Periscolaire activities close during the school holidays of the town's zone;
    # a holiday centre is open only then.
    school_holidays: Mapped[str] = mapped_column(String(10), default="closed")  # closed|only|ignore
    needs_validation: Mapped[bool] = mapped_column(Boolean, default=False)
    # Booking rule: until when a family can book...
    book_kind: Mapped[str] = mapped_column(String(10), default=RULE_DAYS)
    book_hours: Mapped[int] = mapped_column(Integer, default=48)
    book_days: Mapped[int] = mapped_column(Integer, default=1)  # or the weekday, for RULE_WEEK
    book_time: Mapped[time] = mapped_column(Time, default=time(12, 0))
    # ... until when it can cancel ...
    cancel_kind: Mapped[str] = mapped_column(String(10), default=RULE_DAYS)
    cancel_hours: Mapped[int] = mapped_column(Integer, default=48)
    cancel_days: Mapped[int] = mapped_column(Integer, default=1)
    cancel_time: Mapped[time] = mapped_column(Time, default=time(12, 0))
    # ... days counted as working days (Monday to Friday, not public holidays) ...
    working_days: Mapped[bool] = mapped_column(Boolean, default=False)
    # ... and how far ahead booking opens (days).
    opens_days_ahead: Mapped[int] = mapped_column(Integer, default=365)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    site: Mapped[Site] = relationship(lazy="joined")

    def opens_on(self, day: date) -> bool:
        return str(day.weekday()) in self.weekdays


class Closure(Base):
    """A closure added by an agent (strike, teacher training day): for the
    whole organisation, a site, or one activity."""

    __tablename__ = "closure"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Enrolment(Base):
    """Inscription à une activité: a child, an activity, a period."""

    __tablename__ = "enrolment"
    __table_args__ = (Index("ix_enrolment_child_activity", "child_id", "activity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=ENROLMENT_PENDING, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    child = relationship("Child", lazy="joined")
    activity: Mapped[Activity] = relationship(lazy="joined")


class Slot(Base):
    """One activity on one day: its capacity and the places taken.

    ``booked`` is only ever changed by guarded single UPDATEs
    (``booked = booked + 1 WHERE booked < capacity``), so that concurrent
    clicks on the last place cannot overbook it."""

    __tablename__ = "slot"
    __table_args__ = (
        UniqueConstraint("activity_id", "day", name="uq_slot_activity_day"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    # True when an agent set this day's capacity (it no longer follows the default).
    capacity_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Absence(Base):
    """Déclarer l'absence d'un enfant: cancels the bookings of those days,
    even past the deadline, and keeps the motive for billing."""

    __tablename__ = "absence"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    motive: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The medical certificate, if the family sent one (a file in the storage).
    certificate_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    certificate_name: Mapped[str] = mapped_column(String(255), default="")
    certificate_type: Mapped[str] = mapped_column(String(100), default="")
    certificate_size: Mapped[int] = mapped_column(Integer, default=0)

    child = relationship("Child", lazy="joined")


class Booking(Base):
    """Réservation: a child on a slot. One row per (slot, child), whatever
    its state; a waiting booking is a place on the waiting list."""

    __tablename__ = "booking"
    __table_args__ = (
        UniqueConstraint("slot_id", "child_id", name="uq_booking_slot_child"),
        Index("ix_booking_child_day", "child_id", "day"),
        Index("ix_booking_slot_status", "slot_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"))
    # Copied from the slot, so that a month of a child's bookings is one indexed read.
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=BOOKING_BOOKED)
    # Order of the waiting list.
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime)
    absence_id: Mapped[int | None] = mapped_column(ForeignKey("absence.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Present without having been booked (pointed by an agent): may carry a surcharge.
    unbooked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
