"""Rate limits on guessable forms, built on the `limits` library.

A limit is checked per client address and per e-mail address typed in the
form. The storage is configurable (RATELIMIT_STORAGE_URI) so that several app
servers can share their counters (redis://, with the redis extra).

A shared storage out of reach (Redis stopped, the network down) never stops
a form: the attempt goes through uncounted, and a warning is logged. The
lockout after wrong passwords is kept in the database and holds meanwhile.
Redis is given ``REDIS_TIMEOUT`` seconds to connect and to answer: a server
that takes the connection and never answers holds a form that long, not for
ever (``?socket_timeout=…`` in the URI sets another time)."""

from __future__ import annotations

import hashlib
import logging

from flask import Flask
from flask import current_app
from flask import request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 2.0  # seconds

MESSAGE = "Trop de tentatives en peu de temps. Patientez quelques minutes puis réessayez."


def init_app(app: Flask) -> None:
    uri = app.config["RATELIMIT_STORAGE_URI"]
    options = {}
    if uri.split(":", 1)[0] in ("redis", "rediss"):
        options = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
    storage = storage_from_string(uri, **options)
    app.extensions["citoyen.ratelimiter"] = MovingWindowRateLimiter(storage)


def _key(value: str) -> str:
    # Addresses are not kept in clear in a shared store.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _address(email: str) -> str:
    """The address as the services read it (« ｅxample.org » and « example。org »
    are example.org): one count for all the ways of typing it."""
    from citoyen.services.accounts import normalise_email
    from citoyen.services.errors import DomainError

    try:
        return normalise_email(email)
    except DomainError:
        return email.strip().lower()


def hit(scope: str, email: str | None = None) -> bool:
    """Count one attempt at ``scope``; False when a limit is exceeded.

    The limits are RATELIMIT_<SCOPE> (per client address) and
    RATELIMIT_<SCOPE>_PER_EMAIL (per address typed in the form)."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return True
    limiter: MovingWindowRateLimiter = current_app.extensions["citoyen.ratelimiter"]
    allowed = True
    checks = [(config[f"RATELIMIT_{scope.upper()}"], "ip", request.remote_addr or "-")]
    if email:
        checks.append((config[f"RATELIMIT_{scope.upper()}_PER_EMAIL"], "email", _address(email)))
    for limit_text, kind, value in checks:
        for item in [parse(part) for part in limit_text.split(";")]:
            try:
                if not limiter.hit(item, scope, kind, _key(value)):
                    allowed = False
            except limiter.storage.base_exceptions as error:
                log.warning("rate-limit storage out of reach, %s attempt not counted: %s", scope, error)
                return allowed
    return allowed
