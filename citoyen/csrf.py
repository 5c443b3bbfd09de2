"""CSRF: Flask-WTF's protection, and the session's token for served pages.

A page served again from memory carries a token signed once per session and
kept in the session cookie beside the secret it was signed from
(``session_token``). A form or an htmx request that sends that very token
back is recognised by comparing it with the one the session keeps, in
constant time, rather than by decoding it and checking its signature again:
like every token Flask-WTF makes, it is worth something only with the
session's current secret. Any other token, and the HTTPS referrer check that
fails, go through Flask-WTF's own check unchanged."""

from __future__ import annotations

import hmac

from flask import current_app
from flask import g
from flask import request
from flask import session
from flask_wtf.csrf import CSRFProtect
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import same_origin

_SIGNED = "csrf_signed"  # [the session's CSRF secret, a token signed from it]


def _kept_token() -> str | None:
    """The token kept in the session cookie, if it was signed from the
    session's current secret."""
    cookie = session._get_current_object()  # read twice: the proxy once
    kept = cookie.get(_SIGNED)
    if kept and kept[0] == cookie.get(current_app.config["WTF_CSRF_FIELD_NAME"]):
        return kept[1]
    return None


def session_token() -> str:
    """A CSRF token of this session for a served page. Tokens have no time
    limit here, so one is signed once and kept in the session cookie beside
    the secret it comes from (which the cookie holds already); serving a kept
    page then signs nothing. With a time limit set, a new one every time."""
    if current_app.config["WTF_CSRF_TIME_LIMIT"] is not None:
        return generate_csrf()
    kept = _kept_token()
    if kept:
        return kept
    token = generate_csrf()  # creates the secret if the session had none
    session[_SIGNED] = [session[current_app.config["WTF_CSRF_FIELD_NAME"]], token]
    return token


def is_session_token(token: str | None) -> bool:
    """Whether ``token`` is the one ``session_token`` signed from the
    session's current secret."""
    if not token or current_app.config["WTF_CSRF_TIME_LIMIT"] is not None:
        return False
    kept = _kept_token()
    return bool(kept) and hmac.compare_digest(kept.encode(), token.encode())


class CSRFProtection(CSRFProtect):
    """Flask-WTF 1.3's ``CSRFProtect``, whose ``protect`` first looks for the
    session's token (after the exemptions: an exempt view bounds and reads its
    body itself)."""

    def protect(self, apply_exemptions: bool = False) -> None:
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        config = current_app.config
        if (request.method in config["WTF_CSRF_METHODS"]
                and self._sends_session_token(config) and _referrer_allowed(config)):
            g.csrf_valid = True
            return
        super().protect()

    def _sends_session_token(self, config) -> bool:
        # An htmx request sends it in a header: its body need not be parsed for it.
        headers = request.headers
        if any(is_session_token(headers.get(name)) for name in config["WTF_CSRF_HEADERS"]):
            return True
        return is_session_token(self._get_csrf_token())


def _referrer_allowed(config) -> bool:
    """Flask-WTF's rule: on HTTPS, a write comes from a page of this host."""
    if not (request.is_secure and config["WTF_CSRF_SSL_STRICT"]):
        return True
    return bool(request.referrer) and same_origin(request.referrer, f"https://{request.host}/")
