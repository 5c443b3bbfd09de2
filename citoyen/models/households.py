"""Households (the "dossier famille"), their guardians and children, and the
links between accounts and households."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from citoyen.models.base import Base
from citoyen.models.base import utcnow

CHILD_PENDING = "pending"
CHILD_VALIDATED = "validated"


class Household(Base):
    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("organisation_id", "family_number", name="uq_household_family_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Identifiant famille, printed on letters and invoices.
    family_number: Mapped[str] = mapped_column(String(20))
    # Code abonné: a secret printed on letters, enough on its own to subscribe.
    subscription_code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    # Informations fiscales: the quotient familial selects the price bracket.
    family_quotient: Mapped[int | None] = mapped_column(Integer)
    quotient_year: Mapped[int | None] = mapped_column(Integer)
    # Coordonnées bancaires (sensitive: only the household and agents see them).
    account_holder: Mapped[str] = mapped_column(String(100), default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    # An invoice the household received (until billing fills real invoices).
    invoice_reference: Mapped[str | None] = mapped_column(String(40))
    invoice_amount_cents: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    guardians: Mapped[list[Guardian]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Guardian.id"
    )
    children: Mapped[list[Child]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Child.birth_date"
    )


class Guardian(Base):
    """A responsable légal; may be linked to an account."""

    __tablename__ = "guardian"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="")
    mobile_phone: Mapped[str] = mapped_column(String(30), default="")
    employer: Mapped[str] = mapped_column(String(150), default="", server_default="")
    work_phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    # A guardian added by the family waits for the town hall, like a child.
    status: Mapped[str] = mapped_column(String(12), default=CHILD_VALIDATED,
                                        server_default=CHILD_VALIDATED)

    household: Mapped[Household] = relationship(back_populates="guardians")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Child(Base):
    __tablename__ = "child"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    school: Mapped[str] = mapped_column(String(150), default="")
    class_name: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(12), default=CHILD_VALIDATED)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Informations générales
    sex: Mapped[str] = mapped_column(String(1), default="", server_default="")
    insurance_company: Mapped[str] = mapped_column(String(150), default="", server_default="")
    insurance_policy: Mapped[str] = mapped_column(String(50), default="", server_default="")
    # Autorisations
    allows_sport: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    allows_photo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    allows_leave_alone: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    allows_outings: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    allows_hospitalisation: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Données sanitaires (sensitive: only the household's guardians and agents see them).
    allergies: Mapped[str] = mapped_column(Text, default="", server_default="")
    diet: Mapped[str] = mapped_column(String(20), default="", server_default="")
    pai: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    doctor_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    doctor_phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    vaccinations_up_to_date: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    glasses: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    dental_appliance: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    hearing_aid: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The secret of the child's private calendar feed (iCalendar); None: no feed.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    household: Mapped[Household] = relationship(back_populates="children")
    pickups: Mapped[list[AuthorizedPickup]] = relationship(
        back_populates="child", cascade="all, delete-orphan",
        order_by="(AuthorizedPickup.last_name, AuthorizedPickup.first_name, AuthorizedPickup.id)",
    )
    photo: Mapped[ChildPhoto | None] = relationship(cascade="all, delete-orphan", uselist=False)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ChildPhoto(Base):
    """The child's photo, re-encoded small and without metadata. Kept in the
    database (a few tens of kilobytes) so that every app server sees it."""

    __tablename__ = "child_photo"

    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuthorizedPickup(Base):
    """An adult the family allows to pick the child up."""

    __tablename__ = "authorized_pickup"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    child: Mapped[Child] = relationship(back_populates="pickups")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class HouseholdLink(Base):
    """Abonnement: an account sees and manages a household."""

    __tablename__ = "household_link"
    __table_args__ = (UniqueConstraint("account_id", "household_id", name="uq_household_link"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    # How the link was made: "code", "invoice", "family_number", "agent".
    method: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SubscriptionFailure(Base):
    """A wrong attempt at « M'abonner », counted to stop guessing."""

    __tablename__ = "subscription_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


CHANGE_PENDING = "pending"
CHANGE_VALIDATED = "validated"
CHANGE_REFUSED = "refused"
CHANGE_WITHDRAWN = "withdrawn"
CHANGE_APPLIED = "applied"  # applied at once: no validation needed


class ChangeSet(Base):
    """A change of one section of the record, proposed by a family and
    applied when the town hall validates it (or at once, if the town says so)."""

    __tablename__ = "change_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardian.id", ondelete="CASCADE"))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(30))
    # JSON objects: the values proposed, and those they replace.
    proposed: Mapped[str] = mapped_column(Text)
    previous: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=CHANGE_PENDING, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    household: Mapped[Household] = relationship()
    guardian: Mapped[Guardian | None] = relationship()
    child: Mapped[Child | None] = relationship()
