"""Importer des foyers: check a CSV file (dry run), then import it.

Between the two steps, the file's content travels in a hidden field of the
confirmation form, compressed and signed with the app's SECRET_KEY (salted,
bound to the agent and the commune, valid one hour), with the fingerprint of
the households the check listed. The agent does not pick the file a second
time, and the server keeps nothing between the steps. The import reads and
checks the content again inside its transaction and creates nothing unless it
finds exactly the households the agent checked."""

from __future__ import annotations

import base64
import zlib

from flask import current_app
from flask import flash
from flask import url_for
from flask_login import current_user
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from wtforms import HiddenField

from citoyen.blueprints.agent import bp
from citoyen.blueprints.fields import Form
from citoyen.blueprints.household.forms import chosen_organisation
from citoyen.blueprints.household.forms import organisation_field
from citoyen.blueprints.household.forms import set_organisation_choices
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import household_import
from citoyen.services import organisations

SALT = "citoyen.agent.household-import"
MAX_AGE = 3600
FORMAT_HINT = (
    "Fichier CSV (séparateur point-virgule), encodé en UTF-8, une ligne par enfant, avec "
    "une ligne d'en-tête — 2 Mo et 5 000 lignes maximum."
)


class ImportForm(Form):
    organisation_id = organisation_field()
    file = FileField(
        "Fichier des familles",
        validators=[FileRequired("Choisissez le fichier CSV à vérifier.")],
        description=FORMAT_HINT,
    )


class ConfirmImportForm(Form):
    content = HiddenField()
    # Only to show the form again with the same commune if the import is refused;
    # the import itself goes into the commune signed in ``content``.
    organisation_id = HiddenField()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _sign(data: bytes, filename: str, organisation_id: int, fingerprint: str) -> str:
    packed = base64.b64encode(zlib.compress(data, 9)).decode("ascii")
    return _serializer().dumps(
        {"a": current_user.id, "o": organisation_id, "f": filename, "h": fingerprint, "d": packed}
    )


def _unsign(token: str) -> dict | None:
    """The signed content, or None when it was altered, is too old or is not this agent's."""
    try:
        payload = _serializer().loads(token or "", max_age=MAX_AGE)
    except SignatureExpired:
        return None
    except BadSignature:
        return None
    if payload.get("a") != current_user.id or not isinstance(payload.get("h"), str):
        return None
    try:
        payload["d"] = zlib.decompress(base64.b64decode(payload["d"]))
    except (KeyError, ValueError, zlib.error):
        return None
    return payload


def _read_upload(storage) -> bytes:
    """At most one byte more than the import accepts, so that a big file is refused unread."""
    return storage.stream.read(household_import.MAX_BYTES + 1)


def _page(form, report=None, confirm=None, filename="", status=200):
    communes = organisations.all_organisations(get_session())
    set_organisation_choices(form, communes)
    return render(
        "agent/import.html",
        several_communes=len(communes) > 1,
        form=form,
        report=report,
        confirm=confirm,
        filename=filename,
        status=status,
    )


@bp.route("/foyers/import", methods=["GET", "POST"])
def import_households():
    """Importer des foyers: upload the CSV file and see, without saving anything,
    the households, guardians and children it would create and every line it refuses."""
    communes = organisations.all_organisations(get_session())
    if not communes:
        flash("Renseignez d'abord la commune.", "error")
        return redirect(url_for("agent.index"))
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.is_submitted() else 200)
    organisation = chosen_organisation(form, communes)
    if organisation is None:
        add_error(form, "organisation_id", "Choisissez la commune des foyers importés.")
        return _page(form, status=422)
    upload = form.file.data
    filename = (upload.filename or "")[:200]
    data = _read_upload(upload)
    ok, report = attempt(
        form, household_import.check, get_session(), current_user, organisation, data
    )
    if not ok:
        return _page(form, status=422)
    # A new, empty form to check another file (or the same one, corrected).
    again = ImportForm(formdata=None, organisation_id=str(organisation.id))
    confirm = None
    if report.households:
        confirm = ConfirmImportForm(formdata=None, organisation_id=str(organisation.id))
        confirm.content.data = _sign(data, filename, organisation.id, report.fingerprint())
        if len(confirm.content.data) > _token_limit():
            confirm = None
            add_error(
                again,
                None,
                (
                    "Ce fichier est trop volumineux pour être importé en une fois après "
                    "vérification : découpez-le en plusieurs fichiers."
                ),
            )
    return _page(again, report=report, confirm=confirm, filename=filename)


def _token_limit() -> int:
    # The confirmation post must stay under the request limit, with room for the form.
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 4 * 1024 * 1024
    return limit - 16 * 1024


@bp.route("/foyers/import/confirmation", methods=["POST"])
def confirm_import():
    """Importer: create what the checked file describes, all in one go or nothing."""
    confirm = ConfirmImportForm()
    payload = _unsign(confirm.content.data) if confirm.validate_on_submit() else None
    # If the import is refused, the form comes back with the commune the agent chose.
    chosen = payload.get("o") if payload is not None else confirm.organisation_id.data
    form = ImportForm(formdata=None, organisation_id=str(chosen or ""))
    organisation = None
    if payload is not None:
        organisation = next((o for o in organisations.all_organisations(get_session())
                             if o.id == payload.get("o")), None)
    if organisation is None:
        add_error(
            form,
            None,
            (
                "La vérification a expiré ou n'est plus valable : choisissez à nouveau le fichier "
                "et vérifiez-le avant de l'importer."
            ),
        )
        return _page(form, status=422)
    ok, result = attempt(
        form,
        household_import.run,
        get_session(),
        current_user,
        organisation,
        payload["d"],
        filename=payload.get("f", ""),
        expected_fingerprint=payload["h"],
    )
    if not ok:
        return _page(form, status=422)
    message = f"Import terminé : {result.summary()} créés."
    if result.refused:
        count = len(result.refused)
        message += f" {count} ligne{'s' if count > 1 else ''} refusée{'s' if count > 1 else ''}."
    flash(message, "success")
    return redirect(url_for("agent.households_list"))
