"""Statements built once and run without the ORM's per-call work."""

from __future__ import annotations

from sqlalchemy.orm import Session


def run(session: Session, statement, params: dict | None = None):
    """Run a Core statement built once (module level, with bound parameters)
    on the session's connection and transaction: for the reads every page
    makes and the writes every click makes."""
    return session.connection().execute(statement, params or {})
