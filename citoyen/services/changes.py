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
from datetime import date
from datetime import datetime

from sqlalchemy import Date
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import ChangeSet
from citoyen.models import Child
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.models import HouseholdLink
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
    if value and not re.fullmatch(r"[0-9]{5}", value, re.ASCII):
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
    # ASCII digits only: « ² » or « ٩ » pass str.isdigit() but not int().
    if not re.fullmatch(r"[0-9]{1,7}", value, re.ASCII) or int(value) > 100_000:
        raise DomainError("Indiquez le quotient familial en euros, sans virgule, par exemple 850.",
                          "family_quotient")
    return int(value)


def _quotient_year(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    this_year = utcnow().year
    if not re.fullmatch(r"[0-9]{4}", value, re.ASCII) or not 2000 <= int(value) <= this_year:
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


def _required(limit: int, field: str, what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = _limited(limit, field)(value)
        if not value:
            raise DomainError(f"Indiquez {what}.", field)
        return value

    return check


def _flag(value) -> bool:
    """A checkbox: True, or "y"/"on"/"1" from a form; anything empty is no."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("y", "yes", "on", "1", "true", "oui")


def _birth_date(value) -> str:
    """A birth date, kept as ISO text in change sets; the same rule as for adding a child."""
    if isinstance(value, date):
        day = value
    else:
        text = (value or "").strip()
        try:
            day = date.fromisoformat(text) if "-" in text else datetime.strptime(text, "%d/%m/%Y").date()
        except ValueError:
            raise DomainError("Indiquez la date de naissance au format jj/mm/aaaa.", "birth_date") from None
    return households.check_birth_date(day).isoformat()


def _choice(options: Mapping[str, str], field: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = (value or "").strip()
        if value not in options:
            raise DomainError("Choisissez une des valeurs proposées.", field)
        return value

    return check


def _phone(field: str) -> Callable[[str], str]:
    return lambda value: households.check_phone(value, field)


SEXES = {"": "Non précisé", "F": "Fille", "M": "Garçon"}
DIETS = {
    "": "Aucun régime particulier",
    "sans_porc": "Sans porc",
    "sans_viande": "Sans viande",
    "vegetarien": "Végétarien",
    "sans_gluten": "Sans gluten",
}


def _show_text(value) -> str:
    return "" if value is None else str(value)


def _show_flag(value) -> str:
    return "Oui" if value else "Non"


def _show_date(value) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y") if value else ""


@dataclass(frozen=True)
class Field:
    label: str
    check: Callable[[object], object]
    show: Callable[[object], str] = _show_text


def _yes_no(label: str) -> Field:
    return Field(label, _flag, _show_flag)


@dataclass(frozen=True)
class Section:
    label: str
    target: str  # "household", "guardian" or "child"
    fields: dict[str, Field]
    # Values never written in the audit log nor in messages.
    sensitive: bool = False


SECTIONS: dict[str, Section] = {
    "address": Section("Adresse", "household", {
        "address_line1": Field("Adresse", _limited(200, "address_line1")),
        "address_line2": Field("Complément d'adresse", _limited(200, "address_line2")),
        "postcode": Field("Code postal", _postcode),
        "city": Field("Commune", _limited(100, "city")),
    }),
    "fiscal": Section("Informations fiscales", "household", {
        "family_quotient": Field("Quotient familial", _quotient),
        "quotient_year": Field("Année de référence du quotient", _quotient_year),
    }),
    "bank": Section("Coordonnées bancaires", "household", {
        "account_holder": Field("Titulaire du compte", _limited(100, "account_holder")),
        "iban": Field("IBAN", _iban, mask_iban),
        "bic": Field("BIC", _bic),
    }, sensitive=True),
    "identity": Section("Identité", "guardian", {
        "last_name": Field("Nom", _required(100, "last_name", "le nom")),
        "first_name": Field("Prénom", _required(100, "first_name", "le prénom")),
        "employer": Field("Employeur", _limited(150, "employer")),
        "work_phone": Field("Téléphone professionnel", _phone("work_phone")),
    }),
    "contacts": Section("Coordonnées", "guardian", {
        "mobile_phone": Field("Téléphone portable", _phone("mobile_phone")),
        "email": Field("Adresse e-mail", _email),
    }),
    "child_general": Section("Informations générales", "child", {
        "last_name": Field("Nom", _required(100, "last_name", "le nom de l'enfant")),
        "first_name": Field("Prénom", _required(100, "first_name", "le prénom de l'enfant")),
        "birth_date": Field("Date de naissance", _birth_date, _show_date),
        "sex": Field("Sexe", _choice(SEXES, "sex"), lambda v: SEXES.get(v, v) if v else ""),
        "school": Field("École", _limited(150, "school")),
        "class_name": Field("Classe", _limited(50, "class_name")),
        "insurance_company": Field("Compagnie d'assurance", _limited(150, "insurance_company")),
        "insurance_policy": Field("Numéro de contrat d'assurance", _limited(50, "insurance_policy")),
    }),
    "child_authorisations": Section("Autorisations", "child", {
        "allows_sport": _yes_no("Pratiquer des activités sportives"),
        "allows_photo": _yes_no("Être pris en photo ou filmé"),
        "allows_leave_alone": _yes_no("Partir seul"),
        "allows_outings": _yes_no("Participer aux sorties scolaires et de loisirs"),
        "allows_hospitalisation": _yes_no("Être hospitalisé en cas d'urgence"),
    }),
    "child_health": Section("Données sanitaires", "child", {
        "allergies": Field("Allergies", _limited(1000, "allergies")),
        "diet": Field("Régime alimentaire", _choice(DIETS, "diet"), lambda v: DIETS.get(v, v) if v else ""),
        "pai": _yes_no("Projet d'accueil individualisé (PAI)"),
        "doctor_name": Field("Médecin traitant", _limited(150, "doctor_name")),
        "doctor_phone": Field("Téléphone du médecin", _phone("doctor_phone")),
        "vaccinations_up_to_date": _yes_no("Vaccinations à jour"),
        "glasses": _yes_no("Porte des lunettes"),
        "dental_appliance": _yes_no("Porte un appareil dentaire"),
        "hearing_aid": _yes_no("Porte un appareil auditif"),
    }, sensitive=True),
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


def child_of(session: Session, household: Household, child_id: int | None) -> Child:
    """A child of this household, or NotFound (never another household's)."""
    child = session.get(Child, child_id) if child_id else None
    if child is None or child.household_id != household.id:
        raise NotFound("Cet enfant n'existe pas.")
    return child


def _target(session: Session, household: Household, section: Section, guardian_id: int | None,
            child_id: int | None = None):
    if section.target == "household":
        return household
    if section.target == "child":
        return child_of(session, household, child_id)
    return guardian_of(session, household, guardian_id)


def _lock(session: Session, model, row_id: int, key_share: bool = True):
    """The row read again once this transaction holds its lock: whoever comes
    next waits for the commit, then reads what this transaction wrote. Only the
    id is selected for the lock (FOR UPDATE on PostgreSQL refuses the outer
    joins of a model's eager loads). ``key_share``: rows may still be added
    that refer to it; a row about to be deleted takes the full lock."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update(key_share=key_share))
    return session.get(model, row_id, populate_existing=True)


def _lock_record(session: Session, section: Section, household_id: int, guardian_id: int | None,
                 child_id: int | None):
    """Lock the record a section changes (the household, a guardian or a child).
    Proposing, deciding and withdrawing a change of it all take this lock first,
    so that they happen one after the other, in the same order everywhere."""
    if section.target == "child":
        return _lock(session, Child, child_id)
    if section.target == "guardian":
        return _lock(session, Guardian, guardian_id)
    return _lock(session, Household, household_id)


def _encode(value):
    return value.isoformat() if isinstance(value, date) else value


def current_values(target, section: Section) -> dict[str, object]:
    """The values of a section as a change set keeps them (dates as ISO text).
    Text columns are never NULL (default ""); numbers may be None, as the checks return."""
    return {name: _encode(getattr(target, name)) for name in section.fields}


def display(target, section_name: str) -> list[tuple[str, str]]:
    """(label, value as the family reads it) for each field of a section."""
    section = SECTIONS[section_name]
    values = current_values(target, section)
    return [(field.label, field.show(values[name])) for name, field in section.fields.items()]


def pending_for(session: Session, household: Household) -> dict[tuple[str, int | None], ChangeSet]:
    """The changes waiting for the town hall, by (section, guardian id)."""
    rows = session.scalars(
        select(ChangeSet).where(
            ChangeSet.household_id == household.id, ChangeSet.status == CHANGE_PENDING
        )
    )
    return {(row.section, row.guardian_id or row.child_id): row for row in rows}


def propose(
    session: Session,
    settings: Mapping,
    actor: Account,
    household: Household,
    section_name: str,
    values: Mapping[str, str],
    base_url: str,
    guardian_id: int | None = None,
    child_id: int | None = None,
) -> ChangeSet:
    """Record a change of one section: pending, or applied at once when the town
    does not validate this section, or when an agent makes it."""
    section = SECTIONS[section_name]
    clean = {name: field.check(values.get(name, "")) for name, field in section.fields.items()}
    begin_write(session)
    household = session.get(Household, household.id)
    target = _target(session, household, section, guardian_id, child_id)
    if section.target == "household":
        guardian_id = child_id = None
    elif section.target == "guardian":
        child_id = None
    else:
        guardian_id = None
    # Read again under the lock: a proposal or a decision made meanwhile is seen.
    target = _lock_record(session, section, household.id, guardian_id, child_id)
    before = current_values(target, section)
    if clean == before:
        raise DomainError("Vous n'avez rien modifié.")
    # One pending change per section: the family's new proposal replaces the one
    # waiting. An agent's own edit leaves the family's request to be decided.
    waiting = session.scalar(
        select(ChangeSet).where(
            ChangeSet.household_id == household.id, ChangeSet.section == section_name,
            ChangeSet.guardian_id.is_(None) if guardian_id is None else ChangeSet.guardian_id == guardian_id,
            ChangeSet.child_id.is_(None) if child_id is None else ChangeSet.child_id == child_id,
            ChangeSet.status == CHANGE_PENDING,
        ).order_by(ChangeSet.id.desc()).limit(1).execution_options(populate_existing=True)
    )
    if waiting is not None and not actor.is_agent:
        waiting.status = CHANGE_WITHDRAWN
        waiting.decided_at = utcnow()
    change = ChangeSet(
        household_id=household.id,
        guardian_id=guardian_id,
        child_id=child_id,
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


def _apply(target, values: Mapping[str, object]) -> None:
    columns = target.__table__.columns
    for name, value in values.items():
        if isinstance(columns[name].type, Date) and isinstance(value, str):
            value = date.fromisoformat(value)
        setattr(target, name, value)


NO_LONGER_PENDING = "Cette modification n'est plus en attente."
ALREADY_DECIDED = "Cette modification a déjà été traitée ou retirée."


def change_of(session: Session, household: Household, change_id: int) -> ChangeSet:
    """A change this household asked for, whatever became of it."""
    change = session.get(ChangeSet, change_id)
    if change is None or change.household_id != household.id:
        raise NotFound("Cette modification n'existe pas.")
    return change


def pending_change(session: Session, household: Household, change_id: int) -> ChangeSet:
    """A change of this household that still waits for the town hall."""
    change = change_of(session, household, change_id)
    if change.status != CHANGE_PENDING:
        raise NotFound(NO_LONGER_PENDING)
    return change


def section_label(change: ChangeSet) -> str:
    return SECTIONS[change.section].label


def _locked_change(session: Session, change_id: int) -> ChangeSet | None:
    """The change read again once the record it changes is locked: of two
    decisions (or a decision and a withdrawal) made at once, the second sees
    the first."""
    change = session.get(ChangeSet, change_id)
    if change is None:
        return None
    _lock_record(session, SECTIONS[change.section], change.household_id, change.guardian_id, change.child_id)
    return session.get(ChangeSet, change_id, populate_existing=True)


def _tell_author(session: Session, change: ChangeSet, household: Household, subject: str, body: str,
                 base_url: str) -> None:
    """Tell the person who proposed the change, on the page where it shows."""
    author = session.get(Account, change.author_id) if change.author_id else None
    if author is None:
        return
    link = f"/foyer/{household.id}/enfants/{change.child_id}" if change.child_id else "/foyer"
    notifications.notify(session, author, subject, body, base_url, link=link)


def withdraw(session: Session, actor: Account, household: Household, change_id: int,
             base_url: str = "") -> ChangeSet:
    """The family takes back a change that waits for the town hall. An agent may
    withdraw it too: that is audited and the family is told."""
    begin_write(session)
    change_of(session, household, change_id)
    change = _locked_change(session, change_id)
    if change is None or change.status != CHANGE_PENDING:
        raise NotFound(NO_LONGER_PENDING)
    change.status = CHANGE_WITHDRAWN
    change.decided_at = utcnow()
    if actor.is_agent:
        change.decided_by_id = actor.id
        household = session.get(Household, change.household_id)
        audit.record(session, actor, "household.change_withdrawn", "household", household.id, household.name,
                     describe(change))
        label = section_label(change).lower()
        _tell_author(session, change, household, f"Modification retirée : {label}",
                     "La mairie a retiré la modification de votre dossier famille qui attendait sa "
                     "validation ; les informations restent comme avant. Vous pouvez faire une nouvelle demande.",
                     base_url)
    session.commit()
    return change


def queue(session: Session, actor: Account) -> tuple[list[ChangeSet], list[Child]]:
    """What waits for an agent, oldest first: changes, and children added by families
    (guardians added by families: ``pending_guardians``)."""
    if not actor.is_agent:
        raise Forbidden("Cette page est réservée aux agents.")
    changes = list(session.scalars(
        select(ChangeSet).where(ChangeSet.status == CHANGE_PENDING).order_by(ChangeSet.created_at, ChangeSet.id)
    ))
    children = list(session.scalars(
        select(Child).where(Child.status == "pending").order_by(Child.created_at, Child.id)
    ))
    return changes, children


def pending_guardians(session: Session, actor: Account) -> list[Guardian]:
    if not actor.is_agent:
        raise Forbidden("Cette page est réservée aux agents.")
    return list(session.scalars(
        select(Guardian).where(Guardian.status == "pending").order_by(Guardian.id)
    ))


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
    result = []
    for name, field in section.fields.items():
        b, a = before.get(name), after.get(name)
        show = _show_text if (reveal and field.show is mask_iban) else field.show
        result.append((field.label, show(b), show(a), b != a))
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
    change = _locked_change(session, change_id)
    if change is None or change.status != CHANGE_PENDING:
        raise DomainError(ALREADY_DECIDED)
    household = session.get(Household, change.household_id)
    section = SECTIONS[change.section]
    if accept:
        # Only what the family changed: a field corrected at the town hall since
        # the proposal keeps its correction.
        before, proposed = json.loads(change.previous), json.loads(change.proposed)
        _apply(_target(session, household, section, change.guardian_id, change.child_id),
               {name: value for name, value in proposed.items() if before.get(name) != value})
    change.status = CHANGE_VALIDATED if accept else CHANGE_REFUSED
    change.reason = reason
    change.decided_by_id = actor.id
    change.decided_at = utcnow()
    audit.record(
        session, actor, "household.change_validated" if accept else "household.change_refused",
        "household", household.id, household.name,
        describe(change) + ("" if accept else f" — motif : {reason}"),
    )
    if accept:
        _tell_author(session, change, household, f"Modification validée : {section.label.lower()}",
                     "La mairie a validé la modification de votre dossier famille.", base_url)
    else:
        _tell_author(session, change, household, f"Modification refusée : {section.label.lower()}",
                     f"La mairie n'a pas validé la modification de votre dossier famille. Motif : {reason}",
                     base_url)
    session.commit()
    return change


def _decide_member(session: Session, actor: Account, member, kind: str, accept: bool, reason: str,
                   base_url: str):
    """Validate a child or a guardian added by a family, or refuse (remove) it with a reason."""
    household = session.get(Household, member.household_id)
    name = member.full_name
    audit.record(
        session, actor, f"household.{kind}_{'validated' if accept else 'refused'}",
        "household", household.id, household.name, name + ("" if accept else f" — motif : {reason}"),
    )
    what, link = ("la fiche de votre enfant", "/enfants") if kind == "child" else (
        f"l'ajout de {name} comme responsable", "/foyer")
    if accept:
        member.status = "validated"
        subject, body = f"{name} : validé par la mairie", f"La mairie a validé {what}."
    else:
        account_id = getattr(member, "account_id", None)
        if account_id is not None and not any(
                g.account_id == account_id for g in household.guardians if g.id != member.id):
            # A refused guardian's account loses its access to the household.
            session.execute(delete(HouseholdLink).where(HouseholdLink.account_id == account_id,
                                                        HouseholdLink.household_id == household.id))
        session.delete(member)
        subject = f"{name} : refusé par la mairie"
        body = f"La mairie n'a pas validé {what}. Motif : {reason}"
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url, link=link)
    session.commit()
    return member


def decide_child(
    session: Session, actor: Account, child_id: int, accept: bool, reason: str, base_url: str
) -> Child:
    """Validate a child record added by a family, or refuse it with a reason."""
    reason = _decision_reason(actor, accept, reason)
    begin_write(session)
    # The full lock: a refused record is deleted.
    child = _lock(session, Child, child_id, key_share=False)
    if child is None or child.status != "pending":
        raise DomainError("Cette fiche a déjà été traitée.")
    return _decide_member(session, actor, child, "child", accept, reason, base_url)


def decide_guardian(
    session: Session, actor: Account, guardian_id: int, accept: bool, reason: str, base_url: str
) -> Guardian:
    """Validate a guardian added by a family, or refuse it with a reason."""
    reason = _decision_reason(actor, accept, reason)
    begin_write(session)
    guardian = _lock(session, Guardian, guardian_id, key_share=False)
    if guardian is None or guardian.status != "pending":
        raise DomainError("Ce responsable a déjà été traité.")
    return _decide_member(session, actor, guardian, "guardian", accept, reason, base_url)
