"""The provider's endpoints, mounted under the issuer's path."""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import unquote_plus
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from werkzeug.exceptions import HTTPException

from citoyen.demo_idp.identities import BY_SUB
from citoyen.demo_idp.identities import IDENTITIES
from citoyen.demo_idp.identities import SCOPE_CLAIMS
from citoyen.demo_idp.identities import USER_CLAIMS
from citoyen.demo_idp.identities import description
from citoyen.demo_idp.identities import released_claims

bp = Blueprint("demo_idp", __name__)

ACR_VALUES = ["eidas1", "eidas2", "eidas3"]
LIFETIME = 60  # seconds, for codes, access tokens and id_tokens
LOGIN_FORM_MAX_AGE = 600


def state():
    return current_app.extensions["demo_idp"]


def misbehave() -> str | None:
    return current_app.config.get("MISBEHAVE")


def issuer() -> str:
    return current_app.config["ISSUER"]


def clients() -> dict:
    return current_app.config["CLIENTS"]


def with_params(uri: str, **params) -> str:
    """The URI with the (non-empty) parameters added to its query."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v})
    query = f"{parts.query}&{extra}" if parts.query and extra else parts.query or extra
    return urlunsplit(parts._replace(query=query))


def error_page(message: str, status: int = 400):
    return render_template("error.html", message=message, status=status), status


def json_error(error: str, status: int = 400, **headers):
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(headers)
    return response


def sign(claims: dict, rogue: bool = False, own_kid: bool = False) -> str:
    """A JWT signed ES256 with the published key, or with the unpublished
    one under the published kid (rogue) or under its own kid (own_kid)."""
    keys = state()
    key = keys.rogue_key if rogue or own_kid else keys.key
    kid = keys.rogue_key.kid if own_kid else keys.key.kid
    return jwt.encode({"alg": "ES256", "kid": kid}, claims, key)


@bp.after_request
def security_headers(response):
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    )
    if request.endpoint in ("demo_idp.token", "demo_idp.userinfo", "demo_idp.authorize"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    messages = {404: "Cette page n'existe pas.", 405: "Cette méthode n'est pas acceptée ici."}
    return error_page(
        messages.get(error.code or 500, "La demande n'a pas pu être traitée."), error.code or 500
    )


@bp.get("/")
def home():
    """What this provider is, for someone who opens its address."""
    from citoyen.demo_idp.identities import IDENTITIES

    return render_template("home.html", people=IDENTITIES)


@bp.get("/.well-known/openid-configuration")
def discovery():
    base = issuer()
    return jsonify(
        issuer=base,
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        userinfo_endpoint=f"{base}/userinfo",
        jwks_uri=f"{base}/jwks",
        end_session_endpoint=f"{base}/session/end",
        response_types_supported=["code"],
        grant_types_supported=["authorization_code"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=["ES256", "RS256"],
        userinfo_signing_alg_values_supported=["ES256", "RS256"],
        token_endpoint_auth_methods_supported=["client_secret_post", "client_secret_basic"],
        scopes_supported=["openid", *SCOPE_CLAIMS],
        claims_supported=["sub", *USER_CLAIMS],
        acr_values_supported=ACR_VALUES,
    )


@bp.get("/jwks")
def jwks():
    return jsonify(keys=[state().key.as_dict(private=False)])


# --- Authorization ----------------------------------------------------------


def login_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="demo-idp-login")


@bp.get("/authorize")
def authorize():
    args = request.args
    client = clients().get(args.get("client_id", ""))
    if client is None:
        return error_page("Le service qui vous a envoyé ici n'est pas connu de ce fournisseur.")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client["redirect_uris"]:
        return error_page("L'adresse de retour demandée n'est pas enregistrée pour ce service.")
    given_state = args.get("state", "")

    def refuse(error: str):
        return redirect(with_params(redirect_uri, error=error, state=given_state))

    if args.get("response_type") != "code":
        return refuse("unsupported_response_type")
    if "openid" not in args.get("scope", "").split():
        return refuse("invalid_scope")
    if not given_state or not args.get("nonce"):
        return refuse("invalid_request")
    if misbehave() == "access_denied":
        return refuse("access_denied")

    requested_acr = [v for v in args.get("acr_values", "").split() if v in ACR_VALUES]
    login_request = {
        "client_id": args["client_id"],
        "redirect_uri": redirect_uri,
        "scope": args["scope"],
        "state": given_state,
        "nonce": args["nonce"],
        "acr": requested_acr[0] if requested_acr else "eidas1",
        "csrf": session.setdefault("csrf", secrets.token_urlsafe(16)),
    }
    return login_page(login_serializer().dumps(login_request), session.get("sub"))


def login_page(signed_request: str, chosen: str | None, error: str | None = None):
    identities = [{**identity, "description": description(identity)} for identity in IDENTITIES]
    return render_template(
        "login.html",
        signed_request=signed_request,
        identities=identities,
        chosen=chosen if chosen in BY_SUB else IDENTITIES[0]["sub"],
        error=error,
    ), 200 if error is None else 400


@bp.post("/authorize")
def authorize_choice():
    signed_request = request.form.get("request", "")
    try:
        login_request = login_serializer().loads(signed_request, max_age=LOGIN_FORM_MAX_AGE)
    except BadSignature:
        login_request = None
    if not login_request or not hmac.compare_digest(login_request["csrf"], session.get("csrf", "")):
        return error_page(
            "Cette demande de connexion a expiré ou n'est pas valide. "
            "Retournez sur le service et recommencez."
        )
    redirect_uri = login_request["redirect_uri"]
    if request.form.get("action") == "cancel":
        return redirect(
            with_params(redirect_uri, error="access_denied", state=login_request["state"])
        )
    identity = BY_SUB.get(request.form.get("identity", ""))
    if identity is None:
        return login_page(signed_request, None, error="Choisissez une identité.")

    session["sub"] = identity["sub"]
    session["auth_time"] = int(time.time())
    code = state().put(
        state().codes,
        {
            "client_id": login_request["client_id"],
            "redirect_uri": redirect_uri,
            "scope": login_request["scope"],
            "nonce": login_request["nonce"],
            "acr": login_request["acr"],
            "sub": identity["sub"],
            "auth_time": session["auth_time"],
        },
    )
    return redirect(with_params(redirect_uri, code=code, state=login_request["state"]))


# --- Token and userinfo -----------------------------------------------------


def authenticated_client() -> str | None:
    """The client id if the request carries its right secret, by HTTP Basic
    or in the form (client_secret_post)."""
    form = request.form
    auth = request.authorization
    if auth is not None:
        if auth.type != "basic" or "client_secret" in form:
            return None
        client_id = unquote_plus(auth.username or "")
        secret = unquote_plus(auth.password or "")
        if form.get("client_id", client_id) != client_id:
            return None
    else:
        client_id = form.get("client_id", "")
        secret = form.get("client_secret", "")
    client = clients().get(client_id)
    if client is None or not hmac.compare_digest(secret.encode(), client["secret"].encode()):
        return None
    return client_id


@bp.post("/token")
def token():
    mode = misbehave()
    if mode == "slow":
        time.sleep(float(current_app.config.get("DELAY_SECONDS", 5.0)))
    client_id = authenticated_client()
    if client_id is None:
        return json_error("invalid_client", 401, **{"WWW-Authenticate": 'Basic realm="demo-idp"'})
    if mode == "token_error":
        return json_error("invalid_grant")
    if request.form.get("grant_type") != "authorization_code":
        return json_error("unsupported_grant_type")
    record = state().take_code(request.form.get("code", ""))
    if (
        record is None
        or record["client_id"] != client_id
        or record["redirect_uri"] != request.form.get("redirect_uri")
    ):
        return json_error("invalid_grant")

    access_token = state().put(
        state().access_tokens,
        {"client_id": client_id, "sub": record["sub"], "scope": record["scope"]},
    )
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "sub": record["sub"],
        "aud": client_id,
        "exp": now + LIFETIME,
        "iat": now,
        "auth_time": record["auth_time"],
        "nonce": record["nonce"],
        "acr": record["acr"],
        "amr": ["pwd"],
    }
    if mode == "wrong_nonce":
        claims["nonce"] = secrets.token_urlsafe(16)
    elif mode == "wrong_audience":
        claims["aud"] = "un-autre-service"
    elif mode == "expired":
        claims.update(iat=now - 600, exp=now - 600 + LIFETIME, auth_time=now - 600)
    elif mode == "wrong_issuer":
        claims["iss"] = "https://faux-fournisseur.example/api/v2"
    elif mode == "wrong_acr":
        claims["acr"] = "eidas0"
    id_token = sign(claims, rogue=mode == "wrong_signature", own_kid=mode == "unknown_kid")
    response = jsonify(
        access_token=access_token,
        token_type="Bearer",
        expires_in=LIFETIME,
        id_token=id_token,
        scope=record["scope"],
    )
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/userinfo")
def userinfo():
    auth = request.authorization
    record = state().access_token(auth.token or "") if auth and auth.type == "bearer" else None
    if record is None:
        return json_error(
            "invalid_token", 401, **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": record["client_id"],
        "sub": record["sub"],
        "iat": now,
        "exp": now + LIFETIME,
        **released_claims(BY_SUB[record["sub"]], record["scope"]),
    }
    if current_app.config.get("USERINFO_JSON"):
        return jsonify(claims)
    body = sign(claims, rogue=misbehave() == "userinfo_bad_signature")
    return current_app.response_class(body, mimetype="application/jwt")


# --- Logout -----------------------------------------------------------------


@bp.get("/session/end")
def end_session():
    hint = request.args.get("id_token_hint", "")
    try:
        # Only the signature is checked: an expired hint is fine.
        claims = jwt.decode(hint, state().key, algorithms=["ES256"]).claims
    except (JoseError, ValueError):
        return error_page("Le jeton d'identité fourni (id_token_hint) n'est pas valide.")
    audience = claims.get("aud")
    client_id = audience[0] if isinstance(audience, list) and audience else audience
    client = clients().get(client_id) if isinstance(client_id, str) else None
    if claims.get("iss") != issuer() or client is None:
        return error_page("Le jeton d'identité fourni (id_token_hint) n'est pas valide.")
    target = request.args.get("post_logout_redirect_uri", "")
    if target not in client.get("post_logout_redirect_uris", []):
        return error_page("L'adresse de retour après déconnexion n'est pas enregistrée.")
    session.clear()
    return redirect(with_params(target, state=request.args.get("state", "")))
