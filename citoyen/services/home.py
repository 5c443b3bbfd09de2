"""What needs a family's attention, for the "Accueil" page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from citoyen import links
from citoyen.models import Account
from citoyen.services import households
from citoyen.services import notifications


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
    if account.password_hash is None:
        items.append(
            AttentionItem(
                "Votre compte n'a pas encore de mot de passe.",
                "/profil/mot-de-passe",
                "Choisir un mot de passe",
            )
        )
    return items
