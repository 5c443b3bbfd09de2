"""Accounts (parents and agents) and the single-use tokens sent to them."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from citoyen.models.base import Base
from citoyen.models.base import utcnow

ROLE_PARENT = "parent"
ROLE_AGENT = "agent"
ROLE_ADMIN = "admin"
ROLES = (ROLE_PARENT, ROLE_AGENT, ROLE_ADMIN)

STATE_LABELS = {
    "inactive": "Non activé",
    "locked": "Bloqué",
    "active": "Actif",
}


def new_session_epoch() -> str:
    return secrets.token_hex(8)


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised: trimmed and lower-cased.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # None for an account that has no password yet (invitation, identity provider).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default=ROLE_PARENT)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the address was proven to reach this person (a link followed).
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    terms_accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    # Part of the session identifier: changing it signs out every session.
    session_epoch: Mapped[str] = mapped_column(String(32), default=new_session_epoch)
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)

    tokens: Mapped[list[AccountToken]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login protocol.
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.activated_at is not None

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_agent(self) -> bool:
        return self.role in (ROLE_AGENT, ROLE_ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    def state(self, now: datetime | None = None) -> str:
        """'inactive', 'locked' or 'active'."""
        now = now or utcnow()
        if self.activated_at is None:
            return "inactive"
        if self.locked_until is not None and self.locked_until > now:
            return "locked"
        return "active"

    def state_label(self, now: datetime | None = None) -> str:
        return STATE_LABELS[self.state(now)]


TOKEN_ACTIVATION = "activation"
TOKEN_RESET = "reset"
TOKEN_EMAIL_CHANGE = "email_change"
TOKEN_INVITATION = "invitation"


class AccountToken(Base):
    """A single-use link sent by mail; only the hash of its secret is kept."""

    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    account: Mapped[Account] = relationship(back_populates="tokens")
