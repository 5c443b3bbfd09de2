"""The ledger of a household: every movement of money is a row, and a balance
is the sum of its rows. Rows are never changed; a mistake is corrected by a
new row."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from decimal import Decimal

from defusedcsv import csv
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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
from citoyen.timefmt import PARIS
from citoyen.timefmt import local
from citoyen.transactions import begin_write

MAX_CENTS = 100_000_00  # no single movement above 100 000 €


# An amount as people type it, once spaces, « € » and the decimal comma are
# dealt with: ASCII digits and at most one decimal point; no exponent (« 1e9 »),
# no « NaN », no « 1_000 », no other script's digits.
AMOUNT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_euros(value: str, field: str = "amount", maximum: int = MAX_CENTS,
                too_high: str | None = None) -> int:
    """« 42,50 », « 42.50 € » or « 1 000 » → cents; a French message otherwise.
    ``too_high``: what to say above ``maximum`` (by default, the maximum)."""
    text = re.sub(r"[\s\u202f\u00a0€]", "", value or "").replace(",", ".")
    example = "Indiquez un montant en euros, par exemple 20 ou 42,50."
    if not text:
        raise DomainError("Indiquez le montant. " + example, field)
    if not AMOUNT.fullmatch(text):
        raise DomainError(example, field)
    amount = Decimal(text)
    if amount.as_tuple().exponent < -2:
        raise DomainError(example + " Deux chiffres au plus après la virgule.", field)
    if amount <= 0:
        raise DomainError("Le montant doit être supérieur à zéro.", field)
    # Compared without multiplying: a long number cannot overflow the context.
    if amount > Decimal(maximum) / 100:
        raise DomainError(too_high or f"Le montant ne peut pas dépasser {format_cents(maximum)}.", field)
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


KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEY_USED = ("Ce formulaire a déjà servi pour un autre enregistrement. Vérifiez les mouvements "
            "du compte, puis enregistrez de nouveau si besoin.")


def usable_key(key: str | None) -> str | None:
    """A form's idempotency key, if it looks like one the portal made."""
    return key if key and KEY.fullmatch(key) else None


def replayed(session: Session, key: str | None, household_id: int, kind: str, amount_cents: int,
             invoice_id: int | None = None) -> LedgerEntry | None:
    """The row an earlier submission of the same form recorded, or None. The
    same key with other content is not the same submission: refused. In a
    write transaction; ends it when it answers something."""
    if not key:
        return None
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if entry is None:
        return None
    session.rollback()
    if (entry.household_id, entry.kind, entry.amount_cents, entry.invoice_id) != (
            household_id, kind, amount_cents, invoice_id):
        raise DomainError(KEY_USED)
    return entry


def add_once(session: Session, entry: LedgerEntry, key: str | None, *expected) -> LedgerEntry | None:
    """Add the row; if a simultaneous submission of the same form recorded
    its row first (the unique key refuses this one), that row instead, this
    transaction undone. None when this row is added."""
    session.add(entry)
    try:
        session.flush()
        return None
    except IntegrityError:
        session.rollback()
        if not key:
            raise
        begin_write(session)
        earlier = replayed(session, key, *expected)
        if earlier is None:
            session.rollback()
            raise
        return earlier


def record_cash(session: Session, actor: Account, household: Household, amount: str,
                note: str = "", key: str | None = None) -> LedgerEntry:
    """A payment in cash at the town hall (cheques are not accepted). ``key``:
    the form's idempotency key; the same submission twice records once."""
    _agent(actor)
    cents = parse_euros(amount)
    note = " ".join((note or "").split())[:120]
    key = usable_key(key)
    begin_write(session)
    household_id = household.id
    earlier = replayed(session, key, household_id, ENTRY_CASH, cents)
    if earlier is not None:
        return earlier
    name = household.name
    entry = LedgerEntry(household_id=household_id, amount_cents=cents, kind=ENTRY_CASH,
                        label="Paiement en espèces à la mairie" + (f" — {note}" if note else ""),
                        recorded_by_id=actor.id, idempotency_key=key)
    earlier = add_once(session, entry, key, household_id, ENTRY_CASH, cents)
    if earlier is not None:
        return earlier
    from citoyen.services import invoices

    invoices.allocate(session, household_id, cents)
    audit.record(session, actor, "money.cash", "household", household_id, name,
                 f"{format_cents(cents)} en espèces")
    session.commit()
    return entry


def lock_household(session: Session, household_id: int) -> None:
    """Take the household's row lock (PostgreSQL; SQLite's write lock already
    serialises writers), so that two writes of its money at once (payments,
    refunds, avoirs, the monthly billing) each read what the other wrote. In the
    caller's transaction; every writer takes it before reading the balance."""
    lock_households(session, [household_id])


def lock_households(session: Session, household_ids) -> None:
    """The row locks of several households, in the order of their ids (two
    writers never wait for each other in a circle)."""
    ids = sorted(set(household_ids))
    if ids:
        session.execute(select(Household.id).where(Household.id.in_(ids)).order_by(Household.id)
                        .with_for_update(key_share=True))


def refund(session: Session, actor: Account, household: Household, amount: str,
           reason: str, key: str | None = None) -> LedgerEntry:
    """Give money back to the family, never more than the balance. ``key``:
    the form's idempotency key; the same submission twice records once."""
    _agent(actor)
    cents = parse_euros(amount)
    reason = " ".join((reason or "").split())[:120]
    if not reason:
        raise DomainError("Indiquez le motif du remboursement.", "reason")
    key = usable_key(key)
    begin_write(session)
    household_id = household.id
    lock_household(session, household_id)  # two refunds at once never take more than the balance
    earlier = replayed(session, key, household_id, ENTRY_REFUND, -cents)
    if earlier is not None:
        return earlier
    available = balance(session, household_id)
    if cents > available:
        raise DomainError(
            f"Le remboursement ne peut pas dépasser le solde ({format_cents(max(available, 0))}).",
            "amount")
    name = household.name
    entry = LedgerEntry(household_id=household_id, amount_cents=-cents, kind=ENTRY_REFUND,
                        label=f"Remboursement — {reason}", recorded_by_id=actor.id, idempotency_key=key)
    earlier = add_once(session, entry, key, household_id, ENTRY_REFUND, -cents)
    if earlier is not None:
        return earlier
    audit.record(session, actor, "money.refund", "household", household_id, name,
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
        period=statement.Period(year, month if year else None), detailed=detailed,
        today=datetime.now(PARIS).date(),
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


# The dates an export may name: no movement is older than the portal, and a
# day near the calendar's ends cannot be turned into a moment.
EXPORT_FIRST = date(2000, 1, 1)
EXPORT_LAST = date(2099, 12, 31)


def export_csv(session: Session, actor: Account, start: date, end: date,
               organisation_id: int | None = None) -> str:
    """Movements between two dates (included), for the treasury: one line each,
    ';' separated, amounts with a decimal comma, as spreadsheets in France read them."""
    _agent(actor)
    for value, field in ((start, "start"), (end, "end")):
        if not EXPORT_FIRST <= value <= EXPORT_LAST:
            raise DomainError(f"Indiquez une date entre le {EXPORT_FIRST:%d/%m/%Y} et le "
                              f"{EXPORT_LAST:%d/%m/%Y}.", field)
    if end < start:
        raise DomainError("La date de fin doit suivre la date de début.", "end")
    if (end - start).days > 366:
        raise DomainError("Exportez au plus une année à la fois.", "end")
    query = (
        select(LedgerEntry, Household)
        .join(Household, Household.id == LedgerEntry.household_id)
        .where(LedgerEntry.created_at >= _utc_midnight(start),
               LedgerEntry.created_at < _utc_midnight(end + timedelta(days=1)))
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    )
    if organisation_id is not None:
        query = query.where(Household.organisation_id == organisation_id)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")  # a name typed as =formula stays text
    writer.writerow(["Date", "Heure", "Identifiant famille", "Foyer", "Nature", "Libellé", "Montant",
                     "Numéro de mouvement"])
    for entry, household in session.execute(query):
        euros, cents = divmod(abs(entry.amount_cents), 100)
        amount = f"{'-' if entry.amount_cents < 0 else ''}{euros},{cents:02d}"
        when = local(entry.created_at)
        writer.writerow([when.strftime("%d/%m/%Y"), when.strftime("%H:%M"),
                         household.family_number, household.name,
                         KIND_LABELS.get(entry.kind, entry.kind), entry.label, amount, entry.id])
    return out.getvalue()


def _utc_midnight(day: date) -> datetime:
    """The start of a day in the commune (Paris), as stored: naive UTC."""
    return datetime.combine(day, time.min, tzinfo=PARIS).astimezone(UTC).replace(tzinfo=None)

