"""Small helpers shared by the service tests."""

from __future__ import annotations

import os
import re
import shutil
import threading
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy import update

from citoyen.models import Account
from citoyen.models import AccountToken
from citoyen.models import OutboxMessage

BASE_URL = "http://localhost"
PASSWORD = "Motdepasse1"
NEW_PASSWORD = "Nouveau2motdepasse"

# The path of each kind of link that mails carry, with the token as group 1.
ACTIVATION_LINK = re.compile(re.escape(BASE_URL) + r"/activation/(\S+)")
RESET_LINK = re.compile(re.escape(BASE_URL) + r"/mot-de-passe/nouveau/(\S+)")
EMAIL_CHANGE_LINK = re.compile(re.escape(BASE_URL) + r"/profil/identifiant/confirmer/(\S+)")
INVITATION_LINK = re.compile(re.escape(BASE_URL) + r"/invitation/(\S+)")


def poppler_tool(name: str) -> str:
    """The path of a poppler-utils command (pdftotext, pdffonts…); a skip when it
    is missing, a failure under CITOYEN_STRICT_TESTS=1 (CI)."""
    import pytest

    path = shutil.which(name)
    if path is None:
        if os.environ.get("CITOYEN_STRICT_TESTS") == "1":
            pytest.fail(f"{name} (poppler-utils) is missing", pytrace=False)
        pytest.skip(f"{name} (poppler-utils) is missing")
    return path


def is_postgres() -> bool:
    """Whether the suite runs on PostgreSQL (decided before any fixture runs)."""
    return bool(os.environ.get("CITOYEN_TEST_DATABASE_URL"))


def token_in(text: str, pattern: re.Pattern) -> str:
    """The token of the first link of ``pattern`` in a mail body."""
    match = pattern.search(text)
    assert match, f"no link matching {pattern.pattern!r} in:\n{text}"
    return match.group(1)


def last_token(outbox, recipient: str, pattern: re.Pattern) -> str:
    """The token of the newest mail to ``recipient``."""
    return token_in(outbox.last(recipient).text_body, pattern)


def reload(db, obj):
    """The row as the database has it now."""
    db.expire_all()
    return db.get(type(obj), obj.id)


def set_account(db, account: Account, **values) -> None:
    """Change columns of an account straight in the database."""
    db.execute(update(Account).where(Account.id == account.id).values(**values))
    db.commit()
    db.expire_all()


def tokens_of(db, account_id: int, purpose: str | None = None) -> list[AccountToken]:
    db.expire_all()
    query = select(AccountToken).where(AccountToken.account_id == account_id)
    if purpose:
        query = query.where(AccountToken.purpose == purpose)
    return list(db.scalars(query.order_by(AccountToken.id)))


def set_tokens(db, account_id: int, **values) -> None:
    """Change columns of every token of an account straight in the database."""
    db.execute(update(AccountToken).where(AccountToken.account_id == account_id).values(**values))
    db.commit()
    db.expire_all()


def set_outbox(db, **values) -> None:
    """Change columns of every outbox row straight in the database."""
    db.execute(update(OutboxMessage).values(**values))
    db.commit()
    db.expire_all()


def outbox_rows(db) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


class RecordingBackend:
    """A mail backend that keeps what it is given; thread-safe."""

    def __init__(self, fail_for: set[str] | None = None):
        self.sent: list[EmailMessage] = []
        self.fail_for = fail_for or set()
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        if message["To"] in self.fail_for:
            raise ConnectionRefusedError(f"refused for {message['To']}")
        with self._lock:
            self.sent.append(message)


class FailingBackend:
    """A mail backend whose server is always down."""

    def __init__(self):
        self.calls = 0

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        raise ConnectionRefusedError("[Errno 111] Connection refused")
