"""Invoices (post-paid communes): numbered without gaps per commune and year,
never edited; a correction is a credit note (avoir). Each invoice is a debit
row of the household's ledger; payments and credit notes are credit rows
linked to it, so « Reste à payer » is read from the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Household
from citoyen.models import Invoice
from citoyen.models import InvoiceCounter
from citoyen.models import InvoiceLine
from citoyen.models import LedgerEntry
from citoyen.models.money import CREDIT_NOTE
from citoyen.models.money import ENTRY_ADVANCE_USED
from citoyen.models.money import ENTRY_CREDIT_NOTE
from citoyen.models.money import ENTRY_INVOICE
from citoyen.models.money import INVOICE
from citoyen.services import audit
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.services.households import format_cents
from citoyen.services.ledger import add_once
from citoyen.services.ledger import lock_household
from citoyen.services.ledger import parse_euros
from citoyen.services.ledger import replayed
from citoyen.services.ledger import usable_key
from citoyen.timefmt import commune_today
from citoyen.timefmt import local
from citoyen.transactions import begin_write

PREFIX = {INVOICE: "F", CREDIT_NOTE: "A"}


def next_number(session: Session, organisation_id: int, year: int, kind: str = INVOICE) -> str:
    """Take the next number in the caller's transaction: the counter row stays
    locked until it commits, and a rollback gives the number back."""
    return reserve_numbers(session, organisation_id, year, 1, kind)[0]


def reserve_numbers(session: Session, organisation_id: int, year: int, count: int,
                    kind: str = INVOICE) -> list[str]:
    """``count`` consecutive numbers at once, in the caller's transaction."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(InvoiceCounter).values(
        organisation_id=organisation_id, year=year, kind=kind, last=0).on_conflict_do_nothing())
    last = session.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.organisation_id == organisation_id, InvoiceCounter.year == year,
               InvoiceCounter.kind == kind)
        .values(last=InvoiceCounter.last + count).returning(InvoiceCounter.last)
    ).scalar_one()
    return [f"{PREFIX[kind]}{year}-{n:06d}" for n in range(last - count + 1, last + 1)]


@dataclass(frozen=True)
class Line:
    label: str
    quantity: int
    unit_cents: int
    child_id: int | None = None
    under_six: bool = False


def issue(session: Session, household: Household, label: str, period_start: date, period_end: date,
          lines: Sequence[Line], today: date | None = None, number: str | None = None,
          credit: int | None = None) -> Invoice:
    """Write one invoice and its debit row in the caller's transaction (not committed).
    A batch passes its reserved ``number`` and the household's balance (``credit``)."""
    begin_write(session)
    today = today or commune_today()
    amount = sum(line.quantity * line.unit_cents for line in lines)
    invoice = Invoice(
        organisation_id=household.organisation_id, household_id=household.id, kind=INVOICE,
        number=number or next_number(session, household.organisation_id, today.year), label=label,
        period_start=period_start, period_end=period_end, amount_cents=amount,
        lines=[InvoiceLine(child_id=line.child_id, label=line.label, quantity=line.quantity,
                           unit_cents=line.unit_cents, amount_cents=line.quantity * line.unit_cents,
                           under_six=line.under_six)
               for line in lines],
    )
    session.add(invoice)
    session.flush()
    if amount:
        if credit is None:
            credit = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                                    .where(LedgerEntry.household_id == household.id))
        session.add(LedgerEntry(household_id=household.id, amount_cents=-amount, kind=ENTRY_INVOICE,
                                label=f"Facture {invoice.number}", invoice_id=invoice.id))
        # Money already on the compte d'avance settles the invoice first: two rows
        # that cancel out, one of them linked to the invoice.
        used = min(max(credit, 0), amount)
        if used:
            session.add(LedgerEntry(household_id=household.id, amount_cents=-used, kind=ENTRY_ADVANCE_USED,
                                    label=f"Compte d'avance utilisé pour la facture {invoice.number}"))
            session.add(LedgerEntry(household_id=household.id, amount_cents=used, kind=ENTRY_ADVANCE_USED,
                                    label=f"Règlement de la facture {invoice.number} par le compte d'avance",
                                    invoice_id=invoice.id))
    return invoice


def paid_on(session: Session, invoice_ids: Sequence[int]) -> dict[int, int]:
    """What was paid or credited on each invoice, in cents."""
    if not invoice_ids:
        return {}
    rows = session.execute(
        select(LedgerEntry.invoice_id, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.invoice_id.in_(invoice_ids), LedgerEntry.amount_cents > 0)
        .group_by(LedgerEntry.invoice_id)
    )
    return {invoice_id: total for invoice_id, total in rows}


def remaining(session: Session, invoice: Invoice) -> int:
    """Reste à payer."""
    if invoice.kind != INVOICE:
        return 0
    return max(invoice.amount_cents - paid_on(session, [invoice.id]).get(invoice.id, 0), 0)


def state(invoice: Invoice, left: int) -> str:
    if invoice.kind == CREDIT_NOTE:
        return "Avoir"
    if left == 0:
        return "Payée"
    if left < invoice.amount_cents:
        return "Partiellement payée"
    return "À payer"


def of_household(session: Session, household_id: int) -> list[tuple[Invoice, int]]:
    """The household's invoices and credit notes, newest first, with what is left to pay."""
    found = list(session.scalars(
        select(Invoice).where(Invoice.household_id == household_id)
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
    ))
    paid = paid_on(session, [i.id for i in found])
    return [(i, 0 if i.kind != INVOICE else max(i.amount_cents - paid.get(i.id, 0), 0)) for i in found]


def get_for(session: Session, household: Household, invoice_id: int) -> Invoice:
    """An invoice of this household, or NotFound."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.household_id != household.id:
        raise NotFound("Cette facture n'existe pas.")
    return invoice


def credit_note(session: Session, actor: Account, household: Household, invoice_id: int,
                amount: str, reason: str, today: date | None = None, key: str | None = None) -> Invoice:
    """Créer un avoir: reduce what an invoice asks, never edit it. ``key``: the
    form's idempotency key; the same submission twice makes one avoir."""
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    cents = parse_euros(amount, "amount")
    reason = " ".join((reason or "").split())[:150]
    if not reason:
        raise DomainError("Indiquez le motif de l'avoir : il figure sur le document.", "reason")
    key = usable_key(key)
    begin_write(session)
    household_id = household.id
    lock_household(session, household_id)  # two avoirs at once never exceed what is left to pay
    earlier = replayed(session, key, household_id, ENTRY_CREDIT_NOTE, cents, invoice_id)
    if earlier is not None:
        return _note_of(session, earlier)
    invoice = get_for(session, household, invoice_id)
    if invoice.kind != INVOICE:
        raise DomainError("Un avoir corrige une facture, pas un autre avoir.", "amount")
    left = remaining(session, invoice)
    if cents > left:
        raise DomainError(f"L'avoir ne peut pas dépasser le reste à payer ({format_cents(left)}).",
                          "amount")
    today = today or commune_today()
    note = Invoice(
        organisation_id=invoice.organisation_id, household_id=household.id, kind=CREDIT_NOTE,
        number=next_number(session, invoice.organisation_id, today.year, CREDIT_NOTE),
        label=f"Avoir sur la facture {invoice.number} — {reason}", period_start=invoice.period_start,
        period_end=invoice.period_end, amount_cents=cents, corrects_id=invoice.id,
        lines=[InvoiceLine(label=reason, quantity=1, unit_cents=cents, amount_cents=cents)],
    )
    session.add(note)
    session.flush()
    name, number, corrected = household.name, note.number, invoice.number
    earlier = add_once(session, LedgerEntry(
        household_id=household_id, amount_cents=cents, kind=ENTRY_CREDIT_NOTE,
        label=f"Avoir {number} sur la facture {corrected}", invoice_id=invoice_id,
        recorded_by_id=actor.id, idempotency_key=key), key, household_id, ENTRY_CREDIT_NOTE, cents, invoice_id)
    if earlier is not None:  # the same form, sent at the same moment: its avoir
        return _note_of(session, earlier)
    audit.record(session, actor, "money.credit_note", "household", household_id, name,
                 f"{number} : {format_cents(cents)} sur {corrected} — {reason}")
    session.commit()
    return note


def _note_of(session: Session, entry: LedgerEntry) -> Invoice:
    """The avoir whose ledger row this is: its label names it."""
    notes = session.scalars(select(Invoice).where(
        Invoice.household_id == entry.household_id, Invoice.kind == CREDIT_NOTE,
        Invoice.corrects_id == entry.invoice_id, Invoice.amount_cents == entry.amount_cents))
    return next(n for n in notes if entry.label.startswith(f"Avoir {n.number} "))


def pdfs(session: Session, invoice_ids: Sequence[int]):
    """(invoice, PDF) for many invoices, read in a few queries (the monthly run's PDFs)."""
    from sqlalchemy.orm import selectinload

    from citoyen.models import Organisation

    found = list(session.scalars(select(Invoice).where(Invoice.id.in_(list(invoice_ids)))
                                 .options(selectinload(Invoice.lines)).order_by(Invoice.id)))
    homes = {h.id: h for h in session.scalars(select(Household).where(
        Household.id.in_({i.household_id for i in found})))}
    towns = {t.id: t for t in session.scalars(select(Organisation).where(
        Organisation.id.in_({i.organisation_id for i in found})))}
    paid = paid_on(session, [i.id for i in found])
    for invoice in found:
        left = max(invoice.amount_cents - paid.get(invoice.id, 0), 0) if invoice.kind == INVOICE else 0
        yield invoice, pdf(session, invoice, homes[invoice.household_id], towns[invoice.organisation_id], left)


def pdf(session: Session, invoice: Invoice, household: Household | None = None, town=None,
        left: int | None = None) -> bytes:
    """The invoice or credit note as a PDF."""
    from citoyen.models import Organisation
    from citoyen.pdf import invoice as invoice_pdf

    household = household or session.get(Household, invoice.household_id)
    town = town or session.get(Organisation, invoice.organisation_id)
    corrects = session.get(Invoice, invoice.corrects_id).number if invoice.corrects_id else ""
    address = ", ".join(part for part in (
        household.address_line1, household.address_line2,
        f"{household.postcode} {household.city}".strip()) if part)
    contact = " — ".join(part for part in (town.phone, town.email) if part)
    return invoice_pdf.build(
        town=town.name, siret=town.siret, service=town.service_name, contact=contact,
        family=household.name, family_number=household.family_number, address=address,
        subscription_code=household.subscription_code, number=invoice.number,
        is_credit_note=invoice.kind == CREDIT_NOTE, label=invoice.label, issued=local(invoice.issued_at).date(),
        period=(invoice.period_start, invoice.period_end),
        lines=[(line.label, line.quantity, line.unit_cents, line.amount_cents) for line in invoice.lines],
        total=invoice.amount_cents, left=remaining(session, invoice) if left is None else left,
        corrects=corrects,
    )


def allocate(session: Session, household_id: int, cents: int) -> int:
    """Money just received without a target (a top-up, cash, what an invoice
    already settled no longer needs) pays the household's open invoices, oldest
    first, through pairs of rows that cancel out. Returns how much was
    allocated. In the caller's transaction."""
    if cents <= 0:
        return 0
    lock_household(session, household_id)
    open_invoices = list(session.scalars(
        select(Invoice).where(Invoice.household_id == household_id, Invoice.kind == INVOICE)
        .order_by(Invoice.issued_at, Invoice.id)))
    paid = paid_on(session, [i.id for i in open_invoices])
    allocated = 0
    for invoice in open_invoices:
        left = invoice.amount_cents - paid.get(invoice.id, 0)
        used = min(left, cents - allocated)
        if used <= 0:
            continue
        session.add(LedgerEntry(household_id=household_id, amount_cents=-used, kind=ENTRY_ADVANCE_USED,
                                label=f"Compte d'avance utilisé pour la facture {invoice.number}"))
        session.add(LedgerEntry(household_id=household_id, amount_cents=used, kind=ENTRY_ADVANCE_USED,
                                label=f"Règlement de la facture {invoice.number} par le compte d'avance",
                                invoice_id=invoice.id))
        allocated += used
        if allocated == cents:
            break
    return allocated
