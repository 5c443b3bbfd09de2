"""Flask's signed-cookie sessions, with the signing serializer built once.

Flask builds a new serializer (and its signer's key derivation) on every
request that has a session cookie; this keeps the one made for the current
secret key and its fallbacks, and builds another when they change."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._kept: tuple = (None, None)

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        kept_keys, serializer = self._kept
        if serializer is None or kept_keys != keys:
            serializer = super().get_signing_serializer(app)
            self._kept = (keys, serializer)
        return serializer
