"""The « Relevé de compte » form (a GET form: it only reads) and its PDF answer,
shared by the family's Paiements page and the agent's account page."""

from datetime import date

from flask import make_response
from wtforms import RadioField
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from citoyen.blueprints.fields import Subform
from citoyen.pdf.statement import MONTHS
from citoyen.services import ledger

FIRST_YEAR = 2020


class StatementForm(Subform):
    periode = SelectField("Période", choices=[
        SelectChoice("annee", "Une année"), SelectChoice("mois", "Un mois"),
        SelectChoice("tout", "Tous les mois")], default="annee")
    annee = SelectField("Année")
    mois = SelectField("Mois", description="Pour un relevé d'un mois",
                       choices=[SelectChoice(str(i), m) for i, m in enumerate(MONTHS, start=1)])
    detail = RadioField("Présentation", choices=[
        SelectChoice("detaille", "Détaillé (chaque mouvement)"),
        SelectChoice("simplifie", "Simplifié (un total par mois)")], default="detaille")

    def __init__(self, formdata=None, **kwargs):
        today = date.today()
        super().__init__(formdata, **{"annee": str(today.year), "mois": str(today.month), **kwargs})
        self.annee.choices = [SelectChoice(str(y), str(y)) for y in range(today.year, FIRST_YEAR - 1, -1)]


def pdf_response(session, household, form: StatementForm):
    """The PDF, or None when the form is not valid (its errors are at the fields)."""
    if not form.validate():
        return None
    year = None if form.periode.data == "tout" else int(form.annee.data)
    month = int(form.mois.data) if form.periode.data == "mois" else None
    pdf = ledger.statement_pdf(session, household, year, month, form.detail.data == "detaille")
    name = "releve-compte-" + (f"{year}" if year else "complet") + (f"-{month:02d}" if month else "")
    return pdf_download(pdf, name)


def pdf_download(pdf: bytes, name: str):
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response
