"""The family's side of the household: subscribe, see the record, add a child."""

from flask import abort
from flask import flash
from flask import url_for
from flask_login import current_user

from citoyen import ratelimit
from citoyen.blueprints.household import bp
from citoyen.blueprints.household.forms import ChildForm
from citoyen.blueprints.household.forms import CodeForm
from citoyen.blueprints.household.forms import FamilyNumberForm
from citoyen.blueprints.household.forms import InvoiceForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import households
from citoyen.services.errors import NotFound


def _subscriptions_page(forms=None, status=200):
    forms = forms or {}
    return render(
        "household/subscriptions.html",
        linked=households.households_of(get_session(), current_user),
        code_form=forms.get("code") or CodeForm(prefix="code", formdata=None),
        invoice_form=forms.get("invoice") or InvoiceForm(prefix="invoice", formdata=None),
        family_form=forms.get("family_number") or FamilyNumberForm(prefix="family", formdata=None),
        attempts_left=households.attempts_left(get_session(), current_user),
        status=status,
    )


@bp.route("/abonnements")
def subscriptions():
    """Mes abonnements: the households of the account, and « M'abonner »."""
    return _subscriptions_page()


def _subscribe(method: str, form, **fields):
    if form.validate_on_submit():
        if not ratelimit.hit("subscribe"):
            first = next(iter(fields))
            add_error(form, first, ratelimit.MESSAGE)
            return _subscriptions_page({method: form}, status=429)
        ok, result = attempt(
            form, households.subscribe, get_session(), current_user,
            households.Attempt(method=method, **{k: v.data for k, v in fields.items()}),
            base_url(),
        )
        if ok:
            flash(f"Votre compte est maintenant rattaché au foyer {result.name}.", "success")
            return redirect(url_for("household.show"))
    return _subscriptions_page({method: form}, status=422 if form.errors else 200)


@bp.route("/abonnements/code", methods=["POST"])
def subscribe_with_code():
    """M'abonner avec votre code abonné."""
    form = CodeForm(prefix="code")
    return _subscribe("code", form, code=form.code)


@bp.route("/abonnements/facture", methods=["POST"])
def subscribe_with_invoice():
    """M'abonner avec une de vos factures."""
    form = InvoiceForm(prefix="invoice")
    return _subscribe("invoice", form, invoice_reference=form.invoice_reference,
                      invoice_amount=form.invoice_amount)


@bp.route("/abonnements/identifiant", methods=["POST"])
def subscribe_with_family_number():
    """M'abonner avec votre identifiant famille."""
    form = FamilyNumberForm(prefix="family")
    return _subscribe("family_number", form, family_number=form.family_number,
                      last_name=form.last_name, first_name=form.first_name)


@bp.route("/foyer")
def show():
    """Mon foyer: guardians, address, contacts."""
    linked = households.households_of(get_session(), current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    return render("household/show.html", linked=linked,
                  format_cents=households.format_cents)


@bp.route("/enfants")
def children():
    """Mes enfants."""
    linked = households.households_of(get_session(), current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    return render("household/children.html", linked=linked)


@bp.route("/foyer/<int:household_id>/enfants/nouveau", methods=["GET", "POST"])
def add_child(household_id: int):
    """Ajouter un enfant: the record waits for the town hall's validation."""
    try:
        household = households.household_for(get_session(), current_user, household_id)
    except NotFound:
        abort(404)
    form = ChildForm()
    if form.validate_on_submit():
        ok, child = attempt(
            form, households.add_child, get_session(), current_user, household,
            first_name=form.first_name.data, last_name=form.last_name.data,
            birth_date=form.birth_date.data, school=form.school.data,
            class_name=form.class_name.data,
        )
        if ok:
            flash(f"La fiche de {child.first_name} est enregistrée. "
                  "Elle est en attente de validation par la mairie.", "success")
            return redirect(url_for("household.children"))
    return render("household/add_child.html", block="form", form=form, household=household,
                  status=form_status(form))
