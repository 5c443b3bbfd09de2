"""Forms of the agenda."""

from flask_wtf.file import FileField
from wtforms import SelectChoice
from wtforms import TextAreaField
from wtforms.validators import Length
from wtforms.validators import Optional

from citoyen import filecheck
from citoyen.blueprints.fields import Checkboxes
from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import FrenchDateField
from citoyen.blueprints.fields import ListChoice
from citoyen.blueprints.fields import one_line_break
from citoyen.blueprints.fields import required
from citoyen.services.agenda import ABSENCE_MOTIVES
from citoyen.services.booking_rules import WEEKDAYS
from citoyen.services.documents import parse_id

DATE_HINT = "Exemple : 14/09/2026"
CERTIFICATE_HINT = filecheck.FORMATS + ". Vous pourrez aussi le joindre plus tard."


def _int_or_none(value):
    return parse_id(value)


def _weekday(value):
    """0 (Monday) to 6, or None."""
    text = str(value if value is not None else "").strip()
    return int(text) if text in ("0", "1", "2", "3", "4", "5", "6") else None


class EnrolForm(Form):
    child = ListChoice("Enfant", coerce=_int_or_none, validators=[required("Choisissez l'enfant.")],
                       message="Choisissez un enfant de la liste.")
    activity = ListChoice("Activité", coerce=_int_or_none, validators=[required("Choisissez l'activité.")],
                          message="Choisissez une activité de la liste.")
    start_date = FrenchDateField("Du", validators=[required("Indiquez le début de la période.")],
                                 description=DATE_HINT)
    end_date = FrenchDateField("Au", validators=[required("Indiquez la fin de la période.")],
                               description=DATE_HINT)

class EndEnrolmentForm(Form):
    last_day = FrenchDateField("Dernier jour", validators=[required("Indiquez le dernier jour de l'inscription.")],
                               description=DATE_HINT)


class BulkForm(Form):
    children = Checkboxes("Enfants", coerce=_int_or_none, message="Choisissez les enfants dans la liste.")
    activities = Checkboxes("Activités", coerce=_int_or_none, message="Choisissez les activités dans la liste.")
    start_date = FrenchDateField("Du", validators=[required("Indiquez le début de la période.")],
                                 description=DATE_HINT)
    end_date = FrenchDateField("Au", validators=[required("Indiquez la fin de la période.")],
                               description=DATE_HINT)
    weekdays = Checkboxes("Jours de la semaine", coerce=_weekday,
                          message="Choisissez les jours de la semaine dans la liste.",
                          choices=[SelectChoice(i, name.capitalize()) for i, name in enumerate(WEEKDAYS)])


class AbsenceForm(Form):
    child = ListChoice("Enfant", coerce=_int_or_none, validators=[required("Choisissez l'enfant.")],
                       message="Choisissez un enfant de la liste.")
    start_date = FrenchDateField("Du", validators=[required("Indiquez le premier jour d'absence.")],
                                 description=DATE_HINT)
    end_date = FrenchDateField("Au", validators=[required("Indiquez le dernier jour d'absence.")],
                               description=DATE_HINT)
    activities = Checkboxes("Activités concernées", coerce=_int_or_none,
                            message="Choisissez les activités dans la liste.",
                            description="Sans choix, toutes les réservations de ces jours sont annulées.")
    motive = ListChoice("Motif de l'absence", validators=[required("Choisissez le motif de l'absence.")],
                        message="Choisissez le motif de l'absence.",
                        choices=[SelectChoice("", "Choisissez…")]
                        + [SelectChoice(k, v) for k, v in ABSENCE_MOTIVES.items()])
    comment = TextAreaField("Précisions", filters=[one_line_break],
                            validators=[Optional(), Length(max=500, message=(
                                "Les précisions ne doivent pas dépasser 500 caractères."))],
                            render_kw={"maxlength": 500, "rows": 3})
    certificate = FileField("Certificat médical (facultatif)", description=CERTIFICATE_HINT,
                            render_kw={"accept": filecheck.ACCEPT_ATTRIBUTE})


class CertificateForm(Form):
    certificate = FileField("Certificat médical", description=filecheck.FORMATS,
                            render_kw={"accept": filecheck.ACCEPT_ATTRIBUTE})
