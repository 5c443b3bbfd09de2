"""Mon profil: password, identifier, notifications, deletion."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citoyen.models import Account
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.factories import PASSWORD


def test_profile_lists_the_actions(client, auth, parent):
    auth.sign_in(parent.email)
    body = text(client.get("/profil/"))
    for action in ("Modifier mon mot de passe", "Modifier mon identifiant", "Préférences de notification"):
        assert action in body


def test_change_password_keeps_this_session_and_ends_the_others(client, app, auth, parent):
    auth.sign_in(parent.email)
    other = app.test_client()
    other.post("/connexion", data={"email": parent.email, "password": PASSWORD})
    response = client.post("/profil/mot-de-passe", data={
        "current_password": PASSWORD, "new_password": "Nouveau2mdp", "confirm": "Nouveau2mdp"})
    assert response.status_code == 303
    assert client.get("/profil/").status_code == 200
    assert other.get("/profil/").status_code == 302
    auth.sign_out()
    assert auth.sign_in(parent.email, "Nouveau2mdp").status_code == 303


def test_change_password_with_a_wrong_current_password(client, auth, parent):
    auth.sign_in(parent.email)
    response = client.post("/profil/mot-de-passe", data={
        "current_password": "Faux1234", "new_password": "Nouveau2mdp", "confirm": "Nouveau2mdp"})
    assert response.status_code == 422
    assert "Le mot de passe actuel est incorrect." in text(response)


@pytest.mark.parametrize("path, data", [
    ("/profil/mot-de-passe", {"current_password": "{}", "new_password": "Nouveau2mdp", "confirm": "Nouveau2mdp"}),
    ("/profil/identifiant", {"new_email": "nouvelle@example.org", "password": "{}"}),
    ("/profil/supprimer", {"password": "{}", "confirm": "y"}),
])
def test_the_current_password_cannot_be_guessed_from_an_open_session(client, app, auth, parent, path, data):
    app.config["RATELIMIT_PASSWORD_CHECK_PER_EMAIL"] = "2/15minute"
    auth.sign_in(parent.email)
    for _ in range(2):
        assert client.post(path, data={k: v.format("Faux1234") for k, v in data.items()}).status_code == 422
    response = client.post(path, data={k: v.format(PASSWORD) for k, v in data.items()})
    assert response.status_code == 422
    assert "Trop de tentatives" in text(response)
    assert client.get("/profil/").status_code == 200  # nothing changed, the account is still there


def test_change_password_with_a_weak_or_mismatched_new_password(client, auth, parent):
    auth.sign_in(parent.email)
    response = client.post("/profil/mot-de-passe", data={
        "current_password": PASSWORD, "new_password": "faible", "confirm": "faible"})
    assert response.status_code == 422
    assert "au moins 8 caractères" in text(response)
    response = client.post("/profil/mot-de-passe", data={
        "current_password": PASSWORD, "new_password": "Nouveau2mdp", "confirm": "Autre2mdp"})
    assert "ne sont pas identiques" in text(response)


def test_change_email_needs_the_link_sent_to_the_new_address(client, db, auth, parent, outbox):
    auth.sign_in(parent.email)
    response = client.post("/profil/identifiant", data={"new_email": " Nouvelle@Example.org", "password": PASSWORD})
    assert response.status_code == 200
    assert "nouvelle@example.org" in text(response)
    # The old address is told; nothing changes until the link is opened.
    assert outbox.last(parent.email).subject == "Changement d'adresse e-mail demandé"
    assert db.get(Account, parent.id).email == parent.email
    link = outbox.link("nouvelle@example.org")
    assert client.get(link).status_code == 303
    fresh(db)
    assert db.get(Account, parent.id).email == "nouvelle@example.org"
    assert client.get(link).status_code == 400
    auth.sign_out()
    assert auth.sign_in("nouvelle@example.org").status_code == 303


def test_change_email_to_a_taken_address_is_refused(client, auth, parent, make_account):
    make_account(email="pris@example.org")
    auth.sign_in(parent.email)
    response = client.post("/profil/identifiant", data={"new_email": "PRIS@example.org", "password": PASSWORD})
    assert response.status_code == 422
    assert "Un compte existe déjà" in text(response)
    assert 'value="PRIS@example.org"' in text(response)


def test_notification_preference(client, db, auth, parent):
    auth.sign_in(parent.email)
    assert client.post("/profil/notifications", data={}).status_code == 303
    fresh(db)
    assert db.get(Account, parent.id).email_notifications is False
    client.post("/profil/notifications", data={"email_notifications": "y"})
    fresh(db)
    assert db.get(Account, parent.id).email_notifications is True


def test_delete_account_asks_for_confirmation(client, db, auth, parent):
    parent_id = parent.id
    auth.sign_in(parent.email)
    response = client.post("/profil/supprimer", data={"password": PASSWORD})
    assert response.status_code == 422
    assert "Cochez la case" in text(response)
    response = client.post("/profil/supprimer", data={"password": "Faux1234", "confirm": "y"})
    assert response.status_code == 422
    assert db.get(Account, parent_id) is not None
    response = client.post("/profil/supprimer", data={"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 303
    db.expunge_all()
    assert db.scalar(select(Account).where(Account.id == parent_id)) is None
    assert client.get("/profil/").status_code == 302
