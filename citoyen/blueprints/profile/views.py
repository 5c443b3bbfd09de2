"""Mon profil: password, identifier, notification preference, deletion."""

from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from citoyen import ratelimit
from citoyen.access import public
from citoyen.blueprints.fields import Form
from citoyen.blueprints.profile import bp
from citoyen.blueprints.profile.forms import ChangeEmailForm
from citoyen.blueprints.profile.forms import ChangePasswordForm
from citoyen.blueprints.profile.forms import DeleteAccountForm
from citoyen.blueprints.profile.forms import NotificationsForm
from citoyen.blueprints.profile.forms import SetPasswordForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import confirm_page
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import accounts
from citoyen.services import identities
from citoyen.services.errors import DomainError


@bp.route("/")
def show():
    """Mon profil: who I am and what I can change."""
    return render(
        "profile/show.html",
        identity=identities.for_account(get_session(), current_user),
        action_form=Form(),
    )


@bp.route("/franceconnect/detacher", methods=["GET", "POST"])
def unlink_franceconnect():
    """Détacher FranceConnect (only once the account has a password), after a confirmation page."""
    if request.method == "GET":
        identity = identities.for_account(get_session(), current_user)
        if identity is None or current_user.password_hash is None:
            return redirect(url_for("profile.show"))
        return confirm_page(
            "Détacher FranceConnect de mon compte",
            [f"Vous vous connecterez avec votre identifiant, {current_user.email}, et votre mot de passe. "
             "Vous pourrez rattacher FranceConnect de nouveau en vous connectant avec FranceConnect."],
            "Détacher FranceConnect", url_for("profile.unlink_franceconnect"), url_for("profile.show"))
    ok, error = attempt(None, identities.unlink, get_session(), current_user)
    flash("FranceConnect est détaché de votre compte." if ok else error.message,
          "success" if ok else "error")
    return redirect(url_for("profile.show"))


def _may_check_password(form, field: str) -> bool:
    """The current password may be tried again (rate limited: a session left
    open must not let anyone guess it); else the message sits at the field."""
    if ratelimit.hit("password_check", current_user.email):
        return True
    add_error(form, field, ratelimit.MESSAGE)
    return False


@bp.route("/mot-de-passe", methods=["GET", "POST"])
def change_password():
    """Modifier mon mot de passe (asks the current one); other sessions end."""
    has_password = current_user.password_hash is not None
    form = ChangePasswordForm() if has_password else SetPasswordForm()
    if form.validate_on_submit() and (not has_password or _may_check_password(form, "current_password")):
        ok, _ = attempt(
            form,
            accounts.change_password,
            get_session(),
            current_user,
            form.current_password.data if has_password else "",
            form.new_password.data,
        )
        if ok:
            # The session epoch changed: keep this session, end the others.
            login_user(current_user._get_current_object())
            flash("Votre mot de passe a été modifié.", "success")
            return redirect(url_for("profile.show"))
    return render(
        "profile/password.html",
        block="form",
        form=form,
        has_password=has_password,
        status=form_status(form),
    )


@bp.route("/identifiant", methods=["GET", "POST"])
def change_email():
    """Modifier mon identifiant: a confirmation link goes to the new address."""
    form = ChangeEmailForm()
    if form.validate_on_submit() and _may_check_password(form, "password"):
        ok, _ = attempt(
            form,
            accounts.request_email_change,
            get_session(),
            settings(),
            current_user,
            form.new_email.data,
            form.password.data,
            base_url(),
        )
        if ok:
            return render("profile/email_sent.html", new_email=form.new_email.data.strip().lower())
    return render("profile/email.html", block="form", form=form, status=form_status(form))


@bp.route("/identifiant/confirmer/<token>")
@public
def confirm_email(token: str):
    """The link sent to the new address: the identifier changes."""
    try:
        accounts.confirm_email_change(get_session(), settings(), token)
    except DomainError as error:
        get_session().rollback()
        return render("auth/link_problem.html", message=error.message, resend=False, status=400)
    flash("Votre identifiant a été modifié : utilisez désormais votre nouvelle adresse.", "success")
    if current_user.is_authenticated:
        return redirect(url_for("profile.show"))
    return redirect(url_for("auth.sign_in"))


@bp.route("/notifications", methods=["GET", "POST"])
def notifications():
    """Préférences de notification: messages by mail or not."""
    # An unticked box sends nothing: read the posted form even when it looks empty.
    form = NotificationsForm(
        formdata=request.form if request.method == "POST" else None,
        data={"email_notifications": current_user.email_notifications},
    )
    if form.validate_on_submit():
        accounts.set_email_notifications(get_session(), current_user, form.email_notifications.data)
        flash("Vos préférences de notification sont enregistrées.", "success")
        return redirect(url_for("profile.show"))
    return render("profile/notifications.html", block="form", form=form, status=form_status(form))


@bp.route("/supprimer", methods=["GET", "POST"])
def delete():
    """Supprimer mon compte, after a confirmation."""
    form = DeleteAccountForm()
    if form.validate_on_submit() and _may_check_password(form, "password"):
        ok, _ = attempt(
            form,
            accounts.delete_account,
            get_session(),
            current_user._get_current_object(),
            form.password.data,
        )
        if ok:
            logout_user()
            flash("Votre compte a été supprimé.", "success")
            return redirect(url_for("main.home"))
    return render("profile/delete.html", block="form", form=form, status=form_status(form))
