"""Form fields with French messages and the HTML attributes they need."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import Form as WTForm
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.i18n import get_translations
from wtforms.validators import EqualTo
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import StopValidation
from wtforms.validators import ValidationError

from citoyen import passwords

DATE_MESSAGE = "Indiquez une date valide, au format JJ/MM/AAAA."


class _French:
    """WTForms' own messages in French, for a check that gives none of its
    own (a value sent by hand past the page's limits): the portal's words for
    the usual ones, WTForms' French catalogue for the others."""

    OURS = {
        "Not a valid choice.": "Choisissez dans la liste.",
        "Invalid Choice: could not coerce.": "Choisissez dans la liste.",
        "Invalid choice(s): one or more data inputs could not be coerced.": "Choisissez dans la liste.",
        "This field is required.": "Ce champ est obligatoire.",
        "Not a valid integer value.": "Indiquez un nombre entier.",
        "Not a valid decimal value.": "Indiquez un nombre.",
        "Not a valid date value.": DATE_MESSAGE,
        "Not a valid time value.": "Indiquez une heure, par exemple 12:00.",
        "Field cannot be longer than %(max)d characters.": "Ce champ ne doit pas dépasser %(max)d caractères.",
        "Field must be at least %(min)d characters long.": "Ce champ doit compter au moins %(min)d caractères.",
        "Field must be exactly %(max)d characters long.": "Ce champ doit compter exactement %(max)d caractères.",
        "Field must be between %(min)d and %(max)d characters long.":
            "Ce champ doit compter entre %(min)d et %(max)d caractères.",
    }

    def __init__(self) -> None:
        self.catalogue = get_translations(["fr"])

    def gettext(self, string: str) -> str:
        return self.OURS.get(string) or self.catalogue.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.OURS.get(plural) or self.catalogue.ngettext(singular, plural, n)


FRENCH = _French()


CONTROL_MESSAGE = "Ce champ contient un caractère non autorisé."
# C0 control characters (NUL included: PostgreSQL refuses it in text); a
# multi-line field keeps tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x1f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class NoControlCharacters:
    """Refuse control characters in typed text, in French, next to the field."""

    def __init__(self, multiline: bool = False):
        self.pattern = _CONTROL_MULTILINE if multiline else _CONTROL

    def __call__(self, form, field):
        if isinstance(field.data, str) and self.pattern.search(field.data):
            raise StopValidation(CONTROL_MESSAGE)


class _PortalMeta:
    """What every form of the portal shares: French messages, and no control
    character in any text field (each one is checked before its own checks)."""

    def get_translations(self, form):
        return FRENCH

    def bind_field(self, form, unbound_field, options):
        field = super().bind_field(form, unbound_field, options)
        if isinstance(field, StringField):
            check = NoControlCharacters(multiline=isinstance(field, TextAreaField))
            field.validators = [check, *field.validators]
        return field


class Form(FlaskForm):
    """The portal's forms: Flask-WTF's, with WTForms' own messages in French."""

    class Meta(_PortalMeta):
        pass


class Subform(WTForm):
    """A form without a token of its own (a GET form, or one repeated inside a
    portal form), in French too."""

    class Meta(_PortalMeta):
        pass


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
            raise ValueError(DATE_MESSAGE) from None


def _offered(field, value) -> bool:
    return value is not None and any(value == choice.value for choice in field.choices)


class ListChoice(SelectField):
    """A closed list whose refusal of a value it does not offer (another
    household's child, a made-up id, blanks) is said in French, next to the
    field. An empty choice is left to the field's ``required``."""

    def __init__(self, label=None, validators=None, message: str = "Choisissez dans la liste.", **kwargs):
        super().__init__(label, validators, validate_choice=False, **kwargs)
        self.message = message

    def pre_validate(self, form):
        if self.process_errors:  # the value could not even be read: WTForms said so
            return
        if any(str(raw) != "" for raw in self.raw_data or []) and not _offered(self, self.data):
            raise ValidationError(self.message)


class Checkboxes(SelectMultipleField):
    """Boxes to tick among a list; a value the list does not offer is
    refused in French, next to the boxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def __init__(self, label=None, validators=None, message: str = "Choisissez dans la liste.", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def pre_validate(self, form):
        if self.process_errors:  # the values could not even be read: WTForms said so
            return
        if not all(_offered(self, value) for value in self.data or []):
            raise ValidationError(self.message)


def one_line_break(text):
    """A line break as the browser counts it for ``maxlength`` (one
    character), not as the form sends it (CR LF, two)."""
    return text.replace("\r\n", "\n") if isinstance(text, str) else text
