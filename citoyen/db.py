"""The database: one engine per application, one session per request."""

from __future__ import annotations

import os

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from citoyen.sqlite_gate import GatedConnection
from citoyen.transactions import IMMEDIATE


def database_url(app: Flask) -> str:
    url = app.config.get("DATABASE_URL")
    if url:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return "sqlite:///" + os.path.join(app.instance_path, "citoyen.db")


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and
    the writers' gate (``sqlite_gate``)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False, "factory": GatedConnection},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy, not the driver, emit BEGIN, so that
            # "BEGIN IMMEDIATE" can be asked for where a write follows a read.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # SQLite's own lower() folds ASCII only: "Élodie" would never match "élodie".
            dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # Straight on the driver: every request opens a transaction.
            driver = connection.connection.driver_connection
            if connection.get_execution_options().get(IMMEDIATE):
                driver.begin_immediate()
            else:
                driver.execute("BEGIN")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def init_app(app: Flask) -> None:
    engine = make_engine(database_url(app), echo=app.config.get("DATABASE_ECHO", False))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["citoyen.engine"] = engine
    app.extensions["citoyen.sessionmaker"] = factory
    app.teardown_appcontext(_close_session)


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["citoyen.engine"]


def new_session(app: Flask | None = None) -> Session:
    """A session outside of a request (CLI, background work)."""
    return (app or current_app).extensions["citoyen.sessionmaker"]()


def get_session() -> Session:
    """The session of the current request, opened on first use."""
    session = g.get("db_session")
    if session is None:
        session = g.db_session = new_session()
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
