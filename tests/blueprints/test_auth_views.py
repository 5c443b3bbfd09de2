"""Sign-up, activation, sign-in and recovery through the test client."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import Account
from tests.factories import PASSWORD

SIGN_UP = {
    "last_name": "Martin",
    "first_name": "Camille",
    "email": "camille@example.org",
    "password": "Motdepasse1",
    "confirm": "Motdepasse1",
    "accept_terms": "y",
}


def started_stamp(client) -> str:
    """The signed time the sign-up form was shown, as a browser would send it back."""
    form = client.get("/inscription").get_data(as_text=True)
    return form.split('name="started" type="hidden" value="')[1].split('"')[0]


def sign_up(client, **changes):
    data = {**SIGN_UP, "started": started_stamp(client), **changes}
    return client.post("/inscription", data={k: v for k, v in data.items() if v is not None})


def text(response) -> str:
    """The body, with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def test_sign_up_page_states_the_password_rule_before_typing(client):
    body = text(client.get("/inscription"))
    assert "8 caractères minimum, dont une majuscule, une minuscule et un chiffre" in body
    assert 'pattern="' in body and 'minlength="8"' in body
    for label in ("Nom", "Prénom", "Adresse e-mail", "Mot de passe", "Confirmer le mot de passe",
                  "J'accepte les conditions générales d'utilisation", "S'inscrire"):
        assert label in body, label


def test_sign_up_then_activation_then_sign_in(client, db, outbox):
    response = sign_up(client, email="  Camille@Example.ORG ")
    assert response.status_code == 303
    assert response.headers["Location"] == "/inscription/envoyee"
    account = db.scalar(select(Account).where(Account.email == "camille@example.org"))
    assert account is not None and account.activated_at is None

    # Not activated yet: signing in says why and offers a new link.
    response = client.post("/connexion", data={"email": "camille@example.org", "password": "Motdepasse1"})
    assert response.status_code == 422
    assert "pas encore activé" in text(response)
    assert "Recevoir un nouveau lien d'activation" in text(response)

    link = outbox.link("camille@example.org")
    assert link.startswith("/activation/")
    response = client.get(link)
    assert response.status_code == 303
    assert "Votre compte est activé" in text(client.get("/connexion"))

    response = client.post("/connexion", data={"email": "CAMILLE@example.org ", "password": "Motdepasse1"})
    assert response.status_code == 303
    assert "Bonjour Camille" in text(client.get("/"))


def test_activation_link_is_single_use(client, outbox):
    sign_up(client)
    link = outbox.link("camille@example.org")
    assert client.get(link).status_code == 303
    again = client.get(link)
    assert again.status_code == 400
    assert "déjà été utilisé" in text(again)


def test_tampered_activation_link_is_refused_in_french(client, outbox):
    sign_up(client)
    link = outbox.link("camille@example.org")
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = client.get(tampered)
    assert response.status_code == 400
    assert "Ce lien n'est pas valide" in text(response)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password": "court1A", "confirm": "court1A"}, "password", "au moins 8 caractères"),
        ({"password": "motdepasse1", "confirm": "motdepasse1"}, "password", "une majuscule"),
        ({"password": "MOTDEPASSE1", "confirm": "MOTDEPASSE1"}, "password", "une minuscule"),
        ({"password": "Motdepasse", "confirm": "Motdepasse"}, "password", "un chiffre"),
        ({"confirm": "Autremotdepasse1"}, "confirm", "ne sont pas identiques"),
        ({"email": "pas-une-adresse"}, "email", "n'est pas valide"),
        ({"email": "a" * 250 + "@example.org"}, "email", "254 caractères"),
        ({"last_name": "N" * 101}, "last_name", "100 caractères"),
        ({"first_name": ""}, "first_name", "Indiquez votre prénom"),
        ({"accept_terms": None}, "accept_terms", "accepter les conditions"),
    ],
)
def test_bad_sign_up_input_is_explained_at_the_field_and_the_rest_is_kept(client, db, changes, field, message):
    response = sign_up(client, **changes)
    assert response.status_code == 422
    body = text(response)
    assert f'id="{field}-error"' in body
    error_start = body.index(f'id="{field}-error"')
    assert message in body[error_start:error_start + 400]
    # What was typed is still there (the passwords are not sent back, on purpose).
    for kept in ("last_name", "first_name", "email"):
        if kept not in changes:
            assert f'value="{SIGN_UP[kept]}"' in body, kept
    assert db.scalar(select(Account)) is None


def test_an_address_that_has_an_account_gets_the_same_answer_and_its_owner_a_mail(
        client, db, make_account, outbox):
    make_account(email="camille@example.org")
    new = sign_up(client, email="nouveau@example.org")
    taken = sign_up(client, email="Camille@EXAMPLE.org")
    assert taken.status_code == new.status_code == 303
    assert taken.headers["Location"] == new.headers["Location"] == "/inscription/envoyee"
    assert "existe déjà" not in text(client.get(taken.headers["Location"]))
    assert db.scalar(select(func.count()).select_from(Account)) == 2
    notice = outbox.last("camille@example.org")
    assert "Quelqu'un a demandé à créer un compte" in notice.text_body
    assert "Mot de passe ou identifiant oublié" in notice.text_body and "/connexion" in notice.text_body


def test_sign_up_form_errors_come_back_as_a_fragment_for_htmx(client, hx):
    response = client.post("/inscription", data={**SIGN_UP, "confirm": "x"}, headers=hx)
    assert response.status_code == 422
    body = text(response)
    assert body.lstrip().startswith("<form")
    assert "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_successful_htmx_sign_up_redirects_the_whole_page(client, hx):
    response = client.post("/inscription", data={**SIGN_UP, "started": started_stamp(client)}, headers=hx)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/inscription/envoyee"


class TestAntiBot:
    @pytest.fixture
    def app_config(self):
        return {"SIGNUP_MIN_SECONDS": 3}

    def test_honeypot_filled_is_refused(self, client, db):
        started = started_stamp(client)
        response = sign_up(client, website="http://spam.example", started=started)
        assert response.status_code == 422
        assert "trop vite" in text(response)
        assert db.scalar(select(Account)) is None

    def test_form_sent_faster_than_a_person_can_type_is_refused(self, client, db):
        started = started_stamp(client)
        response = sign_up(client, started=started)
        assert response.status_code == 422
        assert db.scalar(select(Account)) is None
        # The names and address are kept.
        assert 'value="Camille"' in text(response)

    def test_missing_or_forged_timestamp_is_refused(self, client, db):
        assert sign_up(client, started=None).status_code == 422
        assert sign_up(client, started="123.forged").status_code == 422
        assert db.scalar(select(Account)) is None

    def test_a_person_who_takes_their_time_gets_through(self, client, app, db, monkeypatch):
        import time as time_module

        started = started_stamp(client)
        real_time = time_module.time
        monkeypatch.setattr("citoyen.blueprints.auth.forms.time.time", lambda: real_time() + 10)
        assert sign_up(client, started=started).status_code == 303


def test_sign_up_is_rate_limited_per_address(client, app):
    app.config["RATELIMIT_SIGN_UP_PER_EMAIL"] = "2/hour"
    for i in range(2):
        assert sign_up(client, email="dup@example.org", last_name=f"N{i}").status_code in (303, 422)
    response = sign_up(client, email="DUP@example.org")
    assert response.status_code == 429
    assert "Trop de tentatives" in text(response)
    assert 'value="Camille"' in text(response)


# ------------------------------------------------------------------ sign-in

def test_wrong_password_gives_a_french_message_and_keeps_the_address(client, parent):
    response = client.post("/connexion", data={"email": parent.email, "password": "Mauvais1"})
    assert response.status_code == 422
    assert "Adresse e-mail ou mot de passe incorrect." in text(response)
    assert f'value="{parent.email}"' in text(response)


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, parent):
    for _ in range(4):
        client.post("/connexion", data={"email": parent.email, "password": "Mauvais1"})
    response = client.post("/connexion", data={"email": parent.email, "password": "Mauvais1"})
    assert "Votre compte est bloqué" in text(response)
    response = client.post("/connexion", data={"email": parent.email, "password": PASSWORD})
    assert response.status_code == 422
    body = text(response)
    assert "Votre compte est bloqué" in body and "Mot de passe ou identifiant oublié" in body


def test_sign_in_is_rate_limited_per_address(client, app, parent):
    app.config["RATELIMIT_SIGN_IN_PER_EMAIL"] = "3/minute"
    for _ in range(3):
        client.post("/connexion", data={"email": "nobody@example.org", "password": "x"})
    response = client.post("/connexion", data={"email": "NOBODY@example.org", "password": "x"})
    assert response.status_code == 429
    assert "Trop de tentatives" in text(response)
    # Other addresses are not affected.
    assert client.post("/connexion", data={"email": parent.email, "password": PASSWORD}).status_code == 303


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/profil/", "/profil/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_only_redirects_inside_the_site(client, parent, target, expected):
    response = client.post("/connexion", data={"email": parent.email, "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_sign_in_page_keeps_next_from_the_query(client):
    body = text(client.get("/connexion?next=/messages/"))
    assert 'value="/messages/"' in body


def test_sign_in_rotates_the_session(client, parent):
    client.get("/inscription")
    with client.session_transaction() as session:
        session["planted"] = "value from before"
    client.post("/connexion", data={"email": parent.email, "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == parent.get_id()


def test_sign_out_ends_the_session(client, auth, parent):
    auth.sign_in(parent.email)
    assert client.get("/profil/").status_code == 200
    response = auth.sign_out()
    assert response.status_code == 303
    assert client.get("/profil/").status_code == 302


def test_signed_in_people_are_sent_home_from_sign_in_and_sign_up(client, auth, parent):
    auth.sign_in(parent.email)
    assert client.get("/connexion").headers["Location"] == "/"
    assert client.get("/inscription").headers["Location"] == "/"


# ------------------------------------------------------------------ recovery

def test_recovery_page_offers_both_choices(client):
    body = text(client.get("/mot-de-passe-oublie"))
    assert "J'ai perdu mon mot de passe" in body
    assert "J'ai perdu mon identifiant" in body


@pytest.mark.parametrize("path", ["/mot-de-passe-oublie/mot-de-passe", "/mot-de-passe-oublie/identifiant"])
def test_recovery_answers_the_same_whether_the_address_exists(client, parent, path):
    known = client.post(path, data={"email": parent.email})
    unknown = client.post(path, data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200

    def without_tokens(response):
        # CSRF tokens carry the second they were made in.
        return re.sub(r'[\w.-]{40,}', "TOKEN", text(response))

    assert without_tokens(known) == without_tokens(unknown)


def test_password_reset_from_the_mail_signs_in_with_the_new_password(client, parent, outbox):
    other = client.application.test_client()
    other.post("/connexion", data={"email": parent.email, "password": PASSWORD})
    assert other.get("/profil/").status_code == 200

    client.post("/mot-de-passe-oublie/mot-de-passe", data={"email": parent.email.upper()})
    link = outbox.link(parent.email)
    assert link.startswith("/mot-de-passe/nouveau/")
    assert "Nouveau mot de passe" in text(client.get(link))
    response = client.post(link, data={"password": "Nouveau2mdp", "confirm": "Nouveau2mdp"})
    assert response.status_code == 303
    # The other session is signed out.
    assert other.get("/profil/").status_code == 302
    # The link cannot serve twice.
    assert client.get(link).status_code == 400
    assert client.post("/connexion", data={"email": parent.email, "password": "Nouveau2mdp"}).status_code == 303


def test_weak_password_on_reset_is_explained_and_the_link_still_works(client, parent, outbox):
    client.post("/mot-de-passe-oublie/mot-de-passe", data={"email": parent.email})
    link = outbox.link(parent.email)
    response = client.post(link, data={"password": "faible", "confirm": "faible"})
    assert response.status_code == 422
    assert "au moins 8 caractères" in text(response)
    assert client.get(link).status_code == 200


def test_identifier_reminder_is_mailed(client, parent, outbox):
    client.post("/mot-de-passe-oublie/identifiant", data={"email": parent.email})
    mail = outbox.last(parent.email)
    assert parent.email in mail.text_body
    assert mail.subject == "Votre identifiant"


def test_resend_activation_mails_a_new_link(client, outbox):
    sign_up(client)
    first = outbox.link("camille@example.org")
    response = client.post("/activation/renvoyer", data={"email": "camille@example.org"})
    assert response.status_code == 200
    second = outbox.link("camille@example.org")
    assert first != second
    assert client.get(first).status_code == 400
    assert client.get(second).status_code == 303


def test_the_per_address_limit_counts_every_spelling_of_an_address(client, app, make_account, outbox):
    """« ｅxample.org » and « example。org » are example.org for the services: one count."""
    app.config["RATELIMIT_RECOVERY_PER_EMAIL"] = "3/hour"
    make_account(email="victim@example.org")
    spellings = ["victim@example.org", "victim@ｅxample.org", "victim@example。org", "VICTIM@exａmple.org",
                 "victim@examｐle.org"]
    codes = [client.post("/mot-de-passe-oublie/mot-de-passe", data={"email": s}).status_code for s in spellings]
    assert codes[3:] == [429, 429]
    assert len(outbox.all("victim@example.org")) == 3
