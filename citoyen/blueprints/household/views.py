"""The family's side of the household: subscribe, see the record, add a child."""

from flask import abort
from flask import flash
from flask import url_for
from flask_login import current_user

from citoyen import ratelimit
from citoyen.blueprints.household import bp
from citoyen.blueprints.household.forms import AddressForm
from citoyen.blueprints.household.forms import BankForm
from citoyen.blueprints.household.forms import ChildForm
from citoyen.blueprints.household.forms import CodeForm
from citoyen.blueprints.household.forms import ContactsForm
from citoyen.blueprints.household.forms import FamilyNumberForm
from citoyen.blueprints.household.forms import FiscalForm
from citoyen.blueprints.household.forms import InvoiceForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.htmx import is_fragment_request
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import changes
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
    """Mon foyer: guardians, address, contacts, and what waits for the town hall."""
    linked = households.households_of(get_session(), current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    return render("household/show.html", linked=linked,
                  pending={h.id: changes.pending_for(get_session(), h) for h in linked},
                  rows=changes.rows, mask_iban=changes.mask_iban)


def _household(household_id: int):
    try:
        return households.household_for(get_session(), current_user, household_id)
    except NotFound:
        abort(404)


def _section_view(household, section: str, form, guardian=None):
    """Modifier / Enregistrer one section in place (htmx) or as a page."""
    guardian_id = guardian.id if guardian is not None else None
    if form.validate_on_submit():
        values = {name: getattr(form, name).data or "" for name in changes.SECTIONS[section].fields}
        ok, change = attempt(
            form, changes.propose, get_session(), settings(), current_user, household, section,
            values, base_url(), guardian_id=guardian_id,
        )
        if ok:
            if is_fragment_request():
                return _section_fragment(household, section, guardian)
            if change.status == "pending":
                flash("Votre modification est transmise. Elle est en attente de validation "
                      "par la mairie.", "success")
            else:
                flash("Votre modification est enregistrée.", "success")
            return redirect(url_for("household.show"))
    return render("household/edit_section.html", block="form", form=form, household=household,
                  section=section, guardian=guardian, label=changes.SECTIONS[section].label,
                  status=form_status(form))


def _section_fragment(household, section, guardian):
    get_session().expire_all()
    block = "guardian_section" if guardian is not None else f"{section}_section"
    response = render("household/show.html", block=block, household=household, guardian=guardian,
                      pending=changes.pending_for(get_session(), household), rows=changes.rows,
                      mask_iban=changes.mask_iban)
    # The form sits inside the section: the whole section is replaced.
    target = f"#{section}-{household.id}" if guardian is None else f"#guardian-{guardian.id}"
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = "outerHTML"
    return response


@bp.route("/foyer/<int:household_id>/adresse", methods=["GET", "POST"])
def edit_address(household_id: int):
    """Modifier l'adresse du foyer."""
    household = _household(household_id)
    form = AddressForm(obj=household)
    return _section_view(household, "address", form)


@bp.route("/foyer/<int:household_id>/fiscal", methods=["GET", "POST"])
def edit_fiscal(household_id: int):
    """Modifier les informations fiscales (quotient familial)."""
    household = _household(household_id)
    form = FiscalForm(obj=household)
    return _section_view(household, "fiscal", form)


@bp.route("/foyer/<int:household_id>/banque", methods=["GET", "POST"])
def edit_bank(household_id: int):
    """Modifier les coordonnées bancaires."""
    household = _household(household_id)
    form = BankForm(obj=household)
    return _section_view(household, "bank", form)


@bp.route("/foyer/<int:household_id>/responsables/<int:guardian_id>", methods=["GET", "POST"])
def edit_contacts(household_id: int, guardian_id: int):
    """Modifier les coordonnées d'un responsable."""
    household = _household(household_id)
    try:
        guardian = changes.guardian_of(get_session(), household, guardian_id)
    except NotFound:
        abort(404)
    form = ContactsForm(obj=guardian)
    return _section_view(household, "contacts", form, guardian)


@bp.route("/foyer/<int:household_id>/modifications/<int:change_id>/retirer", methods=["POST"])
def withdraw_change(household_id: int, change_id: int):
    """Retirer une modification en attente."""
    household = _household(household_id)
    try:
        changes.withdraw(get_session(), current_user, household, change_id)
    except NotFound:
        abort(404)
    flash("Votre modification est retirée.", "success")
    return redirect(url_for("household.show"))


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
    household = _household(household_id)
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
