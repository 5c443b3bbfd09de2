"""Mail: an outbox table written in the caller's transaction, and senders.

``queue`` adds a row in the same transaction as the change that causes the
mail; nothing leaves before that transaction commits. ``deliver_due`` sends
what is due, claiming each row first so that two app servers (or a server and
the CLI) never send the same mail twice. A failed send stays in the outbox
and is tried again later with a growing delay.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from email.utils import make_msgid

from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import select_autoescape
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from citoyen.models import OutboxMessage
from citoyen.models.base import utcnow

log = logging.getLogger(__name__)

_TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "mail")
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)

# A sender that died while holding a claim loses it after this long.
CLAIM_TIMEOUT = timedelta(minutes=5)
MAX_DELAY = timedelta(hours=6)


def queue(
    session: Session, recipient: str, subject: str, template: str, **context
) -> OutboxMessage:
    """Render ``template``.txt and .html and add the mail to the outbox.

    The caller commits; the mail goes out only if that commit happens."""
    context = {"subject": subject, **context}
    message = OutboxMessage(
        recipient=recipient,
        subject=subject,
        text_body=_env.get_template(template + ".txt").render(**context),
        html_body=_env.get_template(template + ".html").render(**context),
    )
    session.add(message)
    session.info["outbox_pending"] = True
    return message


def build_message(row: OutboxMessage, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


class SmtpBackend:
    def __init__(self, config: Mapping):
        self.config = config

    def send(self, message: EmailMessage) -> None:
        c = self.config
        if c.get("MAIL_SSL"):
            smtp = smtplib.SMTP_SSL(
                c["MAIL_SERVER"],
                c["MAIL_PORT"],
                timeout=c["MAIL_TIMEOUT"],
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=c["MAIL_TIMEOUT"])
        with smtp:
            if c.get("MAIL_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if c.get("MAIL_USERNAME"):
                smtp.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"] or "")
            smtp.send_message(message)


class FileBackend:
    """Writes each mail as an .eml file (demo mode and development)."""

    def __init__(self, directory: str):
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        os.makedirs(self.directory, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as fh:
            fh.write(bytes(message))
        os.replace(tmp, os.path.join(self.directory, name))


def backend_for(config: Mapping):
    if config["MAIL_BACKEND"] == "file":
        return FileBackend(config["MAIL_DIR"])
    if config["MAIL_BACKEND"] == "smtp":
        return SmtpBackend(config)
    raise ValueError(f"unknown MAIL_BACKEND {config['MAIL_BACKEND']!r}")


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8… minutes, at most six hours."""
    exponent = max(attempts - 1, 0)
    if exponent > 9:  # 2**9 minutes is already past the cap
        return MAX_DELAY
    return min(timedelta(minutes=2**exponent), MAX_DELAY)


def deliver_due(session_factory: Callable[[], Session], config: Mapping, limit: int = 100) -> int:
    """Send the mails that are due; return how many were sent."""
    backend = backend_for(config)
    sent = 0
    with session_factory() as session:
        now = utcnow()
        ids = session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
                or_(
                    OutboxMessage.claimed_at.is_(None),
                    OutboxMessage.claimed_at < now - CLAIM_TIMEOUT,
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
        session.rollback()
        for message_id in ids:
            if _deliver_one(session, backend, config, message_id):
                sent += 1
    return sent


def _deliver_one(session: Session, backend, config: Mapping, message_id: int) -> bool:
    now = utcnow()
    claimed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            or_(
                OutboxMessage.claimed_at.is_(None),
                OutboxMessage.claimed_at < now - CLAIM_TIMEOUT,
            ),
        )
        .values(claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if claimed.rowcount != 1:
        return False
    row = session.get(OutboxMessage, message_id, populate_existing=True)
    message = build_message(row, config["MAIL_SENDER"])
    attempts = row.attempts
    # No transaction stays open while the mail goes out: on SQLite, a read
    # transaction that later writes cannot wait for another writer.
    session.rollback()
    try:
        backend.send(message)
    except Exception as exc:  # any failure: keep the mail and try again later
        log.warning("mail %s to %s not sent: %s", message_id, message["To"], exc)
        _record(session, message_id, claimed_at=None,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                next_attempt_at=utcnow() + retry_delay(attempts))
        return False
    _record(session, message_id, sent_at=utcnow(), claimed_at=None, last_error=None)
    return True


def _record(session: Session, message_id: int, **values) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def purge_sent(session: Session, days: int) -> int:
    """Forget mails sent more than ``days`` days ago."""
    result = session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.sent_at.is_not(None),
            OutboxMessage.sent_at < utcnow() - timedelta(days=days),
        )
    )
    session.commit()
    return result.rowcount


@event.listens_for(Session, "after_commit")
def _outbox_committed(session: Session) -> None:
    # Tells the web layer that there is fresh mail to send after the response.
    if session.info.pop("outbox_pending", False):
        session.info["outbox_committed"] = True


@event.listens_for(Session, "after_rollback")
def _outbox_rolled_back(session: Session) -> None:
    session.info.pop("outbox_pending", None)
