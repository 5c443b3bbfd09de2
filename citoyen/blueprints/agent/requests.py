"""Espace agent, « Demandes »: the families' requests, taken, answered,
closed or refused; each change in the journal, the family told."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from citoyen.blueprints.agent import bp
from citoyen.blueprints.fields import Form
from citoyen.blueprints.requests.forms import CloseForm
from citoyen.blueprints.requests.forms import MessageForm
from citoyen.blueprints.requests.forms import RefuseForm
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import requests as service
from citoyen.services.errors import NotFound

FILTERS = {"": "À traiter", "pending": "En attente", "processing": "En traitement", "closed": "Clos",
           "refused": "Refusé"}


@bp.route("/demandes")
def requests_queue():
    """The requests to handle (pending first, then in progress), or those of one state."""
    state = request.args.get("etat", "")
    if state not in FILTERS:
        state = ""
    found = service.queue(get_session(), current_user, state)
    return render("agent/requests.html", requests=found, state=state, filters=FILTERS,
                  labels=service.STATUS_LABELS, kinds=service.REQUEST_TYPES,
                  awaiting=service.awaiting_answer(get_session(), [r.id for r in found]))


def _found(request_id: int):
    try:
        return service.request_for(get_session(), current_user, request_id)  # a family's draft is its own
    except NotFound:
        abort(404)


def _open(request_id: int):
    """The request, if it is still to be handled; else a redirect to its page, saying why."""
    found = _found(request_id)
    if service.end_refusal(found):
        return None, _refused(request_id, service.end_refusal(found))
    return found, None


def _page(found, message_form=None, close_form=None, refuse_form=None, status: int = 200):
    return render("agent/request.html", found=found, labels=service.STATUS_LABELS, kinds=service.REQUEST_TYPES,
                  message_form=message_form or MessageForm(formdata=None),
                  close_form=close_form or CloseForm(formdata=None),
                  refuse_form=refuse_form or RefuseForm(formdata=None), show_agent=True,
                  cancelled=service.CANCELLED_BY_FAMILY, status=status)


@bp.route("/demandes/<int:request_id>")
def request_page(request_id: int):
    return _page(_found(request_id))


def _refused(request_id: int, message: str):
    """The request moved on meanwhile (another agent, the family): its page says where it stands."""
    flash(message, "error")
    return redirect(url_for("agent.request_page", request_id=request_id))


def _done(request_id: int, message: str):
    flash(message, "success")
    return redirect(url_for("agent.request_page", request_id=request_id))


@bp.route("/demandes/<int:request_id>/prise-en-charge", methods=["POST"])
def take_request(request_id: int):
    """Prendre en charge: the family sees « En traitement »."""
    _found(request_id)
    if not Form().validate_on_submit():
        abort(400)
    ok, result = attempt(None, service.take, get_session(), current_user, request_id, base_url())
    if not ok:
        return _refused(request_id, result.message)
    return _done(request_id, "La demande est prise en charge : la famille est prévenue.")


def _act(request_id: int, form, field: str, action, done: str, page_name: str):
    """One of the agent's forms on a request: the service's answer, or the
    form again with its message next to the field and what was typed."""
    open_request, refused = _open(request_id)
    if refused:
        return refused
    if form.validate_on_submit():
        ok, result = attempt(form, action, get_session(), current_user, request_id, getattr(form, field).data,
                             base_url())
        if ok:
            return _done(request_id, done)
        if result.field is None:
            return _refused(request_id, result.message)
    return _page(open_request, status=422, **{page_name: form})


@bp.route("/demandes/<int:request_id>/message", methods=["POST"])
def answer_request(request_id: int):
    """Répondre à la famille (the request is then in progress)."""
    return _act(request_id, MessageForm(), "message", service.add_message, "Votre réponse est envoyée à la famille.",
                "message_form")


@bp.route("/demandes/<int:request_id>/clore", methods=["POST"])
def close_request(request_id: int):
    """Clore la demande, with an optional message to the family."""
    return _act(request_id, CloseForm(), "note", service.close, "La demande est close : la famille est prévenue.",
                "close_form")


@bp.route("/demandes/<int:request_id>/refuser", methods=["POST"])
def refuse_request(request_id: int):
    """Refuser la demande, with the reason the family reads."""
    return _act(request_id, RefuseForm(), "reason", service.refuse,
                "La demande est refusée : la famille est prévenue, avec le motif.", "refuse_form")
