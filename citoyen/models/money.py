"""Money: the ledger of each household and the online payments that feed it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from citoyen.models.base import Base
from citoyen.models.base import utcnow

# What caused a ledger row.
ENTRY_TOPUP = "topup"          # online top-up of the compte d'avance
ENTRY_CASH = "cash"            # cash paid at the town hall
ENTRY_REFUND = "refund"        # money given back to the family
ENTRY_CORRECTION = "correction"

PAYMENT_PENDING = "pending"
PAYMENT_PAID = "paid"
PAYMENT_REFUSED = "refused"
PAYMENT_ABANDONED = "abandoned"
PAYMENT_ERROR = "error"


class LedgerEntry(Base):
    """One movement of money: positive credits the household, negative debits it.
    Rows are never updated or deleted; a mistake is corrected by a new row."""

    __tablename__ = "ledger_entry"
    __table_args__ = (CheckConstraint("amount_cents <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    # The online payment that caused it: at most one row per payment.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Payment(Base):
    """An online payment, recorded before the family is sent to the bank."""

    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(20), default=ENTRY_TOPUP)
    amount_cents: Mapped[int] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(30))
    # The reference the bank sends back with its answer.
    transaction_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=PAYMENT_PENDING, index=True)
    bank_status: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
