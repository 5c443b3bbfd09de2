"""Forms of the back office."""

from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length

from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import email_field
from citoyen.blueprints.fields import name_field
from citoyen.blueprints.fields import one_line_break
from citoyen.services.backoffice import ROLE_LABELS
from citoyen.services.booking_rules import SCHOOL_ZONES
from citoyen.services.changes import REFUSAL_REASONS


class RoleForm(Form):
    role = SelectField("Rôle", choices=[SelectChoice(v, label) for v, label in ROLE_LABELS.items()])


class NewAgentForm(Form):
    last_name = name_field("Nom", "nom", "off")
    first_name = name_field("Prénom", "prénom", "off")
    email = email_field(autocomplete="off")
    role = SelectField(
        "Rôle", choices=[SelectChoice("agent", "Agent"), SelectChoice("admin", "Administrateur")]
    )


def _text(label, limit, area=False, autocomplete="off", description=""):
    cls = TextAreaField if area else StringField
    return cls(
        label,
        description=description,
        filters=[one_line_break] if area else [],
        validators=[
            Length(max=limit, message=f"Ce champ ne doit pas dépasser {limit} caractères.")
        ],
        render_kw={"maxlength": limit, "autocomplete": autocomplete},
    )


class ContactForm(Form):
    service_name = _text("Service", 150)
    phone = _text("Téléphone", 30, autocomplete="tel")
    email = _text("Adresse e-mail", 254, autocomplete="email")
    address = _text("Adresse", 500, area=True)
    opening_hours = _text("Horaires d'ouverture", 1000, area=True)


class CommuneForm(Form):
    """The commune's name and the postcodes families find it by."""

    name = _text("Nom de la commune", 150)
    # Room for the separators typed; the service counts the codes themselves.
    postcodes = _text(
        "Codes postaux", 300,
        description="Les familles trouvent la commune par son code postal (5 chiffres). Plusieurs "
        "codes se séparent par des espaces, par exemple 45990 45991.",
    )


class SchoolZoneForm(Form):
    # The service says which zones exist (and in French): no English "Not a valid choice".
    school_zone = SelectField(
        "Zone de vacances scolaires",
        choices=[SelectChoice(zone, label) for zone, label in SCHOOL_ZONES.items()],
        validate_choice=False,
        description="Les activités « Fermée pendant les vacances scolaires » sont fermées pendant "
        "les vacances de cette zone ; celles « Ouverte seulement pendant les vacances "
        "scolaires » n'ouvrent que pendant ces vacances.",
    )


class RefusalForm(Form):
    reason_choice = SelectField(
        "Motif du refus",
        choices=[SelectChoice("", "Choisir un motif…")]
        + [SelectChoice(r, r) for r in REFUSAL_REASONS],
        validate_choice=False,
    )
    reason_text = TextAreaField("Ou motif saisi", filters=[one_line_break], render_kw={"maxlength": 500},
                                validators=[Length(max=500, message="Le motif ne doit pas dépasser 500 caractères.")])


class NewCommuneForm(CommuneForm):
    school_zone = SelectField(
        "Zone de vacances scolaires",
        choices=[SelectChoice("", "Choisir une zone…")]
        + [SelectChoice(zone, label) for zone, label in SCHOOL_ZONES.items()],
        validate_choice=False,
        description=SchoolZoneForm.school_zone.kwargs["description"],
    )
