"""Sign-up, activation, sign-in, sign-out and recovery."""

from flask import current_app
from flask import flash
from flask import request
from flask import session as cookie_session
from flask import url_for
from flask_login import login_user
from flask_login import logout_user

from citoyen import ratelimit
from citoyen.access import anonymous_only
from citoyen.access import public
from citoyen.access import safe_next
from citoyen.blueprints.auth import bp
from citoyen.blueprints.auth.forms import BOT_MESSAGE
from citoyen.blueprints.auth.forms import EmailOnlyForm
from citoyen.blueprints.auth.forms import NewPasswordForm
from citoyen.blueprints.auth.forms import SignInForm
from citoyen.blueprints.auth.forms import SignUpForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.models.accounts import TOKEN_INVITATION
from citoyen.models.accounts import TOKEN_RESET
from citoyen.services import accounts
from citoyen.services.errors import DomainError


@bp.route("/inscription", methods=["GET", "POST"])
@anonymous_only
def sign_up():
    """Créer un compte: the account waits for its activation link."""
    form = SignUpForm()
    if form.validate_on_submit():
        if form.looks_automated():
            add_error(form, None, BOT_MESSAGE)
        elif not ratelimit.hit("sign_up", form.email.data):
            add_error(form, "email", ratelimit.MESSAGE)
            form.stamp()
            return render("auth/sign_up.html", block="form", form=form, status=429)
        else:
            ok, result = attempt(
                form,
                accounts.register,
                get_session(),
                settings(),
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                email=form.email.data,
                password=form.password.data,
                base_url=base_url(),
            )
            # An address that has an account gets the same answer (its owner is
            # told by mail): the page must not tell who has an account.
            if ok or isinstance(result, accounts.EmailTaken):
                return redirect(url_for("auth.sign_up_done"))
    form.stamp()
    return render("auth/sign_up.html", block="form", form=form, status=form_status(form))


@bp.route("/inscription/envoyee")
@public
def sign_up_done():
    """Tells the new user to open the activation mail."""
    return render("auth/sign_up_done.html", hours=current_app.config["ACTIVATION_HOURS"])


@bp.route("/activation/<token>")
@public
def activate(token: str):
    """Activates an account from the link of its activation mail."""
    try:
        accounts.activate(get_session(), settings(), token)
    except DomainError as error:
        get_session().rollback()
        return render(
            "auth/link_problem.html",
            message=error.message,
            form=EmailOnlyForm(),
            resend=True,
            status=400,
        )
    flash("Votre compte est activé. Vous pouvez maintenant vous connecter.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/activation/renvoyer", methods=["GET", "POST"])
@public
def resend_activation():
    """Sends a new activation link (same answer whether the address is known)."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        if not ratelimit.hit("recovery", form.email.data):
            add_error(form, "email", ratelimit.MESSAGE)
            return render("auth/resend_activation.html", block="form", form=form, status=429)
        accounts.resend_activation(get_session(), settings(), form.email.data, base_url())
        return render("auth/mail_sent.html", what="activation")
    return render("auth/resend_activation.html", block="form", form=form, status=form_status(form))


@bp.route("/connexion", methods=["GET", "POST"])
@anonymous_only
def sign_in():
    """Se connecter with the e-mail address and the password."""
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    not_activated = False
    if form.validate_on_submit():
        if not ratelimit.hit("sign_in", form.email.data):
            add_error(form, "password", ratelimit.MESSAGE)
            return render(
                "auth/sign_in.html", block="form", form=form, status=429, resend_form=None
            )
        ok, result = attempt(
            form,
            accounts.authenticate,
            get_session(),
            settings(),
            form.email.data,
            form.password.data,
        )
        if ok:
            target = safe_next(form.next.data) or url_for("main.home")
            # A new session: nothing from before the sign-in carries over.
            cookie_session.clear()
            login_user(result)
            return redirect(target)
        not_activated = isinstance(result, accounts.AccountNotActivated)
    resend_form = None
    if not_activated:
        resend_form = EmailOnlyForm(formdata=None, data={"email": form.email.data})
    return render(
        "auth/sign_in.html",
        block="form",
        form=form,
        resend_form=resend_form,
        status=form_status(form),
    )


@bp.route("/deconnexion", methods=["POST"])
def sign_out():
    """Se déconnecter (and from FranceConnect too, when that is how the person came)."""
    from citoyen.blueprints.franceconnect.views import end_session_redirect

    logout_user()
    provider_logout = end_session_redirect()
    if provider_logout:
        return redirect(provider_logout)
    cookie_session.clear()
    flash("Vous êtes déconnecté.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/mot-de-passe-oublie")
@public
def recovery():
    """Mot de passe ou identifiant oublié: the two choices."""
    return render("auth/recovery.html")


def _recovery_form(kind: str, service, template: str):
    form = EmailOnlyForm()
    if form.validate_on_submit():
        if not ratelimit.hit("recovery", form.email.data):
            add_error(form, "email", ratelimit.MESSAGE)
            return render(template, block="form", form=form, status=429)
        service(get_session(), settings(), form.email.data, base_url())
        return render("auth/mail_sent.html", what=kind)
    return render(template, block="form", form=form, status=form_status(form))


@bp.route("/mot-de-passe-oublie/mot-de-passe", methods=["GET", "POST"])
@public
def lost_password():
    """J'ai perdu mon mot de passe: mails a reset link."""
    return _recovery_form("reset", accounts.request_password_reset, "auth/lost_password.html")


@bp.route("/mot-de-passe-oublie/identifiant", methods=["GET", "POST"])
@public
def lost_identifier():
    """J'ai perdu mon identifiant: mails a reminder of the identifier."""
    return _recovery_form("identifier", accounts.remind_identifier, "auth/lost_identifier.html")


def _set_password(token: str, purpose: str, title: str, done_message: str):
    try:
        accounts.peek_token(get_session(), settings(), token, purpose)
    except DomainError as error:
        return render("auth/link_problem.html", message=error.message, resend=False, status=400)
    form = NewPasswordForm()
    if form.validate_on_submit():
        ok, result = attempt(
            form,
            accounts.reset_password,
            get_session(),
            settings(),
            token,
            form.password.data,
            purpose=purpose,
        )
        if ok:
            logout_user()
            cookie_session.clear()
            flash(done_message, "success")
            return redirect(url_for("auth.sign_in"))
        if not result.field:
            return render(
                "auth/link_problem.html", message=result.message, resend=False, status=400
            )
    return render(
        "auth/new_password.html", block="form", form=form, title=title, status=form_status(form)
    )


@bp.route("/mot-de-passe/nouveau/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Choose a new password from the link of a reset mail."""
    return _set_password(
        token,
        TOKEN_RESET,
        "Choisir un nouveau mot de passe",
        "Votre mot de passe a été modifié. Vous pouvez vous connecter.",
    )


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """Choose the first password of an account created by the town hall."""
    return _set_password(
        token,
        TOKEN_INVITATION,
        "Choisir votre mot de passe",
        "Votre mot de passe est enregistré. Vous pouvez vous connecter.",
    )
