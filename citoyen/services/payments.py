"""Online payments through eopayment: top-ups of the compte d'avance.

A payment row is written before the family is sent to the bank. The bank's
server-to-server notification and the family's return both go through
``settle``, which credits the household at most once whatever the order or
the number of messages: a guarded UPDATE moves the payment to "paid" exactly
once (from pending, abandoned or refused: a card may be retried within one
payment), "paid" is final, and the ledger accepts one row per payment."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import eopayment
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Household
from citoyen.models import Invoice
from citoyen.models import LedgerEntry
from citoyen.models import Organisation
from citoyen.models import Payment
from citoyen.models.base import utcnow
from citoyen.models.money import ENTRY_INVOICE_PAYMENT
from citoyen.models.money import ENTRY_TOPUP
from citoyen.models.money import PAYMENT_ABANDONED
from citoyen.models.money import PAYMENT_PAID
from citoyen.models.money import PAYMENT_PENDING
from citoyen.models.money import PAYMENT_REFUSED
from citoyen.services import households
from citoyen.services import invoices
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from citoyen.services.households import format_cents
from citoyen.services.ledger import parse_euros
from citoyen.transactions import begin_write

log = logging.getLogger("citoyen.payments")

# Options of a backend that are secrets: never shown back.
SECRET_OPTIONS = ("secret_test", "secret_production", "secret", "key", "password")


def backend_config(settings: Mapping, organisation: Organisation) -> dict | None:
    """The organisation's backend: PAYMENT_BACKENDS[slug], else PAYMENT_BACKENDS["*"]."""
    configured = settings.get("PAYMENT_BACKENDS") or {}
    return configured.get(organisation.slug) or configured.get("*")


def describe_backend(config: Mapping | None) -> dict[str, str]:
    """What an administrator may read of a backend's configuration: secrets hidden."""
    if not config:
        return {}
    shown = {"backend": config.get("kind", "")}
    for name, value in (config.get("options") or {}).items():
        shown[name] = "••••••" if any(word in name for word in SECRET_OPTIONS) else str(value)
    return shown


def _backend(config: Mapping) -> eopayment.Payment:
    return eopayment.Payment(config["kind"], dict(config.get("options") or {}))


# How long the bank keeps a payment page open: an invoice payment younger than
# this, still pending, may yet be paid, so a second one is not started.
PAYMENT_SESSION = timedelta(minutes=15)
PAYMENT_IN_PROGRESS = ("Un paiement de cette facture est déjà en cours. "
                       "Attendez quelques minutes avant de réessayer.")


def limits(settings: Mapping) -> tuple[int, int]:
    return int(settings.get("TOPUP_MIN_CENTS", 100)), int(settings.get("TOPUP_MAX_CENTS", 100_000))


@dataclass
class Redirect:
    """Where to send the browser: a form to post to the bank (or a plain URL)."""

    url: str
    method: str
    fields: list[tuple[str, str]]


def start_topup(session: Session, settings: Mapping, actor: Account, household: Household,
                amount: str, urls: Mapping[str, str]) -> tuple[Payment, Redirect]:
    """Recharger mon compte: record the payment, then build the request to the bank."""
    low, high = limits(settings)
    between = f"Le montant doit être compris entre {format_cents(low)} et {format_cents(high)}."
    # The top-up's own limit first: the one the page states next to the field.
    cents = parse_euros(amount, "amount", maximum=high, too_high=between)
    if cents < low:
        raise DomainError(between, "amount")
    return _start(session, settings, actor, household, cents, urls)


def start_invoice_payment(session: Session, settings: Mapping, actor: Account, household: Household,
                          invoice_id: int, urls: Mapping[str, str]) -> tuple[Payment, Redirect]:
    """Payer cette facture: what is left to pay, online; not twice at once."""
    invoices.get_for(session, household, invoice_id)  # another household's: NotFound
    session.rollback()
    return _start(session, settings, actor, household, 0, urls, invoice_id)


def _invoice_left(session: Session, household: Household, invoice_id: int) -> int:
    """What is left to pay of the invoice, read under the write lock (and the
    invoice's row lock on PostgreSQL), so two tabs cannot both start paying it."""
    invoice = session.scalar(select(Invoice).where(
        Invoice.id == invoice_id, Invoice.household_id == household.id).with_for_update(key_share=True))
    if invoice is None:
        session.rollback()
        raise NotFound("Cette facture n'existe pas.")
    left = invoices.remaining(session, invoice)
    if left <= 0:
        number = invoice.number
        session.rollback()
        raise DomainError(f"La facture {number} est déjà réglée.")
    pending = session.scalar(select(Payment.id).where(
        Payment.invoice_id == invoice.id, Payment.status == PAYMENT_PENDING,
        Payment.created_at > utcnow() - PAYMENT_SESSION).limit(1))
    if pending is not None:
        session.rollback()
        raise DomainError(PAYMENT_IN_PROGRESS)
    return left


def _start(session: Session, settings: Mapping, actor: Account, household: Household, cents: int,
           urls: Mapping[str, str], invoice_id: int | None = None) -> tuple[Payment, Redirect]:
    organisation = session.get(Organisation, household.organisation_id)
    config = backend_config(settings, organisation)
    if config is None:
        raise DomainError("Le paiement en ligne n'est pas proposé par votre commune : "
                          "réglez à la mairie.", "amount")
    options = dict(config.get("options") or {})
    options.setdefault("normal_return_url", urls["return"])
    options.setdefault("automatic_return_url", urls["notify"])
    backend = eopayment.Payment(config["kind"], options)
    household_id, email = household.id, actor.email
    first_name, last_name, actor_id = actor.first_name, actor.last_name, actor.id
    begin_write(session)
    if invoice_id is not None:
        cents = _invoice_left(session, household, invoice_id)
    payment = Payment(household_id=household_id, account_id=actor_id,
                      purpose=ENTRY_INVOICE_PAYMENT if invoice_id is not None else ENTRY_TOPUP,
                      invoice_id=invoice_id, amount_cents=cents, backend=config["kind"],
                      transaction_id="CIT" + secrets.token_hex(12))
    session.add(payment)
    session.flush()
    try:
        _, kind, data = backend.request(
            Decimal(cents) / 100, email=email, transaction_id=payment.transaction_id,
            orderid=f"CIT{payment.id}", first_name=first_name, last_name=last_name,
        )
    except Exception:  # a backend misconfigured: nothing is left pending
        session.rollback()
        log.exception("payment request failed")
        raise DomainError("Le paiement en ligne est indisponible pour le moment. "
                          "Réessayez plus tard.", "amount") from None
    session.commit()
    if kind == eopayment.URL:
        return payment, Redirect(data, "GET", [])
    return payment, Redirect(data.url, data.method,
                             [(f["name"], f["value"]) for f in data.fields])


@dataclass(frozen=True)
class Outcome:
    payment: Payment | None
    credited: bool  # this message credited the household
    message: str


def _signed_by(settings: Mapping, query_string: str) -> list[tuple[tuple, object]]:
    """Each configured backend that finds the message signed by its own
    secret, with its reading of it: (backend's identity, response)."""
    seen, signed = [], []
    for config in (settings.get("PAYMENT_BACKENDS") or {}).values():
        key = _identity(config)
        if key in seen:
            continue
        seen.append(key)
        try:
            response = _backend(config).response(query_string)
        except Exception:  # noqa: BLE001 — a message this backend cannot read
            continue
        if response.signed:
            signed.append((key, response))
    return signed


def _identity(config: Mapping) -> tuple:
    return config["kind"], tuple(sorted((config.get("options") or {}).items()))


def settle(session: Session, settings: Mapping, query_string: str, base_url: str,
           source: str) -> Outcome:
    """Handle the bank's answer (notification or browser return), idempotently.
    Only the backend of the payment's own commune is trusted: a message signed
    with another commune's secret settles nothing."""
    refused = Outcome(None, False, "Réponse de la banque non reconnue.")
    signed = _signed_by(settings, query_string)
    if not signed:
        log.warning("payment message refused (%s): not signed by a configured backend", source)
        return refused
    response = signed[0][1]
    payment = session.scalar(select(Payment).where(Payment.transaction_id == response.transaction_id))
    if payment is not None:
        household = session.get(Household, payment.household_id)
        config = backend_config(settings, session.get(Organisation, household.organisation_id))
        own = _identity(config) if config is not None else None
        response = next((r for key, r in signed if key == own), None)
        if response is None:
            session.rollback()
            log.warning("payment message refused (%s): payment %s belongs to a commune whose "
                        "backend did not sign it", source, payment.id)
            return refused
    session.rollback()
    return _apply_response(session, response, base_url, source)


def _apply_response(session: Session, response, base_url: str, source: str) -> Outcome:
    """Apply a signed answer of the bank to its payment, once."""
    begin_write(session)
    payment = session.scalar(select(Payment).where(Payment.transaction_id == response.transaction_id))
    if payment is None:
        session.rollback()
        log.warning("payment message for an unknown transaction %r (%s)", response.transaction_id, source)
        return Outcome(None, False, "Paiement inconnu.")
    amount = str((response.bank_data or {}).get("vads_amount", payment.amount_cents))
    if amount != str(payment.amount_cents):
        session.rollback()
        log.warning("payment %s: amount %s differs from %s (%s); ignored", payment.id, amount,
                    payment.amount_cents, source)
        return Outcome(payment, False, "Montant incohérent.")
    status = {eopayment.PAID: PAYMENT_PAID, eopayment.DENIED: PAYMENT_REFUSED,
              eopayment.CANCELLED: PAYMENT_ABANDONED}.get(response.result)
    if status is None:
        session.rollback()
        log.warning("payment %s: result %s (%s)", payment.id, response.result, source)
        return Outcome(payment, False, response.bank_status or "")
    # "Paid" is final, and wins over what came before it: a payment given up
    # for lost, or a card refused and then retried within the same bank
    # session (SystemPay allows it), is still credited when the bank says it
    # is paid. The ledger's one row per payment keeps that to once.
    open_states = ((PAYMENT_PENDING, PAYMENT_ABANDONED, PAYMENT_REFUSED) if status == PAYMENT_PAID
                   else (PAYMENT_PENDING,))
    moved = session.execute(
        update(Payment).where(Payment.id == payment.id, Payment.status.in_(open_states))
        .values(status=status, settled_at=utcnow(), bank_status=(response.bank_status or "")[:500])
    ).rowcount
    if moved != 1 or status != PAYMENT_PAID:
        session.commit()
        session.refresh(payment)
        return Outcome(payment, False, response.bank_status or "")
    household = session.get(Household, payment.household_id)
    invoices.lock_household(session, payment.household_id)
    body = f"Votre paiement de {format_cents(payment.amount_cents)} est reçu."
    if payment.invoice_id is not None:
        invoice = session.get(Invoice, payment.invoice_id)
        # The invoice may have been paid meanwhile (another tab, cash at the town
        # hall): what it no longer needs pays the other invoices, like a top-up.
        surplus = max(payment.amount_cents - invoices.remaining(session, invoice), 0)
        label, subject, link = (f"Paiement en ligne de la facture {invoice.number}",
                                f"Facture {invoice.number} : paiement reçu", "/paiements/factures")
        if surplus:
            body += (f" La facture {invoice.number} était déjà réglée en partie ou en totalité : "
                     f"{format_cents(surplus)} vont à vos autres factures ou restent sur votre "
                     "compte d'avance.")
    else:
        surplus = payment.amount_cents
        label, subject, link = ("Rechargement en ligne", "Votre compte d'avance est rechargé",
                                "/paiements")
    session.add(LedgerEntry(household_id=payment.household_id, amount_cents=payment.amount_cents,
                            kind=payment.purpose, label=label, payment_id=payment.id,
                            invoice_id=payment.invoice_id))
    session.flush()
    invoices.allocate(session, payment.household_id, surplus)
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url, link=link)
    try:
        session.commit()
    except IntegrityError:  # the other message won the race: credited once already
        session.rollback()
        return Outcome(payment, False, "")
    session.refresh(payment)
    return Outcome(payment, True, response.bank_status or "")


def check_pending(session: Session, settings: Mapping, base_url: str,
                  older_than: timedelta = PAYMENT_SESSION) -> int:
    """Ask the bank about payments still pending, when its backend can say
    (eopayment's ``payment_status``); settle those it knows. Returns how many
    were settled."""
    settled = 0
    pending = list(session.scalars(select(Payment).where(
        Payment.status == PAYMENT_PENDING, Payment.created_at < utcnow() - older_than)))
    session.rollback()
    for payment in pending:
        household = session.get(Household, payment.household_id)
        config = backend_config(settings, session.get(Organisation, household.organisation_id))
        if config is None:
            continue
        backend = _backend(config)
        if not callable(getattr(backend.backend, "payment_status", None)):
            continue
        try:
            response = backend.payment_status(payment.transaction_id)
        except Exception:  # noqa: BLE001 — the bank down: try again at the next run
            log.warning("payment %s: status unavailable", payment.id)
            continue
        if response is not None and response.signed is not False:
            outcome = _apply_response(session, response, base_url, "check")
            settled += outcome.payment is not None and outcome.payment.status != PAYMENT_PENDING
    return settled


def abandon_stale(session: Session, older_than: timedelta = timedelta(hours=2)) -> int:
    """Payments the bank never answered, long after the bank's own session has
    expired, are shown as abandoned. A signed "paid" that arrives later still
    credits them, once."""
    begin_write(session)
    count = session.execute(
        update(Payment).where(Payment.status == PAYMENT_PENDING,
                              Payment.created_at < utcnow() - older_than)
        .values(status=PAYMENT_ABANDONED, settled_at=utcnow(),
                bank_status="Sans réponse de la banque")
    ).rowcount
    session.commit()
    return count


def payments_of(session: Session, household_id: int, limit: int = 20) -> list[Payment]:
    return list(session.scalars(
        select(Payment).where(Payment.household_id == household_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    ))
