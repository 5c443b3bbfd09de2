"""Espace agent: find an account, see its state, act on it; the audit log."""

from flask import abort
from flask import flash
from flask import url_for
from flask_login import current_user

from citoyen.access import account_or_404
from citoyen.access import admin_required
from citoyen.access import household_or_404
from citoyen.blueprints.agent import bp
from citoyen.blueprints.agent.forms import CommuneForm
from citoyen.blueprints.agent.forms import ContactForm
from citoyen.blueprints.agent.forms import NewAgentForm
from citoyen.blueprints.agent.forms import NewCommuneForm
from citoyen.blueprints.agent.forms import RefusalForm
from citoyen.blueprints.agent.forms import RoleForm
from citoyen.blueprints.agent.forms import SchoolZoneForm
from citoyen.blueprints.fields import Form
from citoyen.blueprints.household.forms import HouseholdForm
from citoyen.blueprints.household.forms import chosen_organisation
from citoyen.blueprints.household.forms import set_organisation_choices
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import page_number
from citoyen.blueprints.util import search_text
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import audit
from citoyen.services import backoffice
from citoyen.services import changes
from citoyen.services import households
from citoyen.services import identities
from citoyen.services import organisations
from citoyen.services.errors import NotFound


@bp.route("/")
def index():
    """Espace agent: search accounts."""
    return render("agent/index.html", organisations=organisations.all_organisations(get_session()))


@bp.route("/comptes")
def accounts():
    """Accounts matching the search, with their state (live results with htmx)."""
    query = search_text()
    found = backoffice.search_accounts(get_session(), current_user, query) if query.strip() else []
    return render(
        "agent/accounts.html",
        block="results",
        query=query,
        found=found[:backoffice.SEARCH_LIMIT],
        more=len(found) > backoffice.SEARCH_LIMIT,
        role_labels=backoffice.ROLE_LABELS,
    )


@bp.route("/comptes/<int:account_id>")
def account(account_id: int):
    """One account: state, dates, actions, and what agents did to it."""
    target = account_or_404(current_user, account_id)
    return _account_page(target)


def _account_page(target, status=200, role_form=None):
    return render(
        "agent/account.html",
        target=target,
        history=audit.for_target(get_session(), "account", target.id),
        identity=identities.for_account(get_session(), target),
        action_form=Form(),
        role_form=role_form or RoleForm(data={"role": target.role}),
        role_labels=backoffice.ROLE_LABELS,
        audit_label=audit.label,
        status=status,
    )


@bp.route("/comptes/<int:account_id>/deblocage", methods=["POST"])
def unlock(account_id: int):
    """Débloquer le compte."""
    target = account_or_404(current_user, account_id)
    backoffice.unlock(get_session(), current_user, target)
    flash("Le compte est débloqué.", "success")
    return redirect(url_for("agent.account", account_id=target.id))


@bp.route("/comptes/<int:account_id>/activation", methods=["POST"])
def resend_activation(account_id: int):
    """Renvoyer le lien d'activation."""
    target = account_or_404(current_user, account_id)
    ok, error = attempt(
        None,
        backoffice.resend_activation,
        get_session(),
        settings(),
        current_user,
        target,
        base_url(),
    )
    flash(
        "Un nouveau lien d'activation a été envoyé." if ok else error.message,
        "success" if ok else "error",
    )
    return redirect(url_for("agent.account", account_id=target.id))


@bp.route("/comptes/<int:account_id>/role", methods=["POST"])
@admin_required
def set_role(account_id: int):
    """Changer le rôle (administrateurs)."""
    target = account_or_404(current_user, account_id)
    form = RoleForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form, backoffice.set_role, get_session(), current_user, target, form.role.data
        )
        if ok:
            flash("Le rôle est modifié.", "success")
            if not current_user.is_agent:  # one's own role given up: the back office is no longer one's own
                return redirect(url_for("main.home"))
            return redirect(url_for("agent.account", account_id=target.id))
    return _account_page(target, status=422, role_form=form)


@bp.route("/agents/nouveau", methods=["GET", "POST"])
@admin_required
def new_agent():
    """Créer un compte agent: the agent receives a link to choose a password."""
    form = NewAgentForm()
    if form.validate_on_submit():
        ok, created = attempt(
            form,
            backoffice.create_agent,
            get_session(),
            settings(),
            current_user,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data,
            role=form.role.data,
            base_url=base_url(),
        )
        if ok:
            flash(
                f"Le compte de {created.full_name} est créé ; une invitation lui a été envoyée.",
                "success",
            )
            return redirect(url_for("agent.account", account_id=created.id))
    return render("agent/new_agent.html", block="form", form=form, status=form_status(form))


@bp.route("/communes/<int:organisation_id>", methods=["GET", "POST"])
@admin_required
def edit_organisation(organisation_id: int):
    """Coordonnées de la commune, shown on "Nous contacter"; and its school-holiday zone."""
    organisation = _organisation_or_404(organisation_id)
    form = ContactForm(obj=organisation)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in organisations.CONTACT_FIELDS}
        ok, _ = attempt(
            form, organisations.update_contact, get_session(), current_user, organisation, **values
        )
        if ok:
            flash("Les coordonnées sont enregistrées.", "success")
            return redirect(url_for("agent.index"))
    return _organisation_page(organisation, form=form, block="form", status=form_status(form))


@bp.route("/communes/nouvelle", methods=["GET", "POST"])
@admin_required
def new_organisation():
    """Ajouter une commune: its name, postcodes and school-holiday zone."""
    form = NewCommuneForm()
    if form.validate_on_submit():
        ok, created = attempt(
            form, organisations.create, get_session(), current_user, form.name.data,
            form.postcodes.data, form.school_zone.data or "",
        )
        if ok:
            flash(f"La commune « {created.name} » est ajoutée. Renseignez ses coordonnées, "
                  "puis ses lieux et ses activités.", "success")
            return redirect(url_for("agent.edit_organisation", organisation_id=created.id))
    return render("agent/new_organisation.html", block="form", form=form, status=form_status(form))


@bp.route("/communes/<int:organisation_id>/nom", methods=["POST"])
@admin_required
def edit_commune(organisation_id: int):
    """Nom de la commune and the postcodes families find it by."""
    organisation = _organisation_or_404(organisation_id)
    commune_form = CommuneForm()
    if commune_form.validate_on_submit():
        ok, _ = attempt(
            commune_form, organisations.update_identity, get_session(), current_user, organisation,
            commune_form.name.data, commune_form.postcodes.data,
        )
        if ok:
            flash("Le nom et les codes postaux sont enregistrés.", "success")
            return redirect(url_for("agent.edit_organisation", organisation_id=organisation.id))
    return _organisation_page(organisation, commune_form=commune_form, block="commune_form", status=422)


@bp.route("/communes/<int:organisation_id>/vacances-scolaires", methods=["POST"])
@admin_required
def set_school_zone(organisation_id: int):
    """Zone de vacances scolaires: whose holidays close the commune's activities."""
    organisation = _organisation_or_404(organisation_id)
    zone_form = SchoolZoneForm()
    if zone_form.validate_on_submit():
        ok, _ = attempt(
            zone_form, organisations.set_school_zone, get_session(), current_user, organisation,
            zone_form.school_zone.data or "",
        )
        if ok:
            flash("La zone de vacances scolaires est enregistrée.", "success")
            return redirect(url_for("agent.edit_organisation", organisation_id=organisation.id))
    return _organisation_page(organisation, zone_form=zone_form, block="zone_form", status=422)


def _organisation_or_404(organisation_id: int):
    try:
        return organisations.get(get_session(), organisation_id)
    except NotFound:
        abort(404)


def _organisation_page(organisation, form=None, zone_form=None, commune_form=None, block=None, status=200):
    """The commune's page; the forms that were not posted show what is saved."""
    return render(
        "agent/organisation.html",
        block=block,
        commune_form=commune_form if commune_form is not None else CommuneForm(formdata=None, obj=organisation),
        form=form if form is not None else ContactForm(formdata=None, obj=organisation),
        zone_form=zone_form if zone_form is not None else SchoolZoneForm(formdata=None, obj=organisation),
        organisation=organisation,
        status=status,
    )


@bp.route("/journal")
@admin_required
def audit_log():
    """Journal des actions des agents (administrateurs)."""
    number = page_number()
    entries, has_next = audit.page(get_session(), number)
    if not entries and number > 1:  # past the last page (an old link): back to the first
        return redirect(url_for("agent.audit_log"))
    return render(
        "agent/audit.html", entries=entries, page=number, has_next=has_next, audit_label=audit.label
    )


# ---------------------------------------------------------------- households

@bp.route("/foyers")
def households_list():
    """Foyers: search by name or family number."""
    query = search_text()
    found = households.search(get_session(), current_user, query)
    return render("agent/households.html", query=query, found=found[:households.SEARCH_LIMIT],
                  more=len(found) > households.SEARCH_LIMIT)


@bp.route("/foyers/nouveau", methods=["GET", "POST"])
def new_household():
    """Créer un foyer with its first guardian; it gets a family number and a code abonné."""
    organisation_list = organisations.all_organisations(get_session())
    if not organisation_list:
        flash("Renseignez d'abord la commune.", "error")
        return redirect(url_for("agent.index"))
    form = HouseholdForm()
    set_organisation_choices(form, organisation_list)
    if form.validate_on_submit():
        organisation = chosen_organisation(form, organisation_list)
        values = {name: getattr(form, name).data or "" for name in (
            "name", "address_line1", "address_line2", "postcode", "city", "guardian_first_name",
            "guardian_last_name", "guardian_email", "guardian_phone", "family_number",
            "invoice_reference", "invoice_amount")}
        if organisation is None:
            add_error(form, "organisation_id", "Choisissez la commune du foyer.")
            ok = False
        else:
            ok, household = attempt(form, households.create_household, get_session(), current_user,
                                    organisation, **values)
        if ok:
            flash(f"Le foyer {household.name} est créé.", "success")
            return redirect(url_for("agent.household", household_id=household.id))
    return render("agent/new_household.html", block="form", form=form, status=form_status(form),
                  several_communes=len(organisation_list) > 1)


@bp.route("/foyers/<int:household_id>")
def household(household_id: int):
    """One household: codes, guardians, children, subscribed accounts."""
    target = household_or_404(current_user, household_id)
    return render(
        "agent/household.html", household=target,
        accounts=households.linked_accounts(get_session(), target),
        format_cents=households.format_cents,
    )


@bp.route("/foyers/<int:household_id>/code", methods=["POST"])
def renew_household_code(household_id: int):
    """Renouveler le code abonné: the old code stops working."""
    target = household_or_404(current_user, household_id)
    code = households.renew_code(get_session(), current_user, target)
    flash(f"Nouveau code abonné du foyer {target.name} : {code}. L'ancien code ne fonctionne plus ; les comptes "
          "déjà abonnés gardent leur accès.", "success")
    return redirect(url_for("agent.household", household_id=household_id))


@bp.route("/foyers/<int:household_id>/comptes/<int:account_id>/detacher", methods=["GET", "POST"])
def detach_household_account(household_id: int, account_id: int):
    """Détacher un compte du foyer, after a page that says what it does."""
    target = household_or_404(current_user, household_id)
    session = get_session()
    account = next((a for a in households.linked_accounts(session, target) if a.id == account_id), None)
    if account is None:
        abort(404)
    form = Form()
    if form.validate_on_submit():
        ok, result = attempt(form, households.detach_account, session, current_user, target, account_id,
                             base_url())
        if not ok and isinstance(result, NotFound):
            abort(404)
        if ok:
            flash(f"Le compte de {result.full_name} n'est plus rattaché au foyer {target.name}.", "success")
            return redirect(url_for("agent.household", household_id=household_id))
    return render("agent/detach_account.html", household=target, account=account, form=form)


@bp.route("/foyers/<int:household_id>/responsables/<int:guardian_id>/inviter", methods=["POST"])
def invite_guardian(household_id: int, guardian_id: int):
    """Inviter par courriel: the account is created already subscribed to the household."""
    target = household_or_404(current_user, household_id)
    ok, result = attempt(None, households.invite_guardian, get_session(), settings(), current_user,
                         target, guardian_id, base_url())
    if not ok and isinstance(result, NotFound):
        abort(404)
    flash(f"{result.email} est invité(e) à rejoindre l'espace famille." if ok else result.message,
          "success" if ok else "error")
    return redirect(url_for("agent.household", household_id=household_id))


# ---------------------------------------------------------------- changes to validate

@bp.route("/modifications")
def changes_queue():
    """À valider: changes proposed by families and children they added, oldest first."""
    return _changes_page()


def _changes_page(refused: str = "", reason: str = "", error: str = "", status: int = 200):
    """The queue; a refusal that failed shows its message next to that reason, as typed
    (``refused``: "child-12" or "guardian-3")."""
    pending_changes, pending_children = changes.queue(get_session(), current_user)
    return render("agent/changes.html", pending_changes=pending_changes,
                  pending_children=pending_children, sections=changes.SECTIONS,
                  pending_guardians=changes.pending_guardians(get_session(), current_user),
                  refused=refused, reason=reason, error=error, status=status)


def _change_page(change, form=None, status=200):
    return render(
        "agent/change.html", change=change, rows=changes.rows(change, reveal=True),
        section=changes.SECTIONS[change.section], form=form or RefusalForm(),
        action_form=Form(), reasons=changes.REFUSAL_REASONS, status=status,
    )


@bp.route("/modifications/<int:change_id>")
def change(change_id: int):
    """One change, before and after side by side, to validate or refuse."""
    try:
        found = changes.get(get_session(), current_user, change_id)
    except NotFound:
        abort(404)
    return _change_page(found)


@bp.route("/modifications/<int:change_id>/valider", methods=["POST"])
def validate_change(change_id: int):
    """Valider: the change is applied and the family told."""
    ok, error = attempt(None, changes.decide, get_session(), current_user, change_id, True, "",
                        base_url())
    flash("La modification est validée et appliquée." if ok else error.message,
          "success" if ok else "error")
    return redirect(url_for("agent.changes_queue"))


@bp.route("/modifications/<int:change_id>/refuser", methods=["POST"])
def refuse_change(change_id: int):
    """Refuser, with a reason the family reads."""
    try:
        found = changes.get(get_session(), current_user, change_id)
    except NotFound:
        abort(404)
    form = RefusalForm()
    if form.validate_on_submit():
        reason = form.reason_text.data or form.reason_choice.data
        ok, error = attempt(None, changes.decide, get_session(), current_user, change_id, False,
                            reason, base_url())
        if ok:
            flash("La modification est refusée ; la famille est prévenue.", "success")
            return redirect(url_for("agent.changes_queue"))
        add_error(form, "reason_text" if error.field == "reason" else None, error.message)
    return _change_page(found, form, status=422)


def _decide_member(decide, member_id: int, accept: bool, done: str):
    reason = ""
    if not accept:
        form = RefusalForm()
        kind = "child" if decide is changes.decide_child else "guardian"
        if not form.validate_on_submit():
            return _changes_page(f"{kind}-{member_id}", form.reason_text.data or "",
                                 " ".join(form.reason_text.errors or form.reason_choice.errors)
                                 or "Le formulaire n'a pas pu être lu : réessayez.", status=422)
        reason = form.reason_text.data or form.reason_choice.data
    ok, error = attempt(None, decide, get_session(), current_user, member_id, accept, reason, base_url())
    if not ok and not accept and error.field == "reason":
        return _changes_page(f"{kind}-{member_id}", reason, error.message, status=422)
    flash(done if ok else error.message, "success" if ok else "error")
    return redirect(url_for("agent.changes_queue"))


@bp.route("/enfants/<int:child_id>/valider", methods=["POST"])
def validate_child(child_id: int):
    """Valider la fiche d'un enfant ajouté par une famille."""
    return _decide_member(changes.decide_child, child_id, True, "La fiche est validée.")


@bp.route("/enfants/<int:child_id>/refuser", methods=["POST"])
def refuse_child(child_id: int):
    """Refuser la fiche d'un enfant, avec un motif."""
    return _decide_member(changes.decide_child, child_id, False,
                          "La fiche est refusée ; la famille est prévenue.")


@bp.route("/responsables/<int:guardian_id>/valider", methods=["POST"])
def validate_guardian(guardian_id: int):
    """Valider un responsable ajouté par une famille."""
    return _decide_member(changes.decide_guardian, guardian_id, True, "Le responsable est validé.")


@bp.route("/responsables/<int:guardian_id>/refuser", methods=["POST"])
def refuse_guardian(guardian_id: int):
    """Refuser un responsable ajouté par une famille, avec un motif."""
    return _decide_member(changes.decide_guardian, guardian_id, False,
                          "L'ajout est refusé ; la famille est prévenue.")
