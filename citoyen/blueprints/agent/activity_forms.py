"""Forms of the activities in the back office."""

from wtforms import BooleanField
from wtforms import IntegerField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import TimeField
from wtforms.validators import Length

from citoyen.blueprints.fields import Checkboxes
from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import FrenchDateField
from citoyen.blueprints.fields import ListChoice
from citoyen.blueprints.fields import one_line_break
from citoyen.blueprints.fields import required
from citoyen.services.activities import RULE_LABELS
from citoyen.services.activities import SCHOOL_HOLIDAYS
from citoyen.services.booking_rules import WEEKDAYS


class Number(IntegerField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Indiquez un nombre entier, par exemple 30.") from None


class Clock(TimeField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Indiquez une heure, par exemple 12:00.") from None


def _choices(mapping):
    return [SelectChoice(k, v) for k, v in mapping.items()]


class ActivityForm(Form):
    name = StringField("Nom de l'activité", validators=[required("Indiquez le nom de l'activité."), Length(max=150)],
                       render_kw={"maxlength": 150})
    site_id = ListChoice("Lieu", coerce=int, message="Choisissez le lieu.",
                         validators=[required("Choisissez le lieu.")])
    weekdays = Checkboxes("Jours d'ouverture", coerce=str, message="Choisissez les jours d'ouverture dans la liste.",
                          choices=[SelectChoice(str(i), d.capitalize()) for i, d in enumerate(WEEKDAYS)])
    start_time = Clock("Heure de début", validators=[required("Indiquez l'heure de début.")])
    end_time = Clock("Heure de fin", validators=[required("Indiquez l'heure de fin.")])
    default_capacity = Number("Capacité par jour", validators=[required("Indiquez la capacité.")],
                              description="Nombre de places ; chaque jour peut ensuite avoir la sienne.")
    school_holidays = SelectField("Vacances scolaires", choices=_choices(SCHOOL_HOLIDAYS))
    needs_validation = BooleanField("L'inscription doit être validée par la mairie")
    book_kind = SelectField("Réservation possible jusqu'à", choices=_choices(RULE_LABELS))
    book_hours = Number("Nombre d'heures avant le début (réservation)", default=48)
    book_days = Number("Nombre de jours avant, ou jour de la semaine 0 = lundi … 6 = dimanche (réservation)",
                       default=1)
    book_time = Clock("Heure limite (réservation)")
    cancel_kind = SelectField("Annulation possible jusqu'à", choices=_choices(RULE_LABELS))
    cancel_hours = Number("Nombre d'heures avant le début (annulation)", default=48)
    cancel_days = Number("Nombre de jours avant, ou jour de la semaine 0 = lundi … 6 = dimanche (annulation)",
                         default=1)
    cancel_time = Clock("Heure limite (annulation)")
    working_days = BooleanField("Compter en jours ouvrés (sans week-ends ni jours fériés)")
    opens_days_ahead = Number("La réservation ouvre combien de jours à l'avance", default=365)
    confirm = BooleanField("Je confirme, même si des réservations sont concernées")


class SiteForm(Form):
    name = StringField("Nom du lieu", validators=[required("Indiquez le nom du lieu."), Length(max=150)],
                       render_kw={"maxlength": 150})
    organisation_id = ListChoice("Commune", coerce=int, message="Choisissez la commune.",
                                 validators=[required("Choisissez la commune.")])


class ClosureForm(Form):
    start_date = FrenchDateField("Du", validators=[required("Indiquez le premier jour.")],
                                 description="Exemple : 14/09/2026")
    end_date = FrenchDateField("Au", validators=[required("Indiquez le dernier jour.")],
                               description="Exemple : 14/09/2026")
    reason = StringField("Motif de la fermeture", validators=[required("Indiquez le motif."), Length(max=200)],
                         render_kw={"maxlength": 200}, description="Les familles le lisent, par exemple « Grève ».")
    whole_site = BooleanField("Fermer toutes les activités du lieu")


class CapacityForm(Form):
    day = FrenchDateField("Jour", validators=[required("Indiquez le jour.")], description="Exemple : 14/09/2026")
    capacity = Number("Capacité ce jour-là", validators=[required("Indiquez la capacité.")])
    confirm = BooleanField("Je confirme, même si des réservations dépassent cette capacité")


class DecisionForm(Form):
    reason = TextAreaField("Motif du refus", filters=[one_line_break],
                           validators=[Length(max=500, message="Le motif ne doit pas dépasser 500 caractères.")],
                           render_kw={"maxlength": 500, "rows": 2})
