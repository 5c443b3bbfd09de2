"""Notifications: a message in the account and, if the user wants it, a mail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from citoyen import links
from citoyen import mail
from citoyen.models import Account
from citoyen.models import Notification
from citoyen.models.base import utcnow
from citoyen.services import sql
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write

PAGE_SIZE = 20


SUBJECT_LIMIT = 200  # Notification.subject and OutboxMessage.subject


def notify(
    session: Session,
    account: Account,
    subject: str,
    body: str,
    base_url: str,
    link: str | None = None,
) -> Notification:
    """Post a message to an account, and mail it if the account wants mail.

    Part of the caller's transaction: the caller commits. A subject longer
    than its column (a family's own words in it) is cut, with « … »."""
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[:SUBJECT_LIMIT - 1].rstrip() + "…"
    notification = Notification(account_id=account.id, subject=subject, body=body, link=link)
    session.add(notification)
    if account.email_notifications:
        mail.queue(
            session,
            account.email,
            subject,
            "notification",
            account=account,
            body=body,
            link=links.absolute(base_url, link or links.messages()),
            base_url=base_url.rstrip("/"),
        )
    return notification


_UNREAD = sql.Prepared(select(func.count()).select_from(Notification)
                       .where(Notification.account_id == bindparam("account"), Notification.read_at.is_(None)))


def unread_count(session: Session, account: Account) -> int:
    """Read on every page (the menu's badge)."""
    return sql.run(session, _UNREAD, {"account": account.id}).scalar_one()


def page(session: Session, account: Account, number: int = 1) -> tuple[list[Notification], bool]:
    """One page of messages, newest first, and whether there is a next page."""
    number = max(number, 1)
    rows = session.scalars(
        select(Notification)
        .where(Notification.account_id == account.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset((number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    return list(rows[:PAGE_SIZE]), len(rows) > PAGE_SIZE


def get(session: Session, account: Account, notification_id: int) -> Notification:
    notification = session.get(Notification, notification_id)
    if notification is None or notification.account_id != account.id:
        raise NotFound("Ce message n'existe pas.")
    return notification


def mark_read(session: Session, account: Account, notification_id: int) -> Notification:
    """Mark one of the account's messages as read."""
    begin_write(session)
    notification = get(session, account, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.commit()
    return notification


def mark_all_read(session: Session, account: Account) -> int:
    """Mark every message of the account as read."""
    begin_write(session)
    result = session.execute(
        update(Notification)
        .where(Notification.account_id == account.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount


def purge_old(session: Session, days: int) -> int:
    """Forget messages older than ``days`` days."""
    result = session.execute(
        delete(Notification).where(Notification.created_at < utcnow() - timedelta(days=days))
    )
    session.commit()
    return result.rowcount
