"""Mes demandes: the list, a new request (kept as a draft or sent), one
request with its messages; a draft is changed, sent or deleted, a request
still pending is changed or cancelled."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import SelectChoice

from citoyen.blueprints.fields import Form
from citoyen.blueprints.requests import bp
from citoyen.blueprints.requests.forms import MessageForm
from citoyen.blueprints.requests.forms import RequestForm
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import households
from citoyen.services import requests as service
from citoyen.services.errors import NotFound


@bp.before_request
def _families_only():
    """The town hall reads the requests in Espace agent (« Demandes »)."""
    if current_user.is_authenticated and current_user.is_agent:
        request_id = (request.view_args or {}).get("request_id")
        return redirect(url_for("agent.request_page", request_id=request_id) if request_id
                        else url_for("agent.requests_queue"))
    return None


def _found(request_id: int):
    try:
        return service.request_for(get_session(), current_user, request_id)
    except NotFound:
        abort(404)


def _kinds(form: RequestForm) -> None:
    form.kind.choices = [SelectChoice("", "Choisissez…")] + [
        SelectChoice(key, label) for key, label in service.REQUEST_TYPES.items()]


def _sending() -> bool:
    return request.form.get("action") == "send"


@bp.route("")
def index():
    """Mes demandes, newest first, each with its state."""
    return render("requests/index.html", requests=service.of_account(get_session(), current_user),
                  labels=service.STATUS_LABELS, kinds=service.REQUEST_TYPES)


@bp.route("/nouvelle", methods=["GET", "POST"])
def new():
    """Nouvelle demande: « Enregistrer le brouillon » or « Envoyer la demande »."""
    session = get_session()
    linked = households.households_of(session, current_user)
    form = RequestForm()
    _kinds(form)
    form.household.choices = [SelectChoice(h.id, h.name) for h in linked]
    if request.method == "GET" and linked:
        form.household.data = linked[0].id
    if request.method == "POST" and not linked:
        flash("Votre compte n'est rattaché à aucun dossier famille : la demande n'a pas pu être enregistrée.",
              "error")
        return redirect(url_for("requests.new"))
    if linked and form.validate_on_submit():
        ok, created = attempt(form, service.create, session, current_user, form.household.data or linked[0].id,
                              form.kind.data, form.subject.data, form.body.data, _sending())
        if ok:
            flash("Votre demande est envoyée à la mairie." if created.status == "pending"
                  else "Le brouillon est enregistré : il n'est pas encore envoyé.", "success")
            return redirect(url_for("requests.show", request_id=created.id))
    return render("requests/new.html", block="form", form=form, linked=linked, status=form_status(form))


def _show(found, form=None, message_form=None, status: int = 200):
    if form is None:
        form = RequestForm(formdata=None, obj=found)
    _kinds(form)
    return render("requests/show.html", found=found, form=form, message_form=message_form or MessageForm(formdata=None),
                  labels=service.STATUS_LABELS, kinds=service.REQUEST_TYPES, cancelled=service.CANCELLED_BY_FAMILY,
                  status=status)


@bp.route("/<int:request_id>", methods=["GET", "POST"])
def show(request_id: int):
    """One request, its messages, and what the family can still do with it."""
    found = _found(request_id)
    if request.method == "GET":
        return _show(found)
    if service.change_refusal(found):  # taken or ended meanwhile: say so, whatever was typed
        return _refused(request_id, service.change_refusal(found))
    form = RequestForm()
    _kinds(form)
    del form.household
    if form.validate_on_submit():
        ok, _changed = attempt(form, service.update, get_session(), current_user, request_id, form.kind.data,
                               form.subject.data, form.body.data, _sending())
        if ok:
            flash("Votre demande est envoyée à la mairie." if _sending() else
                  "Le brouillon est enregistré : il n'est pas encore envoyé." if found.status == "draft" else
                  "La demande est enregistrée.", "success")
            return redirect(url_for("requests.show", request_id=request_id))
        if _changed.field is None:  # the request moved on meanwhile: its page says where it stands
            return _refused(request_id, _changed.message)
        found = _found(request_id)
    return _show(found, form=form, status=form_status(form) if form.errors or form.form_errors else 422)


@bp.route("/<int:request_id>/message", methods=["POST"])
def message(request_id: int):
    """Écrire à la mairie au sujet de la demande."""
    found = _found(request_id)
    if service.message_refusal(found):
        return _refused(request_id, service.message_refusal(found))
    form = MessageForm()
    if form.validate_on_submit():
        ok, _sent = attempt(form, service.add_message, get_session(), current_user, request_id, form.message.data,
                            base_url())
        if ok:
            flash("Votre message est envoyé.", "success")
            return redirect(url_for("requests.show", request_id=request_id) + "#messages")
        if _sent.field is None:
            return _refused(request_id, _sent.message)
        found = _found(request_id)
    return _show(found, message_form=form, status=422)


def _refused(request_id: int, message: str):
    flash(message, "error")
    return redirect(url_for("requests.show", request_id=request_id))


def _simple(request_id: int, what: str, action, done: str, target: str | None = None):
    """« Annuler la demande » or « Supprimer le brouillon »: first a page that
    says what it does (GET), then the form it carries does it."""
    found = _found(request_id)
    if request.method != "POST":
        refusal = (service.delete_refusal if what == "delete" else service.cancel_refusal)(found)
        if refusal:  # sent, taken or ended meanwhile: its page says where it stands
            return _refused(request_id, refusal)
        return render("requests/confirm.html", found=found, what=what, form=Form(formdata=None))
    form = Form()
    if not form.validate_on_submit():
        abort(400)
    ok, result = attempt(None, action, get_session(), current_user, request_id)
    flash(done if ok else result.message, "success" if ok else "error")
    return redirect(target if ok and target else url_for("requests.show", request_id=request_id))


@bp.route("/<int:request_id>/annuler", methods=["GET", "POST"])
def cancel(request_id: int):
    """Annuler la demande (still pending)."""
    return _simple(request_id, "cancel", service.cancel, "La demande est annulée.")


@bp.route("/<int:request_id>/supprimer", methods=["GET", "POST"])
def delete(request_id: int):
    """Supprimer le brouillon."""
    return _simple(request_id, "delete", service.delete_draft, "Le brouillon est supprimé.",
                   url_for("requests.index"))
