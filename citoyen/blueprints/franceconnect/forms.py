"""Forms of the first sign-in with FranceConnect."""

from wtforms import BooleanField
from wtforms import PasswordField
from wtforms.validators import Length

from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import consent_field
from citoyen.blueprints.fields import email_field
from citoyen.blueprints.fields import required


class CreateFromIdentityForm(Form):
    email = email_field()
    email_confirmed = BooleanField("Cette adresse e-mail est bien la mienne")
    accept_terms = consent_field(
        "J'accepte les conditions générales d'utilisation",
        "Vous devez accepter les conditions générales d'utilisation pour créer un compte.",
    )


class LinkExistingForm(Form):
    email = email_field(autocomplete="username")
    password = PasswordField(
        "Mot de passe",
        validators=[required("Indiquez votre mot de passe."), Length(max=128)],
        render_kw={"autocomplete": "current-password", "maxlength": 128},
    )
