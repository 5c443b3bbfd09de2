"""The FranceConnect round trip: start, return, first sign-in, sign-out."""

from __future__ import annotations

import hmac
import secrets

from flask import abort
from flask import current_app
from flask import flash
from flask import request
from flask import session as cookie_session
from flask import url_for
from flask_login import current_user
from flask_login import login_user

from citoyen import oidc
from citoyen import ratelimit
from citoyen.access import public
from citoyen.access import safe_next
from citoyen.blueprints.franceconnect import bp
from citoyen.blueprints.franceconnect.forms import CreateFromIdentityForm
from citoyen.blueprints.franceconnect.forms import LinkExistingForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import identities
from citoyen.services.errors import DomainError

PENDING = "fc_pending"        # state, nonce and next of a round trip under way
IDENTITY = "fc_identity"      # id of the identity waiting for the first-sign-in choice
ID_TOKEN = "fc_id_token"      # kept for the sign-out at the provider
LOGOUT_STATE = "fc_logout_state"

CANCELLED = (
    "Vous avez annulé la connexion avec FranceConnect. Vous pouvez réessayer, "
    "ou vous connecter avec votre adresse e-mail et votre mot de passe."
)


def provider() -> oidc.Provider | None:
    config = current_app.config
    if not config.get("FRANCECONNECT_DISCOVERY_URL"):
        return None
    return oidc.Provider(
        config["FRANCECONNECT_DISCOVERY_URL"],
        config["FRANCECONNECT_CLIENT_ID"],
        config["FRANCECONNECT_CLIENT_SECRET"],
        timeout=config["FRANCECONNECT_TIMEOUT"],
        acr_values=config["FRANCECONNECT_ACR_VALUES"],
    )


def _provider_or_404() -> oidc.Provider:
    found = provider()
    if found is None:
        abort(404)
    return found


def _absolute(endpoint: str) -> str:
    return base_url().rstrip("/") + url_for(endpoint)


def _failure(reason: str, message: str, status: int = 400):
    identities.record_failure(get_session(), reason)
    return render("franceconnect/error.html", message=message, status=status)


@bp.route("/connexion/franceconnect")
@public
def start():
    """Send the browser to FranceConnect with a fresh state and nonce."""
    fc = _provider_or_404()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    cookie_session[PENDING] = {
        "state": state,
        "nonce": nonce,
        "next": safe_next(request.args.get("next")) or "",
    }
    try:
        url = fc.authorization_url(_absolute("franceconnect.callback"), state, nonce)
    except oidc.OidcError as error:
        cookie_session.pop(PENDING, None)
        return _failure(error.reason, error.message, 502)
    return redirect(url)


@bp.route("/connexion/franceconnect/retour")
@public
def callback():
    """Back from FranceConnect: check everything, then sign in or ask how to go on."""
    fc = _provider_or_404()
    pending = cookie_session.pop(PENDING, None)  # single use, whatever happens next
    state = request.args.get("state", "")
    if not pending or not state or not hmac.compare_digest(state.encode(), pending.get("state", "").encode()):
        return _failure("state_mismatch", oidc.OidcError("state").message)
    if request.args.get("error"):
        error = request.args.get("error", "")[:100]
        if error == "access_denied":
            return _failure("access_denied", CANCELLED)
        return _failure(f"provider_error: {error}", oidc.OidcError(error).message)
    code = request.args.get("code")
    if not code:
        return _failure("no_code", oidc.OidcError("no_code").message)
    try:
        token = fc.exchange_code(code, _absolute("franceconnect.callback"))
        claims = fc.verify_id_token(token["id_token"], pending["nonce"])
        info = fc.userinfo(token["access_token"], claims["sub"])
    except oidc.OidcError as error:
        status = 502 if error.message == oidc.UNAVAILABLE else 400
        return _failure(error.reason, error.message, status)
    identity = identities.record_identity(get_session(), {**info, "sub": claims["sub"]}, claims.get("acr", ""))
    account = identities.linked_account(get_session(), identity)
    target = pending.get("next") or url_for("main.home")
    if account is not None:
        return _sign_in(account, token["id_token"], target)
    cookie_session[IDENTITY] = identity.id
    cookie_session[ID_TOKEN] = token["id_token"]
    cookie_session["fc_next"] = target
    return redirect(url_for("franceconnect.first_sign_in"))


def _sign_in(account, id_token: str, target: str):
    cookie_session.clear()
    login_user(account)
    cookie_session[ID_TOKEN] = id_token
    return redirect(target)


def _first_page(create_form=None, link_form=None, status=200):
    try:
        identity = identities.pending(get_session(), cookie_session.get(IDENTITY))
    except DomainError as error:
        return render("franceconnect/error.html", message=error.message, status=400)
    create_form = create_form or CreateFromIdentityForm(
        formdata=None, data={"email": identity.email}, prefix="create"
    )
    link_form = link_form or LinkExistingForm(formdata=None, prefix="link")
    return render("franceconnect/first_sign_in.html", identity=identity,
                  create_form=create_form, link_form=link_form, status=status)


@bp.route("/connexion/franceconnect/premiere-connexion")
@public
def first_sign_in():
    """First sign-in with an unknown identity: create an account, or link one."""
    return _first_page()


@bp.route("/connexion/franceconnect/creer", methods=["POST"])
@public
def create_account():
    """Créer mon compte from the certified identity (no password needed)."""
    form = CreateFromIdentityForm(prefix="create")
    if form.validate_on_submit():
        # It says whether an address has an account: limited as the sign-in is.
        if not ratelimit.hit("sign_in", form.email.data):
            add_error(form, "email", ratelimit.MESSAGE)
            return _first_page(create_form=form, status=429)
        ok, result = attempt(
            form, identities.create_account, get_session(), settings(),
            cookie_session.get(IDENTITY), email=form.email.data,
            email_confirmed=form.email_confirmed.data, base_url=base_url(),
        )
        if ok:
            flash("Votre compte est créé avec votre identité FranceConnect.", "success")
            if result.email_verified_at is None:
                flash("Un lien de confirmation a été envoyé à votre adresse e-mail.", "info")
            return _finish(result)
        if isinstance(result, identities.PendingExpired):
            return render("franceconnect/error.html", message=result.message, status=400)
    return _first_page(create_form=form, status=422)


@bp.route("/connexion/franceconnect/rattacher", methods=["POST"])
@public
def link_account():
    """J'ai déjà un compte: prove it with its password once, then link."""
    form = LinkExistingForm(prefix="link")
    if form.validate_on_submit():
        # A password is checked: limited as the sign-in is.
        if not ratelimit.hit("sign_in", form.email.data):
            add_error(form, "password", ratelimit.MESSAGE)
            return _first_page(link_form=form, status=429)
        ok, result = attempt(
            form, identities.link_existing, get_session(), settings(),
            cookie_session.get(IDENTITY), email=form.email.data, password=form.password.data,
        )
        if ok:
            flash("Votre identité FranceConnect est rattachée à votre compte.", "success")
            return _finish(result)
        if isinstance(result, identities.PendingExpired):
            return render("franceconnect/error.html", message=result.message, status=400)
    return _first_page(link_form=form, status=422)


def _finish(account):
    id_token = cookie_session.get(ID_TOKEN, "")
    target = safe_next(cookie_session.get("fc_next")) or url_for("main.home")
    return _sign_in(account, id_token, target)


def end_session_redirect() -> str | None:
    """Where to send the browser after a local sign-out to end the provider session."""
    id_token = cookie_session.get(ID_TOKEN)
    fc = provider()
    if not id_token or fc is None:
        return None
    state = secrets.token_urlsafe(32)
    try:
        url = fc.end_session_url(id_token, state, _absolute("franceconnect.signed_out"))
    except oidc.OidcError:
        return None
    if url:
        cookie_session.clear()
        cookie_session[LOGOUT_STATE] = state
    return url


@bp.route("/deconnexion/franceconnect")
@public
def signed_out():
    """Back from the provider's sign-out."""
    expected = cookie_session.pop(LOGOUT_STATE, None)
    state = request.args.get("state", "")
    if expected and state and hmac.compare_digest(expected.encode(), state.encode()):
        flash("Vous êtes déconnecté, de ce portail et de FranceConnect.", "success")
    else:
        flash("Vous êtes déconnecté.", "success")
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    return redirect(url_for("auth.sign_in"))
