"""Organisations: the communes a deployment serves."""

from __future__ import annotations

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from citoyen.models.base import Base


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    # Postcodes served, separated by spaces (a commune may have several).
    postcodes: Mapped[str] = mapped_column(String(200), default="")
    service_name: Mapped[str] = mapped_column(String(150), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    opening_hours: Mapped[str] = mapped_column(Text, default="")
    # "prepaid" (compte d'avance) or "postpaid" (monthly invoices).
    billing_mode: Mapped[str] = mapped_column(String(10), default="prepaid", server_default="prepaid")
    # Printed on invoices and the attestation fiscale.
    siret: Mapped[str] = mapped_column(String(14), default="", server_default="")
    # Absence motives that are not charged (justified), separated by spaces.
    free_absence_motives: Mapped[str] = mapped_column(String(200), default="illness school",
                                                      server_default="illness school")
    # Added to the day's price for a child present without a booking, in percent.
    unbooked_surcharge_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Zone of the school holidays (A, B or C): closes periscolaire activities.
    school_zone: Mapped[str] = mapped_column(String(1), default="B")
