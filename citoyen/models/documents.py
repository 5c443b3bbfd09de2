"""Justificatifs: the types a commune asks for, the documents families send,
and the files of each document."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from citoyen.models.base import Base
from citoyen.models.base import utcnow
from citoyen.models.households import Child
from citoyen.models.households import Household

SCOPE_HOUSEHOLD = "household"
SCOPE_CHILD = "child"

DOCUMENT_REQUESTED = "requested"  # Réclamé: an agent asked for it
DOCUMENT_MISSING = "missing"  # Non fourni: asked, nothing sent (never stored, derived)
DOCUMENT_SUBMITTED = "submitted"  # Non traité: sent, not yet reviewed
DOCUMENT_VALID = "valid"  # Validé
DOCUMENT_REJECTED = "rejected"  # Invalide, with a reason
DOCUMENT_EXPIRED = "expired"  # Périmé: past its end date (derived from valid_until)


class DocumentType(Base):
    """A kind of justificatif a commune asks for (justificatif de domicile, PAI…)."""

    __tablename__ = "document_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(150))
    help_text: Mapped[str] = mapped_column(Text, default="")
    # Asked once per household, or once per child.
    scope: Mapped[str] = mapped_column(String(12), default=SCOPE_HOUSEHOLD)
    # Validity: a number of months from the validation, or until a fixed day of
    # the year (« 31/08 », the end of the school year); neither: no end.
    validity_months: Mapped[int | None] = mapped_column(Integer)
    valid_until_day: Mapped[str] = mapped_column(String(5), default="")
    # Asked of every family (or child) rather than only when an agent requests it.
    asked_of_all: Mapped[bool] = mapped_column(Boolean, default=True)
    # The activity that needs it (until activities exist as such), e.g. « Restauration scolaire ».
    needed_for: Mapped[str] = mapped_column(String(150), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Document(Base):
    """One justificatif of a household (or of one of its children), from the
    request or the upload to the town hall's decision."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_slot", "household_id", "document_type_id", "child_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"))
    document_type_id: Mapped[int] = mapped_column(
        ForeignKey("document_type.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), index=True)
    # The agent's message when requesting it, and the reason when it is Invalide.
    request_message: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    # When the family was told that the document will soon expire (told once).
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)

    document_type: Mapped[DocumentType] = relationship()
    household: Mapped[Household] = relationship()
    child: Mapped[Child | None] = relationship()
    files: Mapped[list[DocumentFile]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentFile.id"
    )

    def state(self, today: date) -> str:
        """The state as families read it: a validated document past its end is Périmé."""
        if self.status == DOCUMENT_VALID and self.valid_until is not None and self.valid_until < today:
            return DOCUMENT_EXPIRED
        return self.status


class DocumentFile(Base):
    """One file of a document (a document may have several: both sides of a card)."""

    __tablename__ = "document_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    # The random name in the storage; never derived from what the family sent.
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The name the family gave the file, checked, shown and used on download.
    filename: Mapped[str] = mapped_column(String(255))
    # The type found in the content, never the one the browser announced.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="files")


class ActivityRequirement(Base):
    """A document that must be valid before a child is enrolled in an activity."""

    __tablename__ = "activity_requirement"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    document_type_id: Mapped[int] = mapped_column(ForeignKey("document_type.id", ondelete="CASCADE"),
                                                  primary_key=True)
