"""What needs a family's (or an agent's) attention, for the "Accueil" page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen import links
from citoyen.models import Account
from citoyen.models import ChangeSet
from citoyen.models import Child
from citoyen.models import Document
from citoyen.models import Enrolment
from citoyen.models import Guardian
from citoyen.models import Request
from citoyen.models.agenda import ENROLMENT_PENDING
from citoyen.models.documents import DOCUMENT_SUBMITTED
from citoyen.models.households import CHANGE_PENDING
from citoyen.models.requests import REQUEST_PENDING
from citoyen.services import households
from citoyen.services import notifications
from citoyen.services import requests


@dataclass(frozen=True)
class AttentionItem:
    text: str
    link: str
    link_text: str


def attention_items(session: Session, account: Account) -> list[AttentionItem]:
    """Plain sentences, each with the link where the family acts on it."""
    items = []
    unread = notifications.unread_count(session, account)
    if unread:
        items.append(
            AttentionItem(
                f"Vous avez {unread} message{'s' if unread > 1 else ''} non lu{'s' if unread > 1 else ''}.",
                links.messages(),
                "Lire mes messages",
            )
        )
    if not account.is_agent and not households.households_of(session, account):
        items.append(
            AttentionItem(
                "Votre compte n'est pas encore rattaché à votre dossier famille.",
                "/abonnements",
                "Rattacher mon compte avec le code de la mairie",
            )
        )
    if account.is_agent:
        items += _agent_items(session)
    if account.password_hash is None:
        items.append(
            AttentionItem(
                "Votre compte n'a pas encore de mot de passe.",
                "/profil/mot-de-passe",
                "Choisir un mot de passe",
            )
        )
    return items


def _count(session: Session, model, condition) -> int:
    return session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def _agent_items(session: Session) -> list[AttentionItem]:
    """What waits for the town hall, with the page where an agent decides."""
    waiting = (
        (_count(session, ChangeSet, ChangeSet.status == CHANGE_PENDING)
         + _count(session, Child, Child.status == "pending")
         + _count(session, Guardian, Guardian.status == "pending"),
         ("demande des familles (dossier, enfant, responsable) attend votre validation",
          "demandes des familles (dossier, enfant, responsable) attendent votre validation"),
         "/agent/modifications", "Voir ce qui est à valider"),
        (_count(session, Document, Document.status == DOCUMENT_SUBMITTED),
         ("justificatif attend d'être examiné", "justificatifs attendent d'être examinés"),
         "/agent/justificatifs", "Examiner les justificatifs"),
        (_count(session, Enrolment, Enrolment.status == ENROLMENT_PENDING),
         ("inscription à une activité attend votre validation",
          "inscriptions à une activité attendent votre validation"),
         "/agent/inscriptions", "Voir les inscriptions à valider"),
        (_count(session, Request, Request.status == REQUEST_PENDING),
         ("demande d'une famille attend d'être prise en charge",
          "demandes des familles attendent d'être prises en charge"),
         "/agent/demandes", "Voir les demandes"),
        (requests.awaiting_answer_count(session),
         ("demande en traitement a un nouveau message de la famille",
          "demandes en traitement ont un nouveau message de la famille"),
         "/agent/demandes", "Voir les demandes"),
    )
    return [AttentionItem(f"{count} {words[count > 1]}.", link, link_text)
            for count, words, link, link_text in waiting if count]
