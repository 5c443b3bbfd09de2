"""Form fields with French messages and the HTML attributes they need."""

from __future__ import annotations

from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import EqualTo
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import StopValidation

from citoyen import passwords


def required(message: str = "Ce champ est obligatoire.") -> InputRequired:
    return InputRequired(message=message)


def name_field(label: str, what: str, autocomplete: str) -> StringField:
    return StringField(
        label,
        validators=[
            required(f"Indiquez votre {what}."),
            Length(max=100, message=f"Le {what} ne doit pas dépasser 100 caractères."),
        ],
        render_kw={"autocomplete": autocomplete, "maxlength": 100},
    )


class ValidEmail:
    """The address must be one the portal can send mail to (same check as the services)."""

    def __call__(self, form, field):
        from citoyen.services.accounts import InvalidEmail
        from citoyen.services.accounts import normalise_email

        if not field.data:
            return
        try:
            normalise_email(field.data)
        except InvalidEmail as error:
            raise StopValidation(error.message) from None


def email_field(label: str = "Adresse e-mail", autocomplete: str = "email") -> EmailField:
    return EmailField(
        label,
        validators=[
            required("Indiquez votre adresse e-mail."),
            Length(max=254, message="L'adresse e-mail ne doit pas dépasser 254 caractères."),
            ValidEmail(),
        ],
        render_kw={
            "autocomplete": autocomplete,
            "maxlength": 254,
            "spellcheck": "false",
            "autocapitalize": "none",
        },
    )


def new_password_field(label: str = "Mot de passe") -> PasswordField:
    return PasswordField(
        label,
        validators=[required("Choisissez un mot de passe.")],
        render_kw={
            "autocomplete": "new-password",
            "minlength": 8,
            "maxlength": passwords.MAX_LENGTH,
            "pattern": passwords.HTML_PATTERN,
        },
        description=passwords.RULE_TEXT,
    )


def confirm_password_field(other: str, label: str = "Confirmer le mot de passe") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            required("Confirmez le mot de passe."),
            EqualTo(other, message="Les deux mots de passe ne sont pas identiques."),
        ],
        render_kw={"autocomplete": "new-password", "maxlength": passwords.MAX_LENGTH},
    )


def current_password_field(label: str = "Mot de passe actuel") -> PasswordField:
    return PasswordField(
        label,
        validators=[required("Indiquez votre mot de passe actuel.")],
        render_kw={"autocomplete": "current-password", "maxlength": passwords.MAX_LENGTH},
    )


def consent_field(label: str, message: str) -> BooleanField:
    return BooleanField(label, validators=[InputRequired(message=message)])


class FrenchDateField(DateField):
    """A date typed as 14/09/2018 (or picked in the browser's date control)."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%d", "%d/%m/%Y"], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Indiquez une date valide, par exemple 14/09/2018.") from None
