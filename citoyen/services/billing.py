"""Pricing and the monthly billing run.

A day of an activity has a price by bracket of quotient familial (a household
without a quotient pays the top bracket). What is charged is data the town
sets: a booked day is charged; a day cancelled through an absence is free if
its motive is one the town counts as justified (``free_absence_motives``),
charged otherwise; a day cancelled before the deadline is free.

Once a month, for each household of a commune: post-paid, one invoice with a
line per child and activity; prepaid, one debit row per child and activity on
the compte d'avance. A ``BilledMonth`` row written in the same transaction
makes the run safe to stop and start again."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import BilledMonth
from citoyen.models import BillingRun
from citoyen.models import Child
from citoyen.models import Household
from citoyen.models import Invoice
from citoyen.models import InvoiceLine
from citoyen.models import LedgerEntry
from citoyen.models import Notification
from citoyen.models import Organisation
from citoyen.models import PriceBracket
from citoyen.models.agenda import BOOKING_ABSENT_UNJUSTIFIED
from citoyen.models.agenda import BOOKING_BOOKED
from citoyen.models.agenda import BOOKING_CANCELLED
from citoyen.models.agenda import BOOKING_PRESENT
from citoyen.models.agenda import Absence
from citoyen.models.agenda import Activity
from citoyen.models.agenda import Booking
from citoyen.models.base import utcnow
from citoyen.models.households import CHILD_VALIDATED
from citoyen.models.money import ENTRY_ADVANCE_USED
from citoyen.models.money import ENTRY_CASH
from citoyen.models.money import ENTRY_CONSUMPTION
from citoyen.models.money import ENTRY_CREDIT_NOTE
from citoyen.models.money import ENTRY_INVOICE_PAYMENT
from citoyen.models.money import ENTRY_REFUND
from citoyen.models.money import ENTRY_TOPUP
from citoyen.models.money import RUN_DONE
from citoyen.models.money import RUN_FAILED
from citoyen.models.money import RUN_RUNNING
from citoyen.services import audit
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.services.households import format_cents
from citoyen.timefmt import MONTHS
from citoyen.timefmt import commune_today
from citoyen.timefmt import local
from citoyen.transactions import begin_write

NEGATIVE_GRACE_DAYS = 15
BATCH = 200  # households billed in one transaction
MAX_BRACKETS = 8


# ---------------------------------------------------------------- labels

def fit(text: str, column) -> str:
    """``text`` as it fits in a length-limited column (a model attribute or a
    table column): cut, with « … » at the end, if it is too long. A label put
    together from an activity's name and a first name can exceed its column,
    which PostgreSQL refuses (and SQLite keeps whole)."""
    limit = column.type.length
    if limit is None or len(text) <= limit:
        return text
    return text[:limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- prices

def _price_cents(text: str, field: str) -> int:
    """A day's price in cents, read like any amount (``ledger.parse_euros``),
    except that zero, however it is written (« 0 », « 0.00 », « 0 € »), is a
    free day where the parser asks for more than zero."""
    written = re.sub(r"[\s\u202f\u00a0€]", "", text).replace(",", ".")
    if ledger.AMOUNT.fullmatch(written) and not written.startswith("-"):
        amount = Decimal(written)
        if amount == 0 and amount.as_tuple().exponent >= -2:
            return 0
    return ledger.parse_euros(text, field)


def brackets_of(session: Session, activity_ids: Sequence[int]) -> dict[int, list[PriceBracket]]:
    found: dict[int, list[PriceBracket]] = defaultdict(list)
    for bracket in session.scalars(select(PriceBracket).where(PriceBracket.activity_id.in_(activity_ids))):
        found[bracket.activity_id].append(bracket)
    for rows in found.values():
        rows.sort(key=lambda b: (b.max_quotient is None, b.max_quotient or 0))
    return found


def price_for(brackets: Sequence[PriceBracket], quotient: int | None) -> int | None:
    """The day's price for this quotient; None if the activity has no price."""
    if not brackets:
        return None
    if quotient is not None:
        for bracket in brackets:
            if bracket.max_quotient is not None and quotient <= bracket.max_quotient:
                return bracket.price_cents
    return brackets[-1].price_cents


def household_prices(session: Session, household: Household) -> list[tuple[Activity, int | None]]:
    """The day's price of each activity the children are enrolled in, for this quotient."""
    from citoyen.models.agenda import Enrolment

    activities = list(session.scalars(
        select(Activity).join(Enrolment, Enrolment.activity_id == Activity.id)
        .where(Enrolment.child_id.in_([c.id for c in household.children] or [0]),
               Enrolment.status == "validated").distinct().order_by(Activity.name)))
    grid = brackets_of(session, [a.id for a in activities])
    return [(a, price_for(grid.get(a.id, []), household.family_quotient)) for a in activities]


def set_prices(session: Session, actor: Account, activity_id: int,
               rows: Sequence[tuple[str, str]]) -> list[PriceBracket]:
    """Replace an activity's price grid: (ceiling of quotient or "" for the top, price)."""
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    parsed: list[tuple[int | None, int]] = []
    for index, (ceiling, price) in enumerate(rows):
        ceiling, price = (ceiling or "").strip(), (price or "").strip()
        if not ceiling and not price:
            continue
        if not price:
            raise DomainError("Indiquez le prix de cette tranche.", f"brackets-{index}-price")
        cents = _price_cents(price, f"brackets-{index}-price")
        if ceiling:
            if not ceiling.isascii() or not ceiling.isdigit() or len(ceiling) > 6:
                raise DomainError("Indiquez un quotient en euros, sans virgule, par exemple 850.",
                                  f"brackets-{index}-ceiling")
            parsed.append((int(ceiling), cents))
        else:
            parsed.append((None, cents))
    tops = [p for p in parsed if p[0] is None]
    if parsed and len(tops) != 1:
        raise DomainError("Laissez vide le plafond d'une seule tranche : la plus haute, qui s'applique "
                          "aussi aux foyers sans quotient.", "brackets-0-ceiling")
    ceilings = [c for c, _ in parsed if c is not None]
    if len(set(ceilings)) != len(ceilings):
        raise DomainError("Deux tranches ont le même plafond.", "brackets-0-ceiling")
    begin_write(session)
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("Cette activité n'existe pas.")
    session.execute(delete(PriceBracket).where(PriceBracket.activity_id == activity.id))
    created = [PriceBracket(activity_id=activity.id, max_quotient=c, price_cents=p) for c, p in parsed]
    session.add_all(created)
    grid = ", ".join(f"{'≤ ' + str(c) if c is not None else 'au-delà'} : {format_cents(p)}"
                     for c, p in sorted(parsed, key=lambda x: (x[0] is None, x[0] or 0)))
    audit.record(session, actor, "money.prices", "activity", activity.id, activity.name,
                 grid or "aucun tarif")
    session.commit()
    return created


# ---------------------------------------------------------------- what a month costs

def month_start(value: date) -> date:
    return value.replace(day=1)


def month_end(value: date) -> date:
    return (value.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def month_label(month: date) -> str:
    return f"{MONTHS[month.month - 1]} {month.year}"


def under_six(child: Child, day: date) -> bool:
    try:
        sixth = child.birth_date.replace(year=child.birth_date.year + 6)
    except ValueError:  # born on 29 February
        sixth = date(child.birth_date.year + 6, 3, 1)
    return day < sixth


@dataclass(frozen=True)
class Charge:
    child: Child
    activity: Activity
    under_six: bool
    days: int
    unit_cents: int
    unbooked: bool = False

    @property
    def amount_cents(self) -> int:
        return self.days * self.unit_cents

    @property
    def label(self) -> str:
        age = " (moins de 6 ans)" if self.under_six else ""
        age += " — présence sans réservation" if self.unbooked else ""
        return (f"{self.activity.name} — {self.child.first_name}{age} — {self.days} jour"
                f"{'s' if self.days > 1 else ''} à {format_cents(self.unit_cents)}")


def _booking_rows(session: Session, child_ids: Sequence[int], month: date):
    start, end = month_start(month), month_end(month)
    return session.execute(
        select(Booking.child_id, Booking.activity_id, Booking.day, Booking.status, Absence.motive,
               Booking.unbooked)
        .outerjoin(Absence, Absence.id == Booking.absence_id)
        .where(Booking.child_id.in_(list(child_ids)), Booking.day >= start, Booking.day <= end)
    ).all()


def _count(rows, children: Mapping[int, Child], free: set[str]):
    """Charged days by household, then by (child, activity, under 6, present without booking)."""
    counted: dict[int, dict[tuple[int, int, bool, bool], int]] = defaultdict(lambda: defaultdict(int))
    for child_id, activity_id, day, status, motive, unbooked in rows:
        charged = status in (BOOKING_BOOKED, BOOKING_PRESENT, BOOKING_ABSENT_UNJUSTIFIED) or (
            status == BOOKING_CANCELLED and motive is not None and motive not in free)
        if charged:
            child = children[child_id]
            key = (child_id, activity_id, under_six(child, day), bool(unbooked) and status == BOOKING_PRESENT)
            counted[child.household_id][key] += 1
    return counted


def _priced(household: Household, counted, children: Mapping[int, Child], activities: Mapping[int, Activity],
            grid: Mapping[int, list[PriceBracket]], surcharge_percent: int = 0) -> list[Charge]:
    result = []
    for (child_id, activity_id, young, unbooked), days in sorted(counted.items()):
        unit = price_for(grid.get(activity_id, []), household.family_quotient)
        if unit and unbooked:
            unit = (unit * (100 + surcharge_percent) + 50) // 100  # to the nearest cent, half up
        if unit:
            result.append(Charge(children[child_id], activities[activity_id], young, days, unit, unbooked))
    return result


def charges(session: Session, household: Household, month: date,
            organisation: Organisation | None = None) -> list[Charge]:
    """The month's charged days of the household's children, grouped by child,
    activity and age (under 6 or not), priced for the household's quotient."""
    organisation = organisation or session.get(Organisation, household.organisation_id)
    free = set((organisation.free_absence_motives or "").split())
    children = {c.id: c for c in session.scalars(select(Child).where(Child.household_id == household.id))}
    if not children:
        return []
    counted = _count(_booking_rows(session, list(children), month), children, free).get(household.id)
    if not counted:
        return []
    activity_ids = sorted({key[1] for key in counted})
    activities = {a.id: a for a in session.scalars(select(Activity).where(Activity.id.in_(activity_ids)))}
    return _priced(household, counted, children, activities, brackets_of(session, activity_ids),
                   organisation.unbooked_surcharge_percent)


# ---------------------------------------------------------------- negative balances

def negative_since(session: Session, household_id: int):
    """When the compte d'avance last went below zero, or None if it is not negative."""
    running, since = 0, None
    for amount, when in session.execute(
        select(LedgerEntry.amount_cents, LedgerEntry.created_at)
        .where(LedgerEntry.household_id == household_id)
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    ):
        before, running = running, running + amount
        if before >= 0 > running:
            since = when
        elif running >= 0:
            since = None
    return since if running < 0 else None


def booking_refusal(session: Session, household_id: int, now=None, billing_mode: str | None = None,
                    balance: int | None = None) -> str | None:
    """Why new bookings are refused (a prepaid account negative for more than
    15 days), or None. ``billing_mode`` and ``balance``: the commune's and the
    household's, if the caller has read them."""
    if billing_mode is None:
        household = session.get(Household, household_id)
        billing_mode = session.get(Organisation, household.organisation_id).billing_mode
    if billing_mode != "prepaid":
        return None
    if (balance if balance is not None else ledger.balance(session, household_id)) >= 0:
        return None  # the usual case: one sum, no history read
    since = negative_since(session, household_id)
    if since is None or since > (now or utcnow()) - timedelta(days=NEGATIVE_GRACE_DAYS):
        return None
    return (f"Réservation impossible : le solde de votre compte d'avance est négatif "
            f"({format_cents(ledger.balance(session, household_id))}) depuis plus de "
            f"{NEGATIVE_GRACE_DAYS} jours. Rechargez-le dans « Paiements » (ou réglez à la mairie) : "
            "les réservations seront de nouveau possibles dès qu'il sera positif ou nul.")


# ---------------------------------------------------------------- the run

def bill_household(session: Session, household_id: int, month: date, base_url: str) -> tuple[int, int]:
    """Bill one household's month, once. Returns (documents written, amount)."""
    return bill_households(session, [household_id], month, base_url)


def bill_households(session: Session, household_ids: Sequence[int], month: date,
                    base_url: str) -> tuple[int, int]:
    """Bill the month of a batch of households of one commune in one transaction,
    each at most once (a household billed meanwhile by another run makes the
    batch start again without it). Returns (documents written, amount)."""
    month = month_start(month)
    for _ in range(3):
        try:
            return _bill_batch(session, household_ids, month, base_url)
        except IntegrityError:  # another run billed some of them at the same moment
            session.rollback()
    return _bill_batch(session, household_ids, month, base_url)


def _bill_batch(session: Session, household_ids: Sequence[int], month: date, base_url: str) -> tuple[int, int]:
    from citoyen.models import HouseholdLink

    begin_write(session)
    done = set(session.scalars(select(BilledMonth.household_id).where(
        BilledMonth.household_id.in_(list(household_ids)), BilledMonth.month == month)))
    todo = [i for i in household_ids if i not in done]
    if not todo:
        session.rollback()
        return 0, 0
    found = {h.id: h for h in session.scalars(select(Household).where(Household.id.in_(todo)))}
    organisation = session.get(Organisation, next(iter(found.values())).organisation_id)
    free = set((organisation.free_absence_motives or "").split())
    children = {c.id: c for c in session.scalars(select(Child).where(Child.household_id.in_(todo)))}
    counted = _count(_booking_rows(session, list(children), month), children, free) if children else {}
    activity_ids = sorted({key[1] for per in counted.values() for key in per})
    activities = {a.id: a for a in session.scalars(select(Activity).where(Activity.id.in_(activity_ids)))}
    grid = brackets_of(session, activity_ids)
    surcharge = organisation.unbooked_surcharge_percent
    priced = {h: _priced(found[h], counted[h], children, activities, grid, surcharge)
              for h in todo if counted.get(h)}
    priced = {h: lines for h, lines in priced.items() if lines}
    # A refund or a payment committed meanwhile is in the balances read below.
    ledger.lock_households(session, priced)
    balances = dict(session.execute(
        select(LedgerEntry.household_id, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.household_id.in_(list(priced) or [0])).group_by(LedgerEntry.household_id)).all())
    accounts: dict[int, list[Account]] = defaultdict(list)
    for household_id, account in session.execute(
            select(HouseholdLink.household_id, Account).join(Account, Account.id == HouseholdLink.account_id)
            .where(HouseholdLink.household_id.in_(list(priced) or [0]))):
        accounts[household_id].append(account)
    label = month_label(month)
    documents = amount = 0
    postpaid = organisation.billing_mode == "postpaid"
    numbers = invoices.reserve_numbers(session, organisation.id, commune_today().year, len(priced)) \
        if postpaid and priced else []
    for index, (household_id, lines) in enumerate(sorted(priced.items())):
        household, total = found[household_id], sum(c.amount_cents for c in lines)
        before = balances.get(household_id, 0)
        billed = BilledMonth(household_id=household_id, month=month)
        if postpaid:
            invoice = invoices.issue(
                session, household, fit(f"Facture post-paiement pour {label}", Invoice.label),
                month, month_end(month),
                [invoices.Line(fit(c.label, InvoiceLine.label), c.days, c.unit_cents, c.child.id, c.under_six)
                 for c in lines],
                number=numbers[index], credit=before)
            billed.invoice_id = invoice.id
            documents += 1
            for account in accounts[household_id]:
                notifications.notify(session, account,
                                     fit(f"Votre facture de {label}", Notification.subject),
                                     f"La facture {invoice.number} de {format_cents(total)} est disponible "
                                     "dans « Mes factures ».", base_url, link="/paiements/factures")
        else:
            for c in lines:
                session.add(LedgerEntry(
                    household_id=household_id, amount_cents=-c.amount_cents, kind=ENTRY_CONSUMPTION,
                    label=fit(f"Consommations de {label} — {c.label}", LedgerEntry.label),
                    child_id=c.child.id, service_month=month, under_six=c.under_six))
            documents += len(lines)
            if before - total < 0 <= before:
                for account in accounts[household_id]:
                    notifications.notify(
                        session, account, "Votre compte d'avance est négatif",
                        f"Après les consommations de {label}, votre solde est de "
                        f"{format_cents(before - total)}. Rechargez-le dans « Paiements » : après "
                        f"{NEGATIVE_GRACE_DAYS} jours de solde négatif, les nouvelles réservations sont "
                        "refusées.", base_url, link="/paiements")
        amount += total
        session.add(billed)
    session.add_all([BilledMonth(household_id=h, month=month) for h in todo if h not in priced])
    session.commit()
    return documents, amount


def unfinished_month(month: date, today: date | None = None) -> str | None:
    """Why this month cannot be billed yet, or None: only an ended month is
    billed, else its days still to come would be charged and then never again."""
    end = date.max if month >= date(9999, 12, 1) else month_end(month)
    if end < (today or commune_today()):
        return None
    return f"Facturez un mois terminé : {month_label(month)} se termine le {end:%d/%m/%Y}."


def start_run(session: Session, actor: Account | None, organisation_id: int, month: date,
              today: date | None = None) -> BillingRun:
    """Open (or reopen) the month's run of a commune: a month that has ended."""
    if actor is not None and not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    month = month_start(month)
    reason = unfinished_month(month, today)
    if reason:
        raise DomainError(reason, "month")
    begin_write(session)
    # One agent starts a commune's run at a time (PostgreSQL; SQLite's write lock does it).
    session.execute(select(Organisation.id).where(Organisation.id == organisation_id).with_for_update())
    run = session.scalar(select(BillingRun).where(BillingRun.organisation_id == organisation_id,
                                                  BillingRun.month == month))
    if run is not None and run.status == RUN_RUNNING and run.started_at > utcnow() - timedelta(minutes=30):
        session.rollback()
        raise DomainError(f"La facturation de {month_label(month)} est déjà en cours.", "month")
    if run is None:
        run = BillingRun(organisation_id=organisation_id, month=month)
        session.add(run)
    run.status, run.done, run.documents, run.amount_cents, run.message = RUN_RUNNING, 0, 0, 0, ""
    run.started_at, run.finished_at = utcnow(), None
    run.started_by_id = actor.id if actor is not None else None
    run.total = len(session.scalars(select(Household.id).where(
        Household.organisation_id == organisation_id)).all())
    session.flush()
    if actor is not None:
        organisation = session.get(Organisation, organisation_id)
        audit.record(session, actor, "money.invoicing", "organisation", organisation_id, organisation.name,
                     f"Facturation de {month_label(month)} lancée")
    session.commit()
    return run


def execute_run(new_session: Callable[[], Session], run_id: int, base_url: str,
                progress_every: int = 50) -> None:
    """Bill every household of the run's commune, each in its own transaction,
    saving the progress as it goes."""
    with new_session() as session:
        run = session.get(BillingRun, run_id)
        organisation_id, month = run.organisation_id, run.month
        ids = list(session.scalars(select(Household.id).where(Household.organisation_id == organisation_id)
                                   .order_by(Household.id)))
    done = documents = amount = 0
    try:
        with new_session() as session:
            for start in range(0, len(ids), BATCH):
                batch = ids[start:start + BATCH]
                written, cents = bill_households(session, batch, month, base_url)
                done, documents, amount = done + len(batch), documents + written, amount + cents
                if done % progress_every < BATCH or done == len(ids):
                    _progress(session, run_id, done, documents, amount)
            _progress(session, run_id, done, documents, amount, RUN_DONE)
    except Exception as error:  # noqa: BLE001 — kept on the run for the agent to read
        with new_session() as session:
            _progress(session, run_id, done, documents, amount, RUN_FAILED,
                      f"Interrompue : {type(error).__name__}. Relancez-la : rien ne sera facturé deux fois.")
        raise


def _progress(session: Session, run_id: int, done: int, documents: int, amount: int,
              status: str = RUN_RUNNING, message: str = "") -> None:
    begin_write(session)
    run = session.get(BillingRun, run_id)
    # What this pass wrote: an earlier, interrupted pass is not counted again.
    run.done, run.status, run.message = done, status, message
    run.documents, run.amount_cents = documents, amount
    if status != RUN_RUNNING:
        run.finished_at = utcnow()
    session.commit()


def run_in_background(app, run_id: int, base_url: str) -> threading.Thread:
    from citoyen.db import new_session

    thread = threading.Thread(target=execute_run, args=(lambda: new_session(app), run_id, base_url),
                              daemon=True, name=f"billing-run-{run_id}")
    thread.start()
    return thread


def runs_of(session: Session, organisation_ids: Sequence[int]) -> list[BillingRun]:
    return list(session.scalars(select(BillingRun).where(BillingRun.organisation_id.in_(organisation_ids))
                                .order_by(BillingRun.month.desc()).limit(24)))


def default_month(today: date | None = None) -> date:
    """The month an agent most likely bills: the previous one."""
    today = today or commune_today()
    return month_start(month_start(today) - timedelta(days=1))


# ---------------------------------------------------------------- attestation fiscale

def tax_eligibility(child: Child, year: int) -> str | None:
    """Why no attestation can be made for this child and year, or None."""
    if not under_six(child, date(year, 1, 1)):
        return f"{child.first_name} avait 6 ans ou plus pendant toute l'année {year}."
    if child.birth_date.year > year:
        return f"{child.first_name} n'était pas né(e) en {year}."
    return None


# Rows that are money received from the family: the only ones an attestation
# may certify (a credit note reduces a debt, it is not a payment).
MONEY_IN = (ENTRY_TOPUP, ENTRY_CASH, ENTRY_INVOICE_PAYMENT)


class _Pool:
    """The family's money not spent yet, as lots (cents, year received), oldest first."""

    def __init__(self) -> None:
        self.lots: deque[list] = deque()

    def add(self, cents: int, year: int | None) -> None:
        if cents > 0:
            self.lots.append([cents, year])

    def take(self, cents: int, newest_first: bool = False) -> list[tuple[int, int | None]]:
        """Up to ``cents`` of the lots, as (cents, year received) pieces."""
        pieces = []
        while cents > 0 and self.lots:
            lot = self.lots[-1] if newest_first else self.lots[0]
            used = min(lot[0], cents)
            pieces.append((used, lot[1]))
            lot[0] -= used
            cents -= used
            if not lot[0]:
                self.lots.pop() if newest_first else self.lots.popleft()
        return pieces


def childcare_paid(session: Session, household_id: int) -> dict[tuple[int, int], int]:
    """What was paid for each child's days under 6, by calendar year of payment:
    {(child id, year): cents}. Only money actually received counts (top-ups,
    cash, payments online), in the year it was received (Paris time); a credit
    note is not a payment, and a debit the money has not covered is not paid.

    The household's rows are read in order. Money received becomes lots; a
    prepaid debit of a month's days takes from the oldest lots (what no lot
    covers waits for the next money); an invoice is paid by the money linked to
    it (paid online, or the compte d'avance through a pair of rows), each
    invoice line receiving its share; a refund gives back the newest money."""
    amounts = dict(session.execute(select(Invoice.id, Invoice.amount_cents).where(
        Invoice.household_id == household_id, Invoice.kind == "invoice")).all())
    shares: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for invoice_id, child_id, cents in session.execute(
            select(InvoiceLine.invoice_id, InvoiceLine.child_id, InvoiceLine.amount_cents)
            .where(InvoiceLine.invoice_id.in_(list(amounts) or [0]), InvoiceLine.under_six.is_(True),
                   InvoiceLine.child_id.is_not(None))):
        shares[invoice_id].append((child_id, cents))
    owed = dict(amounts)  # what each invoice still asks
    paid_invoices: dict[tuple[int, int], int] = defaultdict(int)  # (invoice, year) → money
    paid: dict[tuple[int, int], int] = defaultdict(int)
    pool, debts, moving = _Pool(), deque(), []

    def pay_invoice(invoice_id: int, pieces) -> list:
        """Apply money to an invoice, up to what it asks; what it does not need comes back."""
        back = []
        for cents, year in pieces:
            used = min(cents, max(owed.get(invoice_id, 0), 0))
            if used:
                owed[invoice_id] -= used
                if year is not None:
                    paid_invoices[invoice_id, year] += used
            if cents - used:
                back.append((cents - used, year))
        return back

    def pay_days(debt: list, pieces) -> None:
        child_id, young = debt[1], debt[2]
        for cents, year in pieces:
            debt[0] -= cents
            if young and child_id is not None and year is not None:
                paid[child_id, year] += cents

    def receive(cents: int, year: int) -> None:
        """Money in: the days already debited and not covered first, then the pool."""
        while cents and debts:
            used = min(cents, debts[0][0])
            pay_days(debts[0], [(used, year)])
            cents -= used
            if not debts[0][0]:
                debts.popleft()
        pool.add(cents, year)

    rows = session.execute(
        select(LedgerEntry.amount_cents, LedgerEntry.kind, LedgerEntry.invoice_id, LedgerEntry.child_id,
               LedgerEntry.under_six, LedgerEntry.created_at)
        .where(LedgerEntry.household_id == household_id)
        .order_by(LedgerEntry.created_at, LedgerEntry.id))
    for cents, kind, invoice_id, child_id, young, when in rows:
        year = local(when).year
        if kind in MONEY_IN and cents > 0:
            if invoice_id is not None:
                for rest, _ in pay_invoice(invoice_id, [(cents, year)]):
                    receive(rest, year)
            else:
                receive(cents, year)
        elif kind == ENTRY_REFUND:
            pool.take(-cents, newest_first=True)
        elif kind == ENTRY_CONSUMPTION and cents < 0:
            debt = [-cents, child_id, bool(young)]
            pay_days(debt, pool.take(-cents))
            if debt[0]:
                debts.append(debt)
        elif kind == ENTRY_CREDIT_NOTE and invoice_id is not None:
            owed[invoice_id] = owed.get(invoice_id, 0) - cents
        elif kind == ENTRY_ADVANCE_USED and cents < 0 and invoice_id is None:
            taken = pool.take(-cents)
            short = -cents - sum(c for c, _ in taken)
            moving += taken + ([(short, None)] if short else [])
        elif kind == ENTRY_ADVANCE_USED and cents > 0 and invoice_id is not None:
            pieces, needed = [], cents
            while needed and moving:
                piece_cents, piece_year = moving.pop(0)
                used = min(piece_cents, needed)
                pieces.append((used, piece_year))
                needed -= used
                if piece_cents - used:
                    moving.insert(0, (piece_cents - used, piece_year))
            for rest, rest_year in pay_invoice(invoice_id, pieces):
                pool.add(rest, rest_year)
    # What an invoice line has received by the end of a year is its part of
    # the money received by then (line × money ÷ invoice, rounded down); the
    # year gets that minus what the years before got. Rounded this way, the
    # years of a line add up to what was paid of it (the whole line once the
    # invoice is paid), and a later payment never changes an earlier year.
    received: dict[int, int] = defaultdict(int)
    for (invoice_id, year), money in sorted(paid_invoices.items()):
        total, before = amounts[invoice_id], received[invoice_id]
        received[invoice_id] = after = before + money
        if total:
            for child_id, cents in shares.get(invoice_id, []):
                paid[child_id, year] += cents * after // total - cents * before // total
    return dict(paid)


def tax_amount(session: Session, child: Child, year: int) -> int:
    """Childcare costs of the child's days under 6 paid in ``year``: money
    received that year, never a credit note nor a debit left unpaid."""
    return childcare_paid(session, child.household_id).get((child.id, year), 0)


def tax_certificate(session: Session, household: Household, child_id: int, year: int) -> bytes:
    """The attestation fiscale of a child of this household, as a PDF."""
    from citoyen.models import Guardian
    from citoyen.pdf import tax

    child = session.get(Child, child_id)
    if child is None or child.household_id != household.id:
        raise NotFound("Cet enfant n'existe pas.")
    if not 2000 <= year <= commune_today().year:
        raise DomainError("Choisissez une année passée ou l'année en cours.", "year")
    amount = tax_amount(session, child, year)
    reason = tax_eligibility(child, year)
    # Days under 6 of the year before, paid this year, count this year even
    # though the child turned 6 meanwhile.
    if reason and not (amount and child.birth_date.year <= year and under_six(child, date(year - 1, 12, 31))):
        raise DomainError(reason, "child")
    guardians = session.scalars(select(Guardian).where(
        Guardian.household_id == household.id, Guardian.status == CHILD_VALIDATED).order_by(Guardian.id))
    town = session.get(Organisation, household.organisation_id)
    return tax.build(town=town.name, siret=town.siret, address=town.address, family=household.name,
                     guardians=", ".join(g.full_name for g in guardians), child=child.full_name,
                     born=child.birth_date, year=year, amount=amount, issued=commune_today())


# ---------------------------------------------------------------- the commune's billing settings

MODES = {"prepaid": "Prépaiement (compte d'avance débité chaque mois)",
         "postpaid": "Post-paiement (une facture par mois)"}


def update_settings(session: Session, actor: Account, organisation_id: int, mode: str, siret: str,
                    free_motives: Sequence[str], surcharge: str = "0") -> Organisation:
    """The billing rules a commune sets: its mode, its SIRET, the absence motives not charged."""
    from citoyen.services.agenda import ABSENCE_MOTIVES

    if not actor.is_admin:
        raise Forbidden("Cette action est réservée aux administrateurs.")
    if mode not in MODES:
        raise DomainError("Choisissez le mode de paiement de la commune.", "billing_mode")
    siret = "".join((siret or "").split())
    if siret and (not siret.isascii() or not siret.isdigit() or len(siret) != 14):
        raise DomainError("Le SIRET compte 14 chiffres, par exemple 214 509 999 00017.", "siret")
    motives = [m for m in ABSENCE_MOTIVES if m in set(free_motives)]
    surcharge = (surcharge or "0").strip().rstrip("%").strip() or "0"
    if not surcharge.isascii() or not surcharge.isdigit() or int(surcharge) > 200:
        raise DomainError("Indiquez un pourcentage entre 0 et 200, par exemple 20.", "surcharge")
    begin_write(session)
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("Cette commune n'existe pas.")
    organisation.billing_mode, organisation.siret = mode, siret
    organisation.free_absence_motives = " ".join(motives)
    organisation.unbooked_surcharge_percent = int(surcharge)
    audit.record(session, actor, "money.settings", "organisation", organisation.id, organisation.name,
                 f"{MODES[mode]} ; SIRET {siret or 'non renseigné'} ; absences non facturées : "
                 + (", ".join(ABSENCE_MOTIVES[m] for m in motives) or "aucune")
                 + f" ; majoration d'une présence sans réservation : {int(surcharge)} %")
    session.commit()
    return organisation
