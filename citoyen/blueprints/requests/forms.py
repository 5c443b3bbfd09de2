"""Forms of « Mes demandes » (the family's side and the town hall's)."""

from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length

from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import ListChoice
from citoyen.blueprints.fields import one_line_break
from citoyen.blueprints.fields import required
from citoyen.services.documents import parse_id
from citoyen.services.requests import BODY_LIMIT
from citoyen.services.requests import SUBJECT_LIMIT


class RequestForm(Form):
    household = ListChoice("Foyer", coerce=parse_id, message="Choisissez un foyer de la liste.")
    kind = ListChoice("Type de demande", validators=[required("Choisissez le type de demande.")],
                      message="Choisissez le type de demande dans la liste.")
    subject = StringField("Objet", validators=[
        required("Indiquez l'objet de la demande."),
        Length(max=SUBJECT_LIMIT, message=f"L'objet ne doit pas dépasser {SUBJECT_LIMIT} caractères.")],
        render_kw={"maxlength": SUBJECT_LIMIT, "autocomplete": "off"})
    body = TextAreaField("Votre demande", filters=[one_line_break], validators=[
        Length(max=BODY_LIMIT, message=f"La demande ne doit pas dépasser {BODY_LIMIT} caractères.")],
        description="Ce que vous demandez, et tout ce qui aide la mairie à y répondre. Obligatoire pour envoyer la demande.",
        render_kw={"maxlength": BODY_LIMIT, "rows": 8})


class MessageForm(Form):
    message = TextAreaField("Votre message", filters=[one_line_break], validators=[
        required("Écrivez votre message."),
        Length(max=BODY_LIMIT, message=f"Le message ne doit pas dépasser {BODY_LIMIT} caractères.")],
        render_kw={"maxlength": BODY_LIMIT, "rows": 4})


class CloseForm(Form):
    note = TextAreaField("Message à la famille (facultatif)", filters=[one_line_break], validators=[
        Length(max=BODY_LIMIT, message=f"Le message ne doit pas dépasser {BODY_LIMIT} caractères.")],
        render_kw={"maxlength": BODY_LIMIT, "rows": 3})


class RefuseForm(Form):
    reason = TextAreaField("Motif du refus", filters=[one_line_break], validators=[
        required("Indiquez le motif du refus : la famille le lira."),
        Length(max=500, message="Le motif ne doit pas dépasser 500 caractères.")],
        render_kw={"maxlength": 500, "rows": 3})
