"""Démarches, demandes: what a family asks the town hall, followed in « Mes demandes »."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from citoyen.models.base import Base
from citoyen.models.base import utcnow

REQUEST_DRAFT = "draft"
REQUEST_PENDING = "pending"
REQUEST_PROCESSING = "processing"
REQUEST_CLOSED = "closed"
REQUEST_REFUSED = "refused"


class Request(Base):
    """A household's request (``kind`` is one of the request types), from its
    draft to its end: draft → pending (sent) → processing (an agent took it)
    → closed or refused."""

    __tablename__ = "request"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=REQUEST_DRAFT, index=True)
    # The reason of a refusal, or what the town hall says when it closes the request.
    reason: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    household = relationship("Household", lazy="joined")
    agent = relationship("Account", foreign_keys=[agent_id], lazy="joined")
    messages: Mapped[list[RequestMessage]] = relationship(
        back_populates="request", order_by="RequestMessage.id", cascade="all, delete-orphan")


class RequestMessage(Base):
    """A message about a request, from the family or from the town hall."""

    __tablename__ = "request_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    author_label: Mapped[str] = mapped_column(String(200))
    from_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    request: Mapped[Request] = relationship(back_populates="messages")
