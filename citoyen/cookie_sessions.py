"""Flask's signed-cookie sessions, with the signing serializer built once and
the cookies a worker has already checked remembered.

Flask builds a new serializer (and its signer's key derivation) on every
request that has a session cookie; this keeps the one made for the current
secret key and its fallbacks, and builds another when they change.

A signed-in browser sends the same cookie on every request until the session
changes. Checking it (signature, then base64, zlib and JSON) is about 5 % of
a small request's work, so the contents of the last cookies checked are kept,
by their exact text and the keys that accepted them. A kept cookie is still
refused once it is older than the session's lifetime, as Flask would."""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict

from flask import Flask
from flask import Request
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

KEPT_COOKIES = 512  # per worker; a cookie is at most a few hundred bytes

# Values a session can hand out without a copy: changing one means setting it again.
_FLAT = (str, int, float, bool, type(None))


class CookieSessions(SecureCookieSessionInterface):
    def __init__(self, kept_cookies: int = KEPT_COOKIES) -> None:
        self._kept: tuple = (None, None)
        self._size = kept_cookies
        self._checked: OrderedDict[str, tuple[int, dict]] = OrderedDict()
        self._lock = threading.Lock()  # the development server answers in threads

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        kept_keys, serializer = self._kept
        if serializer is None or kept_keys != keys:
            serializer = super().get_signing_serializer(app)
            self._kept = (keys, serializer)
            with self._lock:
                self._checked.clear()  # checked with keys that no longer hold
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        with self._lock:
            kept = self._checked.get(value)
            if kept is not None:
                signed_at, data = kept
                if 0 <= int(time.time()) - signed_at <= max_age:
                    self._checked.move_to_end(value)
                    return self.session_class(_copy(data))
                del self._checked[value]
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            self._checked[value] = (int(signed_at.timestamp()), _copy(data))
            if len(self._checked) > self._size:
                self._checked.popitem(last=False)
        return self.session_class(data)


def _copy(value):
    """A copy the request may change (flashed messages are a list) without
    changing what is kept."""
    kind = type(value)
    if kind in _FLAT:
        return value
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return copy.deepcopy(value)
