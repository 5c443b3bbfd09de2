"""Espace agent: a household's compte d'avance, cash payments and refunds."""

from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from citoyen.access import household_or_404
from citoyen.blueprints import statements
from citoyen.blueprints.agent import bp
from citoyen.blueprints.fields import required
from citoyen.blueprints.statements import StatementForm
from citoyen.blueprints.util import attempt
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import ledger
from citoyen.services import payments
from citoyen.services.households import format_cents


def _amount():
    return StringField("Montant", validators=[required("Indiquez le montant."), Length(max=20)],
                       description="En euros, par exemple 42,50",
                       render_kw={"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"})


class CashForm(FlaskForm):
    amount = _amount()
    note = StringField("Commentaire", validators=[Length(max=120)], description="Facultatif",
                       render_kw={"maxlength": 120})


class RefundForm(FlaskForm):
    amount = _amount()
    reason = StringField("Motif du remboursement", validators=[
        required("Indiquez le motif du remboursement."), Length(max=120)], render_kw={"maxlength": 120})


def _page(household, cash=None, refund=None, status=200, statement=None):
    session = get_session()
    return render(
        "agent/ledger.html", household=household, balance=ledger.balance(session, household.id),
        entries=ledger.entries(session, household.id), format_cents=format_cents,
        payments=payments.payments_of(session, household.id),
        cash=cash or CashForm(prefix="cash", formdata=None),
        refund=refund or RefundForm(prefix="refund", formdata=None), status=status,
        statement=statement or StatementForm(),
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
                            form.amount.data, form.note.data)
        if ok:
            flash(f"Paiement en espèces de {format_cents(entry.amount_cents)} enregistré.", "success")
            return redirect(url_for("agent.household_account", household_id=household.id))
    return _page(household, cash=form, status=422)


@bp.route("/foyers/<int:household_id>/compte/remboursement", methods=["POST"])
def refund(household_id: int):
    """Rembourser la famille, au plus le solde."""
    household = household_or_404(current_user, household_id)
    form = RefundForm(prefix="refund")
    if form.validate_on_submit():
        ok, entry = attempt(form, ledger.refund, get_session(), current_user, household,
                            form.amount.data, form.reason.data)
        if ok:
            flash(f"Remboursement de {format_cents(-entry.amount_cents)} enregistré.", "success")
            return redirect(url_for("agent.household_account", household_id=household.id))
    return _page(household, refund=form, status=422)


@bp.route("/foyers/<int:household_id>/compte/releve")
def household_statement(household_id: int):
    """Relevé de compte d'un foyer, au format PDF."""
    household = household_or_404(current_user, household_id)
    form = StatementForm(request.args)
    response = statements.pdf_response(get_session(), household, form)
    return response if response is not None else _page(household, status=422, statement=form)
