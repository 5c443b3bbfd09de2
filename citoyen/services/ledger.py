"""The ledger of a household: every movement of money is a row, and a balance
is the sum of its rows. Rows are never changed; a mistake is corrected by a
new row."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal
from decimal import InvalidOperation

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Household
from citoyen.models import LedgerEntry
from citoyen.models.base import utcnow
from citoyen.models.money import ENTRY_CASH
from citoyen.models.money import ENTRY_REFUND
from citoyen.services import audit
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.households import format_cents
from citoyen.transactions import begin_write

MAX_CENTS = 100_000_00  # no single movement above 100 000 €


def parse_euros(value: str, field: str = "amount") -> int:
    """« 42,50 », « 42.50 € » or « 1 000 » → cents; a French message otherwise."""
    text = re.sub(r"[\s\u202f\u00a0€]", "", value or "").replace(",", ".")
    example = "Indiquez un montant en euros, par exemple 20 ou 42,50."
    if not text:
        raise DomainError("Indiquez le montant. " + example, field)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise DomainError(example, field) from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        raise DomainError(example + " Deux chiffres au plus après la virgule.", field)
    if amount <= 0:
        raise DomainError("Le montant doit être supérieur à zéro.", field)
    if amount * 100 > MAX_CENTS:
        raise DomainError(f"Le montant ne peut pas dépasser {format_cents(MAX_CENTS)}.", field)
    return int(amount * 100)


def balance(session: Session, household_id: int) -> int:
    """Solde du compte d'avance, in cents: the sum of the rows."""
    return session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.household_id == household_id)
    )


def entries(session: Session, household_id: int, limit: int = 200) -> list[LedgerEntry]:
    """The newest rows first."""
    return list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit)
    ))


def _agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


def record_cash(session: Session, actor: Account, household: Household, amount: str,
                note: str = "") -> LedgerEntry:
    """A payment in cash at the town hall (cheques are not accepted)."""
    _agent(actor)
    cents = parse_euros(amount)
    note = " ".join((note or "").split())[:120]
    begin_write(session)
    entry = LedgerEntry(household_id=household.id, amount_cents=cents, kind=ENTRY_CASH,
                        label="Paiement en espèces à la mairie" + (f" — {note}" if note else ""),
                        recorded_by_id=actor.id)
    session.add(entry)
    session.flush()
    from citoyen.services import invoices

    invoices.allocate(session, household.id, cents)
    audit.record(session, actor, "money.cash", "household", household.id, household.name,
                 f"{format_cents(cents)} en espèces")
    session.commit()
    return entry


def refund(session: Session, actor: Account, household: Household, amount: str,
           reason: str) -> LedgerEntry:
    """Give money back to the family, never more than the balance."""
    _agent(actor)
    cents = parse_euros(amount)
    reason = " ".join((reason or "").split())[:120]
    if not reason:
        raise DomainError("Indiquez le motif du remboursement.", "reason")
    begin_write(session)
    available = balance(session, household.id)
    if cents > available:
        raise DomainError(
            f"Le remboursement ne peut pas dépasser le solde ({format_cents(max(available, 0))}).",
            "amount")
    entry = LedgerEntry(household_id=household.id, amount_cents=-cents, kind=ENTRY_REFUND,
                        label=f"Remboursement — {reason}", recorded_by_id=actor.id)
    session.add(entry)
    session.flush()
    audit.record(session, actor, "money.refund", "household", household.id, household.name,
                 f"{format_cents(cents)} — {reason}")
    session.commit()
    return entry


def statement_pdf(session: Session, household: Household, year: int | None, month: int | None,
                  detailed: bool) -> bytes:
    """« Relevé de compte » of a household, as a PDF."""
    from citoyen.models import Organisation
    from citoyen.pdf import statement

    rows = session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household.id)
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    )
    town = session.get(Organisation, household.organisation_id)
    address = ", ".join(part for part in (
        household.address_line1, household.address_line2,
        f"{household.postcode} {household.city}".strip()) if part)
    return statement.build(
        town=town.name, service=town.service_name, family=household.name,
        family_number=household.family_number, address=address,
        movements=[statement.Movement(r.created_at, r.label, r.amount_cents) for r in rows],
        period=statement.Period(year, month if year else None), detailed=detailed, today=date.today(),
    )


@dataclass(frozen=True)
class AccountState:
    household: Household
    balance: int
    negative_since: datetime | None  # when the balance last went below zero


def balances(session: Session, actor: Account, organisation_id: int | None = None,
             negative_only: bool = False, negative_days: int = 0,
             now: datetime | None = None) -> list[AccountState]:
    """Soldes des comptes: every household with movements, lowest balance first;
    optionally only the negative ones, or those negative for more than N days."""
    _agent(actor)
    now = now or utcnow()
    totals = select(LedgerEntry.household_id, func.sum(LedgerEntry.amount_cents).label("total")) \
        .group_by(LedgerEntry.household_id).subquery()
    query = select(Household, totals.c.total).join(totals, totals.c.household_id == Household.id)
    if organisation_id is not None:
        query = query.where(Household.organisation_id == organisation_id)
    if negative_only or negative_days:
        query = query.where(totals.c.total < 0)
    rows = list(session.execute(query.order_by(totals.c.total, Household.name).limit(2000)))
    negative_ids = [h.id for h, total in rows if total < 0]
    since: dict[int, datetime] = {}
    if negative_ids:
        running: dict[int, int] = {}
        for household_id, amount, when in session.execute(
            select(LedgerEntry.household_id, LedgerEntry.amount_cents, LedgerEntry.created_at)
            .where(LedgerEntry.household_id.in_(negative_ids))
            .order_by(LedgerEntry.household_id, LedgerEntry.created_at, LedgerEntry.id)
        ):
            before = running.get(household_id, 0)
            running[household_id] = before + amount
            if before >= 0 > running[household_id]:
                since[household_id] = when
    result = [AccountState(h, total, since.get(h.id)) for h, total in rows]
    if negative_days:
        limit = now - timedelta(days=negative_days)
        result = [r for r in result if r.negative_since is not None and r.negative_since <= limit]
    return result


KIND_LABELS = {
    "topup": "Rechargement en ligne",
    "cash": "Espèces",
    "refund": "Remboursement",
    "correction": "Correction",
    "invoice": "Facture",
    "credit_note": "Avoir",
    "invoice_payment": "Paiement de facture en ligne",
    "consumption": "Consommations",
    "advance_used": "Compte d'avance affecté à une facture",
}


def export_csv(session: Session, actor: Account, start: date, end: date,
               organisation_id: int | None = None) -> str:
    """Movements between two dates (included), for the treasury: one line each,
    ';' separated, amounts with a decimal comma, as spreadsheets in France read them."""
    _agent(actor)
    if end < start:
        raise DomainError("La date de fin doit suivre la date de début.", "end")
    if (end - start).days > 366:
        raise DomainError("Exportez au plus une année à la fois.", "end")
    query = (
        select(LedgerEntry, Household)
        .join(Household, Household.id == LedgerEntry.household_id)
        .where(LedgerEntry.created_at >= datetime.combine(start, time.min),
               LedgerEntry.created_at < datetime.combine(end + timedelta(days=1), time.min))
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    )
    if organisation_id is not None:
        query = query.where(Household.organisation_id == organisation_id)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Date", "Heure", "Identifiant famille", "Foyer", "Nature", "Libellé", "Montant",
                     "Numéro de mouvement"])
    for entry, household in session.execute(query):
        euros, cents = divmod(abs(entry.amount_cents), 100)
        amount = f"{'-' if entry.amount_cents < 0 else ''}{euros},{cents:02d}"
        writer.writerow([entry.created_at.strftime("%d/%m/%Y"), entry.created_at.strftime("%H:%M"),
                         household.family_number, _safe(household.name),
                         KIND_LABELS.get(entry.kind, entry.kind), _safe(entry.label), amount, entry.id])
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
