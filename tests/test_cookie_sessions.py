"""The session cookie's serializer is built once per set of keys, and a
change of key (or of fallbacks) is seen at once. A cookie already checked is
not checked again, within its lifetime and its keys."""

from __future__ import annotations

import time

from flask import Flask
from flask import session

from citoyen import cookie_sessions
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


def _counting_loads(app, monkeypatch) -> list:
    """Count the cookies the serializer really checks."""
    serializer = app.session_interface.get_signing_serializer(app)
    checked = []
    real = serializer.loads

    def loads(value, **kwargs):
        checked.append(value)
        return real(value, **kwargs)

    monkeypatch.setattr(serializer, "loads", loads)
    return checked


def test_a_cookie_checked_once_is_not_checked_again(monkeypatch):
    app = _app()
    client = app.test_client()
    client.get("/put")
    checked = _counting_loads(app, monkeypatch)
    assert [client.get("/get").text for _ in range(3)] == ["Léa"] * 3
    assert len(checked) == 1


def test_an_altered_cookie_is_refused_even_beside_a_kept_one():
    app = _app()
    client = app.test_client()
    client.get("/put")
    assert client.get("/get").text == "Léa"
    cookie = client.get_cookie("session").value
    client.set_cookie("session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert client.get("/get").text == "nobody"
    client.set_cookie("session", cookie)
    assert client.get("/get").text == "Léa"


def test_a_kept_cookie_expires_with_the_session_lifetime(monkeypatch):
    app = _app()
    app.permanent_session_lifetime = 60
    client = app.test_client()
    client.get("/put")
    assert client.get("/get").text == "Léa"
    now = time.time()
    monkeypatch.setattr(cookie_sessions.time, "time", lambda: now + 61)
    assert client.get("/get").text == "nobody"
    # Flask's own check refuses it too, once it is no longer kept.
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now + 61)
    assert client.get("/get").text == "nobody"


def test_what_a_request_changes_inside_the_session_is_not_kept():
    app = _app()

    @app.route("/flash")
    def add_flash():
        session.setdefault("notes", []).append("vu")
        return str(len(session["notes"]))

    @app.route("/notes")
    def notes():
        notes = session.get("notes", [])
        notes.append("changed in place, never saved")
        session.modified = False
        return str(len(notes))

    client = app.test_client()
    assert client.get("/flash").text == "1"
    assert [client.get("/notes").text for _ in range(3)] == ["2", "2", "2"]


def test_the_number_of_kept_cookies_is_bounded(monkeypatch):
    app = _app()
    app.session_interface = CookieSessions(kept_cookies=2)

    @app.route("/name/<who>")
    def name(who):
        session["who"] = who
        return "ok"

    names = ["Léa", "Noé", "Inès"]
    clients = [app.test_client() for _ in names]
    for client, who in zip(clients, names, strict=True):
        client.get(f"/name/{who}")
    checked = _counting_loads(app, monkeypatch)
    assert [client.get("/get").text for client in clients] == names
    assert len(checked) == 3
    assert len(app.session_interface._checked) == 2
    clients[1].get("/get")
    assert len(checked) == 3  # the latest two are kept; Noé's is now the latest used
    clients[0].get("/get")
    assert len(checked) == 4  # Léa's is checked again, and Inès' let go
    clients[1].get("/get")
    assert len(checked) == 4
    clients[2].get("/get")
    assert len(checked) == 5


def test_keeping_nothing_checks_every_time(monkeypatch):
    app = _app()
    app.session_interface = CookieSessions(kept_cookies=0)
    client = app.test_client()
    client.get("/put")
    checked = _counting_loads(app, monkeypatch)
    client.get("/get")
    client.get("/get")
    assert len(checked) == 2
