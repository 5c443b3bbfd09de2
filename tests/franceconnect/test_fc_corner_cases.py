"""FranceConnect's first sign-in at the edges: its forms are rate-limited as
the sign-in is, and a state that is not plain ASCII is refused, not a 500."""

from __future__ import annotations

from tests.franceconnect.conftest import round_trip


def test_the_link_form_is_rate_limited_as_the_sign_in_is(client, app, idp, make_account):
    app.config["RATELIMIT_SIGN_IN"] = "6/minute"
    for n in range(4):
        make_account(email=f"p{n}@example.org")
    round_trip(client)
    codes = [client.post("/connexion/franceconnect/rattacher", data={
        "link-email": f"p{n % 4}@example.org", "link-password": "Devine1xx"}).status_code for n in range(8)]
    assert codes[:6] == [422] * 6
    assert codes[6:] == [429, 429]
    page = client.post("/connexion/franceconnect/rattacher", data={
        "link-email": "p0@example.org", "link-password": "Devine1xx"}).get_data(as_text=True)
    assert "Trop de tentatives" in page
    assert 'value="p0@example.org"' in page


def test_the_create_form_is_rate_limited_as_the_sign_in_is(client, app, idp, make_account):
    app.config["RATELIMIT_SIGN_IN_PER_EMAIL"] = "3/minute"
    make_account(email="someone@example.org")
    round_trip(client)
    codes = [client.post("/connexion/franceconnect/creer", data={
        "create-email": "someone@example.org", "create-accept_terms": "y"}).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]


def test_a_state_that_is_not_ascii_is_refused_not_a_500(client, app, idp):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/connexion/franceconnect").status_code == 303
    back = client.get("/connexion/franceconnect/retour?state=%C3%A9&code=x")
    assert back.status_code in (400, 403)
    assert "FranceConnect" in back.get_data(as_text=True)


def test_a_sign_out_state_that_is_not_ascii_is_not_a_500(client, app, idp):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "camille.martin@example.org", "create-email_confirmed": "y", "create-accept_terms": "y"})
    client.post("/deconnexion")
    response = client.get("/deconnexion/franceconnect?state=%C3%A9")
    assert response.status_code == 303
    assert "Vous êtes déconnecté." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_address_typed_at_first_sign_in_is_confirmed_by_its_owner_only(client, app, idp, outbox):
    """Someone signs in with FranceConnect and types another person's address:
    the mail tells its owner not to open the link, and « Mot de passe oublié »
    gives the owner the account, without that person's identity."""
    round_trip(client)
    client.post("/connexion/franceconnect/creer", data={
        "create-email": "victim@example.org", "create-accept_terms": "y"})
    mail = outbox.last("victim@example.org")
    assert mail.subject == "Confirmez votre adresse e-mail"
    assert "Si ce n'est pas vous, n'ouvrez pas ce lien." in mail.text_body
    assert "supprimé automatiquement" not in mail.text_body
    client.post("/deconnexion")
    owner = app.test_client()
    owner.post("/mot-de-passe-oublie/mot-de-passe", data={"email": "victim@example.org"})
    owner.post(outbox.link("victim@example.org"), data={"password": "Nouveau1xx", "confirm": "Nouveau1xx"})
    assert owner.post("/connexion", data={"email": "victim@example.org", "password": "Nouveau1xx"}).status_code == 303
    back = round_trip(app.test_client())
    assert back.headers["Location"] != "/"  # the first sign-in page again, not the owner's account
