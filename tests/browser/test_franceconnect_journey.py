"""S'identifier avec FranceConnect in a real browser, against the demo provider."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from citoyen import oidc
from citoyen.demo_idp import create_idp
from tests.browser.helpers import assert_accessible
from tests.browser.helpers import screenshot


@pytest.fixture
def app_config():
    return {
        "MAIL_SEND_AFTER_REQUEST": False,
        "WTF_CSRF_ENABLED": True,
        "DEMO": True,
        "MAIL_BACKEND": "file",
        # The provider's address is known before the app is built, so that
        # the security policy lets the sign-out go there.
        "FRANCECONNECT_DISCOVERY_URL": "http://127.0.0.1:0/api/v2/.well-known/openid-configuration",
        "FRANCECONNECT_CLIENT_ID": "citoyen-browser",
        "FRANCECONNECT_CLIENT_SECRET": "browser-secret",
    }


@pytest.fixture
def provider(app, live_server):
    server = make_server("127.0.0.1", 0, None, threaded=True)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_port}"
    server.app = create_idp({
        "TESTING": True,
        "ISSUER": url + "/api/v2",
        "SECRET_KEY": "idp-browser",
        "CLIENTS": {"citoyen-browser": {
            "secret": "browser-secret",
            "redirect_uris": [live_server + "/connexion/franceconnect/retour"],
            "post_logout_redirect_uris": [live_server + "/deconnexion/franceconnect"],
        }},
    })
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["FRANCECONNECT_DISCOVERY_URL"] = url + "/api/v2/.well-known/openid-configuration"
    oidc.forget_cached()
    yield url
    server.shutdown()
    oidc.forget_cached()


def test_round_trip_with_the_keyboard(visit, provider):
    page = visit.page
    visit.goto("/connexion")
    visit.check("fc-01-connexion")
    visit.tab_to(".fc-button")
    page.keyboard.press("Enter")
    page.wait_for_url(provider + "/api/v2/authorize*")
    assert_accessible(page, "demo provider login")
    screenshot(page, "fc-02-fournisseur")
    visit.tab_to("#identity-1")
    page.keyboard.press("Space")
    visit.tab_to("button[value=login]")
    page.keyboard.press("Enter")
    visit.wait_for_path("/connexion/franceconnect/premiere-connexion")
    visit.check("fc-03-premiere-connexion")
    assert "Camille" in page.content()
    visit.tab_to("#create-email_confirmed")
    page.keyboard.press("Space")
    visit.tab_to("#create-accept_terms")
    page.keyboard.press("Space")
    visit.tab_to("button", "Créer mon compte")
    page.keyboard.press("Enter")
    visit.wait_for_path("/")
    assert "Bonjour Camille" in page.locator("h1").inner_text()
    visit.check("fc-04-accueil")
    visit.goto("/profil/")
    assert "rattaché à votre identité FranceConnect" in page.content()
    visit.check("fc-05-profil")
    visit.tab_to("button", "Se déconnecter")
    page.keyboard.press("Enter")
    visit.wait_for_path("/connexion")
    assert "de ce portail et de FranceConnect" in page.content()
    visit.check("fc-06-deconnecte")
