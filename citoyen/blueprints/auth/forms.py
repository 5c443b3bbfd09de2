"""Forms of sign-up, sign-in and recovery."""

import time

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import TimestampSigner
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import Length

from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import confirm_password_field
from citoyen.blueprints.fields import consent_field
from citoyen.blueprints.fields import email_field
from citoyen.blueprints.fields import name_field
from citoyen.blueprints.fields import new_password_field
from citoyen.blueprints.fields import required

BOT_MESSAGE = (
    "Le formulaire a été envoyé trop vite pour avoir été rempli par une personne. "
    "Vérifiez vos informations puis cliquez à nouveau sur « S'inscrire »."
)


def _signer() -> TimestampSigner:
    return TimestampSigner(current_app.config["SECRET_KEY"], salt="citoyen-signup-started")


class SignUpForm(Form):
    last_name = name_field("Nom", "nom", "family-name")
    first_name = name_field("Prénom", "prénom", "given-name")
    email = email_field()
    password = new_password_field()
    confirm = confirm_password_field("password")
    accept_terms = consent_field(
        "J'accepte les conditions générales d'utilisation",
        "Vous devez accepter les conditions générales d'utilisation pour créer un compte.",
    )
    # Anti-bot: a field people never see nor fill, and the time the form was shown.
    website = StringField(
        "Site web (laissez ce champ vide)", render_kw={"autocomplete": "off", "tabindex": "-1"}
    )
    started = HiddenField()

    def stamp(self) -> None:
        self.started.data = _signer().sign(str(int(time.time()))).decode()

    def looks_automated(self) -> bool:
        if self.website.data:
            return True
        try:
            _signer().unsign(self.started.data or "", max_age=24 * 3600)
        except BadSignature:
            return True
        try:
            shown = int(_signer().unsign(self.started.data).decode())
        except (BadSignature, ValueError):
            return True
        return time.time() - shown < current_app.config["SIGNUP_MIN_SECONDS"]


class SignInForm(Form):
    email = email_field(autocomplete="username")
    password = PasswordField(
        "Mot de passe",
        validators=[required("Indiquez votre mot de passe."), Length(max=128)],
        render_kw={"autocomplete": "current-password", "maxlength": 128},
    )
    next = HiddenField()


class EmailOnlyForm(Form):
    email = email_field()


class NewPasswordForm(Form):
    password = new_password_field("Nouveau mot de passe")
    confirm = confirm_password_field("password", "Confirmer le nouveau mot de passe")
