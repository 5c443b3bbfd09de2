"""Money: the ledger of each household and the online payments that feed it."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from citoyen.models.base import Base
from citoyen.models.base import utcnow

# What caused a ledger row.
ENTRY_TOPUP = "topup"          # online top-up of the compte d'avance
ENTRY_CASH = "cash"            # cash paid at the town hall
ENTRY_REFUND = "refund"        # money given back to the family
ENTRY_CORRECTION = "correction"
ENTRY_INVOICE = "invoice"            # an invoice issued: the household owes it
ENTRY_CREDIT_NOTE = "credit_note"    # an avoir: the debt is reduced
ENTRY_INVOICE_PAYMENT = "invoice_payment"  # an invoice paid online
ENTRY_CONSUMPTION = "consumption"    # prepaid: the month's days of a child, debited
ENTRY_ADVANCE_USED = "advance_used"  # post-paid: credit on the account settles an invoice

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
    # The invoice this row issues, reduces (avoir) or pays.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # A consumption: whose days, which month, and whether the child was under 6
    # (childcare costs for the attestation fiscale).
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id", ondelete="SET NULL"))
    service_month: Mapped[date | None] = mapped_column(Date)
    under_six: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The agent's form that recorded it (cash, refund, avoir): a random key made
    # when the form is shown, so the same submission sent twice (a double
    # click, a reload) records once.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class Payment(Base):
    """An online payment, recorded before the family is sent to the bank."""

    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(20), default=ENTRY_TOPUP)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(30))
    # The reference the bank sends back with its answer.
    transaction_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=PAYMENT_PENDING, index=True)
    bank_status: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)


INVOICE = "invoice"
CREDIT_NOTE = "credit_note"


class InvoiceCounter(Base):
    """The last number given, per organisation and year: taken under a row
    lock in the transaction that writes the invoice, so numbers have no gaps."""

    __tablename__ = "invoice_counter"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Invoices and credit notes have their own sequence.
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(Base):
    """A monthly invoice of a household, or a credit note (avoir) correcting one.
    Never edited once issued."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("organisation_id", "number", name="uq_invoice_number"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default=INVOICE)
    number: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)
    # A credit note says which invoice it corrects.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    lines: Mapped[list[InvoiceLine]] = relationship(order_by="InvoiceLine.id", cascade="all, delete-orphan")


class InvoiceLine(Base):
    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_cents: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)
    under_six: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class PriceBracket(Base):
    """The price of a day of an activity for households whose quotient familial
    is at most ``max_quotient`` (None: the top bracket, also paid by a household
    without a quotient)."""

    __tablename__ = "price_bracket"
    __table_args__ = (UniqueConstraint("activity_id", "max_quotient", name="uq_price_bracket"),
                      CheckConstraint("price_cents >= 0", name="price_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    max_quotient: Mapped[int | None] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)


RUN_RUNNING = "running"
RUN_DONE = "done"
RUN_FAILED = "failed"


class BillingRun(Base):
    """A month's invoicing (post-paid) or debiting (prepaid) for a commune, with
    its progress. One run per commune and month: running it again finishes it."""

    __tablename__ = "billing_run"
    __table_args__ = (UniqueConstraint("organisation_id", "month", name="uq_billing_run"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    month: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=RUN_RUNNING)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class BilledMonth(Base):
    """That a household's month is billed: written with its invoice or debit
    rows, so a run that stops halfway and starts again bills nobody twice."""

    __tablename__ = "billed_month"

    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"),
                                              primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
