"""Justificatifs: what the commune asks, what families send, what the town hall decides.

A document is asked for a household, or for each child, depending on its
type's scope; a household document is asked once, never per child. For each
household (or child) and type, the newest ``Document`` row says where things
stand: Réclamé (an agent asked), Non traité (sent, not yet reviewed), Validé
until an end date, Invalide with a reason, Périmé once the end date has
passed; nothing at all is Non fourni. While a validated document is valid it
is not asked again: a new upload is refused until the reminder period before
its end, and ``is_satisfied`` answers for the other steps (enrolments)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from citoyen import filecheck
from citoyen.models import Account
from citoyen.models import Child
from citoyen.models import Document
from citoyen.models import DocumentFile
from citoyen.models import DocumentType
from citoyen.models import Household
from citoyen.models import Organisation
from citoyen.models.base import utcnow
from citoyen.models.documents import DOCUMENT_EXPIRED
from citoyen.models.documents import DOCUMENT_MISSING
from citoyen.models.documents import DOCUMENT_REJECTED
from citoyen.models.documents import DOCUMENT_REQUESTED
from citoyen.models.documents import DOCUMENT_SUBMITTED
from citoyen.models.documents import DOCUMENT_VALID
from citoyen.models.documents import SCOPE_CHILD
from citoyen.models.documents import SCOPE_HOUSEHOLD
from citoyen.services import audit
from citoyen.services import households
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.timefmt import format_date
from citoyen.timefmt import local
from citoyen.transactions import begin_write

STATE_LABELS = {
    DOCUMENT_REQUESTED: "Réclamé",
    DOCUMENT_MISSING: "Non fourni",
    DOCUMENT_SUBMITTED: "Non traité",
    DOCUMENT_VALID: "Validé",
    DOCUMENT_REJECTED: "Invalide",
    DOCUMENT_EXPIRED: "Périmé",
}
SCOPE_LABELS = {SCOPE_HOUSEHOLD: "Le foyer (demandé une seule fois)", SCOPE_CHILD: "Chaque enfant"}
REJECTION_REASONS = (
    "Document illisible ou flou",
    "Document incomplet (une page ou un côté manque)",
    "Document périmé",
    "Ce n'est pas le document demandé",
    "Le nom ne correspond pas à un membre du foyer",
)
LINK = "/justificatifs"
# The largest id a form or a query string may name (a 32-bit integer column).
MAX_ID = 2**31 - 1


def parse_id(value) -> int | None:
    """An id typed in a form or a query string (« 12 »), or None when it is
    not one: never a value the database cannot hold."""
    text = str(value if value is not None else "").strip()
    if not re.fullmatch(r"[0-9]{1,10}", text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def _storable(value: int | None) -> bool:
    """Whether an id may be looked up at all (a larger one would be a database error)."""
    return isinstance(value, int) and 1 <= value <= MAX_ID


def today() -> date:
    """Today in the commune (the validity of a document is counted in its days)."""
    return local(utcnow()).date()


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


# ---------------------------------------------------------------- types

def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_day(value: str) -> tuple[int, int] | None:
    """« 31/08 » → (31, 8); None when empty; a DomainError when not a day of the year."""
    value = (value or "").strip()
    if not value:
        return None
    match = re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})", value)
    if match:
        day, month = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2023, month)[1]:
            return day, month
    raise DomainError("Indiquez un jour de l'année au format JJ/MM, par exemple 31/08.",
                      "valid_until_day")


def default_valid_until(doc_type: DocumentType, on: date) -> date | None:
    """The end of validity of a document of this type validated on ``on``:
    so many months later, or the next fixed day of the year (the end of the
    school year), or no end."""
    if doc_type.validity_months:
        return add_months(on, doc_type.validity_months)
    fixed = parse_day(doc_type.valid_until_day) if doc_type.valid_until_day else None
    if fixed is not None:
        day, month = fixed
        candidate = date(on.year, month, min(day, calendar.monthrange(on.year, month)[1]))
        if candidate < on:
            year = on.year + 1
            candidate = date(year, month, min(day, calendar.monthrange(year, month)[1]))
        return candidate
    return None


def describe_validity(doc_type: DocumentType) -> str:
    if doc_type.validity_months:
        months = doc_type.validity_months
        if months % 12 == 0:
            years = months // 12
            return f"{years} an{'s' if years > 1 else ''}"
        return f"{months} mois"
    if doc_type.valid_until_day:
        return f"jusqu'au {doc_type.valid_until_day} suivant"
    return "sans limite"


def types_of(session: Session, organisation_id: int, active_only: bool = True) -> list[DocumentType]:
    query = select(DocumentType).where(DocumentType.organisation_id == organisation_id)
    if active_only:
        query = query.where(DocumentType.active.is_(True))
    return list(session.scalars(query.order_by(DocumentType.scope.desc(), DocumentType.name)))


def _text(values: Mapping, name: str, limit: int, label: str, required: bool = False) -> str:
    value = str(values.get(name) or "").strip()
    if name != "help_text":
        value = " ".join(value.split())
    if required and not value:
        raise DomainError(f"Indiquez {label}.", name)
    if len(value) > limit:
        raise DomainError(f"Ce champ ne doit pas dépasser {limit} caractères.", name)
    return value


def _type_values(values: Mapping) -> dict:
    scope = values.get("scope") or SCOPE_HOUSEHOLD
    if scope not in SCOPE_LABELS:
        raise DomainError("Choisissez pour qui ce justificatif est demandé.", "scope")
    months_text = str(values.get("validity_months") or "").strip()
    months = None
    if months_text:
        # Only ASCII digits: « ² » or « ٣ » pass str.isdigit() but not int().
        if not re.fullmatch(r"[0-9]{1,3}", months_text) or not 1 <= int(months_text) <= 120:
            raise DomainError("Indiquez une durée entre 1 et 120 mois.", "validity_months")
        months = int(months_text)
    day_text = str(values.get("valid_until_day") or "").strip()
    fixed = parse_day(day_text)
    if months and fixed:
        raise DomainError("Choisissez une durée ou une date de fin, pas les deux.", "valid_until_day")
    return {
        "name": _text(values, "name", 150, "le nom du justificatif", required=True),
        "help_text": _text(values, "help_text", 1000, "l'aide"),
        "scope": scope,
        "validity_months": months,
        "valid_until_day": f"{fixed[0]:02d}/{fixed[1]:02d}" if fixed else "",
        "asked_of_all": bool(values.get("asked_of_all")),
        "needed_for": _text(values, "needed_for", 150, "l'activité"),
        "active": bool(values.get("active", True)),
    }


def _agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


def create_type(session: Session, actor: Account, organisation: Organisation,
                values: Mapping) -> DocumentType:
    """Add a type of justificatif the commune asks for."""
    _agent(actor)
    fields = _type_values(values)
    begin_write(session)
    doc_type = DocumentType(organisation_id=organisation.id, **fields)
    session.add(doc_type)
    session.flush()
    audit.record(session, actor, "document_type.create", "organisation", organisation.id,
                 organisation.name, doc_type.name)
    session.commit()
    return doc_type


def get_type(session: Session, actor: Account, type_id: int) -> DocumentType:
    _agent(actor)
    doc_type = session.get(DocumentType, type_id) if _storable(type_id) else None
    if doc_type is None:
        raise NotFound("Ce type de justificatif n'existe pas.")
    return doc_type


def update_type(session: Session, actor: Account, type_id: int, values: Mapping) -> DocumentType:
    """Change a type of justificatif (documents already validated keep their end date)."""
    _agent(actor)
    fields = _type_values(values)
    begin_write(session)
    doc_type = get_type(session, actor, type_id)
    if "scope" in fields and fields["scope"] != doc_type.scope and session.scalar(
            select(Document.id).where(Document.document_type_id == doc_type.id).limit(1)) is not None:
        # The documents already sent are tied to a household or to a child: they would vanish.
        raise DomainError("Des justificatifs de ce type ont déjà été déposés : il ne peut plus changer de "
                          "destinataire. Créez plutôt un nouveau type.", "scope")
    for name, value in fields.items():
        setattr(doc_type, name, value)
    organisation = session.get(Organisation, doc_type.organisation_id)
    audit.record(session, actor, "document_type.update", "organisation", organisation.id,
                 organisation.name, doc_type.name)
    session.commit()
    return doc_type


# ---------------------------------------------------------------- what a family sees

@dataclass
class Slot:
    """One justificatif asked of a household or of one child, and where it stands."""

    document_type: DocumentType
    child: Child | None
    document: Document | None
    state: str

    @property
    def label(self) -> str:
        return state_label(self.state)

    @property
    def valid_until(self) -> date | None:
        return self.document.valid_until if self.document is not None else None

    @property
    def can_upload(self) -> bool:
        return self.state in (DOCUMENT_REQUESTED, DOCUMENT_MISSING, DOCUMENT_REJECTED,
                              DOCUMENT_EXPIRED) or self.renewable

    @property
    def expired_since(self) -> date | None:
        """The first day it is no longer valid (it is valid on ``valid_until``)."""
        return self.valid_until + timedelta(days=1) if self.valid_until else None

    renewable: bool = False
    # A renewal the town hall declared invalid while ``document`` is still valid.
    refused_renewal: Document | None = None


@dataclass
class Group:
    """The justificatifs of the household, or of one child."""

    title: str
    child: Child | None
    slots: list[Slot]


SlotKey = tuple[int, int | None]


def _documents_by_slot(session: Session, household_id: int) -> dict[SlotKey, list[Document]]:
    """The household's documents for each type (and child), the oldest first."""
    rows = session.scalars(
        select(Document)
        .where(Document.household_id == household_id)
        .options(selectinload(Document.files))
        .order_by(Document.id)
    )
    found: dict[SlotKey, list[Document]] = {}
    for row in rows:
        found.setdefault((row.document_type_id, row.child_id), []).append(row)
    return found


def _latest_documents(session: Session, household_id: int) -> dict[SlotKey, Document]:
    return {key: rows[-1] for key, rows in _documents_by_slot(session, household_id).items()}


def _shown(rows: list[Document] | None, on: date) -> tuple[Document | None, Document | None]:
    """The document that says where a slot stands, and a refused renewal.

    Usually the newest one; but when the newest was declared invalid while an
    older one is still valid (a renewal sent before the end), the older one
    stands: the family is covered, and reads why the renewal was refused."""
    if not rows:
        return None, None
    latest = rows[-1]
    if latest.status == DOCUMENT_REJECTED:
        for older in reversed(rows[:-1]):
            if older.status == DOCUMENT_VALID:
                if older.state(on) == DOCUMENT_VALID:
                    return older, latest
                break
    return latest, None


def _make_slot(doc_type: DocumentType, child: Child | None, rows: list[Document] | None,
               on: date, reminder_days: int) -> Slot:
    document, refused = _shown(rows, on)
    return Slot(doc_type, child, document, _state(document, on),
                renewable=_renewable(document, on, reminder_days), refused_renewal=refused)


def _state(document: Document | None, on: date) -> str:
    return DOCUMENT_MISSING if document is None else document.state(on)


def _renewable(document: Document | None, on: date, reminder_days: int) -> bool:
    """A validated document may be replaced once its end is near."""
    return (
        document is not None
        and document.state(on) == DOCUMENT_VALID
        and document.valid_until is not None
        and document.valid_until <= on + timedelta(days=reminder_days)
    )


def overview(session: Session, household: Household, on: date | None = None,
             reminder_days: int = 30) -> list[Group]:
    """Every justificatif asked of the household and of each child, with its state."""
    on = on or today()
    types = types_of(session, household.organisation_id)
    by_slot = _documents_by_slot(session, household.id)

    def slot(doc_type: DocumentType, child: Child | None) -> Slot | None:
        rows = by_slot.get((doc_type.id, child.id if child else None))
        if not rows and not doc_type.asked_of_all:
            return None
        return _make_slot(doc_type, child, rows, on, reminder_days)

    groups = [Group("Le foyer", None, [s for t in types if t.scope == SCOPE_HOUSEHOLD
                                       if (s := slot(t, None)) is not None])]
    for child in household.children:
        groups.append(Group(child.full_name, child, [
            s for t in types if t.scope == SCOPE_CHILD if (s := slot(t, child)) is not None
        ]))
    return groups


def find_slot(session: Session, household: Household, type_id: int,
              child_id: int | None) -> tuple[DocumentType, Child | None]:
    """The type and the child a justificatif is for, checked against the household."""
    doc_type = session.get(DocumentType, type_id) if _storable(type_id) else None
    if doc_type is None or doc_type.organisation_id != household.organisation_id or not doc_type.active:
        raise NotFound("Ce justificatif n'existe pas.")
    child = None
    if doc_type.scope == SCOPE_CHILD:
        child = session.get(Child, child_id) if _storable(child_id) else None
        if child is None or child.household_id != household.id:
            raise NotFound("Ce justificatif n'existe pas.")
    elif child_id:
        # A household document is asked once, never per child.
        raise NotFound("Ce justificatif n'existe pas.")
    return doc_type, child


def slot_for(session: Session, household: Household, type_id: int, child_id: int | None,
             on: date | None = None, reminder_days: int = 30) -> Slot:
    on = on or today()
    doc_type, child = find_slot(session, household, type_id, child_id)
    rows = _documents_by_slot(session, household.id).get((doc_type.id, child.id if child else None))
    return _make_slot(doc_type, child, rows, on, reminder_days)


def is_satisfied(session: Session, household: Household, type_id: int, child_id: int | None = None,
                 on: date | None = None) -> bool:
    """Whether a validated, unexpired document of this type is on file: then no
    other step (an enrolment…) asks for it again. A household document answers
    for every child: ``child_id`` only counts for a type asked per child."""
    on = on or today()
    doc_type = session.get(DocumentType, type_id) if _storable(type_id) else None
    if doc_type is None:
        return False
    if doc_type.scope == SCOPE_HOUSEHOLD:
        child_id = None
    elif child_id is None:
        return False  # asked of each child: which one?
    found = session.scalar(
        select(Document.id).where(
            Document.household_id == household.id,
            Document.document_type_id == type_id,
            Document.child_id.is_(None) if child_id is None else Document.child_id == child_id,
            Document.status == DOCUMENT_VALID,
            (Document.valid_until.is_(None)) | (Document.valid_until >= on),
        ).limit(1)
    )
    return found is not None


# ---------------------------------------------------------------- sending

def _lock_household(session: Session, household: Household) -> None:
    """Hold the household's row until the commit, so that two posts for one of
    its justificatifs (a double click, two tabs, a parent and an agent) are
    decided one after the other: the second reads what the first wrote. On
    PostgreSQL that is a row lock; on SQLite ``begin_write`` already took the
    database's write lock and FOR UPDATE is not rendered."""
    session.execute(select(Household.id).where(Household.id == household.id).with_for_update())


def _for_whom(doc_type: DocumentType, child: Child | None) -> str:
    return f"« {doc_type.name} »" + (f" de {child.first_name}" if child is not None else "")


def submit(
    session: Session,
    settings: Mapping,
    storage,
    actor: Account,
    household: Household,
    type_id: int,
    child_id: int | None,
    uploads: Sequence[tuple[str, bytes] | tuple[str, bytes, str]],
    on: date | None = None,
) -> Document:
    """Fournir le justificatif: one or several files for one document, each
    (name, content) or (name, content, the form field it was chosen in).

    Every file is checked before anything is stored; if one is refused,
    nothing is kept. The same files sent twice are stored once."""
    on = on or today()
    max_files = settings.get("DOCUMENT_MAX_FILES", 5)
    if not uploads:
        raise filecheck.FileRefused("Choisissez le fichier à envoyer.")
    if len(uploads) > max_files:
        raise filecheck.FileRefused(
            f"Envoyez {max_files} fichiers au plus pour un même justificatif "
            "(par exemple le recto et le verso d'une carte)."
        )
    max_size = settings.get("DOCUMENT_MAX_FILE_SIZE", filecheck.MAX_SIZE)
    checked: list[filecheck.CheckedFile] = []
    for name, data, *field in uploads:
        try:
            item = filecheck.check(name, data, max_size)
        except filecheck.FileRefused as refused:
            # Said next to the field the file was chosen in (the camera's, or the files').
            refused.field = field[0] if field else refused.field
            raise
        if item.sha256 not in {c.sha256 for c in checked}:
            checked.append(item)

    begin_write(session)
    _lock_household(session, household)
    slot = slot_for(session, household, type_id, child_id, on,
                    settings.get("DOCUMENT_REMINDER_DAYS", 30))
    document = slot.document
    if slot.state == DOCUMENT_SUBMITTED:
        if sorted(f.sha256 for f in document.files) == sorted(c.sha256 for c in checked):
            session.rollback()
            return document  # the same upload posted twice
        raise filecheck.FileRefused(
            "Ce justificatif est déjà transmis et attend la vérification de la mairie."
        )
    if not slot.can_upload:
        raise filecheck.FileRefused(
            f"Ce justificatif est validé jusqu'au {format_date(slot.valid_until)} : "
            "il n'est pas demandé à nouveau."
            if slot.valid_until else "Ce justificatif est validé : il n'est pas demandé à nouveau."
        )
    if slot.state != DOCUMENT_REQUESTED:
        document = Document(household_id=household.id, document_type_id=slot.document_type.id,
                            child_id=slot.child.id if slot.child else None)
        session.add(document)
    document.status = DOCUMENT_SUBMITTED
    document.submitted_at = utcnow()
    document.submitted_by_id = actor.id
    keys: list[str] = []
    try:
        for item in checked:
            key = storage.save(item.data)
            keys.append(key)
            document.files.append(DocumentFile(
                storage_key=key, filename=item.filename, content_type=item.content_type,
                size=item.size, sha256=item.sha256,
            ))
        if actor.is_agent:
            # An agent sending it for the family (a paper handed in at the desk).
            count = len(checked)
            audit.record(session, actor, "document.submitted", "household", household.id,
                         household.name, f"{_for_whom(slot.document_type, slot.child)} — "
                         f"{count} fichier{'s' if count > 1 else ''}")
        session.commit()
    except BaseException:
        session.rollback()
        for key in keys:
            storage.delete(key)
        raise
    return document


def file_for(session: Session, actor: Account, household: Household, file_id: int) -> DocumentFile:
    """A file of one of the household's documents (the household is already checked)."""
    row = session.get(DocumentFile, file_id) if _storable(file_id) else None
    if row is None or row.document.household_id != household.id:
        raise NotFound("Ce fichier n'existe pas.")
    return row


def file_for_agent(session: Session, actor: Account, file_id: int) -> DocumentFile:
    _agent(actor)
    row = session.get(DocumentFile, file_id) if _storable(file_id) else None
    if row is None:
        raise NotFound("Ce fichier n'existe pas.")
    return row


# ---------------------------------------------------------------- the town hall

def queue(session: Session, actor: Account, type_id: int | None = None,
          organisation_id: int | None = None) -> list[Document]:
    """Documents sent and not yet reviewed, the oldest first."""
    _agent(actor)
    query = (
        select(Document)
        .join(Household, Household.id == Document.household_id)
        .where(Document.status == DOCUMENT_SUBMITTED)
        .options(selectinload(Document.files), selectinload(Document.document_type),
                 selectinload(Document.household), selectinload(Document.child))
        .order_by(Document.submitted_at, Document.id)
    )
    if type_id:
        query = query.where(Document.document_type_id == type_id)
    if organisation_id:
        query = query.where(Household.organisation_id == organisation_id)
    return list(session.scalars(query.limit(500)))


def get(session: Session, actor: Account, document_id: int) -> Document:
    _agent(actor)
    document = session.get(Document, document_id) if _storable(document_id) else None
    if document is None:
        raise NotFound("Ce justificatif n'existe pas.")
    return document


def _subject_of(session: Session, document: Document) -> tuple[Household, Child | None, str]:
    household = session.get(Household, document.household_id)
    child = session.get(Child, document.child_id) if document.child_id else None
    return household, child, _for_whom(document.document_type, child)


def _tell_family(session: Session, household: Household, subject: str, body: str,
                 base_url: str) -> None:
    for account in households.linked_accounts(session, household):
        notifications.notify(session, account, subject, body, base_url, link=LINK)


def _decide(session: Session, actor: Account, document_id: int, **values) -> Document:
    """Record a decision on a document that waits for one, or refuse: the
    update is guarded by the status, so that of two agents deciding at once
    (or one posting twice) only the first decides, and the family is told once."""
    _agent(actor)
    begin_write(session)
    document = get(session, actor, document_id)
    decided = session.execute(
        update(Document)
        .where(Document.id == document.id, Document.status == DOCUMENT_SUBMITTED)
        .values(decided_at=utcnow(), decided_by_id=actor.id, **values)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:
        session.rollback()
        raise DomainError("Ce justificatif a déjà été traité.")
    session.refresh(document)
    return document


def validate(session: Session, actor: Account, document_id: int, valid_until: date | None,
             base_url: str, on: date | None = None) -> Document:
    """Valider: the document counts until ``valid_until``; the family is told."""
    on = on or today()
    _agent(actor)
    if valid_until is not None and valid_until < on:
        raise DomainError("La fin de validité ne peut pas être passée.", "valid_until")
    document = _decide(session, actor, document_id, status=DOCUMENT_VALID,
                       valid_until=valid_until, reason="")
    household, child, what = _subject_of(session, document)
    until = f" jusqu'au {format_date(valid_until)}" if valid_until else ""
    audit.record(session, actor, "document.validated", "household", household.id, household.name,
                 f"{what} validé{until}")
    _tell_family(
        session, household, f"Justificatif validé : {document.document_type.name}",
        f"La mairie a validé votre justificatif {what}. Il est valable{until or ' sans limite de date'}.",
        base_url,
    )
    session.commit()
    return document


def reject(session: Session, actor: Account, document_id: int, reason: str,
           base_url: str) -> Document:
    """Invalide: the family reads the reason and sends another document."""
    _agent(actor)
    reason = " ".join((reason or "").split())[:500]
    if not reason:
        raise DomainError("Indiquez le motif : la famille le lira.", "reason_choice")
    document = _decide(session, actor, document_id, status=DOCUMENT_REJECTED, reason=reason)
    household, child, what = _subject_of(session, document)
    audit.record(session, actor, "document.rejected", "household", household.id, household.name,
                 f"{what} — motif : {reason}")
    _tell_family(
        session, household, f"Justificatif invalide : {document.document_type.name}",
        f"La mairie n'a pas pu valider votre justificatif {what}. Motif : {reason}. "
        "Fournissez un nouveau justificatif dans « Mes justificatifs ».",
        base_url,
    )
    session.commit()
    return document


def request_document(session: Session, actor: Account, household: Household, type_id: int,
                     child_id: int | None, message: str, base_url: str,
                     on: date | None = None) -> Document:
    """Réclamer: ask the family for a document, with a message."""
    on = on or today()
    _agent(actor)
    message = (message or "").strip()
    if len(message) > 1000:
        raise DomainError("Le message ne doit pas dépasser 1000 caractères.", "message")
    begin_write(session)
    _lock_household(session, household)
    try:
        slot = slot_for(session, household, type_id, child_id, on)
    except NotFound:
        raise DomainError("Choisissez un justificatif, et l'enfant s'il est demandé par enfant.",
                          "document_type") from None
    if slot.state == DOCUMENT_VALID:
        until = f" jusqu'au {format_date(slot.valid_until)}" if slot.valid_until else ""
        raise DomainError(f"Ce justificatif est validé{until} : il n'est pas demandé à nouveau.",
                          "document_type")
    if slot.state == DOCUMENT_REQUESTED:
        raise DomainError("Ce justificatif est déjà réclamé.", "document_type")
    if slot.state == DOCUMENT_SUBMITTED:
        raise DomainError("Ce justificatif est déjà transmis : il attend votre vérification.",
                          "document_type")
    document = Document(household_id=household.id, document_type_id=slot.document_type.id,
                        child_id=slot.child.id if slot.child else None, status=DOCUMENT_REQUESTED,
                        request_message=message, requested_by_id=actor.id)
    session.add(document)
    what = _for_whom(slot.document_type, slot.child)
    audit.record(session, actor, "document.requested", "household", household.id, household.name,
                 what + (f" — {message}" if message else ""))
    body = f"La mairie vous demande le justificatif {what}."
    if message:
        body += f"\n\n{message}"
    _tell_family(session, household, f"Justificatif réclamé : {slot.document_type.name}", body,
                 base_url)
    session.commit()
    return document


# ---------------------------------------------------------------- expiry

def remind_expiring(session: Session, settings: Mapping, base_url: str,
                    on: date | None = None) -> int:
    """Tell families, once, that a validated document ends within
    DOCUMENT_REMINDER_DAYS days (run daily: ``flask documents remind``)."""
    on = on or today()
    days = int(settings.get("DOCUMENT_REMINDER_DAYS", 30))
    begin_write(session)
    due = list(session.scalars(
        select(Document)
        .join(DocumentType, DocumentType.id == Document.document_type_id)
        .where(
            DocumentType.active.is_(True),  # a type no longer asked for is not renewed
            Document.status == DOCUMENT_VALID,
            Document.reminded_at.is_(None),
            Document.valid_until.is_not(None),
            Document.valid_until >= on,
            Document.valid_until <= on + timedelta(days=days),
        ).order_by(Document.id)
    ))
    told = 0
    now = utcnow()
    for document in due:
        # Claimed by a guarded update: the command run at once on two servers tells a family once.
        claimed = session.execute(
            update(Document).where(Document.id == document.id, Document.reminded_at.is_(None))
            .values(reminded_at=now).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            continue
        latest = _latest_documents(session, document.household_id)
        if latest.get((document.document_type_id, document.child_id)) is not document:
            continue  # a newer one is already on its way
        household, child, what = _subject_of(session, document)
        _tell_family(
            session, household, f"Justificatif bientôt périmé : {document.document_type.name}",
            f"Votre justificatif {what} n'est plus valable après le "
            f"{format_date(document.valid_until)}. Fournissez-en un nouveau dans "
            "« Mes justificatifs » avant cette date.",
            base_url,
        )
        told += 1
    session.commit()
    return told
