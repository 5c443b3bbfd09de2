"""The demo OpenID Connect provider, driven through Flask's test client."""

from __future__ import annotations

import base64
import json
import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.errors import ExpiredTokenError
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from citoyen.demo_idp import create_idp
from citoyen.demo_idp.identities import IDENTITIES

ISSUER = "http://idp.test/api/v2"
CLIENT_ID = "citoyen-demo"
SECRET = "citoyen-demo-secret"
REDIRECT_URI = "http://127.0.0.1:5000/connexion/franceconnect/retour"
LOGOUT_URI = "http://127.0.0.1:5000/deconnexion/franceconnect"
SCOPE = "openid given_name family_name birthdate gender birthplace birthcountry email"
CAMILLE = IDENTITIES[0]


@pytest.fixture
def idp():
    return create_idp({"TESTING": True, "ISSUER": ISSUER, "DELAY_SECONDS": 0.2})


@pytest.fixture
def client(idp):
    return idp.test_client()


def authorize_url(**overrides) -> str:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPE,
        "state": "state-123",
        "nonce": "nonce-456",
        "acr_values": "eidas1",
    } | overrides
    return "/api/v2/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def query(response) -> dict:
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def signed_request(page: str) -> str:
    return re.search(r'name="request" value="([^"]+)"', page).group(1)


def sign_in(client, sub: str = CAMILLE["sub"], **overrides) -> str:
    page = client.get(authorize_url(**overrides))
    assert page.status_code == 200
    response = client.post(
        "/api/v2/authorize",
        data={"request": signed_request(page.text), "identity": sub, "action": "login"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    return query(response)["code"]


def exchange(client, code: str, basic: bool = False, secret: str = SECRET, **form):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    headers = {}
    if basic:
        raw = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {raw}"
    else:
        data |= {"client_id": CLIENT_ID, "client_secret": secret}
    return client.post("/api/v2/token", data=data | form, headers=headers)


def keyset(client) -> KeySet:
    return KeySet.import_key_set(client.get("/api/v2/jwks").json)


def published_kid(client) -> str:
    return client.get("/api/v2/jwks").json["keys"][0]["kid"]


def header(token: str) -> dict:
    """The JOSE header, read without checking the signature."""
    encoded = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def verified(client, token: str, **expected) -> dict:
    claims = jwt.decode(token, keyset(client), algorithms=["ES256"]).claims
    JWTClaimsRegistry(**{k: {"essential": True, "value": v} for k, v in expected.items()}).validate(
        claims
    )
    return claims


def id_token(client, **overrides) -> str:
    response = exchange(client, sign_in(client, **overrides))
    assert response.status_code == 200
    return response.json["id_token"]


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(page: str) -> list[tuple[str, dict]]:
    parser = PageParser()
    parser.feed(page)
    return parser.tags


# --- Discovery and keys ---------------------------------------------------------


def test_discovery_document(client):
    doc = client.get("/api/v2/.well-known/openid-configuration").json
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert doc["token_endpoint"] == f"{ISSUER}/token"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert doc["jwks_uri"] == f"{ISSUER}/jwks"
    assert doc["end_session_endpoint"] == f"{ISSUER}/session/end"
    assert doc["response_types_supported"] == ["code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert doc["userinfo_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
    ]
    assert doc["acr_values_supported"] == ["eidas1", "eidas2", "eidas3"]
    assert {"openid", "given_name", "email"} <= set(doc["scopes_supported"])
    assert {"sub", "given_name", "birthplace"} <= set(doc["claims_supported"])


def test_jwks_has_one_public_es256_key(client):
    keys = client.get("/api/v2/jwks").json["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-256" and keys[0]["alg"] == "ES256"
    assert keys[0]["kid"]
    assert "d" not in keys[0]


def test_keys_differ_between_apps():
    one = create_idp({"TESTING": True, "ISSUER": ISSUER}).test_client()
    two = create_idp({"TESTING": True, "ISSUER": ISSUER}).test_client()
    assert one.get("/api/v2/jwks").json != two.get("/api/v2/jwks").json


# --- The login page ---------------------------------------------------------------


def test_login_page_lists_identities_accessibly(client):
    page = client.get(authorize_url())
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    tags = parse(page.text)
    assert [t for t, _ in tags].count("h1") == 1
    radios = [a for t, a in tags if t == "input" and a.get("type") == "radio"]
    labels = {a.get("for") for t, a in tags if t == "label"}
    assert len(radios) == len(IDENTITIES)
    assert all(radio["id"] in labels for radio in radios)
    for identity in IDENTITIES:
        assert identity["given_name"] in page.text and identity["family_name"] in page.text
    assert "Se connecter</button>" in page.text and "Annuler</button>" in page.text
    assert "<script" not in page.text


def test_unknown_client_or_redirect_uri_gets_a_french_page(client):
    for url in (
        authorize_url(client_id="inconnu"),
        authorize_url(redirect_uri=REDIRECT_URI + "/"),
        authorize_url(redirect_uri="https://evil.example/cb"),
        authorize_url(redirect_uri=None),
    ):
        response = client.get(url)
        assert response.status_code == 400
        assert '<html lang="fr">' in response.text
        assert "Location" not in response.headers


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"state": None}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"scope": "given_name"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_bad_requests_redirect_with_an_error(client, overrides, error):
    response = client.get(authorize_url(**overrides))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    assert query(response)["error"] == error


def test_cancel_redirects_with_access_denied(client):
    page = client.get(authorize_url())
    response = client.post(
        "/api/v2/authorize", data={"request": signed_request(page.text), "action": "cancel"}
    )
    assert response.status_code == 302
    assert query(response) == {"error": "access_denied", "state": "state-123"}


def test_choice_needs_the_signed_request_and_the_session(client, idp):
    page = client.get(authorize_url())
    blob = signed_request(page.text)
    form = {"request": blob, "identity": CAMILLE["sub"]}
    assert client.post("/api/v2/authorize", data=form | {"request": blob + "x"}).status_code == 400
    # Another browser (no provider session cookie) cannot replay the form.
    assert idp.test_client().post("/api/v2/authorize", data=form).status_code == 400
    assert client.post("/api/v2/authorize", data=form).status_code == 302


def test_missing_choice_shows_the_page_again(client):
    page = client.get(authorize_url())
    response = client.post("/api/v2/authorize", data={"request": signed_request(page.text)})
    assert response.status_code == 400
    assert 'role="alert"' in response.text


# --- Code flow ----------------------------------------------------------------------


def test_choice_redirects_with_code_and_state(client):
    page = client.get(authorize_url())
    response = client.post(
        "/api/v2/authorize",
        data={"request": signed_request(page.text), "identity": CAMILLE["sub"]},
    )
    params = query(response)
    assert params["state"] == "state-123"
    assert len(params["code"]) >= 32


@pytest.mark.parametrize("basic", [False, True])
def test_token_exchange_gives_a_verifiable_id_token(client, basic):
    code = sign_in(client, acr_values="eidas2")
    response = exchange(client, code, basic=basic)
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 60
    assert body["scope"] == SCOPE
    assert response.headers["Cache-Control"] == "no-store"
    claims = verified(
        client, body["id_token"], iss=ISSUER, aud=CLIENT_ID, nonce="nonce-456", acr="eidas2"
    )
    assert claims["sub"] == CAMILLE["sub"]
    assert claims["amr"] == ["pwd"]
    assert claims["exp"] - claims["iat"] == 60
    assert abs(claims["auth_time"] - time.time()) < 5
    assert header(body["id_token"]) == {"alg": "ES256", "kid": published_kid(client), "typ": "JWT"}


def test_acr_defaults_to_eidas1(client):
    assert verified(client, id_token(client, acr_values=None))["acr"] == "eidas1"


def test_code_works_once(client):
    code = sign_in(client)
    assert exchange(client, code).status_code == 200
    second = exchange(client, code)
    assert second.status_code == 400
    assert second.json == {"error": "invalid_grant"}


def test_code_is_bound_to_the_redirect_uri(client):
    response = exchange(client, sign_in(client), redirect_uri=REDIRECT_URI + "/autre")
    assert response.status_code == 400
    assert response.json == {"error": "invalid_grant"}


@pytest.mark.parametrize("basic", [False, True])
def test_wrong_secret_is_refused(client, basic):
    response = exchange(client, sign_in(client), basic=basic, secret="faux")
    assert response.status_code == 401
    assert response.json == {"error": "invalid_client"}


def test_userinfo_is_a_signed_jwt_with_the_scoped_claims(client):
    access_token = exchange(client, sign_in(client)).json["access_token"]
    response = client.get("/api/v2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200
    assert response.mimetype == "application/jwt"
    claims = verified(client, response.text, iss=ISSUER, aud=CLIENT_ID)
    assert {k: claims[k] for k in CAMILLE} == CAMILLE


def test_userinfo_releases_only_what_the_scope_asks(client):
    code = sign_in(client, sub=IDENTITIES[2]["sub"], scope="openid family_name preferred_username")
    access_token = exchange(client, code).json["access_token"]
    response = client.get("/api/v2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    claims = verified(client, response.text)
    assert claims["family_name"] == "Dubois"
    assert claims["preferred_username"] == "Lefebvre"
    assert "given_name" not in claims and "email" not in claims


def test_userinfo_as_json(client, idp):
    idp.config["USERINFO_JSON"] = True
    access_token = exchange(client, sign_in(client)).json["access_token"]
    response = client.get("/api/v2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert response.mimetype == "application/json"
    assert response.json["sub"] == CAMILLE["sub"]
    assert response.json["email"] == CAMILLE["email"]


def test_userinfo_needs_a_valid_token(client):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = client.get("/api/v2/userinfo", headers=headers)
        assert response.status_code == 401
        assert response.json == {"error": "invalid_token"}


# --- Logout --------------------------------------------------------------------------


def session_cookie(client):
    return client.get_cookie("citoyen_idp_session", path="/api/v2")


def test_end_session_clears_the_session_and_redirects_with_state(client):
    token = id_token(client)
    assert session_cookie(client) is not None
    params = {"id_token_hint": token, "state": "bye-1", "post_logout_redirect_uri": LOGOUT_URI}
    response = client.get("/api/v2/session/end?" + urlencode(params))
    assert response.status_code == 302
    assert response.headers["Location"] == LOGOUT_URI + "?state=bye-1"
    assert session_cookie(client) is None


def test_end_session_accepts_an_expired_hint(client, idp):
    idp.config["MISBEHAVE"] = "expired"
    token = id_token(client)
    assert end_session(client, token).status_code == 302


def end_session(client, token: str, **overrides):
    params = {"id_token_hint": token, "state": "s", "post_logout_redirect_uri": LOGOUT_URI}
    return client.get("/api/v2/session/end?" + urlencode(params | overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"post_logout_redirect_uri": "https://evil.example/"},
        {"post_logout_redirect_uri": None},
        {"id_token_hint": "abc"},
        {"id_token_hint": None},
    ],
)
def test_end_session_refuses_bad_parameters(client, overrides):
    token = id_token(client)
    response = end_session(client, token, **{k: v or "" for k, v in overrides.items()})
    assert response.status_code == 400
    assert '<html lang="fr">' in response.text
    assert session_cookie(client) is not None


@pytest.mark.parametrize("mode", ["wrong_signature", "unknown_kid", "wrong_issuer"])
def test_end_session_refuses_hints_it_did_not_sign(client, idp, mode):
    idp.config["MISBEHAVE"] = mode
    token = id_token(client)
    idp.config["MISBEHAVE"] = None
    assert end_session(client, token).status_code == 400


# --- Misbehave modes ---------------------------------------------------------------


@pytest.fixture
def misbehave(idp):
    def set_mode(mode):
        idp.config["MISBEHAVE"] = mode

    return set_mode


def test_wrong_signature(client, misbehave):
    misbehave("wrong_signature")
    token = id_token(client)
    assert header(token)["kid"] == published_kid(client)
    with pytest.raises(BadSignatureError):
        jwt.decode(token, keyset(client))


def test_unknown_kid(client, misbehave):
    misbehave("unknown_kid")
    token = id_token(client)
    assert header(token)["kid"] != published_kid(client)
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(token, keyset(client))


@pytest.mark.parametrize(
    "mode, claim, wrong",
    [
        ("wrong_nonce", "nonce", None),
        ("wrong_audience", "aud", None),
        ("wrong_issuer", "iss", None),
        ("wrong_acr", "acr", "eidas0"),
    ],
)
def test_wrong_claims(client, misbehave, mode, claim, wrong):
    misbehave(mode)
    claims = verified(client, id_token(client))
    good = {"nonce": "nonce-456", "aud": CLIENT_ID, "iss": ISSUER, "acr": "eidas1"}
    assert claims[claim] != good[claim]
    if wrong is not None:
        assert claims[claim] == wrong


def test_expired(client, misbehave):
    misbehave("expired")
    claims = jwt.decode(id_token(client), keyset(client)).claims
    assert claims["exp"] < time.time()
    assert time.time() - claims["iat"] >= 600
    with pytest.raises(ExpiredTokenError):
        JWTClaimsRegistry().validate(claims)


def test_access_denied(client, misbehave):
    misbehave("access_denied")
    response = client.get(authorize_url())
    assert response.status_code == 302
    assert query(response) == {"error": "access_denied", "state": "state-123"}


def test_token_error(client, misbehave):
    code = sign_in(client)
    misbehave("token_error")
    response = exchange(client, code)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_grant"}


def test_slow(client, misbehave):
    code = sign_in(client)
    misbehave("slow")
    started = time.monotonic()
    response = exchange(client, code)
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200


def test_userinfo_bad_signature(client, misbehave):
    misbehave("userinfo_bad_signature")
    access_token = exchange(client, sign_in(client)).json["access_token"]
    response = client.get("/api/v2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200
    with pytest.raises(BadSignatureError):
        jwt.decode(response.text, keyset(client))


# --- Start-up ----------------------------------------------------------------------


def test_refuses_to_start_outside_demo_or_testing(monkeypatch):
    monkeypatch.delenv("CITOYEN_DEMO", raising=False)
    with pytest.raises(RuntimeError, match="demo or testing"):
        create_idp({"ISSUER": ISSUER})
    with pytest.raises(RuntimeError, match="demo or testing"):
        create_idp({"ISSUER": ISSUER, "DEMO": False, "TESTING": False})
    assert create_idp({"ISSUER": ISSUER, "DEMO": True})
    monkeypatch.setenv("CITOYEN_DEMO", "1")
    assert create_idp({"ISSUER": ISSUER})


def test_needs_an_issuer():
    with pytest.raises(RuntimeError, match="ISSUER"):
        create_idp({"TESTING": True})
    with pytest.raises(RuntimeError, match="MISBEHAVE"):
        create_idp({"TESTING": True, "ISSUER": ISSUER, "MISBEHAVE": "nonsense"})


def test_configuration_from_the_environment(monkeypatch):
    monkeypatch.setenv("CITOYEN_DEMO", "1")
    monkeypatch.setenv("CITOYEN_IDP_ISSUER", "http://127.0.0.1:5100/fc/api/v2")
    monkeypatch.setenv("CITOYEN_IDP_CLIENT_ID", "portail")
    monkeypatch.setenv("CITOYEN_IDP_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("CITOYEN_IDP_REDIRECT_URIS", "http://a.test/cb http://b.test/cb")
    monkeypatch.setenv("CITOYEN_IDP_POST_LOGOUT_URIS", "http://a.test/bye")
    app = create_idp()
    assert app.config["CLIENTS"] == {
        "portail": {
            "secret": "s3cret",
            "redirect_uris": ["http://a.test/cb", "http://b.test/cb"],
            "post_logout_redirect_uris": ["http://a.test/bye"],
        }
    }
    doc = app.test_client().get("/fc/api/v2/.well-known/openid-configuration").json
    assert doc["issuer"] == "http://127.0.0.1:5100/fc/api/v2"


def test_its_own_address_says_what_it_is_in_french(client):
    """The address ``make run`` prints: the provider's page, not a 404."""
    for path in ("/", "/api/v2", "/api/v2/"):
        page = client.get(path, follow_redirects=True)
        assert page.status_code == 200, path
        body = page.get_data(as_text=True)
        assert "Fournisseur d'identité de démonstration" in body
        assert f"{CAMILLE['given_name']} {CAMILLE['family_name']}" in body
        assert "S'identifier avec FranceConnect" in body
