"""Justificatifs in the back office: the queue to review, one document with
its preview, Valider / Invalide, Réclamer, and the types the commune asks for."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import BooleanField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length
from wtforms.validators import Optional

from citoyen.access import household_or_404
from citoyen.blueprints.agent import bp
from citoyen.blueprints.documents import uploads
from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import FrenchDateField
from citoyen.blueprints.fields import one_line_break
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import id_arg
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.models import Child
from citoyen.models import Household
from citoyen.models.documents import SCOPE_CHILD
from citoyen.services import audit
from citoyen.services import documents
from citoyen.services import organisations
from citoyen.services.errors import NotFound


class ValidateForm(Form):
    valid_until = FrenchDateField(
        "Valable jusqu'au", validators=[Optional()],
        description="Prérempli selon le type de justificatif ; vide : sans limite de date.",
    )


class RejectForm(Form):
    reason_choice = SelectField(
        "Motif",
        choices=[SelectChoice("", "Choisir un motif…")]
        + [SelectChoice(r, r) for r in documents.REJECTION_REASONS],
        validate_choice=False,
    )
    reason_text = TextAreaField("Ou motif saisi", filters=[one_line_break], render_kw={"maxlength": 500},
                                validators=[Length(max=500, message="Le motif ne doit pas dépasser 500 caractères.")])


class RequestForm(Form):
    document_type = SelectField("Justificatif à réclamer", validate_choice=False)
    message = TextAreaField("Message à la famille", filters=[one_line_break], render_kw={"maxlength": 1000},
                            description="Facultatif. La famille le lit avec la demande.")


class TypeForm(Form):
    # An odd value is no commune (« Choisissez la commune. »), not an English error.
    organisation_id = SelectField("Commune", coerce=lambda value: documents.parse_id(value) or 0,
                                  validate_choice=False)
    name = StringField("Nom du justificatif", render_kw={"maxlength": 150})
    help_text = TextAreaField("Aide pour les familles", filters=[one_line_break], render_kw={"maxlength": 1000})
    scope = SelectField("Demandé pour", choices=[SelectChoice(k, v)
                                                 for k, v in documents.SCOPE_LABELS.items()])
    validity_months = StringField(
        "Durée de validité, en mois", render_kw={"inputmode": "numeric", "maxlength": 3},
        description="Par exemple 12 pour un an. Ou bien une date de fin, ci-dessous.")
    valid_until_day = StringField(
        "Ou valable jusqu'au (JJ/MM)", render_kw={"maxlength": 5},
        description="Par exemple 31/08 pour la fin de l'année scolaire.")
    asked_of_all = BooleanField("Demandé à toutes les familles (sinon, seulement quand un agent le réclame)")
    needed_for = StringField("Activité qui l'exige", render_kw={"maxlength": 150},
                             description="Facultatif, par exemple : Restauration scolaire.")
    active = BooleanField("En usage")


@bp.route("/justificatifs")
def documents_queue():
    """Justificatifs à vérifier, the oldest first, by type and commune."""
    orgs = organisations.all_organisations(get_session())
    type_id, organisation_id = id_arg("type"), id_arg("commune")
    all_types = [t for o in orgs for t in documents.types_of(get_session(), o.id, active_only=False)]
    return render(
        "agent/documents.html",
        pending=documents.queue(get_session(), current_user, type_id, organisation_id),
        organisations=orgs, types=all_types, type_id=type_id, organisation_id=organisation_id,
    )


def _document(document_id: int):
    try:
        return documents.get(get_session(), current_user, document_id)
    except NotFound:
        abort(404)


def _document_page(document, validate_form=None, reject_form=None, status=200):
    session = get_session()
    household = session.get(Household, document.household_id)
    child = session.get(Child, document.child_id) if document.child_id else None
    if validate_form is None:
        validate_form = ValidateForm(formdata=None)
        validate_form.valid_until.data = documents.default_valid_until(
            document.document_type, documents.today())
    return render(
        "agent/document.html", document=document, household=household, child=child,
        validate_form=validate_form, reject_form=reject_form or RejectForm(formdata=None),
        state=document.state(documents.today()), state_label=documents.state_label,
        history=[e for e in audit.for_target(session, "household", household.id)
                 if e.action.startswith("document.")][:20],
        audit_label=audit.label, status=status,
    )


@bp.route("/justificatifs/<int:document_id>")
def document(document_id: int):
    """One justificatif: its files shown in the page, and the decision."""
    return _document_page(_document(document_id))


@bp.route("/justificatifs/<int:document_id>/valider", methods=["POST"])
def validate_document(document_id: int):
    """Valider, until the end date (prefilled from the type)."""
    document = _document(document_id)
    form = ValidateForm()
    if form.validate_on_submit():
        ok, _ = attempt(form, documents.validate, get_session(), current_user, document.id,
                        form.valid_until.data, base_url())
        if ok:
            flash(f"Le justificatif « {document.document_type.name} » est validé.", "success")
            return redirect(url_for("agent.documents_queue"))
    return _document_page(document, validate_form=form, status=422)


@bp.route("/justificatifs/<int:document_id>/invalider", methods=["POST"])
def reject_document(document_id: int):
    """Invalide, with a reason the family reads."""
    document = _document(document_id)
    form = RejectForm()
    if form.validate_on_submit():
        reason = (form.reason_text.data or "").strip() or form.reason_choice.data
        ok, _ = attempt(form, documents.reject, get_session(), current_user, document.id, reason,
                        base_url())
        if ok:
            flash(f"Le justificatif « {document.document_type.name} » est déclaré invalide ; "
                  "la famille est prévenue.", "success")
            return redirect(url_for("agent.documents_queue"))
    return _document_page(document, reject_form=form, status=422)


@bp.route("/justificatifs/fichiers/<int:file_id>")
def document_file(file_id: int):
    """A file sent by a family: shown in the page (PDF, images) or downloaded."""
    try:
        row = documents.file_for_agent(get_session(), current_user, file_id)
    except NotFound:
        abort(404)
    inline = request.args.get("apercu") == "1" and row.content_type in (
        "application/pdf", "image/jpeg", "image/png")
    return uploads.send_stored(row, inline=inline)


def _slot_choices(session, household):
    choices = [SelectChoice("", "Choisir un justificatif…")]
    for doc_type in documents.types_of(session, household.organisation_id):
        if doc_type.scope == SCOPE_CHILD:
            for child in household.children:
                choices.append(SelectChoice(f"{doc_type.id}-{child.id}",
                                            f"{doc_type.name} — {child.full_name}"))
        else:
            choices.append(SelectChoice(str(doc_type.id), f"{doc_type.name} — le foyer"))
    return choices


def _parse_slot(value: str) -> tuple[int, int | None]:
    """« 12-34 » → (12, 34), « 12 » → (12, None); anything else → (0, None),
    which the service answers with « Choisissez un justificatif »."""
    type_part, dash, child_part = (value or "").partition("-")
    type_id = documents.parse_id(type_part)
    child_id = documents.parse_id(child_part) if dash else None
    if type_id is None or (dash and child_id is None):
        return 0, None
    return type_id, child_id


@bp.route("/foyers/<int:household_id>/justificatifs", methods=["GET", "POST"])
def household_documents(household_id: int):
    """The justificatifs of one household, and « Réclamer » one with a message."""
    household = household_or_404(current_user, household_id)
    session = get_session()
    form = RequestForm()
    form.document_type.choices = _slot_choices(session, household)
    if form.validate_on_submit():
        type_id, child_id = _parse_slot(form.document_type.data)
        ok, _ = attempt(form, documents.request_document, session, current_user, household,
                        type_id, child_id, form.message.data, base_url())
        if ok:
            flash("Le justificatif est réclamé ; la famille est prévenue.", "success")
            return redirect(url_for("agent.household_documents", household_id=household.id))
    return render(
        "agent/documents_household.html", household=household, form=form,
        groups=documents.overview(session, household, documents.today()),
        status=form_status(form) if form.errors else 200,
    )


@bp.route("/justificatifs/types")
def document_types():
    """Les justificatifs que la commune demande."""
    orgs = organisations.all_organisations(get_session())
    return render(
        "agent/documents_types.html",
        groups=[(o, documents.types_of(get_session(), o.id, active_only=False)) for o in orgs],
        scope_labels=documents.SCOPE_LABELS, describe_validity=documents.describe_validity,
    )


def _type_form(obj=None) -> TypeForm:
    form = TypeForm(obj=obj)
    orgs = organisations.all_organisations(get_session())
    form.organisation_id.choices = [SelectChoice(o.id, o.name) for o in orgs]
    if obj is not None and not form.is_submitted():
        form.validity_months.data = str(obj.validity_months or "")
    if obj is None and not form.is_submitted():
        form.asked_of_all.data = True
        form.active.data = True
    return form


def _type_values(form: TypeForm) -> dict:
    return {name: getattr(form, name).data for name in (
        "name", "help_text", "scope", "validity_months", "valid_until_day", "asked_of_all",
        "needed_for", "active")}


@bp.route("/justificatifs/types/nouveau", methods=["GET", "POST"])
def new_document_type():
    """Ajouter un type de justificatif."""
    form = _type_form()
    if form.validate_on_submit():
        organisation = next((o for o in organisations.all_organisations(get_session())
                             if o.id == form.organisation_id.data), None)
        if organisation is None:
            form.organisation_id.errors = ["Choisissez la commune."]
        else:
            ok, created = attempt(form, documents.create_type, get_session(), current_user,
                                  organisation, _type_values(form))
            if ok:
                flash(f"Le justificatif « {created.name} » est ajouté.", "success")
                return redirect(url_for("agent.document_types"))
    return render("agent/documents_type.html", form=form, doc_type=None,
                  status=form_status(form) if form.is_submitted() else 200)


@bp.route("/justificatifs/types/<int:type_id>", methods=["GET", "POST"])
def edit_document_type(type_id: int):
    """Modifier un type de justificatif."""
    try:
        doc_type = documents.get_type(get_session(), current_user, type_id)
    except NotFound:
        abort(404)
    form = _type_form(doc_type)
    if form.validate_on_submit():
        ok, _ = attempt(form, documents.update_type, get_session(), current_user, doc_type.id,
                        _type_values(form))
        if ok:
            flash(f"Le justificatif « {doc_type.name} » est modifié.", "success")
            return redirect(url_for("agent.document_types"))
    return render("agent/documents_type.html", form=form, doc_type=doc_type,
                  status=form_status(form) if form.is_submitted() else 200)
