"""S'identifier avec FranceConnect, against the demo provider over real HTTP."""

from __future__ import annotations

import urllib.parse

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import Account
from citoyen.models import AuditEntry
from citoyen.models import ExternalIdentity
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.factories import PASSWORD
from tests.franceconnect.conftest import PORTAL
from tests.franceconnect.conftest import browser_at_provider
from tests.franceconnect.conftest import round_trip


def accounts_count(db):
    fresh(db)
    return db.scalar(select(func.count()).select_from(Account))


def test_the_button_follows_franceconnect_rules(client, idp):
    for path in ("/connexion", "/inscription"):
        body = text(client.get(path))
        assert "S'identifier avec" in body and "FranceConnect" in body
        assert "Qu'est-ce que FranceConnect ?" in body
        # First among the ways to sign in, then « ou ».
        assert body.index("fc-button") < body.index('id="email"')
        assert '<span>ou</span>' in body


def test_authorization_request_carries_state_nonce_and_acr(client, idp):
    response = client.get("/connexion/franceconnect")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(response.headers["Location"]).query)
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid given_name family_name birthdate gender birthplace birthcountry email"]
    assert query["acr_values"] == ["eidas1"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == [PORTAL + "/connexion/franceconnect/retour"]


def test_first_sign_in_creates_an_account_without_password(client, idp, db, outbox):
    response = round_trip(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/connexion/franceconnect/premiere-connexion"
    page = text(client.get(response.headers["Location"]))
    assert "Camille" in page and "Martin" in page and "12/04/1988" in page
    assert 'value="camille.martin@example.org"' in page
    response = client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y",
        "create-accept_terms": "y"})
    assert response.status_code == 303
    assert "Bonjour Camille" in text(client.get("/"))
    fresh(db)
    account = db.scalar(select(Account))
    assert account.password_hash is None and account.email_verified_at is not None
    identity = db.scalar(select(ExternalIdentity))
    assert identity.account_id == account.id and identity.subject == "demo-fc-camille-martin"
    assert identity.birthplace == "45234" and identity.acr == "eidas1"
    assert outbox.all() == []
    # Next time, the same identity signs straight in.
    client.post("/deconnexion")
    other = client.application.test_client()
    response = round_trip(other)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "Bonjour Camille" in text(other.get("/"))


def test_an_unconfirmed_address_gets_a_confirmation_link(client, idp, db, outbox):
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "autre@example.org", "create-accept_terms": "y"})
    fresh(db)
    account = db.scalar(select(Account))
    assert account.email == "autre@example.org" and account.email_verified_at is None
    assert outbox.link("autre@example.org").startswith("/activation/")
    client.get(outbox.link("autre@example.org"))
    fresh(db)
    assert db.get(Account, account.id).email_verified_at is not None


def test_the_provider_email_does_not_take_over_an_existing_account(client, idp, make_account, db):
    make_account(email="camille.martin@example.org")
    response = round_trip(client)
    # Not signed in to the existing account: a choice is asked.
    assert response.headers["Location"] == "/connexion/franceconnect/premiere-connexion"
    assert client.get("/profil/").status_code == 302
    response = client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y",
        "create-accept_terms": "y"})
    assert response.status_code == 422
    assert "J'ai déjà un compte" in text(response)
    assert accounts_count(db) == 1


def test_linking_an_existing_account_needs_its_password(client, idp, make_account, db):
    account = make_account(email="camille@example.org")
    round_trip(client)
    response = client.post("/connexion/franceconnect/rattacher", data={
        "link-email": "camille@example.org", "link-password": "Mauvais1"})
    assert response.status_code == 422
    assert "Adresse e-mail ou mot de passe incorrect." in text(response)
    response = client.post("/connexion/franceconnect/rattacher", data={
        "link-email": "camille@example.org", "link-password": PASSWORD})
    assert response.status_code == 303
    fresh(db)
    identity = db.scalar(select(ExternalIdentity))
    assert identity.account_id == account.id
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.action == "franceconnect.link"))
    profile = text(client.get("/profil/"))
    assert "rattaché à votre identité FranceConnect" in profile
    # Unlink: allowed, since the account has a password; a link to a confirmation page first.
    assert 'href="/profil/franceconnect/detacher"' in profile
    page = client.get("/profil/franceconnect/detacher")
    assert page.status_code == 200 and "<h1>Détacher FranceConnect de mon compte</h1>" in text(page)
    assert "camille@example.org" in text(page) and "Annuler et revenir en arrière" in text(page)
    fresh(db)
    assert db.scalar(select(ExternalIdentity)) is not None  # the page alone changes nothing
    assert client.post("/profil/franceconnect/detacher").status_code == 303
    fresh(db)
    assert db.scalar(select(ExternalIdentity)) is None


def test_an_account_without_password_cannot_unlink(client, idp, db):
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y",
        "create-accept_terms": "y"})
    assert client.get("/profil/franceconnect/detacher").headers["Location"] == "/profil/"  # nothing to confirm
    response = client.post("/profil/franceconnect/detacher", follow_redirects=True)
    assert "Choisissez d'abord un mot de passe" in text(response)
    fresh(db)
    assert db.scalar(select(ExternalIdentity)).account_id is not None


def test_agents_see_the_certified_identity(client, idp, app, db, agent):
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y",
        "create-accept_terms": "y"})
    fresh(db)
    account = db.scalar(select(Account).where(Account.email == "camille.martin@example.org"))
    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    page = text(staff.get(f"/agent/comptes/{account.id}"))
    assert "Identité certifiée FranceConnect" in page and "45234" in page


def test_sign_out_also_ends_the_provider_session(client, idp):
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y",
        "create-accept_terms": "y"})
    response = client.post("/deconnexion")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(idp.issuer + "/session/end?")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    assert query["post_logout_redirect_uri"] == [PORTAL + "/deconnexion/franceconnect"]
    assert "id_token_hint" in query
    back = browser_at_provider(location)
    assert back.startswith(PORTAL + "/deconnexion/franceconnect?state=")
    response = client.get(back[len(PORTAL):], follow_redirects=True)
    assert "déconnecté, de ce portail et de FranceConnect" in text(response)
    assert client.get("/profil/").status_code == 302


def test_userinfo_as_plain_json_is_accepted(client, idp, db):
    idp.app.config["USERINFO_JSON"] = True
    response = round_trip(client)
    assert response.headers["Location"] == "/connexion/franceconnect/premiere-connexion"


# ------------------------------------------------------------------ failures

def assert_failed(response, db, phrase="n'a pas pu aboutir"):
    assert response.status_code in (400, 502)
    body = text(response)
    assert phrase in body
    assert "Se connecter avec mon adresse e-mail et mon mot de passe" in body
    assert accounts_count(db) == 0
    assert db.scalar(select(func.count()).select_from(ExternalIdentity)) == 0
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.action == "franceconnect.failure"))


@pytest.mark.parametrize("mode", [
    "wrong_signature", "unknown_kid", "wrong_nonce", "wrong_audience", "expired",
    "wrong_issuer", "token_error", "wrong_acr", "userinfo_bad_signature",
])
def test_a_misbehaving_provider_is_refused(client, idp, db, mode):
    idp.misbehave(mode)
    assert_failed(round_trip(client), db)


def test_the_user_cancels_at_the_provider(client, idp, db):
    assert_failed(round_trip(client, cancel=True), db, "Vous avez annulé")


def test_access_denied_by_the_provider(client, idp, db):
    idp.misbehave("access_denied")
    start = client.get("/connexion/franceconnect")
    back = browser_at_provider(start.headers["Location"])
    assert_failed(client.get(back[len(PORTAL):]), db, "Vous avez annulé")


def test_tampered_state_is_refused(client, idp, db):
    start = client.get("/connexion/franceconnect")
    back = browser_at_provider(start.headers["Location"])
    assert_failed(client.get(back[len(PORTAL):].replace("state=", "state=x")), db)


def test_replayed_state_and_code_are_refused(client, idp, db):
    start = client.get("/connexion/franceconnect")
    back = browser_at_provider(start.headers["Location"])[len(PORTAL):]
    assert client.get(back).status_code == 303
    # Another browser replaying the return address has no pending state.
    replay = client.application.test_client().get(back)
    assert replay.status_code == 400 and "n'a pas pu aboutir" in text(replay)
    # The same browser cannot use it twice either: the state was used up.
    again = client.get(back)
    assert again.status_code == 400
    fresh(db)
    failures = db.scalars(select(AuditEntry.details).where(AuditEntry.action == "franceconnect.failure")).all()
    assert failures == ["state_mismatch", "state_mismatch"]
    assert accounts_count(db) == 0


def test_a_replayed_code_is_refused_by_the_provider(client, idp, db):
    start = client.get("/connexion/franceconnect")
    back = browser_at_provider(start.headers["Location"])[len(PORTAL):]
    assert client.get(back).status_code == 303
    # Replay the code with a fresh, valid state of the same browser.
    code = urllib.parse.parse_qs(urllib.parse.urlparse(back).query)["code"][0]
    restart = client.get("/connexion/franceconnect")
    state = urllib.parse.parse_qs(urllib.parse.urlparse(restart.headers["Location"]).query)["state"][0]
    response = client.get(f"/connexion/franceconnect/retour?code={code}&state={state}")
    assert response.status_code == 400
    assert "n'a pas pu aboutir" in text(response)


def test_a_slow_provider_is_given_up_after_the_time_out(client, idp, db):
    idp.misbehave("slow", delay=4)
    assert_failed(round_trip(client), db, "FranceConnect ne répond pas")


def test_a_provider_that_is_down(client, app, db):
    app.config["FRANCECONNECT_DISCOVERY_URL"] = "http://127.0.0.1:9/.well-known/openid-configuration"
    response = client.get("/connexion/franceconnect")
    assert response.status_code == 502
    assert "FranceConnect ne répond pas" in text(response)


def test_no_button_and_no_route_without_configuration(client, app):
    app.config["FRANCECONNECT_DISCOVERY_URL"] = None
    assert "FranceConnect" not in text(client.get("/connexion"))
    assert client.get("/connexion/franceconnect").status_code == 404


def test_an_account_without_password_can_set_one_then_unlink(client, idp, db):
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y",
        "create-accept_terms": "y"})
    page = text(client.get("/profil/mot-de-passe"))
    assert "Mot de passe actuel" not in page
    response = client.post("/profil/mot-de-passe", data={"new_password": "Nouveau2mdp", "confirm": "Nouveau2mdp"})
    assert response.status_code == 303
    assert client.post("/profil/franceconnect/detacher").status_code == 303
    fresh(db)
    assert db.scalar(select(ExternalIdentity)) is None
    client.post("/deconnexion")
    other = client.application.test_client()
    signed_in = other.post("/connexion", data={"email": "camille.martin@example.org", "password": "Nouveau2mdp"})
    assert signed_in.status_code == 303
