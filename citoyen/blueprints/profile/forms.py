"""Forms of "Mon profil"."""

from wtforms import BooleanField

from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import confirm_password_field
from citoyen.blueprints.fields import consent_field
from citoyen.blueprints.fields import current_password_field
from citoyen.blueprints.fields import email_field
from citoyen.blueprints.fields import new_password_field


class ChangePasswordForm(Form):
    current_password = current_password_field()
    new_password = new_password_field("Nouveau mot de passe")
    confirm = confirm_password_field("new_password", "Confirmer le nouveau mot de passe")


class SetPasswordForm(Form):
    """For an account that has no password yet."""

    new_password = new_password_field("Nouveau mot de passe")
    confirm = confirm_password_field("new_password", "Confirmer le nouveau mot de passe")


class ChangeEmailForm(Form):
    new_email = email_field("Nouvelle adresse e-mail")
    password = current_password_field("Mot de passe")


class NotificationsForm(Form):
    email_notifications = BooleanField("Recevoir aussi mes messages par courriel")


class DeleteAccountForm(Form):
    password = current_password_field("Mot de passe")
    confirm = consent_field(
        "Je comprends que mon compte et mes messages seront supprimés définitivement",
        "Cochez la case pour confirmer la suppression.",
    )
