"""Rate limits on guessable forms, built on the `limits` library.

A limit is checked per client address and per e-mail address typed in the
form. The storage is configurable (RATELIMIT_STORAGE_URI) so that several app
servers can share their counters (redis://, memcached://)."""

from __future__ import annotations

import hashlib

from flask import Flask
from flask import current_app
from flask import request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

MESSAGE = "Trop de tentatives en peu de temps. Patientez quelques minutes puis réessayez."


def init_app(app: Flask) -> None:
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["citoyen.ratelimiter"] = MovingWindowRateLimiter(storage)


def _key(value: str) -> str:
    # Addresses are not kept in clear in a shared store.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


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
        checks.append(
            (config[f"RATELIMIT_{scope.upper()}_PER_EMAIL"], "email", email.strip().lower())
        )
    for limit_text, kind, value in checks:
        for item in [parse(part) for part in limit_text.split(";")]:
            if not limiter.hit(item, scope, kind, _key(value)):
                allowed = False
    return allowed
