"""Espace agent: a household's compte d'avance, cash payments and refunds."""

import secrets
from datetime import date
from datetime import timedelta

from flask import abort
from flask import current_app
from flask import flash
from flask import make_response
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import FieldList
from wtforms import FormField
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget

from citoyen.access import admin_required
from citoyen.access import household_or_404
from citoyen.blueprints import statements
from citoyen.blueprints.agent import bp
from citoyen.blueprints.agent.activities import activity_or_404
from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import FrenchDateField
from citoyen.blueprints.fields import ListChoice
from citoyen.blueprints.fields import Subform
from citoyen.blueprints.fields import required
from citoyen.blueprints.household.forms import chosen_organisation
from citoyen.blueprints.statements import StatementForm
from citoyen.blueprints.statements import pdf_download
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.htmx import is_fragment_request
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.models import BillingRun
from citoyen.services import billing
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services import organisations
from citoyen.services import payments
from citoyen.services.errors import NotFound
from citoyen.services.households import format_cents
from citoyen.timefmt import commune_today


def _amount():
    return StringField("Montant", validators=[required("Indiquez le montant."), Length(max=20)],
                       description="En euros, par exemple 42,50",
                       render_kw={"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"})


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _key():
    """Made when the form is shown, sent back with it: the same submission
    twice (a double click, a reload) records once."""
    return HiddenField(default=_new_key, validators=[Length(max=64)])


def _fresh(form):
    """A form shown again with errors recorded nothing: a new key, so that what
    the agent sends next is a new submission."""
    form.idempotency_key.data = _new_key()
    return form


class CashForm(Form):
    idempotency_key = _key()
    amount = _amount()
    note = StringField("Commentaire", validators=[Length(max=120)], description="Facultatif",
                       render_kw={"maxlength": 120})


class RefundForm(Form):
    idempotency_key = _key()
    amount = _amount()
    reason = StringField("Motif du remboursement", validators=[
        required("Indiquez le motif du remboursement."), Length(max=120)], render_kw={"maxlength": 120})


class CreditNoteForm(Form):
    idempotency_key = _key()
    # Only the household's open invoices are offered: any other value (another
    # household's invoice, a made-up number) is refused at the field.
    invoice = ListChoice("Facture corrigée", validators=[required("Choisissez la facture à corriger.")],
                         message="Choisissez la facture à corriger.")
    amount = _amount()
    reason = StringField("Motif de l'avoir", validators=[
        required("Indiquez le motif de l'avoir."), Length(max=150)], render_kw={"maxlength": 150},
        description="Il figure sur l'avoir envoyé à la famille.")


def _credit_choices(found) -> list[SelectChoice]:
    """The invoices an avoir may correct: those with something left to pay."""
    return [SelectChoice(str(i.id), f"{i.number} — reste {format_cents(left)}")
            for i, left in found if i.kind == "invoice" and left > 0]


def _page(household, cash=None, refund=None, status=200, statement=None, credit=None):
    session = get_session()
    found = invoices.of_household(session, household.id)
    credit = credit or CreditNoteForm(prefix="avoir", formdata=None)
    credit.invoice.choices = _credit_choices(found)
    return render(
        "agent/ledger.html", household=household, balance=ledger.balance(session, household.id),
        entries=ledger.entries(session, household.id), format_cents=format_cents,
        payments=payments.payments_of(session, household.id),
        cash=cash or CashForm(prefix="cash", formdata=None),
        refund=refund or RefundForm(prefix="refund", formdata=None), status=status,
        statement=statement or StatementForm(), invoices=found, credit=credit,
        state=invoices.state,
    )


@bp.route("/foyers/<int:household_id>/compte")
def household_account(household_id: int):
    """Compte d'avance d'un foyer: balance, movements, payments."""
    return _page(household_or_404(current_user, household_id))


@bp.route("/foyers/<int:household_id>/compte/especes", methods=["POST"])
def record_cash(household_id: int):
    """Enregistrer un paiement en espèces (les chèques ne sont pas acceptés)."""
    household = household_or_404(current_user, household_id)
    form = CashForm(prefix="cash")
    if form.validate_on_submit():
        ok, entry = attempt(form, ledger.record_cash, get_session(), current_user, household,
                            form.amount.data, form.note.data, key=form.idempotency_key.data)
        if ok:
            flash(f"Paiement en espèces de {format_cents(entry.amount_cents)} enregistré.", "success")
            return redirect(url_for("agent.household_account", household_id=household.id))
    return _page(household, cash=_fresh(form), status=422)


@bp.route("/foyers/<int:household_id>/compte/remboursement", methods=["POST"])
def refund(household_id: int):
    """Rembourser la famille, au plus le solde."""
    household = household_or_404(current_user, household_id)
    form = RefundForm(prefix="refund")
    if form.validate_on_submit():
        ok, entry = attempt(form, ledger.refund, get_session(), current_user, household,
                            form.amount.data, form.reason.data, key=form.idempotency_key.data)
        if ok:
            flash(f"Remboursement de {format_cents(-entry.amount_cents)} enregistré.", "success")
            return redirect(url_for("agent.household_account", household_id=household.id))
    return _page(household, refund=_fresh(form), status=422)


@bp.route("/foyers/<int:household_id>/compte/releve")
def household_statement(household_id: int):
    """Relevé de compte d'un foyer, au format PDF."""
    household = household_or_404(current_user, household_id)
    form = StatementForm(request.args)
    response = statements.pdf_response(get_session(), household, form)
    return response if response is not None else _page(household, status=422, statement=form)


@bp.route("/foyers/<int:household_id>/factures/<int:invoice_id>.pdf")
def household_invoice_pdf(household_id: int, invoice_id: int):
    """Une facture ou un avoir d'un foyer, au format PDF."""
    household = household_or_404(current_user, household_id)
    try:
        invoice = invoices.get_for(get_session(), household, invoice_id)
    except NotFound:
        abort(404)
    return pdf_download(invoices.pdf(get_session(), invoice), invoice.number)


@bp.route("/foyers/<int:household_id>/avoir", methods=["POST"])
def credit_note(household_id: int):
    """Créer un avoir: a correction is a new document, never an edit."""
    household = household_or_404(current_user, household_id)
    form = CreditNoteForm(prefix="avoir")
    # Any invoice of the household is read: the form sent twice names one the
    # first avoir settled, and the service answers with that avoir. The page
    # offers only those with something left to pay.
    form.invoice.choices = [SelectChoice(str(i.id), i.number)
                            for i, _left in invoices.of_household(get_session(), household.id)
                            if i.kind == "invoice"]
    if form.validate_on_submit():
        ok, note = attempt(form, invoices.credit_note, get_session(), current_user, household,
                           int(form.invoice.data), form.amount.data, form.reason.data,
                           key=form.idempotency_key.data)
        if ok:
            flash(f"Avoir {note.number} de {format_cents(note.amount_cents)} créé.", "success")
            return redirect(url_for("agent.household_account", household_id=household.id))
        if isinstance(note, NotFound):
            add_error(form, "invoice", "Choisissez la facture à corriger.")
    return _page(household, status=422, credit=_fresh(form))


class ExportForm(Form):
    class Meta:
        csrf = False  # a GET form: it only reads

    start = FrenchDateField("Du", validators=[required("Indiquez la date de début.")],
                            description="Exemple : 01/09/2026")
    end = FrenchDateField("Au", validators=[required("Indiquez la date de fin.")],
                          description="Exemple : 30/09/2026")


FILTERS = {"tous": (False, 0), "negatifs": (True, 0), "negatifs15": (True, 15)}


def _balances_page(export=None, status=200):
    session = get_session()
    communes = organisations.all_organisations(session)
    chosen = request.args.get("commune", "")
    organisation_id = next((o.id for o in communes if str(o.id) == chosen), None)
    shown = request.args.get("filtre", "tous")
    negative_only, days = FILTERS.get(shown, FILTERS["tous"])
    states = ledger.balances(session, current_user, organisation_id, negative_only, days)
    return render("agent/balances.html", states=states, communes=communes, chosen=chosen,
                  shown=shown if shown in FILTERS else "tous", format_cents=format_cents,
                  export=export or ExportForm(formdata=None), status=status)


@bp.route("/soldes")
def balances():
    """Soldes des comptes d'avance, filtrés (négatifs, négatifs depuis plus de 15 jours)."""
    return _balances_page()


@bp.route("/soldes/export.csv")
def export_movements():
    """Export des mouvements pour la trésorerie, au format CSV."""
    form = ExportForm(request.args)
    if form.validate():
        ok, content = attempt(form, ledger.export_csv, get_session(), current_user, form.start.data,
                              form.end.data)
        if ok:
            response = make_response(content.encode("utf-8-sig"))
            response.headers["Content-Type"] = "text/csv; charset=utf-8"
            response.headers["Content-Disposition"] = (
                f'attachment; filename="mouvements-{form.start.data:%Y%m%d}-{form.end.data:%Y%m%d}.csv"')
            return response
    return _balances_page(export=form, status=422)


# ---------------------------------------------------------------- prices and the monthly run

class BracketForm(Subform):
    ceiling = StringField("Quotient familial jusqu'à", validators=[Length(max=6)],
                          render_kw={"inputmode": "numeric", "maxlength": 6})
    price = StringField("Prix de la journée", validators=[Length(max=12)],
                        render_kw={"inputmode": "decimal", "maxlength": 12})


class PricesForm(Form):
    brackets = FieldList(FormField(BracketForm), min_entries=billing.MAX_BRACKETS,
                         max_entries=billing.MAX_BRACKETS)


@bp.route("/activites/<int:activity_id>/tarifs", methods=["GET", "POST"])
def activity_prices(activity_id: int):
    """Tarifs d'une activité, par tranche de quotient familial."""
    session = get_session()
    activity = activity_or_404(activity_id)
    if request.method == "POST":
        form = PricesForm()
        if form.validate_on_submit():
            rows = [(entry.ceiling.data, entry.price.data) for entry in form.brackets]
            ok, _ = attempt(form, billing.set_prices, session, current_user, activity.id, rows)
            if ok:
                flash(f"Les tarifs de « {activity.name} » sont enregistrés.", "success")
                return redirect(url_for("agent.activity_prices", activity_id=activity.id))
    else:
        current = billing.brackets_of(session, [activity.id]).get(activity.id, [])
        form = PricesForm(data={"brackets": [
            {"ceiling": "" if b.max_quotient is None else str(b.max_quotient),
             "price": f"{b.price_cents / 100:.2f}".replace(".", ",")} for b in current]})
    return render("agent/prices.html", activity=activity, form=form, status=form_status(form))


def _month_of(value: str | None) -> date | None:
    """« 2026-11-01 » or « 2026-11 » → the first of that month; None otherwise."""
    for text in (value or "", (value or "") + "-01"):
        try:
            asked = date.fromisoformat(text).replace(day=1)
            return asked if 2000 <= asked.year <= 2100 else None
        except ValueError:
            continue
    return None


class MonthChoice(ListChoice):
    """One of the ended months offered; a month not ended yet is told when it ends."""

    def pre_validate(self, form):
        try:
            super().pre_validate(form)
        except ValidationError:
            asked = _month_of(self.data)
            raise ValidationError((billing.unfinished_month(asked) if asked else None)
                                  or self.message) from None


class RunForm(Form):
    organisation_id = SelectField("Commune", coerce=str, validate_choice=False)
    month = MonthChoice("Mois", validators=[required("Choisissez le mois à facturer.")],
                        message="Choisissez le mois à facturer dans la liste.")


def _months(today: date) -> list[date]:
    """The months that may be billed: the last twelve that have ended."""
    months = [billing.default_month(today)]
    for _ in range(11):
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months


def _month_choices() -> list[SelectChoice]:
    return [SelectChoice(m.isoformat(), billing.month_label(m).capitalize())
            for m in _months(commune_today())]


def _runs_page(form=None, status=200):
    session = get_session()
    communes = organisations.all_organisations(session)
    form = form or RunForm(formdata=None, month=billing.default_month().isoformat())
    form.organisation_id.choices = [SelectChoice(str(o.id), o.name) for o in communes]
    form.month.choices = _month_choices()
    return render("agent/billing.html", form=form, several=len(communes) > 1,
                  runs=billing.runs_of(session, [o.id for o in communes]),
                  names={o.id: o.name for o in communes}, month_label=billing.month_label,
                  format_cents=format_cents, status=status)


@bp.route("/facturation", methods=["GET", "POST"])
def billing_runs():
    """Facturation du mois: invoices (post-paid) or debits (prepaid), with progress."""
    if request.method == "GET":
        return _runs_page()
    form = RunForm()
    form.month.choices = _month_choices()
    session = get_session()
    communes = organisations.all_organisations(session)
    if form.validate_on_submit():
        organisation = chosen_organisation(form, communes)
        month = date.fromisoformat(form.month.data)
        if organisation is None:
            add_error(form, "organisation_id", "Choisissez la commune.")
        else:
            ok, run = attempt(form, billing.start_run, session, current_user, organisation.id, month)
            if ok:
                billing.run_in_background(current_app._get_current_object(), run.id, base_url())
                return redirect(url_for("agent.billing_run", run_id=run.id))
    return _runs_page(form, status=422)


@bp.route("/facturation/<int:run_id>")
def billing_run(run_id: int):
    """Where a run is: households done out of all, documents written, amount."""
    run = get_session().get(BillingRun, run_id)
    if run is None:
        abort(404)
    return render("agent/billing_run.html", block="progress" if is_fragment_request() else None, run=run,
                  month_label=billing.month_label, format_cents=format_cents)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class BillingSettingsForm(Form):
    billing_mode = RadioField("Mode de paiement", choices=[SelectChoice(k, v) for k, v in billing.MODES.items()],
                              validate_choice=False)
    siret = StringField("SIRET", validators=[Length(max=20)], description="Imprimé sur les factures et "
                        "les attestations fiscales", render_kw={"inputmode": "numeric", "maxlength": 20})
    free_motives = MultiCheckboxField("Motifs d'absence non facturés")
    surcharge = StringField("Majoration d'une présence sans réservation (%)", validators=[Length(max=4)],
                            description="Ajoutée au prix de la journée, par exemple 20 ; 0 pour aucune",
                            render_kw={"inputmode": "numeric", "maxlength": 4})


@bp.route("/communes/<int:organisation_id>/facturation", methods=["GET", "POST"])
@admin_required
def billing_settings(organisation_id: int):
    """Règles de facturation de la commune, et le paiement en ligne configuré (secrets masqués)."""
    from citoyen.services.agenda import ABSENCE_MOTIVES

    try:
        organisation = organisations.get(get_session(), organisation_id)
    except NotFound:
        abort(404)
    form = BillingSettingsForm(data=None if request.method == "POST" else {
        "billing_mode": organisation.billing_mode, "siret": organisation.siret,
        "free_motives": organisation.free_absence_motives.split(),
        "surcharge": str(organisation.unbooked_surcharge_percent)})
    form.free_motives.choices = [SelectChoice(k, v) for k, v in ABSENCE_MOTIVES.items()]
    if form.validate_on_submit():
        ok, _ = attempt(form, billing.update_settings, get_session(), current_user, organisation.id,
                        form.billing_mode.data or "", form.siret.data or "", form.free_motives.data or [],
                        form.surcharge.data or "0")
        if ok:
            flash("Les règles de facturation sont enregistrées.", "success")
            return redirect(url_for("agent.billing_settings", organisation_id=organisation.id))
    return render("agent/billing_settings.html", form=form, organisation=organisation,
                  backend=payments.describe_backend(payments.backend_config(settings(), organisation)),
                  status=form_status(form))
