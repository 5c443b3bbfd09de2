"""The application shell: configuration, errors, headers, static files, CLI."""

from __future__ import annotations

import gzip
import os

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen import InsecureConfiguration
from citoyen import create_app
from citoyen.models import Account
from citoyen.models import OutboxMessage
from citoyen.security_headers import SECURITY_HEADERS
from citoyen.security_headers import SecurityHeaders
from tests.blueprints.helpers import text
from tests.conftest import BASE_CONFIG
from tests.conftest import fresh


def test_production_refuses_the_default_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("CITOYEN_DEMO", raising=False)
    with pytest.raises(InsecureConfiguration, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "BASE_URL": "https://famille.example.fr"})


def test_production_refuses_to_start_without_base_url(tmp_path):
    with pytest.raises(InsecureConfiguration, match="BASE_URL"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 64})


def test_configuration_precedence(tmp_path, monkeypatch, database_url):
    (tmp_path / "config.py").write_text("LOGIN_MAX_FAILURES = 7\nLOGIN_LOCK_MINUTES = 30\n")
    monkeypatch.setenv("CITOYEN_LOGIN_LOCK_MINUTES", "45")
    monkeypatch.setenv("CITOYEN_MAIL_SENDER", "Mairie <mairie@example.fr>")
    app = create_app({**BASE_CONFIG, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["LOGIN_MAX_FAILURES"] == 7        # instance/config.py
    assert app.config["LOGIN_LOCK_MINUTES"] == 45       # environment beats the instance file
    assert app.config["MAIL_SENDER"] == "Mairie <mairie@example.fr>"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    from citoyen.db import engine

    if engine(app).dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine(app).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_404_page_is_french_and_in_the_layout(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    body = text(response)
    assert "Page introuvable" in body and '<html lang="fr">' in body and "Aller au contenu" in body


def test_errors_are_fragments_for_htmx(client, hx):
    response = client.get("/nulle-part", headers=hx)
    assert response.status_code == 404
    body = text(response)
    assert body.lstrip().startswith('<div class="error-box" role="alert">')
    assert "<html" not in body


def test_405_is_french(client):
    response = client.put("/connexion")
    assert response.status_code == 405
    assert "Action impossible" in text(response)


def test_413_is_french(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/connexion", data={"email": "a" * 5000, "password": "x"})
    assert response.status_code == 413
    assert "Fichier trop volumineux" in text(response)


def test_unexpected_errors_show_a_french_500_without_a_trace(app, client, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("citoyen.services.organisations.all_organisations", broken)
    response = client.get("/contact")
    assert response.status_code == 500
    body = text(response)
    assert "Erreur du service" in body
    assert "boom" not in body and "Traceback" not in body


def test_security_headers(client):
    response = client.get("/connexion")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_signed_in_pages_are_not_cached(client, auth, parent):
    assert "Cache-Control" not in client.get("/contact").headers
    auth.sign_in(parent.email)
    assert client.get("/profil/").headers["Cache-Control"] == "no-store"
    # A public page shown to a signed-in parent carries their name.
    assert client.get("/contact").headers["Cache-Control"] == "no-store"


def test_every_kind_of_response_carries_the_security_headers(app, client, auth, parent, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    auth.sign_in(parent.email)
    static = client.get("/static/css/citoyen.css")
    missing = client.get("/pas-de-page-ici")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("citoyen.services.organisations.all_organisations", broken)
    failed = client.get("/contact")
    for response, status in ((static, 200), (missing, 404), (failed, 500)):
        assert response.status_code == status
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert "max-age" in static.headers["Cache-Control"]  # its own, not no-store
    assert missing.headers["Cache-Control"] == "no-store"


def test_a_response_keeps_its_own_security_headers():
    wrapped = SecurityHeaders(lambda environ, start: [], {})
    headers = wrapped.complete([("x-frame-options", "SAMEORIGIN"), ("Cache-Control", "private")], signed_in=True)
    assert [value for name, value in headers if name.lower() == "x-frame-options"] == ["SAMEORIGIN"]
    assert [value for name, value in headers if name.lower() == "cache-control"] == ["private"]
    assert ("Content-Security-Policy", SECURITY_HEADERS["Content-Security-Policy"]) in headers
    assert ("Cache-Control", "no-store") in wrapped.complete([], signed_in=True)
    assert all(name != "Cache-Control" for name, _value in wrapped.complete([], signed_in=False))


def test_with_franceconnect_forms_may_post_to_it(app, client):
    app.config["FRANCECONNECT_DISCOVERY_URL"] = "https://fc.example.gouv.fr/api/v2/.well-known/openid-configuration"
    policy = client.get("/connexion").headers["Content-Security-Policy"]
    assert "form-action 'self' https://fc.example.gouv.fr;" not in policy  # the last directive: no ";"
    assert policy.endswith("form-action 'self' https://fc.example.gouv.fr")
    wrapped = SecurityHeaders(lambda environ, start: [], app.config)
    own = wrapped.complete([("content-security-policy", "form-action 'self' https://banque.test")], False)
    assert own[0] == ("content-security-policy", "form-action 'self' https://fc.example.gouv.fr https://banque.test")
    assert [name for name, _value in own if name.lower() == "content-security-policy"] == ["content-security-policy"]
    app.config["FRANCECONNECT_DISCOVERY_URL"] = "https://autre.example.fr/.well-known/openid-configuration"
    assert client.get("/connexion").headers["Content-Security-Policy"].endswith(
        "form-action 'self' https://autre.example.fr")


def test_pages_are_compressed(client):
    response = client.get("/inscription", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"Cr\xc3\xa9er un compte" in gzip.decompress(response.data)


def test_static_files_have_a_fingerprint_and_are_cached_for_a_year(client):
    page = text(client.get("/connexion"))
    css = page.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css.startswith("/static/css/citoyen.css?v=")
    response = client.get(css)
    assert response.status_code == 200
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert "immutable" in response.headers["Cache-Control"]
    response.close()


def test_htmx_is_vendored_and_pinned(app):
    path = os.path.join(app.static_folder, "js", "htmx.min.js")
    with open(path, encoding="utf-8") as fh:
        assert 'version:"2.0.11"' in fh.read().replace(" ", "")


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data[:4] == b"\x00\x00\x01\x00"
    response.close()


def test_health_check(client):
    assert client.get("/sante").get_json() == {"status": "ok"}


def test_queued_mail_is_sent_right_after_the_response(app, client, outbox):
    app.config["MAIL_SEND_AFTER_REQUEST"] = True
    client.post("/mot-de-passe-oublie/identifiant", data={"email": "nobody@example.org"})
    assert not os.path.exists(app.config["MAIL_DIR"]) or not os.listdir(app.config["MAIL_DIR"])
    from citoyen.db import new_session
    from tests import factories

    with new_session(app) as session:
        factories.account(session, email="someone@example.org")
    response = client.post("/mot-de-passe-oublie/identifiant", data={"email": "someone@example.org"})
    response.close()
    files = os.listdir(app.config["MAIL_DIR"])
    assert len(files) == 1
    assert all(m.sent_at is not None for m in outbox.all())


# ------------------------------------------------------------------ CLI

def test_cli_demo_load_is_idempotent(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "chargées" in first.output and "Citoyen2026" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "déjà présentes" in second.output
    assert db.scalar(select(func.count()).select_from(Account)) == 5


def test_cli_create_agent_and_outbox_send(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "create-agent", "--email", "Agent@Mairie.example",
                                 "--first-name", "Léa", "--last-name", "Petit"])
    assert result.exit_code == 0, result.output
    fresh(db)
    account = db.scalar(select(Account).where(Account.email == "agent@mairie.example"))
    assert account.role == "agent"
    # The invitation was sent by the command itself.
    assert db.scalar(select(OutboxMessage.sent_at)) is not None
    again = runner.invoke(args=["accounts", "create-agent", "--email", "agent@mairie.example",
                                "--first-name", "Léa", "--last-name", "Petit"])
    assert again.exit_code != 0 and "existe déjà" in again.output
    assert "0 courriel" in runner.invoke(args=["outbox", "send"]).output


def test_cli_purge(app):
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0 and "supprimés" in result.output


def test_the_portal_keeps_whether_views_are_coroutines_and_leaves_async_ones_to_flask(app):
    async def later():
        return "plus tard"

    def now():
        return "maintenant"

    assert app.ensure_sync(now) is now
    assert app.ensure_sync(now) is now  # kept
    with pytest.raises(RuntimeError, match="async"):  # Flask's own answer (no « async » extra here)
        app.ensure_sync(later)
