"""Documents an activity requires before a child is enrolled: while a validated
document is valid, it is not asked again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import ActivityRequirement
from citoyen.models import Child
from citoyen.models import DocumentType
from citoyen.models import Household
from citoyen.models.agenda import Activity
from citoyen.services import audit
from citoyen.services import documents
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write


def required_types(session: Session, activity_id: int) -> list[DocumentType]:
    return list(session.scalars(
        select(DocumentType).join(ActivityRequirement, ActivityRequirement.document_type_id == DocumentType.id)
        .where(ActivityRequirement.activity_id == activity_id, DocumentType.active.is_(True))
        .order_by(DocumentType.name)))


def missing_for(session: Session, child: Child, activity: Activity) -> list[DocumentType]:
    """The required documents not validated and valid for this child (or its household)."""
    household = session.get(Household, child.household_id)
    return [t for t in required_types(session, activity.id)
            if not documents.is_satisfied(session, household, t.id, child.id)]


def set_required(session: Session, actor: Account, activity_id: int, type_ids: Iterable[int]) -> list[DocumentType]:
    """Choose the documents an activity requires (types of the same commune)."""
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")
    begin_write(session)
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("Cette activité n'existe pas.")
    wanted = set(type_ids)
    chosen = [t for t in session.scalars(select(DocumentType).where(
        DocumentType.organisation_id == activity.organisation_id, DocumentType.active.is_(True)))
        if t.id in wanted]
    session.execute(delete(ActivityRequirement).where(ActivityRequirement.activity_id == activity.id))
    session.add_all([ActivityRequirement(activity_id=activity.id, document_type_id=t.id) for t in chosen])
    audit.record(session, actor, "activity.requirements", "activity", activity.id, activity.name,
                 "Justificatifs exigés : " + (", ".join(t.name for t in chosen) or "aucun"))
    session.commit()
    return chosen


def choices(session: Session, activity: Activity) -> list[DocumentType]:
    return list(session.scalars(select(DocumentType).where(
        DocumentType.organisation_id == activity.organisation_id, DocumentType.active.is_(True))
        .order_by(DocumentType.name)))
