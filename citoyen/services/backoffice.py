"""What agents do to accounts in "Espace agent"; every change is audited."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen import links
from citoyen import mail
from citoyen import passwords
from citoyen.models import Account
from citoyen.models.accounts import ROLE_ADMIN
from citoyen.models.accounts import ROLE_AGENT
from citoyen.models.accounts import ROLE_PARENT
from citoyen.models.accounts import ROLES
from citoyen.models.accounts import TOKEN_INVITATION
from citoyen.models.base import utcnow
from citoyen.services import accounts
from citoyen.services import audit
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write

ROLE_LABELS = {ROLE_PARENT: "Famille", ROLE_AGENT: "Agent", ROLE_ADMIN: "Administrateur"}
SEARCH_LIMIT = 50


_ACCOUNT_EXISTS = ("Un compte existe déjà avec cette adresse e-mail : retrouvez-le avec « Rechercher un compte » "
                   "pour changer son rôle depuis sa fiche.")

def _require_agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


def _require_admin(actor: Account) -> None:
    if not actor.is_admin:
        raise Forbidden("Cette action est réservée aux administrateurs.")


def search_accounts(session: Session, actor: Account, query: str) -> list[Account]:
    """Accounts whose address or name contains every word of the query: at most
    ``SEARCH_LIMIT``, and one more to tell there are more."""
    _require_agent(actor)
    statement = select(Account)
    for word in (query or "").split()[:5]:
        pattern = (
            "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        statement = statement.where(
            or_(
                Account.email.like(pattern, escape="\\"),
                func.lower(Account.first_name).like(pattern, escape="\\"),
                func.lower(Account.last_name).like(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(Account.last_name, Account.first_name, Account.id).limit(
        SEARCH_LIMIT + 1
    )
    return list(session.scalars(statement))


def get_account(session: Session, actor: Account, account_id: int) -> Account:
    _require_agent(actor)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("Ce compte n'existe pas.")
    return account


def unlock(session: Session, actor: Account, account: Account) -> None:
    """Lift a sign-in lockout before it ends by itself."""
    _require_agent(actor)
    begin_write(session)
    account.locked_until = None
    account.failed_sign_ins = 0
    audit.record(session, actor, "account.unlock", "account", account.id, account.email)
    session.commit()


def resend_activation(
    session: Session, settings: Mapping, actor: Account, account: Account, base_url: str
) -> None:
    """Mail a new activation link to an account not yet activated."""
    _require_agent(actor)
    begin_write(session)
    if account.activated_at is not None:
        raise DomainError("Ce compte est déjà activé.")
    accounts._send_activation(session, settings, account, base_url)
    audit.record(session, actor, "account.resend_activation", "account", account.id, account.email)
    session.commit()


def set_role(session: Session, actor: Account, account: Account, role: str) -> None:
    """Make an account a family, an agent or an administrator."""
    _require_admin(actor)
    if role not in ROLES:
        raise DomainError("Choisissez un rôle dans la liste.", "role")
    begin_write(session)
    if account.role == role:
        return
    if account.role == ROLE_ADMIN and accounts.admins_locked(session) <= 1:
        raise accounts.LastAdmin()
    before = account.role
    account.role = role
    audit.record(
        session,
        actor,
        "account.role",
        "account",
        account.id,
        account.email,
        f"{ROLE_LABELS[before]} → {ROLE_LABELS[role]}",
    )
    session.commit()


def create_agent(
    session: Session,
    settings: Mapping,
    actor: Account | None,
    *,
    first_name: str,
    last_name: str,
    email: str,
    role: str = ROLE_AGENT,
    base_url: str,
    password: str | None = None,
) -> Account:
    """Create an agent account. Without a password, the agent gets an
    invitation link to choose one. ``actor`` is None from the command line."""
    if actor is not None:
        _require_admin(actor)
    if role not in (ROLE_AGENT, ROLE_ADMIN):
        raise DomainError("Choisissez un rôle dans la liste.", "role")
    first_name = accounts._clean_name(first_name, "first_name", "prénom")
    last_name = accounts._clean_name(last_name, "last_name", "nom")
    email = accounts.normalise_email(email)
    if password is not None:
        accounts.check_password_rule(password)
    password_hash = passwords.hash_password(password) if password else None
    begin_write(session)
    if session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise DomainError(_ACCOUNT_EXISTS, "email")

    account = Account(
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        activated_at=utcnow(),
        password_hash=password_hash,
    )
    session.add(account)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DomainError(_ACCOUNT_EXISTS, "email") from None
    if password is None:
        token = accounts.issue_token(
            session, settings, account, TOKEN_INVITATION, settings["INVITATION_HOURS"]
        )
        mail.queue(
            session,
            account.email,
            "Votre compte agent sur le portail",
            "invitation",
            account=account,
            link=links.absolute(base_url, links.invitation(token)),
            hours=settings["INVITATION_HOURS"],
            base_url=base_url.rstrip("/"),
        )
    if actor is not None:
        audit.record(
            session,
            actor,
            "account.create_agent",
            "account",
            account.id,
            account.email,
            ROLE_LABELS[role],
        )
    session.commit()
    return account
