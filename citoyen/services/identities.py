"""Identities certified by FranceConnect, and the accounts they open."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import ExternalIdentity
from citoyen.models.base import utcnow
from citoyen.services import accounts
from citoyen.services import audit
from citoyen.services.errors import DomainError
from citoyen.transactions import begin_write

PROVIDER = "franceconnect"
CLAIMS = ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email")
# A first sign-in not followed by a choice is forgotten after this long.
PENDING_LIFETIME = timedelta(hours=1)


class PendingExpired(DomainError):
    def __init__(self):
        super().__init__(
            "Votre connexion avec FranceConnect a expiré. Recommencez en cliquant sur "
            "« S'identifier avec FranceConnect »."
        )


def record_identity(session: Session, claims: Mapping, acr: str) -> ExternalIdentity:
    """Keep what the provider certified, keyed by its ``sub``; return the identity
    (linked to an account or not yet)."""
    begin_write(session)
    subject = str(claims["sub"])
    identity = session.scalar(
        select(ExternalIdentity).where(
            ExternalIdentity.provider == PROVIDER, ExternalIdentity.subject == subject
        )
    )
    if identity is None:
        identity = ExternalIdentity(provider=PROVIDER, subject=subject)
        session.add(identity)
    for name in CLAIMS:
        value = claims.get(name)
        setattr(identity, name, str(value)[:254] if value is not None else "")
    identity.acr = acr or ""
    identity.raw_claims = json.dumps({k: claims.get(k) for k in CLAIMS}, ensure_ascii=False)
    identity.last_used_at = utcnow()
    try:
        session.commit()
    except IntegrityError:  # the same person, at the same moment, in another tab
        session.rollback()
        identity = session.scalar(
            select(ExternalIdentity).where(
                ExternalIdentity.provider == PROVIDER, ExternalIdentity.subject == subject
            )
        )
    return identity


def linked_account(session: Session, identity: ExternalIdentity) -> Account | None:
    if identity.account_id is None:
        return None
    return session.get(Account, identity.account_id)


def pending(session: Session, identity_id: int | None) -> ExternalIdentity:
    """The identity of a first sign-in waiting for the person's choice."""
    identity = session.get(ExternalIdentity, identity_id) if identity_id else None
    if (
        identity is None
        or identity.account_id is not None
        or identity.last_used_at is None
        or identity.last_used_at < utcnow() - PENDING_LIFETIME
    ):
        raise PendingExpired()
    return identity


def create_account(
    session: Session,
    settings: Mapping,
    identity_id: int,
    *,
    email: str,
    email_confirmed: bool,
    base_url: str,
) -> Account:
    """Open an account from a certified identity, without a password.

    The address counts as verified only if the person confirms it is theirs and
    it is the one the provider gave; otherwise a link is mailed to prove it."""
    email = accounts.normalise_email(email)
    begin_write(session)
    identity = pending(session, identity_id)
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise DomainError(
            "Un compte existe déjà avec cette adresse e-mail : choisissez plutôt "
            "« J'ai déjà un compte » pour y rattacher votre identité FranceConnect.",
            "email",
        )
    now = utcnow()
    verified = email_confirmed and email == (identity.email or "").strip().lower()
    account = Account(
        email=email,
        first_name=(identity.given_name or "").split(" ")[0][:100] or "-",
        last_name=(identity.family_name or "-")[:100],
        password_hash=None,
        activated_at=now,
        email_verified_at=now if verified else None,
        terms_accepted_at=now,
    )
    session.add(account)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise accounts.EmailTaken() from None
    identity.account_id = account.id
    identity.linked_at = now
    if not verified:
        accounts._send_activation(session, settings, account, base_url, confirm_only=True)
    session.commit()
    return account


def link_existing(
    session: Session, settings: Mapping, identity_id: int, *, email: str, password: str
) -> Account:
    """Attach the certified identity to the account whose password the person knows."""
    pending(session, identity_id)
    account = accounts.authenticate(session, settings, email, password)
    begin_write(session)
    identity = pending(session, identity_id)
    already = session.scalar(
        select(ExternalIdentity.id).where(
            ExternalIdentity.account_id == account.id, ExternalIdentity.provider == PROVIDER
        )
    )
    if already is not None:
        raise DomainError(
            "Ce compte est déjà rattaché à une autre identité FranceConnect.", "email"
        )
    identity.account_id = account.id
    identity.linked_at = utcnow()
    audit.record(session, account, "franceconnect.link", "account", account.id, account.email)
    session.commit()
    return account


def for_account(session: Session, account: Account) -> ExternalIdentity | None:
    return session.scalar(
        select(ExternalIdentity).where(
            ExternalIdentity.account_id == account.id, ExternalIdentity.provider == PROVIDER
        )
    )


def unlink(session: Session, account: Account) -> None:
    """Detach FranceConnect from the account; it must keep a way to sign in."""
    begin_write(session)
    if account.password_hash is None:
        raise DomainError(
            "Choisissez d'abord un mot de passe : sans lui, vous ne pourriez plus vous connecter."
        )
    session.execute(
        delete(ExternalIdentity).where(
            ExternalIdentity.account_id == account.id, ExternalIdentity.provider == PROVIDER
        )
    )
    audit.record(session, account, "franceconnect.unlink", "account", account.id, account.email)
    session.commit()


def record_failure(session: Session, reason: str) -> None:
    """An audit row for a failed sign-in with the provider (no account is touched)."""
    session.rollback()
    audit.record(session, None, "franceconnect.failure", "identity", None, "", reason[:500])
    session.commit()


def purge_pending(session: Session) -> int:
    """Forget first sign-ins that were never followed by a choice."""
    result = session.execute(
        delete(ExternalIdentity).where(
            ExternalIdentity.account_id.is_(None),
            ExternalIdentity.created_at < utcnow() - PENDING_LIFETIME,
        )
    )
    session.commit()
    return result.rowcount
