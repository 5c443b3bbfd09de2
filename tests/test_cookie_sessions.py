"""The session cookie's serializer is built once per set of keys, and a
change of key (or of fallbacks) is seen at once."""

from __future__ import annotations

from flask import Flask
from flask import session

from citoyen.cookie_sessions import CookieSessions


def _app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "first"
    app.session_interface = CookieSessions()

    @app.route("/put")
    def put():
        session["who"] = "Léa"
        return "ok"

    @app.route("/get")
    def get():
        return session.get("who", "nobody")

    return app


def test_the_serializer_is_built_once_for_the_same_keys():
    app = _app()
    first = app.session_interface.get_signing_serializer(app)
    assert app.session_interface.get_signing_serializer(app) is first
    app.secret_key = "second"
    assert app.session_interface.get_signing_serializer(app) is not first


def test_a_new_key_refuses_the_old_cookies_and_a_fallback_accepts_them():
    app = _app()
    client = app.test_client()
    client.get("/put")
    assert client.get("/get").text == "Léa"
    app.secret_key = "second"
    assert client.get("/get").text == "nobody"
    app.config["SECRET_KEY_FALLBACKS"] = ["first"]
    assert client.get("/get").text == "Léa"
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/get").text == "nobody"


def test_without_a_key_there_is_no_session():
    app = _app()
    app.secret_key = None
    assert app.session_interface.get_signing_serializer(app) is None
    assert app.test_client().get("/get").text == "nobody"
