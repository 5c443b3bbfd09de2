"""Mes demandes: a family writes to the town hall (a certificate, a change of
situation, a question on an invoice…), keeps a draft, sends it, and follows
it; an agent takes it, answers, closes or refuses it (with a reason).

States (``Request.status``): draft → pending → processing → closed | refused;
a family may cancel a request still pending (it is then closed)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Household
from citoyen.models import HouseholdLink
from citoyen.models.base import utcnow
from citoyen.models.requests import REQUEST_CLOSED
from citoyen.models.requests import REQUEST_DRAFT
from citoyen.models.requests import REQUEST_PENDING
from citoyen.models.requests import REQUEST_PROCESSING
from citoyen.models.requests import REQUEST_REFUSED
from citoyen.models.requests import Request
from citoyen.models.requests import RequestMessage
from citoyen.services import audit
from citoyen.services import households
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write

# The request types a family chooses from.
REQUEST_TYPES = {
    "certificate": "Demande d'attestation",
    "situation": "Changement de situation",
    "invoice": "Question sur une facture",
    "school": "Inscription scolaire",
    "other": "Autre demande",
}

STATUS_LABELS = {
    REQUEST_DRAFT: "En brouillon",
    REQUEST_PENDING: "En attente",
    REQUEST_PROCESSING: "En traitement",
    REQUEST_CLOSED: "Clos",
    REQUEST_REFUSED: "Refusé",
}

SUBJECT_LIMIT = 200
BODY_LIMIT = 5000
CANCELLED_BY_FAMILY = "Annulée par la famille."
REPEAT_WINDOW = timedelta(minutes=2)


def _clean(kind: str, subject: str, body: str, sending: bool) -> tuple[str, str, str]:
    kind = (kind or "").strip()
    subject = " ".join((subject or "").split())
    body = (body or "").strip()
    if kind not in REQUEST_TYPES:
        raise DomainError("Choisissez le type de demande dans la liste.", "kind")
    if not subject:
        raise DomainError("Indiquez l'objet de la demande.", "subject")
    if len(subject) > SUBJECT_LIMIT:
        raise DomainError(f"L'objet ne doit pas dépasser {SUBJECT_LIMIT} caractères.", "subject")
    if sending and not body:
        raise DomainError("Écrivez votre demande avant de l'envoyer.", "body")
    if len(body) > BODY_LIMIT:
        raise DomainError(f"La demande ne doit pas dépasser {BODY_LIMIT} caractères.", "body")
    return kind, subject, body


def _message_text(body: str, field: str = "message") -> str:
    body = (body or "").strip()
    if not body:
        raise DomainError("Écrivez votre message.", field)
    if len(body) > BODY_LIMIT:
        raise DomainError(f"Le message ne doit pas dépasser {BODY_LIMIT} caractères.", field)
    return body


# ---------------------------------------------------------------- reading

def request_for(session: Session, actor: Account, request_id: int) -> Request:
    """A request the actor may see: an agent, or an account subscribed to its
    household (another family's request does not exist)."""
    found = session.get(Request, request_id) if request_id else None
    if found is None:
        raise NotFound("Cette demande n'existe pas.")
    if actor.is_agent:
        if found.status == REQUEST_DRAFT:  # a family's draft is its own
            raise NotFound("Cette demande n'existe pas.")
    else:
        households.household_for(session, actor, found.household_id)  # raises NotFound
    return found


def of_account(session: Session, account: Account) -> list[Request]:
    """The requests of the households the account is subscribed to, newest first."""
    return list(session.scalars(
        select(Request).join(HouseholdLink, HouseholdLink.household_id == Request.household_id)
        .where(HouseholdLink.account_id == account.id)
        .order_by(Request.created_at.desc(), Request.id.desc())))


def queue(session: Session, actor: Account, status: str = "") -> list[Request]:
    """The agents' list: by default what waits for the town hall (pending, then
    in progress), oldest sent first; or the requests in one state."""
    _require_agent(actor)
    query = select(Request).where(Request.status != REQUEST_DRAFT)
    if status in (REQUEST_PENDING, REQUEST_PROCESSING, REQUEST_CLOSED, REQUEST_REFUSED):
        query = query.where(Request.status == status)
        order = (Request.updated_at.desc(),) if status in (REQUEST_CLOSED, REQUEST_REFUSED) else (Request.sent_at,)
    else:
        query = query.where(Request.status.in_((REQUEST_PENDING, REQUEST_PROCESSING)))
        order = (case((Request.status == REQUEST_PENDING, 0), else_=1), Request.sent_at)
    return list(session.scalars(query.order_by(*order, Request.id).limit(500)))


def _awaiting_answer():
    """The requests in progress whose last message is the family's: the town
    hall has not answered it yet."""
    last = (select(func.max(RequestMessage.id)).where(RequestMessage.request_id == Request.id)
            .correlate(Request).scalar_subquery())
    return (select(Request.id).join(RequestMessage, RequestMessage.id == last)
            .where(Request.status == REQUEST_PROCESSING, RequestMessage.from_agent.is_(False)))


def awaiting_answer(session: Session, request_ids: list[int]) -> set[int]:
    """Of these requests, those with a family's message not yet answered."""
    if not request_ids:
        return set()
    return set(session.scalars(_awaiting_answer().where(Request.id.in_(request_ids))))


def awaiting_answer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(_awaiting_answer().subquery())) or 0


def change_refusal(found: Request) -> str:
    """Why the family can no longer change this request ("" while it can)."""
    if found.status in (REQUEST_DRAFT, REQUEST_PENDING):
        return ""
    if found.status == REQUEST_PROCESSING:
        return ("Cette demande est déjà prise en charge par la mairie : elle ne se modifie plus. "
                "Vous pouvez lui écrire un message.")
    return "Cette demande est terminée : elle ne se modifie plus."


def cancel_refusal(found: Request) -> str:
    """Why the family can no longer cancel this request ("" while it can)."""
    if found.status == REQUEST_PENDING:
        return ""
    if found.status == REQUEST_DRAFT:
        return "Un brouillon ne s'annule pas : il n'est pas envoyé à la mairie, vous pouvez le supprimer."
    return "Cette demande ne peut plus être annulée : " + (
        "elle est prise en charge par la mairie." if found.status == REQUEST_PROCESSING
        else "elle n'est pas en attente.")


def delete_refusal(found: Request) -> str:
    """Why this request cannot be deleted ("" for a draft)."""
    return "" if found.status == REQUEST_DRAFT else "Seul un brouillon se supprime : cette demande est déjà envoyée."


def message_refusal(found: Request) -> str:
    """Why no message can be written on this request ("" while it can)."""
    if found.status in (REQUEST_PENDING, REQUEST_PROCESSING):
        return ""
    if found.status == REQUEST_DRAFT:
        return "Envoyez d'abord la demande."
    return "Cette demande est terminée : elle ne reçoit plus de message."


def end_refusal(found: Request) -> str:
    """Why the town hall can no longer close or refuse this request ("" while it can)."""
    if found.status in (REQUEST_PENDING, REQUEST_PROCESSING):
        return ""
    return "Cette demande n'est pas envoyée." if found.status == REQUEST_DRAFT else "Cette demande est déjà terminée."


def _require_agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


def _locked(session: Session, actor: Account, request_id: int) -> Request:
    """The request, its row locked (PostgreSQL) in a write transaction: two
    clicks at once on the same request are applied one after the other."""
    request_for(session, actor, request_id)
    begin_write(session)
    session.execute(select(Request.id).where(Request.id == request_id).with_for_update())
    found = session.get(Request, request_id, populate_existing=True)
    if found is None:
        raise NotFound("Cette demande n'existe pas.")
    return found


# ---------------------------------------------------------------- the family

def create(session: Session, actor: Account, household_id: int, kind: str, subject: str, body: str,
           send: bool) -> Request:
    """A new request of one of the account's households, kept as a draft or sent."""
    kind, subject, body = _clean(kind, subject, body, send)
    if actor.is_agent:
        raise Forbidden("Les demandes sont écrites par les familles.")
    begin_write(session)
    household = households.household_for(session, actor, household_id)
    now = utcnow()
    # Sent twice (a double click, the browser sending the form again): the first stands.
    same = session.scalar(select(Request).where(
        Request.household_id == household.id, Request.author_id == actor.id, Request.kind == kind,
        Request.subject == subject, Request.body == body, Request.created_at >= now - REPEAT_WINDOW)
        .order_by(Request.id.desc()).limit(1))
    if same is not None and same.status in (REQUEST_DRAFT, REQUEST_PENDING):
        return same
    created = Request(household_id=household.id, author_id=actor.id, kind=kind, subject=subject, body=body,
                      status=REQUEST_PENDING if send else REQUEST_DRAFT, sent_at=now if send else None,
                      created_at=now, updated_at=now)
    session.add(created)
    session.commit()
    return created


def update(session: Session, actor: Account, request_id: int, kind: str, subject: str, body: str,
           send: bool) -> Request:
    """Change a draft (and send it, if asked) or a request still pending."""
    found = _locked(session, actor, request_id)
    if actor.is_agent:
        raise Forbidden("Les demandes sont écrites par les familles.")
    if change_refusal(found):
        raise DomainError(change_refusal(found))
    if found.status == REQUEST_PENDING and not (body or "").strip():
        raise DomainError("Le texte de la demande ne peut pas être vide.", "body")
    kind, subject, body = _clean(kind, subject, body, send)
    found.kind, found.subject, found.body = kind, subject, body
    if send and found.status == REQUEST_DRAFT:
        found.status, found.sent_at = REQUEST_PENDING, utcnow()
    found.updated_at = utcnow()
    session.commit()
    return found


def delete_draft(session: Session, actor: Account, request_id: int) -> None:
    found = _locked(session, actor, request_id)
    if actor.is_agent:
        raise Forbidden("Les demandes sont écrites par les familles.")
    if delete_refusal(found):
        raise DomainError(delete_refusal(found))
    session.delete(found)
    session.commit()


def cancel(session: Session, actor: Account, request_id: int) -> Request:
    """Annuler la demande: a request the town hall has not taken yet."""
    found = _locked(session, actor, request_id)
    if actor.is_agent:
        raise Forbidden("Les demandes sont écrites par les familles.")
    if cancel_refusal(found):
        raise DomainError(cancel_refusal(found))
    found.status, found.reason, found.updated_at = REQUEST_CLOSED, CANCELLED_BY_FAMILY, utcnow()
    session.commit()
    return found


# ---------------------------------------------------------------- both sides

def add_message(session: Session, actor: Account, request_id: int, body: str, base_url: str) -> RequestMessage:
    """A message on a request sent and not yet ended. An agent's message takes
    the request (in progress) and the family is told."""
    body = _message_text(body)
    found = _locked(session, actor, request_id)
    if message_refusal(found):
        raise DomainError(message_refusal(found))
    last = found.messages[-1] if found.messages else None
    if (last is not None and last.author_id == actor.id and last.body == body
            and last.created_at >= utcnow() - REPEAT_WINDOW):
        return last  # the same message sent twice: one message, one notification
    message = RequestMessage(request_id=found.id, author_id=actor.id, author_label=actor.full_name[:200],
                             from_agent=actor.is_agent, body=body, created_at=utcnow())
    session.add(message)
    found.updated_at = utcnow()
    if actor.is_agent:
        _take(found, actor)
        audit.record(session, actor, "request.message", "request", found.id, found.subject, body[:200])
        _tell_family(session, found, f"Réponse de la mairie : {found.subject}",
                     f"La mairie a répondu à votre demande « {found.subject} ».", base_url)
    session.commit()
    return message


# ---------------------------------------------------------------- the town hall

def _take(found: Request, agent: Account) -> None:
    if found.status == REQUEST_PENDING:
        found.status = REQUEST_PROCESSING
    if found.agent_id is None:
        found.agent_id = agent.id


def take(session: Session, actor: Account, request_id: int, base_url: str) -> Request:
    """Prendre en charge: the family sees « En traitement »."""
    _require_agent(actor)
    found = _locked(session, actor, request_id)
    if found.status != REQUEST_PENDING:
        raise DomainError("Cette demande a déjà été prise en charge." if found.status == REQUEST_PROCESSING
                          else "Cette demande n'est pas en attente.")
    _take(found, actor)
    found.updated_at = utcnow()
    audit.record(session, actor, "request.taken", "request", found.id, found.subject)
    _tell_family(session, found, f"Demande prise en charge : {found.subject}",
                 f"La mairie traite votre demande « {found.subject} ».", base_url)
    session.commit()
    return found


def close(session: Session, actor: Account, request_id: int, note: str, base_url: str) -> Request:
    """Clore la demande: done; ``note`` (optional) says what was done."""
    _require_agent(actor)
    note = (note or "").strip()
    if len(note) > BODY_LIMIT:
        raise DomainError(f"Le message ne doit pas dépasser {BODY_LIMIT} caractères.", "note")
    found = _end(session, actor, request_id)
    found.status, found.reason = REQUEST_CLOSED, note
    audit.record(session, actor, "request.closed", "request", found.id, found.subject, note[:200])
    _tell_family(session, found, f"Demande close : {found.subject}",
                 f"La mairie a clos votre demande « {found.subject} »." + (f" {note}" if note else ""), base_url)
    session.commit()
    return found


def refuse(session: Session, actor: Account, request_id: int, reason: str, base_url: str) -> Request:
    """Refuser la demande, with a reason the family reads."""
    _require_agent(actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("Indiquez le motif du refus : la famille le lira.", "reason")
    if len(reason) > 500:
        raise DomainError("Le motif ne doit pas dépasser 500 caractères.", "reason")
    found = _end(session, actor, request_id)
    found.status, found.reason = REQUEST_REFUSED, reason
    audit.record(session, actor, "request.refused", "request", found.id, found.subject, reason)
    _tell_family(session, found, f"Demande refusée : {found.subject}",
                 f"La mairie a refusé votre demande « {found.subject} ». Motif : {reason}", base_url)
    session.commit()
    return found


def _end(session: Session, actor: Account, request_id: int) -> Request:
    found = _locked(session, actor, request_id)
    if end_refusal(found):
        raise DomainError(end_refusal(found))
    if found.agent_id is None:
        found.agent_id = actor.id
    found.updated_at = utcnow()
    return found


def _tell_family(session: Session, found: Request, subject: str, body: str, base_url: str) -> None:
    household = session.get(Household, found.household_id)
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url, link=f"/demandes/{found.id}")
