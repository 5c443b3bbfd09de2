"""The account life cycle: sign-up, activation, sign-in, recovery, profile."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import NamedTuple

from email_validator import EmailNotValidError
from email_validator import validate_email
from itsdangerous import BadSignature
from itsdangerous import Signer
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen import links
from citoyen import mail
from citoyen import passwords
from citoyen.models import Account
from citoyen.models import AccountToken
from citoyen.models import ExternalIdentity
from citoyen.models import Notification
from citoyen.models import Organisation
from citoyen.models.accounts import ROLE_ADMIN
from citoyen.models.accounts import TOKEN_ACTIVATION
from citoyen.models.accounts import TOKEN_EMAIL_CHANGE
from citoyen.models.accounts import TOKEN_INVITATION
from citoyen.models.accounts import TOKEN_RESET
from citoyen.models.accounts import new_session_epoch
from citoyen.models.base import utcnow
from citoyen.services import sql
from citoyen.services.errors import DomainError
from citoyen.timefmt import format_time
from citoyen.transactions import UPGRADED
from citoyen.transactions import WROTE
from citoyen.transactions import begin_write

NAME_MAX = 100


class InvalidEmail(DomainError):
    field = "email"


class EmailTaken(DomainError):
    field = "email"

    def __init__(self, field: str = "email"):
        super().__init__(
            "Un compte existe déjà avec cette adresse e-mail. "
            "Connectez-vous, ou utilisez « Mot de passe ou identifiant oublié ».",
            field,
        )


class WeakPassword(DomainError):
    field = "password"


class InvalidCredentials(DomainError):
    def __init__(self):
        super().__init__("Adresse e-mail ou mot de passe incorrect.", "password")


class AccountLocked(DomainError):
    def __init__(self, until: datetime):
        self.until = until
        super().__init__(
            "Votre compte est bloqué après plusieurs mots de passe erronés. "
            f"Vous pourrez réessayer à {format_time(until)}, ou dès maintenant "
            "choisir un nouveau mot de passe avec « Mot de passe ou identifiant oublié ».",
            "password",
        )


class AccountNotActivated(DomainError):
    def __init__(self, email: str):
        self.email = email
        super().__init__(
            "Votre compte n'est pas encore activé : cliquez sur le lien du courriel "
            "d'activation que nous vous avons envoyé. Vous ne l'avez pas reçu ? "
            "Nous pouvons vous en envoyer un nouveau.",
            "email",
        )


class WrongPassword(DomainError):
    def __init__(self, field: str = "current_password"):
        super().__init__("Le mot de passe actuel est incorrect.", field)


class TokenInvalid(DomainError):
    def __init__(self):
        super().__init__(
            "Ce lien n'est pas valide. Vérifiez qu'il a été copié en entier, "
            "ou demandez-en un nouveau."
        )


class TokenExpired(DomainError):
    def __init__(self):
        super().__init__("Ce lien a expiré. Demandez-en un nouveau.")


class TokenUsed(DomainError):
    def __init__(
        self, message: str = "Ce lien a déjà été utilisé. Demandez-en un nouveau si besoin."
    ):
        super().__init__(message)


class LastAdmin(DomainError):
    def __init__(self):
        super().__init__(
            "Ce compte est le seul compte administrateur : nommez d'abord un autre administrateur."
        )


# ---------------------------------------------------------------- helpers


def normalise_email(raw: str, field: str = "email") -> str:
    """Trim and lower-case an address after checking its syntax."""
    value = (raw or "").strip()
    if not value:
        raise InvalidEmail("Indiquez votre adresse e-mail.", field)
    if len(value) > 254:
        raise InvalidEmail("L'adresse e-mail ne doit pas dépasser 254 caractères.", field)
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidEmail(
            "Cette adresse e-mail n'est pas valide. Exemple : prenom.nom@exemple.fr", field
        ) from None
    return result.normalized.lower()


def check_password_rule(password: str, field: str = "password") -> None:
    problem = passwords.rule_problem(password or "")
    if problem:
        raise WeakPassword(problem, field)


def find_by_email(session: Session, email: str) -> Account | None:
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    return session.scalar(select(Account).where(Account.email == email))


def _signer(secret_key: str, purpose: str) -> Signer:
    return Signer(secret_key, salt=f"citoyen-token-{purpose}")


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    session: Session,
    settings: Mapping,
    account: Account,
    purpose: str,
    hours: int,
    new_email: str | None = None,
) -> str:
    """Create a single-use token and return the signed string to put in a link.

    Earlier unused tokens of the same purpose stop working: one live link at a time."""
    now = utcnow()
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id == account.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            account=account,
            purpose=purpose,
            secret_hash=_hash_secret(secret),
            new_email=new_email,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return _signer(settings["SECRET_KEY"], purpose).sign(secret).decode()


def peek_token(session: Session, settings: Mapping, token: str, purpose: str) -> AccountToken:
    """The token row if the link is valid, unused and not expired."""
    try:
        secret = _signer(settings["SECRET_KEY"], purpose).unsign(token).decode()
    except (BadSignature, UnicodeError):
        raise TokenInvalid() from None
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.secret_hash == _hash_secret(secret), AccountToken.purpose == purpose
        )
    )
    if row is None:
        raise TokenInvalid()
    if row.used_at is not None:
        raise TokenUsed()
    if row.expires_at < utcnow():
        raise TokenExpired()
    return row


def _consume(session: Session, settings: Mapping, token: str, purpose: str) -> AccountToken:
    begin_write(session)
    row = peek_token(session, settings, token, purpose)
    # Guarded update: of two simultaneous uses, only one wins.
    done = session.execute(
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        session.rollback()
        raise TokenUsed()
    return row


def _clean_name(value: str, field: str, label: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise DomainError(f"Indiquez votre {label}.", field)
    if len(value) > NAME_MAX:
        raise DomainError(f"Le {label} ne doit pas dépasser {NAME_MAX} caractères.", field)
    return value


def _mail(session, settings, base_url, account_email, subject, template, **ctx):
    mail.queue(
        session,
        account_email,
        subject,
        template,
        base_url=base_url.rstrip("/"),
        **ctx,
    )


# ---------------------------------------------------------------- sign-up


def register(
    session: Session,
    settings: Mapping,
    *,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
    base_url: str,
) -> Account:
    """Create an account that is not yet activated and mail its activation link.

    For an address that already has an account, nothing is created: that address
    is told by mail, and ``EmailTaken`` is raised once the mail is committed (the
    sign-up page answers as for a new account, so as not to tell who has one)."""
    first_name = _clean_name(first_name, "first_name", "prénom")
    last_name = _clean_name(last_name, "last_name", "nom")
    email = normalise_email(email)
    check_password_rule(password)
    password_hash = passwords.hash_password(password)
    begin_write(session)
    existing = session.scalar(select(Account).where(Account.email == email))
    if existing is not None:
        _mail(
            session,
            settings,
            base_url,
            existing.email,
            "Demande de création de compte",
            "sign_up_existing",
            account=existing,
            sign_in_link=links.absolute(base_url, links.sign_in()),
            recovery_link=links.absolute(base_url, links.password_recovery()),
        )
        session.commit()
        raise EmailTaken()
    now = utcnow()
    account = Account(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password_hash=password_hash,
        terms_accepted_at=now,
        created_at=now,
    )
    session.add(account)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise EmailTaken() from None
    _send_activation(session, settings, account, base_url)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise EmailTaken() from None
    return account


def _send_activation(session, settings, account, base_url, confirm_only: bool = False):
    """The link that activates an account, or, for one opened with FranceConnect
    (``confirm_only``), that confirms its address: that mail tells the owner of
    the mailbox, if someone else typed it, not to open the link."""
    token = issue_token(session, settings, account, TOKEN_ACTIVATION, settings["ACTIVATION_HOURS"])
    _mail(
        session,
        settings,
        base_url,
        account.email,
        "Confirmez votre adresse e-mail" if confirm_only else "Activez votre compte",
        "address_confirm" if confirm_only else "activation",
        account=account,
        link=links.absolute(base_url, links.activation(token)),
        hours=settings["ACTIVATION_HOURS"],
    )


def activate(session: Session, settings: Mapping, token: str) -> Account:
    """Activate the account of an activation link."""
    try:
        row = _consume(session, settings, token, TOKEN_ACTIVATION)
    except TokenUsed:
        raise TokenUsed(
            "Ce lien d'activation a déjà été utilisé. "
            "Si votre compte est activé, vous pouvez vous connecter."
        ) from None
    account = row.account
    now = utcnow()
    if account.activated_at is None:
        account.activated_at = now
    if account.email_verified_at is None:
        account.email_verified_at = now
    session.commit()
    return account


def resend_activation(session: Session, settings: Mapping, email: str, base_url: str) -> None:
    """Mail a new activation link if the address has an account waiting for one.

    Says nothing either way, so the form does not tell which addresses exist."""
    begin_write(session)
    account = find_by_email(session, email)
    if account is None or account.activated_at is not None:
        return
    _send_activation(session, settings, account, base_url)
    session.commit()


def purge_inactive(session: Session, settings: Mapping, now: datetime | None = None) -> int:
    """Delete accounts never activated within the activation delay."""
    now = now or utcnow()
    limit = now - timedelta(hours=settings["ACTIVATION_HOURS"])
    # An account whose activation link was sent again is kept while that link works.
    live_link = (
        select(AccountToken.id)
        .where(
            AccountToken.account_id == Account.id,
            AccountToken.purpose == TOKEN_ACTIVATION,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .exists()
    )
    result = session.execute(
        delete(Account).where(
            Account.activated_at.is_(None), Account.created_at < limit, ~live_link
        )
    )
    session.commit()
    return result.rowcount


# ---------------------------------------------------------------- sign-in


def authenticate(session: Session, settings: Mapping, email: str, password: str) -> Account:
    """Check an address and a password; count failures and lock the account."""
    account = find_by_email(session, email)
    now = utcnow()
    if account is None:
        passwords.verify(None, password or "")
        raise InvalidCredentials()
    if account.locked_until is not None and account.locked_until > now:
        raise AccountLocked(account.locked_until)
    if not passwords.verify(account.password_hash, password or ""):
        _count_failure(session, settings, account.id, now)
        session.refresh(account)
        if account.locked_until is not None and account.locked_until > now:
            raise AccountLocked(account.locked_until)
        raise InvalidCredentials()
    if account.activated_at is None:
        session.rollback()
        raise AccountNotActivated(account.email)
    new_hash = (
        passwords.hash_password(password) if passwords.needs_rehash(account.password_hash) else None
    )
    begin_write(session)
    values = {"failed_sign_ins": 0, "locked_until": None, "last_sign_in_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    # Only if no lock was set meanwhile: wrong passwords sent while this one was
    # being checked (about 50 ms) keep the account locked.
    signed_in = session.execute(
        update(Account)
        .where(Account.id == account.id, or_(Account.locked_until.is_(None), Account.locked_until <= now))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if signed_in != 1:
        locked_until = session.scalar(select(Account.locked_until).where(Account.id == account.id))
        session.rollback()
        raise AccountLocked(locked_until)
    session.commit()
    session.expire(account)
    return account


def _count_failure(session: Session, settings: Mapping, account_id: int, now: datetime) -> None:
    # Counted in the database, not in Python, so that parallel attempts all count.
    begin_write(session)
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(failed_sign_ins=Account.failed_sign_ins + 1)
        .execution_options(synchronize_session=False)
    )
    failures = session.scalar(select(Account.failed_sign_ins).where(Account.id == account_id))
    if failures >= settings["LOGIN_MAX_FAILURES"]:
        session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(
                failed_sign_ins=0,
                locked_until=now + timedelta(minutes=settings["LOGIN_LOCK_MINUTES"]),
            )
            .execution_options(synchronize_session=False)
        )
    session.commit()


class Header(NamedTuple):
    """What every page's header shows of the database: the account's unread
    messages, and the communes (the portal is named after the only one)."""

    unread_messages: int
    communes: int
    first_commune: str | None


_ACCOUNT = Account.__table__
_NOTIFICATION = Notification.__table__
_ORGANISATION = Organisation.__table__
_HEADER = "citoyen_header"  # (the transaction it was read in, the account's id, the Header)

# Read on every signed-in request (built once): the account, and the page
# header's figures in the same statement.
_SESSION_ACCOUNT = sql.Prepared(
    select(
        *_ACCOUNT.c,
        select(func.count()).select_from(_NOTIFICATION)
        .where(_NOTIFICATION.c.account_id == _ACCOUNT.c.id, _NOTIFICATION.c.read_at.is_(None))
        .scalar_subquery().label("header_unread_messages"),
        select(func.count()).select_from(_ORGANISATION).scalar_subquery().label("header_communes"),
        select(func.min(_ORGANISATION.c.name)).scalar_subquery().label("header_first_commune"),
    ).where(_ACCOUNT.c.id == bindparam("id"))
)


def load_session_account(session: Session, session_id: str) -> Account | None:
    """The account of a session cookie, if its epoch is still current."""
    account_id, _, epoch = (session_id or "").partition(".")
    if not account_id.isdigit() or not epoch:
        return None
    row = sql.run(session, _SESSION_ACCOUNT, {"id": int(account_id)}).first()
    if row is None or not secrets.compare_digest(row.session_epoch, epoch):
        return None
    values = row._asdict()
    header = Header(*(values.pop("header_" + name) for name in Header._fields))
    session.info[_HEADER] = (session.get_transaction(), row.id, header)
    return sql.attach(session, Account, values)


def session_header(session: Session, account_id: int | None = None) -> Header | None:
    """The header's figures read with the session's account (of ``account_id``
    if given), while they still hold: same transaction, nothing written,
    flushed or pending since, and no write lock taken again (SQLite). Else
    ``None``, and the caller reads them."""
    kept = session.info.get(_HEADER)
    if (kept is None or kept[0] is not session.get_transaction()
            or (account_id is not None and kept[1] != account_id)
            or session.info.get(WROTE) or session.info.get(UPGRADED)
            or session.new or session.dirty or session.deleted):
        return None
    return kept[2]


# ---------------------------------------------------------------- recovery


def request_password_reset(session: Session, settings: Mapping, email: str, base_url: str) -> None:
    """Mail a reset link (or, for an account not yet activated, its activation link).

    Says nothing either way, so the form does not tell which addresses exist."""
    begin_write(session)
    account = find_by_email(session, email)
    if account is None:
        return
    # Even for an account never activated: its password may have been typed by
    # someone else, so the owner of the mailbox chooses a new one, which activates
    # the account (an activation link would enable the other person's password).
    token = issue_token(session, settings, account, TOKEN_RESET, settings["RESET_HOURS"])
    _mail(
        session,
        settings,
        base_url,
        account.email,
        "Réinitialisation de votre mot de passe",
        "password_reset",
        account=account,
        link=links.absolute(base_url, links.password_reset(token)),
        hours=settings["RESET_HOURS"],
    )
    session.commit()


def remind_identifier(session: Session, settings: Mapping, email: str, base_url: str) -> None:
    """Mail a reminder of the identifier to an address that has an account."""
    begin_write(session)
    account = find_by_email(session, email)
    if account is None:
        return
    _mail(
        session,
        settings,
        base_url,
        account.email,
        "Votre identifiant",
        "identifier_reminder",
        account=account,
        link=links.absolute(base_url, links.sign_in()),
    )
    session.commit()


def reset_password(
    session: Session, settings: Mapping, token: str, password: str, purpose: str = TOKEN_RESET
) -> Account:
    """Set a new password from a reset (or invitation) link.

    Signs out every other session and lifts a lockout."""
    account = _take_over(session, settings, token, password, purpose)
    if purpose == TOKEN_INVITATION:
        from citoyen.services import households

        households.link_accepted_invitations(session, account)
    session.commit()
    return account


def _take_over(
    session: Session, settings: Mapping, token: str, password: str, purpose: str
) -> Account:
    """Set the password of a link's account; does not commit."""
    check_password_rule(password)
    password_hash = passwords.hash_password(password)
    row = _consume(session, settings, token, purpose)
    account = row.account
    if account.email_verified_at is None:
        # Whoever opened this account never proved the address: the owner of the
        # mailbox takes it over, without the FranceConnect identity they attached.
        session.execute(
            delete(ExternalIdentity).where(ExternalIdentity.account_id == account.id)
        )
    account.password_hash = password_hash
    account.session_epoch = new_session_epoch()
    account.failed_sign_ins = 0
    account.locked_until = None
    # The link reached the mailbox: the address is proven.
    if account.activated_at is None:
        account.activated_at = utcnow()
    if account.email_verified_at is None:
        account.email_verified_at = utcnow()
    return account


# ---------------------------------------------------------------- profile


def change_password(session: Session, account: Account, current: str, new: str) -> None:
    """Change the password after checking the current one; signs out other sessions."""
    if account.password_hash is not None and not passwords.verify(
        account.password_hash, current or ""
    ):
        raise WrongPassword()
    check_password_rule(new, "new_password")
    password_hash = passwords.hash_password(new)
    begin_write(session)
    account.password_hash = password_hash
    account.session_epoch = new_session_epoch()
    _end_password_links(session, account)
    session.commit()


def _end_password_links(session: Session, account: Account) -> None:
    """Links that set a password, sent before the password or the address changed, stop working."""
    session.execute(
        update(AccountToken)
        .where(AccountToken.account_id == account.id, AccountToken.used_at.is_(None),
               AccountToken.purpose.in_((TOKEN_RESET, TOKEN_INVITATION)))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def request_email_change(
    session: Session,
    settings: Mapping,
    account: Account,
    new_email: str,
    password: str,
    base_url: str,
) -> None:
    """Mail a confirmation link to the new address and warn the old one."""
    new_email = normalise_email(new_email, "new_email")
    if account.password_hash is not None and not passwords.verify(
        account.password_hash, password or ""
    ):
        raise WrongPassword("password")
    begin_write(session)
    if new_email == account.email:
        raise InvalidEmail("C'est déjà l'adresse de votre compte.", "new_email")
    if session.scalar(select(Account.id).where(Account.email == new_email)) is not None:
        raise EmailTaken("new_email")
    token = issue_token(
        session,
        settings,
        account,
        TOKEN_EMAIL_CHANGE,
        settings["EMAIL_CHANGE_HOURS"],
        new_email=new_email,
    )
    _mail(
        session,
        settings,
        base_url,
        new_email,
        "Confirmez votre nouvelle adresse e-mail",
        "email_change_confirm",
        account=account,
        new_email=new_email,
        link=links.absolute(base_url, links.email_change(token)),
        hours=settings["EMAIL_CHANGE_HOURS"],
    )
    _mail(
        session,
        settings,
        base_url,
        account.email,
        "Changement d'adresse e-mail demandé",
        "email_change_notice",
        account=account,
        new_email=new_email,
        link=links.absolute(base_url, links.password_recovery()),
    )
    session.commit()


def confirm_email_change(session: Session, settings: Mapping, token: str) -> Account:
    """Switch the account to the new address of a confirmation link."""
    row = _consume(session, settings, token, TOKEN_EMAIL_CHANGE)
    account = row.account
    if session.scalar(select(Account.id).where(Account.email == row.new_email)) is not None:
        session.rollback()
        raise EmailTaken()
    account.email = row.new_email
    account.email_verified_at = utcnow()
    _end_password_links(session, account)  # they went to the old address
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise EmailTaken() from None
    return account


def set_email_notifications(session: Session, account: Account, enabled: bool) -> None:
    """Whether messages are also sent by mail."""
    begin_write(session)
    account.email_notifications = bool(enabled)
    session.commit()


def admins_locked(session: Session) -> int:
    """How many administrators there are, their rows locked (PostgreSQL) until
    the transaction ends: two of them removing each other at once never
    leave none."""
    return len(session.scalars(select(Account.id).where(Account.role == ROLE_ADMIN)
                               .order_by(Account.id).with_for_update()).all())


def delete_account(session: Session, account: Account, password: str) -> None:
    """Delete one's own account, after checking the password."""
    if account.password_hash is not None and not passwords.verify(
        account.password_hash, password or ""
    ):
        raise WrongPassword("password")
    begin_write(session)
    if account.role == ROLE_ADMIN and admins_locked(session) <= 1:
        raise LastAdmin()
    session.delete(account)
    session.commit()


def accept_invitation(session: Session, settings: Mapping, token: str, password: str) -> Account:
    """Set the first password of an account an agent invited, and subscribe it to
    the households it was invited to."""
    return reset_password(session, settings, token, password, purpose=TOKEN_INVITATION)
