"""Rules every route must follow, checked by enumerating the URL map, so that
a new route cannot forget them."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.routing import IntegerConverter
from werkzeug.routing import Rule

from citoyen import links
from citoyen.access import is_public_endpoint
from tests.conftest import BASE_CONFIG


def _url(rule: Rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = 1 if isinstance(converter, IntegerConverter) else "x"
    return rule.build(values)[1]


def _rules(app, method: str):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or method not in rule.methods:
            continue
        yield rule


@pytest.fixture
def app_config():
    # The demo blueprint exists only in demo mode: enumerate it too.
    return {"DEMO": True}


# The bank posts these from its own servers or pages: they trust only the
# bank's signature (tested in tests/blueprints/test_payment_views.py).
SIGNED_BY_THE_BANK = {"payments.bank_return", "payments.notification"}


def test_every_post_route_rejects_a_missing_csrf_token(app, client, parent, auth):
    app.config["WTF_CSRF_ENABLED"] = True
    posts = [rule for rule in _rules(app, "POST") if rule.endpoint not in SIGNED_BY_THE_BANK]
    exempt = {rule.endpoint for rule in _rules(app, "POST")} - {rule.endpoint for rule in posts}
    assert exempt == SIGNED_BY_THE_BANK
    assert posts, "no POST route found"
    # Signed in, so that a route is refused for its missing token and not for
    # a missing session.
    app.config["WTF_CSRF_ENABLED"] = False
    auth.sign_in(parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    for rule in posts:
        response = client.post(_url(rule), data={"email": "x@example.org"})
        assert response.status_code == 400, rule.rule
        body = response.get_data(as_text=True)
        assert "Le formulaire a expiré" in body, rule.rule


def test_every_signed_in_route_sends_anonymous_visitors_to_sign_in(app, client):
    checked = 0
    for method in ("GET", "POST"):
        for rule in _rules(app, method):
            if is_public_endpoint(app, rule.endpoint):
                continue
            response = client.open(_url(rule), method=method)
            assert response.status_code in (302, 303), (method, rule.rule, response.status_code)
            assert response.headers["Location"].startswith("/connexion?next="), rule.rule
            checked += 1
    assert checked > 10


def test_htmx_requests_of_anonymous_visitors_are_redirected_by_header(client, hx):
    response = client.get("/messages/", headers=hx)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/connexion?next=")


def test_every_agent_route_is_forbidden_to_a_parent(app, client, parent, auth):
    auth.sign_in(parent.email)
    checked = 0
    for method in ("GET", "POST"):
        for rule in _rules(app, method):
            if not rule.endpoint.startswith("agent."):
                continue
            response = client.open(_url(rule), method=method)
            assert response.status_code == 403, (method, rule.rule)
            assert "Accès refusé" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 8


def test_admin_routes_are_forbidden_to_an_agent(app, client, agent, auth):
    auth.sign_in(agent.email)
    for path in ("/agent/journal", "/agent/agents/nouveau", "/agent/communes/1", "/agent/communes/nouvelle"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/agent/comptes/{agent.id}/role", data={"role": "admin"}).status_code == 403
    assert client.post("/agent/communes/1/vacances-scolaires", data={"school_zone": "A"}).status_code == 403


def test_public_routes_are_the_expected_ones(app):
    public = sorted(
        rule.rule for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and is_public_endpoint(app, rule.endpoint)
    )
    assert public == sorted([
        "/", "/accessibilite", "/activation/<token>", "/activation/renvoyer", "/conditions-generales",
        "/connexion", "/connexion/franceconnect", "/connexion/franceconnect/creer",
        "/connexion/franceconnect/premiere-connexion", "/connexion/franceconnect/rattacher",
        "/connexion/franceconnect/retour", "/deconnexion/franceconnect", "/contact", "/demo/courriels", "/demo/courriels/<name>", "/favicon.ico",
        "/inscription", "/inscription/envoyee", "/invitation/<token>", "/mentions-legales",
        "/mot-de-passe-oublie", "/mot-de-passe-oublie/identifiant",
        "/mot-de-passe-oublie/mot-de-passe", "/mot-de-passe/nouveau/<token>",
        "/profil/identifiant/confirmer/<token>", "/sante", "/paiements/retour",
        "/paiements/notification", "/calendrier/<token>.ics",
    ])


def test_mail_links_match_the_routes_that_serve_them(app):
    with app.test_request_context():
        from flask import url_for

        assert links.activation("t") == url_for("auth.activate", token="t")
        assert links.password_reset("t") == url_for("auth.reset_password", token="t")
        assert links.email_change("t") == url_for("profile.confirm_email", token="t")
        assert links.invitation("t") == url_for("auth.accept_invitation", token="t")
        assert links.sign_in() == url_for("auth.sign_in")
        assert links.password_recovery() == url_for("auth.recovery")
        assert links.messages() == url_for("messages.index")


def test_no_demo_pages_outside_demo_mode(database_url, tmp_path):
    from citoyen import create_app

    app = create_app({**BASE_CONFIG, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)})
    assert not any(rule.endpoint.startswith("demo.") for rule in app.url_map.iter_rules())
    assert app.test_client().get("/demo/courriels").status_code == 404


def test_every_household_route_answers_404_to_another_family(app, client, db, make_account, agent):
    """A parent subscribed to one household tries every family route of another."""
    from citoyen.services import households
    from tests import factories

    town = factories.organisation(db)
    mine = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                       guardian_last_name="Martin")
    theirs = households.create_household(db, agent, town, name="Benali", guardian_first_name="Karim",
                                         guardian_last_name="Benali")
    theirs_guardian = theirs.guardians[0].id
    from citoyen.services import children
    their_child = households.add_child(db, agent, theirs, first_name="Inès", last_name="Benali",
                                       birth_date=date(2017, 1, 2))
    their_pickup = children.add_pickup(db, agent, theirs, their_child.id, first_name="Jo",
                                       last_name="Roux", phone="0612345678").id
    children.set_photo(db, agent, theirs, their_child.id, _tiny_png())
    mine_child = households.add_child(db, agent, mine, first_name="Léa", last_name="Martin",
                                      birth_date=date(2018, 1, 2))
    parent = make_account(email="camille@example.org")
    households.subscribe(db, parent, households.Attempt("code", code=mine.subscription_code),
                         "http://localhost")
    client.post("/connexion", data={"email": parent.email, "password": factories.PASSWORD})
    checked = 0
    for method in ("GET", "POST"):
        for rule in _rules(app, method):
            if "household_id" not in rule.arguments or rule.endpoint.startswith("agent."):
                continue
            values = {"household_id": theirs.id}
            if "guardian_id" in rule.arguments:
                values["guardian_id"] = theirs_guardian
            if "child_id" in rule.arguments:
                values["child_id"] = their_child.id
            if "pickup_id" in rule.arguments:
                values["pickup_id"] = their_pickup
            if "word" in rule.arguments:
                values["word"] = "sante"
            for name in rule.arguments - values.keys():
                values[name] = 1
            response = client.open(rule.build(values)[1], method=method, data={"city": "X"})
            assert response.status_code == 404, (method, rule.rule)
            checked += 1
    assert checked >= 15
    # And a guardian of the other household through one's own household.
    assert client.get(f"/foyer/{mine.id}/responsables/{theirs_guardian}").status_code == 404
    # Their child, or their child's pickup, through one's own household or child.
    assert client.get(f"/foyer/{mine.id}/enfants/{their_child.id}/sante").status_code == 404
    assert client.get(f"/foyer/{mine.id}/enfants/{their_child.id}/photo.jpg").status_code == 404
    assert client.get(
        f"/foyer/{mine.id}/enfants/{mine_child.id}/personnes/{their_pickup}").status_code == 404
    assert client.get(f"/foyer/{mine.id}/enfants/{mine_child.id}/sante").status_code == 200


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    return out.getvalue()


def test_an_id_too_long_for_the_database_is_a_404(client, parent, auth):
    auth.sign_in(parent.email)
    assert client.get("/foyer/99999999999999999999999/adresse").status_code == 404
    assert client.get(f"/foyer/{2**31}/adresse").status_code == 404


def test_every_route_of_a_familys_request_or_enrolment_answers_404_to_another_family(app, client, db, agent,
                                                                                      make_account):
    """The family routes named by a request or an enrolment, tried by an account of another household."""
    from sqlalchemy import select

    from citoyen.models import Enrolment
    from citoyen.services import households
    from citoyen.services import requests
    from tests import factories
    from tests.agenda_helpers import build_town

    town = build_town(db, agent=agent)
    theirs = requests.create(db, town.parent, town.household.id, "other", "Une question", "Bonjour", send=True)
    enrolment = db.scalars(select(Enrolment).where(Enrolment.child_id == town.leo.id)).first()
    ids = {"request_id": theirs.id, "enrolment_id": enrolment.id}
    stranger = make_account(email="stranger@example.org")
    mine = households.create_household(db, agent, town.organisation, name="Benali", guardian_first_name="Karim",
                                       guardian_last_name="Benali")
    households.subscribe(db, stranger, households.Attempt("code", code=mine.subscription_code), "http://localhost")
    client.post("/connexion", data={"email": stranger.email, "password": factories.PASSWORD})
    checked = 0
    for method in ("GET", "POST"):
        for rule in _rules(app, method):
            named = rule.arguments & ids.keys()
            if not named or rule.endpoint.startswith("agent."):
                continue
            response = client.open(rule.build({name: ids[name] for name in named})[1], method=method,
                                   data={"last_day": "01/01/2030", "message": "x", "subject": "x", "kind": "other"})
            assert response.status_code == 404, (method, rule.rule)
            checked += 1
    assert checked >= 7
