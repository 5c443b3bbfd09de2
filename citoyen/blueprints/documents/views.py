"""Mes justificatifs: every document asked of the household and of each child,
with its state, and « Fournir le justificatif »."""

from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from citoyen.access import household_or_404
from citoyen.blueprints.documents import bp
from citoyen.blueprints.documents import uploads
from citoyen.blueprints.documents.forms import UploadForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.extensions import csrf
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import documents
from citoyen.services import households
from citoyen.services.errors import NotFound


@bp.route("/justificatifs")
def index():
    """Mes justificatifs: for the household and each child, what is asked and its state."""
    linked = households.households_of(get_session(), current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    on = documents.today()
    days = settings()["DOCUMENT_REMINDER_DAYS"]
    return render(
        "documents/index.html",
        linked=linked,
        groups={h.id: documents.overview(get_session(), h, on, days) for h in linked},
        today=on,
    )


def _child_arg() -> int | None:
    """``?enfant=``: absent, or the id of a child; anything else is not found."""
    value = request.args.get("enfant", "")
    if not value:
        return None
    child_id = documents.parse_id(value)
    if child_id is None:
        abort(404)
    return child_id


def _slot(household, type_id: int):
    try:
        return documents.slot_for(get_session(), household, type_id, _child_arg(),
                                  documents.today(), settings()["DOCUMENT_REMINDER_DAYS"])
    except NotFound:
        abort(404)


def _page(household, slot, form, status=200):
    return render("documents/upload.html", block="form", household=household, slot=slot,
                  form=form, status=status)


@bp.route("/justificatifs/<int:household_id>/<int:type_id>/fournir", methods=["GET", "POST"])
@csrf.exempt  # checked by uploads.parse_body, once the body is read under its own bound
def upload(household_id: int, type_id: int):
    """Fournir le justificatif: one or several files (or a photo) for one document."""
    if request.method == "POST" and not uploads.parse_body():
        household = household_or_404(current_user, household_id)
        form = UploadForm(formdata=None)
        add_error(form, "files", uploads.too_big_message())
        return _page(household, _slot(household, type_id), form, status=422)
    household = household_or_404(current_user, household_id)
    slot = _slot(household, type_id)
    form = UploadForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form, documents.submit, get_session(), settings(), uploads.storage(), current_user,
            household, type_id, slot.child.id if slot.child else None, uploads.uploads(form),
        )
        if ok:
            flash(f"Votre justificatif « {slot.document_type.name} » est transmis à la mairie, "
                  "qui va le vérifier.", "success")
            return redirect(url_for("documents.index"))
    return _page(household, slot, form, status=422 if form.is_submitted() else 200)


@bp.route("/justificatifs/<int:household_id>/fichiers/<int:file_id>")
def download(household_id: int, file_id: int):
    """A file the household sent, downloaded as it was stored."""
    household = household_or_404(current_user, household_id)
    try:
        row = documents.file_for(get_session(), current_user, household, file_id)
    except NotFound:
        abort(404)
    return uploads.send_stored(row)
