"""Changes to the family record: proposed by the family, validated by the town hall.

Each section of the record (the address, a guardian's contacts…) changes as a
whole. Whether a section waits for the town hall or applies at once is the
town's choice (CHANGE_VALIDATION). Nothing is applied before validation; the
family sees what waits and can withdraw it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import ChangeSet
from citoyen.models import Child
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.models.base import utcnow
from citoyen.models.households import CHANGE_APPLIED
from citoyen.models.households import CHANGE_PENDING
from citoyen.models.households import CHANGE_REFUSED
from citoyen.models.households import CHANGE_VALIDATED
from citoyen.models.households import CHANGE_WITHDRAWN
from citoyen.services import audit
from citoyen.services import households
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write


def _postcode(value: str) -> str:
    value = (value or "").strip()
    if value and not re.fullmatch(r"\d{5}", value):
        raise DomainError("Indiquez un code postal à 5 chiffres.", "postcode")
    return value


def _email(value: str) -> str:
    from citoyen.services.accounts import normalise_email

    value = (value or "").strip()
    return normalise_email(value, "email") if value else ""


def _limited(limit: int, field: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = " ".join((value or "").split())
        if len(value) > limit:
            raise DomainError(f"Ce champ ne doit pas dépasser {limit} caractères.", field)
        return value

    return check


def _quotient(value: str) -> int | None:
    value = (value or "").strip().replace(" ", "")
    if not value:
        return None
    if not value.isdigit() or int(value) > 100_000:
        raise DomainError("Indiquez le quotient familial en euros, sans virgule, par exemple 850.",
                          "family_quotient")
    return int(value)


def _quotient_year(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    this_year = utcnow().year
    if not value.isdigit() or not 2000 <= int(value) <= this_year:
        raise DomainError(f"Indiquez une année entre 2000 et {this_year}.", "quotient_year")
    return int(value)


def _iban(value: str) -> str:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    value = (value or "").strip()
    if not value:
        return ""
    try:
        return IBAN(value).compact
    except SchwiftyException:
        raise DomainError(
            "Cet IBAN n'est pas valide : vérifiez-le sur votre relevé d'identité bancaire "
            "(27 caractères pour un compte en France, commençant par FR76).", "iban"
        ) from None


def _bic(value: str) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    value = (value or "").strip()
    if not value:
        return ""
    try:
        return BIC(value).compact
    except SchwiftyException:
        raise DomainError("Ce BIC n'est pas valide : 8 ou 11 caractères, par exemple BNPAFRPPXXX.",
                          "bic") from None


def mask_iban(value: str) -> str:
    """« FR76 **** **** **** **** ***0 189 »: enough to recognise one's account."""
    if not value:
        return ""
    hidden = value[:4] + "*" * (len(value) - 8) + value[-4:]
    return " ".join(hidden[i:i + 4] for i in range(0, len(hidden), 4))


@dataclass(frozen=True)
class Section:
    label: str
    target: str  # "household" or "guardian"
    fields: dict[str, tuple[str, Callable[[str], object]]]
    # Values never written in the audit log nor in messages.
    sensitive: bool = False


SECTIONS: dict[str, Section] = {
    "address": Section("Adresse", "household", {
        "address_line1": ("Adresse", _limited(200, "address_line1")),
        "address_line2": ("Complément d'adresse", _limited(200, "address_line2")),
        "postcode": ("Code postal", _postcode),
        "city": ("Commune", _limited(100, "city")),
    }),
    "fiscal": Section("Informations fiscales", "household", {
        "family_quotient": ("Quotient familial", _quotient),
        "quotient_year": ("Année de référence du quotient", _quotient_year),
    }),
    "bank": Section("Coordonnées bancaires", "household", {
        "account_holder": ("Titulaire du compte", _limited(100, "account_holder")),
        "iban": ("IBAN", _iban),
        "bic": ("BIC", _bic),
    }, sensitive=True),
    "contacts": Section("Coordonnées", "guardian", {
        "mobile_phone": ("Téléphone portable", lambda v: households.check_phone(v, "mobile_phone")),
        "email": ("Adresse e-mail", _email),
    }),
}

REFUSAL_REASONS = (
    "Justificatif manquant",
    "Information incomplète ou illisible",
    "Information contradictoire avec le dossier",
)


def needs_validation(settings: Mapping, section: str) -> bool:
    return bool(settings.get("CHANGE_VALIDATION", {}).get(section, True))


def guardian_of(session: Session, household: Household, guardian_id: int | None) -> Guardian:
    """A guardian of this household, or NotFound (never another household's)."""
    guardian = session.get(Guardian, guardian_id) if guardian_id else None
    if guardian is None or guardian.household_id != household.id:
        raise NotFound("Ce responsable n'existe pas.")
    return guardian


def _target(session: Session, household: Household, section: Section, guardian_id: int | None):
    if section.target == "household":
        return household
    return guardian_of(session, household, guardian_id)


def current_values(target, section: Section) -> dict[str, object]:
    # Text columns are never NULL (default ""); numbers may be None, as the checks return.
    return {name: getattr(target, name) for name in section.fields}


def pending_for(session: Session, household: Household) -> dict[tuple[str, int | None], ChangeSet]:
    """The changes waiting for the town hall, by (section, guardian id)."""
    rows = session.scalars(
        select(ChangeSet).where(
            ChangeSet.household_id == household.id, ChangeSet.status == CHANGE_PENDING
        )
    )
    return {(row.section, row.guardian_id): row for row in rows}


def propose(
    session: Session,
    settings: Mapping,
    actor: Account,
    household: Household,
    section_name: str,
    values: Mapping[str, str],
    base_url: str,
    guardian_id: int | None = None,
) -> ChangeSet:
    """Record a change of one section: pending, or applied at once when the town
    does not validate this section, or when an agent makes it."""
    section = SECTIONS[section_name]
    clean = {name: check(values.get(name, "")) for name, (_, check) in section.fields.items()}
    begin_write(session)
    household = session.get(Household, household.id)
    target = _target(session, household, section, guardian_id)
    before = current_values(target, section)
    if clean == before:
        raise DomainError("Vous n'avez rien modifié.")
    # One pending change per section: a new proposal replaces the one waiting.
    waiting = pending_for(session, household).get((section_name, guardian_id))
    if waiting is not None:
        waiting.status = CHANGE_WITHDRAWN
        waiting.decided_at = utcnow()
    change = ChangeSet(
        household_id=household.id,
        guardian_id=guardian_id,
        section=section_name,
        proposed=json.dumps(clean, ensure_ascii=False),
        previous=json.dumps(before, ensure_ascii=False),
        author_id=actor.id,
    )
    session.add(change)
    if actor.is_agent:
        _apply(target, clean)
        change.status = CHANGE_APPLIED
        change.decided_by_id = actor.id
        change.decided_at = utcnow()
        session.flush()
        audit.record(session, actor, "household.edit", "household", household.id, household.name,
                     describe(change))
    elif not needs_validation(settings, section_name):
        _apply(target, clean)
        change.status = CHANGE_APPLIED
        change.decided_at = utcnow()
    session.commit()
    return change


def _apply(target, values: Mapping[str, str]) -> None:
    for name, value in values.items():
        setattr(target, name, value)


def withdraw(session: Session, actor: Account, household: Household, change_id: int) -> None:
    """The family takes back a change that waits for the town hall."""
    begin_write(session)
    change = session.get(ChangeSet, change_id)
    if change is None or change.household_id != household.id or change.status != CHANGE_PENDING:
        raise NotFound("Cette modification n'est plus en attente.")
    change.status = CHANGE_WITHDRAWN
    change.decided_at = utcnow()
    session.commit()


def queue(session: Session, actor: Account) -> tuple[list[ChangeSet], list[Child]]:
    """What waits for an agent, oldest first: changes, and children added by families."""
    if not actor.is_agent:
        raise Forbidden("Cette page est réservée aux agents.")
    changes = list(session.scalars(
        select(ChangeSet).where(ChangeSet.status == CHANGE_PENDING).order_by(ChangeSet.created_at, ChangeSet.id)
    ))
    children = list(session.scalars(
        select(Child).where(Child.status == "pending").order_by(Child.created_at, Child.id)
    ))
    return changes, children


def get(session: Session, actor: Account, change_id: int) -> ChangeSet:
    if not actor.is_agent:
        raise Forbidden("Cette page est réservée aux agents.")
    change = session.get(ChangeSet, change_id)
    if change is None:
        raise NotFound("Cette modification n'existe pas.")
    return change


def rows(change: ChangeSet, reveal: bool = False) -> list[tuple[str, str, str, bool]]:
    """(label, before, after, changed) for a side-by-side view; an IBAN is
    masked unless ``reveal`` (agents checking it against the bank's document)."""
    section = SECTIONS[change.section]
    before, after = json.loads(change.previous), json.loads(change.proposed)
    shown = mask_iban if section.sensitive and not reveal else (lambda v: v)
    result = []
    for name, (label, _) in section.fields.items():
        b, a = before.get(name), after.get(name)
        if name == "iban":
            b, a = shown(b or ""), shown(a or "")
        result.append((label, "" if b is None else str(b), "" if a is None else str(a), b != a))
    return result


def describe(change: ChangeSet) -> str:
    section = SECTIONS[change.section]
    if section.sensitive:
        changed = [label for label, _, _, diff in rows(change) if diff]
        return f"{section.label} — champs modifiés : " + ", ".join(changed)
    changed = [f"{label} : « {b} » → « {a} »" for label, b, a, diff in rows(change) if diff]
    return f"{SECTIONS[change.section].label} — " + " ; ".join(changed)


def _decision_reason(actor: Account, accept: bool, reason: str) -> str:
    """Only agents decide; a refusal says why, in words the family will read."""
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    reason = " ".join((reason or "").split())[:500]
    if not accept and not reason:
        raise DomainError("Indiquez le motif du refus : la famille le lira.", "reason")
    return reason


def decide(
    session: Session, actor: Account, change_id: int, accept: bool, reason: str, base_url: str
) -> ChangeSet:
    """Validate (apply) or refuse (with a reason) a pending change; the family is told."""
    reason = _decision_reason(actor, accept, reason)
    begin_write(session)
    change = session.get(ChangeSet, change_id)
    if change is None or change.status != CHANGE_PENDING:
        raise DomainError("Cette modification a déjà été traitée ou retirée.")
    household = session.get(Household, change.household_id)
    section = SECTIONS[change.section]
    if accept:
        _apply(_target(session, household, section, change.guardian_id), json.loads(change.proposed))
    change.status = CHANGE_VALIDATED if accept else CHANGE_REFUSED
    change.reason = reason
    change.decided_by_id = actor.id
    change.decided_at = utcnow()
    audit.record(
        session, actor, "household.change_validated" if accept else "household.change_refused",
        "household", household.id, household.name,
        describe(change) + ("" if accept else f" — motif : {reason}"),
    )
    author = session.get(Account, change.author_id) if change.author_id else None
    if author is not None:
        if accept:
            notifications.notify(
                session, author, f"Modification validée : {section.label.lower()}",
                "La mairie a validé la modification de votre dossier famille.", base_url, link="/foyer")
        else:
            notifications.notify(
                session, author, f"Modification refusée : {section.label.lower()}",
                f"La mairie n'a pas validé la modification de votre dossier famille. Motif : {reason}",
                base_url, link="/foyer")
    session.commit()
    return change


def decide_child(
    session: Session, actor: Account, child_id: int, accept: bool, reason: str, base_url: str
) -> Child:
    """Validate a child record added by a family, or refuse it with a reason."""
    reason = _decision_reason(actor, accept, reason)
    begin_write(session)
    child = session.get(Child, child_id)
    if child is None or child.status != "pending":
        raise DomainError("Cette fiche a déjà été traitée.")
    household = session.get(Household, child.household_id)
    name = child.full_name
    audit.record(
        session, actor, "household.child_validated" if accept else "household.child_refused",
        "household", household.id, household.name, name + ("" if accept else f" — motif : {reason}"),
    )
    if accept:
        child.status = "validated"
        subject, body = f"Fiche de {child.first_name} validée", "La mairie a validé la fiche de votre enfant."
    else:
        session.delete(child)
        subject = f"Fiche de {child.first_name} refusée"
        body = f"La mairie n'a pas validé la fiche de votre enfant. Motif : {reason}"
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url, link="/enfants")
    session.commit()
    return child
