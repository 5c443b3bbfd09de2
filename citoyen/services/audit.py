"""Audit rows for every agent action that changes someone's data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import AuditEntry

ACTION_LABELS = {
    "account.unlock": "Déblocage du compte",
    "account.resend_activation": "Nouveau lien d'activation envoyé",
    "account.role": "Changement de rôle",
    "account.create_agent": "Création d'un compte agent",
    "organisation.create": "Commune ajoutée",
    "organisation.identity": "Nom ou codes postaux d'une commune",
    "organisation.update": "Modification des coordonnées de la commune",
    "organisation.school_zone": "Zone de vacances scolaires de la commune",
    "household.create": "Création d'un foyer",
    "household.add_child": "Ajout d'un enfant",
    "household.import": "Import de foyers",
    "household.invite": "Invitation d'un responsable",
    "household.code_renewed": "Code abonné renouvelé",
    "household.account_detached": "Compte détaché du foyer",
    "household.edit": "Modification du dossier par un agent",
    "household.change_validated": "Modification validée",
    "household.change_refused": "Modification refusée",
    "household.change_withdrawn": "Modification retirée par un agent",
    "household.child_validated": "Fiche enfant validée",
    "household.child_refused": "Fiche enfant refusée",
    "household.add_guardian": "Ajout d'un responsable",
    "household.guardian_validated": "Responsable validé",
    "household.guardian_refused": "Responsable refusé",
    "household.pickup_added": "Personne autorisée ajoutée",
    "household.pickup_edited": "Personne autorisée modifiée",
    "household.pickup_removed": "Personne autorisée retirée",
    "household.photo_changed": "Photo d'un enfant changée",
    "household.photo_removed": "Photo d'un enfant retirée",
    "household.calendar_created": "Adresse du calendrier d'un enfant créée",
    "household.calendar_renewed": "Adresse du calendrier d'un enfant remplacée",
    "money.cash": "Paiement en espèces",
    "money.refund": "Remboursement",
    "money.credit_note": "Avoir",
    "money.invoicing": "Facturation du mois",
    "money.prices": "Tarifs d'une activité",
    "activity.requirements": "Justificatifs exigés par une activité",
    "money.settings": "Règles de facturation d'une commune",
    "document.validated": "Justificatif validé",
    "document.rejected": "Justificatif déclaré invalide",
    "document.requested": "Justificatif réclamé",
    "document.submitted": "Justificatif transmis par un agent",
    "document_type.create": "Création d'un type de justificatif",
    "document_type.update": "Modification d'un type de justificatif",
    "activity.site_create": "Ajout d'un lieu d'activité",
    "activity.create": "Création d'une activité",
    "activity.update": "Modification d'une activité",
    "activity.archive": "Activité retirée",
    "activity.restore": "Activité proposée à nouveau",
    "activity.capacity": "Capacité d'un jour modifiée",
    "activity.closure_add": "Fermeture ajoutée",
    "activity.closure_delete": "Fermeture supprimée",
    "activity.attendance": "Pointage de présence",
    "agenda.enrol": "Inscription à une activité par un agent",
    "agenda.enrolment_validated": "Inscription validée",
    "agenda.enrolment_refused": "Inscription refusée",
    "agenda.enrolment_ended": "Fin d'une inscription par un agent",
    "agenda.absence": "Absence déclarée par un agent",
    "agenda.book": "Réservation faite par un agent",
    "agenda.wait": "Mise sur liste d'attente par un agent",
    "agenda.cancel": "Réservation annulée par un agent",
    "agenda.unwait": "Retrait d'une liste d'attente par un agent",
    "agenda.bulk": "Saisie groupée par un agent",
    "agenda.absence_certificate": "Certificat joint à une absence par un agent",
    "request.taken": "Demande prise en charge",
    "request.message": "Réponse à une demande",
    "request.closed": "Demande close",
    "request.refused": "Demande refusée",
    "franceconnect.failure": "Échec de connexion FranceConnect",
    "franceconnect.link": "Identité FranceConnect rattachée",
    "franceconnect.unlink": "Identité FranceConnect détachée",
}

PAGE_SIZE = 50


def record(
    session: Session,
    actor: Account | None,
    action: str,
    target_type: str,
    target_id: int | None,
    target_label: str = "",
    details: str = "",
) -> AuditEntry:
    """Add an audit row to the caller's transaction."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_label=f"{actor.full_name} <{actor.email}>" if actor is not None else "Système",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        details=details,
    )
    session.add(entry)
    return entry


def page(session: Session, number: int = 1) -> tuple[list[AuditEntry], bool]:
    number = max(number, 1)
    rows = session.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset((number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    return list(rows[:PAGE_SIZE]), len(rows) > PAGE_SIZE


def for_target(session: Session, target_type: str, target_id: int) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == target_type, AuditEntry.target_id == target_id)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(100)
        )
    )


def label(action: str) -> str:
    return ACTION_LABELS.get(action, action)
