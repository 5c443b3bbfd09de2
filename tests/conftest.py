"""A fresh app and database per test, on SQLite or on PostgreSQL.

Set CITOYEN_TEST_DATABASE_URL to a PostgreSQL URL to run the suite there; the
schema is built once by the Alembic migrations and emptied between tests.
On SQLite, the migrated file is built once and copied for each test."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from sqlalchemy import select
from sqlalchemy import text

from citoyen import create_app
from citoyen.cli import upgrade_database
from citoyen.db import engine as app_engine
from citoyen.db import new_session
from citoyen.models import Account
from citoyen.models import Base
from citoyen.models import OutboxMessage
from citoyen.models.base import utcnow
from tests import factories

PG_URL = os.environ.get("CITOYEN_TEST_DATABASE_URL")
STRICT = os.environ.get("CITOYEN_STRICT_TESTS") == "1"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "BASE_URL": "http://localhost",
    "MAIL_BACKEND": "file",
    "MAIL_SEND_AFTER_REQUEST": False,
    "WTF_CSRF_ENABLED": False,
    "SIGNUP_MIN_SECONDS": 0,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "ARGON2_PARALLELISM": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
}


def is_postgres() -> bool:
    return bool(PG_URL)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """The migrated database every test starts from."""
    if PG_URL:
        app = create_app({**BASE_CONFIG, "DATABASE_URL": PG_URL,
                          "INSTANCE_PATH": str(tmp_path_factory.mktemp("pg-instance"))})
        with app_engine(app).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade_database(app)
        app_engine(app).dispose()
        return PG_URL
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    app = create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{path}", "INSTANCE_PATH": str(folder)})
    upgrade_database(app)
    with app_engine(app).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    app_engine(app).dispose()
    return path


@pytest.fixture
def database_url(template_db, tmp_path):
    if PG_URL:
        return PG_URL
    path = tmp_path / "citoyen.db"
    shutil.copyfile(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config():
    """Extra configuration for one test: override this fixture or mutate the dict."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    application = create_app(
        {**BASE_CONFIG, "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), **app_config}
    )
    if PG_URL:
        tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        with app_engine(application).begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield application
    app_engine(application).dispose()


@pytest.fixture
def db(app):
    """A session for arranging and checking data outside of requests."""
    session = new_session(app)
    yield session
    session.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_account(app, db):
    def make(**kwargs):
        return factories.account(db, **kwargs)

    return make


@pytest.fixture
def parent(make_account):
    return make_account(email="parent@example.org", first_name="Camille", last_name="Martin")


@pytest.fixture
def agent(make_account):
    return make_account(email="agent@example.org", first_name="Julien", last_name="Moreau", role="agent")


@pytest.fixture
def admin(make_account):
    return make_account(email="admin@example.org", first_name="Nadia", last_name="Roussel", role="admin")


class Auth:
    def __init__(self, client):
        self.client = client

    def sign_in(self, email: str, password: str = factories.PASSWORD, follow: bool = False):
        # The sign-in page turns away whoever is signed in already: switching
        # people in a test goes through « Se déconnecter » first.
        with self.client.session_transaction() as session:
            signed_in = "_user_id" in session
        if signed_in:
            self.sign_out()
        return self.client.post(
            "/connexion", data={"email": email, "password": password}, follow_redirects=follow
        )

    def sign_out(self):
        return self.client.post("/deconnexion")


@pytest.fixture
def auth(client):
    return Auth(client)


HX = {"HX-Request": "true"}


@pytest.fixture
def hx():
    """Headers of a plain htmx request."""
    return dict(HX)


class Outbox:
    """The mails queued by the portal, newest last."""

    def __init__(self, app):
        self.app = app

    def all(self, recipient: str | None = None) -> list[OutboxMessage]:
        with new_session(self.app) as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if recipient:
                query = query.where(OutboxMessage.recipient == recipient)
            return list(session.scalars(query))

    def last(self, recipient: str | None = None) -> OutboxMessage:
        mails = self.all(recipient)
        assert mails, f"no mail for {recipient or 'anyone'}"
        return mails[-1]

    def link(self, recipient: str | None = None, base: str = "http://localhost") -> str:
        """The path of the first portal link in the newest mail."""
        body = self.last(recipient).text_body
        match = re.search(re.escape(base) + r"(/\S+)", body)
        assert match, body
        return match.group(1)


@pytest.fixture
def outbox(app):
    return Outbox(app)


@pytest.fixture
def now():
    return utcnow()


def fresh(db):
    """Forget what the session read, so that the next reads see what requests committed."""
    db.rollback()
    db.expire_all()
    return db


__all__ = ["Account", "fresh"]
