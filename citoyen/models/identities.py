"""Identities from an identity provider (FranceConnect), linked to accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from citoyen.models.base import Base
from citoyen.models.base import utcnow


class ExternalIdentity(Base):
    """One person as a provider knows them, keyed by the provider's ``sub``.

    ``account_id`` is empty while the person has not yet chosen, at their
    first sign-in, between creating an account and linking an existing one."""

    __tablename__ = "external_identity"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_external_identity_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    birthdate: Mapped[str] = mapped_column(String(10), default="")
    gender: Mapped[str] = mapped_column(String(20), default="")
    birthplace: Mapped[str] = mapped_column(String(10), default="")
    birthcountry: Mapped[str] = mapped_column(String(10), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    acr: Mapped[str] = mapped_column(String(40), default="")
    raw_claims: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    linked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
