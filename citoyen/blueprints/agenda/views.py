"""The family's agenda: the month, one click to book or cancel a day (only
that day's cell is swapped with htmx; without JavaScript the same buttons
post a form and the month comes back), enrolment, bulk booking, absences."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import make_response
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import SelectChoice

from citoyen import fragment_cache
from citoyen.blueprints.agenda import bp
from citoyen.blueprints.agenda.forms import AbsenceForm
from citoyen.blueprints.agenda.forms import BulkForm
from citoyen.blueprints.agenda.forms import CertificateForm
from citoyen.blueprints.agenda.forms import EndEnrolmentForm
from citoyen.blueprints.agenda.forms import EnrolForm
from citoyen.blueprints.documents import uploads
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import form_status
from citoyen.csrf import session_token
from citoyen.db import get_session
from citoyen.extensions import csrf
from citoyen.htmx import is_fragment_request
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import agenda
from citoyen.services import households
from citoyen.services.documents import parse_id
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from citoyen.wording import of


def _household_id() -> int | None:
    """The household an agent acts for (« ?foyer= » on every agenda page, at
    the town hall's counter or on the phone); a family's pages have none.
    Read once per request: after a click's commit, the account's attributes
    would be read again from the database."""
    if "agenda_foyer" not in g:
        g.agenda_foyer = (parse_id(request.args.get("foyer"))
                          if current_user.is_authenticated and current_user.is_agent else None)
    return g.agenda_foyer


def _children():
    household_id = _household_id()
    if household_id is None:
        return agenda.children_of(get_session(), current_user)
    try:
        return agenda.household_children(get_session(), current_user, household_id)
    except NotFound:
        abort(404)


@bp.context_processor
def _acting_for():
    """``foyer`` for the pages' own addresses, and the household an agent acts for."""
    household_id = _household_id()
    if household_id is None:
        return {"foyer": None, "acting_for": None}
    try:
        household = households.household_for(get_session(), current_user, household_id)
    except NotFound:  # the views answer 404 (an error page is rendered here too)
        return {"foyer": None, "acting_for": None}
    return {"foyer": household_id, "acting_for": household}


def _month_url(child: str | None = None, month: str | None = None) -> str:
    return url_for("agenda.month", enfant=child or None, mois=month or None, foyer=_household_id())


@bp.route("")
def month():
    """Agenda: the month of one child or of all children, every day with its
    state. The page is kept rendered and served again while everything it
    shows reads the same (``fragment_cache``)."""
    now = agenda.local_now()
    household_id = _household_id()
    acting = None
    if household_id is not None:
        _children()  # a household that does not exist: 404
        household = households.household_for(get_session(), current_user, household_id)
        acting = (household.name, current_user.is_admin)  # in the page: its name, the agent's menu
    page = agenda.month_page(get_session(), current_user, request.args.get("mois"), request.args.get("enfant"),
                             now, household_id)
    data = page.data

    def render_page():
        view = agenda.build_month(data)
        html = render_template(
            "agenda/month.html", children=page.children, selected=page.selected, view=view,
            show_child=len(data.children) > 1, back=_back_query(page.selected, view.key),
            week=page.week, to_follow=agenda.to_follow(page.enrolments, now.date()), states=agenda.STATE_LABELS,
            icons=agenda.STATE_ICONS,
            today=now.date(), token=fragment_cache.TOKEN, csrf_token=lambda: fragment_cache.TOKEN)
        return html, view.valid_until

    key = (current_user.id, household_id, acting, page.selected, data.year, data.month)
    return fragment_cache.serve(_pages(), key, page.inputs, now, render_page)


def _pages() -> fragment_cache.FragmentCache:
    cache = current_app.extensions.get("citoyen.agenda_pages")
    if cache is None:
        cache = current_app.extensions["citoyen.agenda_pages"] = fragment_cache.FragmentCache(
            current_app.config["AGENDA_CACHE_SIZE"])
    return cache


def _back_query(child: str, month: str) -> str:
    """The query string a cell's button carries, to come back to this month."""
    household_id = _household_id()
    values = {"enfant": child, "mois": month}
    if household_id is not None:
        values["foyer"] = household_id
    return "?" + urlencode(values)


def _back_to_month(day: str = "") -> str:
    return _month_url(request.args.get("enfant"), request.args.get("mois") or day[:7] or None)


_DONE = {
    "book": "La réservation est enregistrée.",
    "cancel": "La réservation est annulée.",
    "wait": "Votre enfant est sur la liste d'attente : vous serez prévenu si une place se libère.",
}


def _done(action: str, cell) -> str:
    """What the month says after a plain form's click, from the day as it now stands."""
    if action == "wait" and cell.state == agenda.BOOKED:
        return _DONE["book"]  # a place was free again: booked at once
    if action == "wait" and _household_id() is not None:
        return "L'enfant est sur la liste d'attente : sa famille sera prévenue si une place se libère."
    return _DONE[action]


def _cell_action(action: str, child_id: int, day: str, activity_id: int):
    """Book, cancel or wait: the cell again (htmx), or the month (a plain form)."""
    _household_id()  # read before the click's commit
    try:
        the_day = agenda.parse_day(day)
    except DomainError as error:
        if is_fragment_request():
            return render("agenda/month.html", block="alert", message=error.message, status=422)
        flash(error.message, "error")
        return redirect(_back_to_month())
    try:
        # The account itself, not Flask-Login's proxy: the service reads it often.
        cell = agenda.click(get_session(), current_user._get_current_object(), action, child_id, activity_id,
                            the_day, base_url())
    except NotFound:
        abort(404)
    if not is_fragment_request():
        flash(cell.message or _done(action, cell), "error" if cell.message else "success")
        return redirect(_back_to_month(day))
    args = request.args
    child_param = args.get("enfant", "tous")
    back = _back_query(child_param, args.get("mois") or day[:7])
    # The month's cells are this macro: called straight, it spares a template
    # context per click. Its form carries the token the month page carries.
    macro = current_app.jinja_env.get_template("agenda/_macros.html").module.agenda_cell
    response = make_response(macro(cell, child_param == "tous", session_token(), back),
                             422 if cell.message else 200)
    response.vary.add("HX-Request")
    return response


@bp.route("/<int:child_id>/<day>/<int:activity_id>/reservation", methods=["POST"])
def book_slot(child_id: int, day: str, activity_id: int):
    """Réserver ce jour."""
    return _cell_action("book", child_id, day, activity_id)


@bp.route("/<int:child_id>/<day>/<int:activity_id>/annulation", methods=["POST"])
def cancel_booking(child_id: int, day: str, activity_id: int):
    """Annuler la réservation (ou quitter la liste d'attente)."""
    return _cell_action("cancel", child_id, day, activity_id)


@bp.route("/<int:child_id>/<day>/<int:activity_id>/attente", methods=["POST"])
def join_waiting_list(child_id: int, day: str, activity_id: int):
    """M'inscrire sur la liste d'attente."""
    return _cell_action("wait", child_id, day, activity_id)


def _school_year(today: date) -> tuple[date, date]:
    end_year = today.year + 1 if today.month >= 8 else today.year
    return today, date(end_year, 8, 31)


@bp.route("/inscription", methods=["GET", "POST"])
def enrol():
    """Inscrire à une activité: choose the child, the activity and the period."""
    session = get_session()
    children = _children()
    activities = agenda.activities_for_children(session, children)
    form = EnrolForm()
    form.child.choices = [SelectChoice("", "Choisissez…")] + [SelectChoice(c.id, c.full_name) for c in children]
    form.activity.choices = [SelectChoice("", "Choisissez…")] + [
        SelectChoice(a.id, f"{a.name} — {a.site.name}"
                     + (" (sur validation de la mairie)" if a.needs_validation else ""))
        for a in activities]
    if request.method == "GET":
        start, end = _school_year(agenda.local_now().date())
        form.start_date.data = form.start_date.data or start
        form.end_date.data = form.end_date.data or end
        form.child.data = parse_id(request.args.get("enfant")) or form.child.data
    if form.validate_on_submit():
        ok, enrolment = attempt(form, agenda.enrol, session, current_user, form.child.data, form.activity.data,
                                form.start_date.data, form.end_date.data, base_url())
        if ok:
            if enrolment.status == "pending":
                flash(f"L'inscription {of(enrolment.child.first_name)} à {enrolment.activity.name} est "
                      "transmise : elle est en attente de validation par la mairie.", "success")
            else:
                flash(f"{enrolment.child.first_name} est inscrit·e à {enrolment.activity.name} : vous pouvez "
                      "réserver les jours dans l'agenda.", "success")
            return redirect(_month_url(str(enrolment.child_id), f"{enrolment.start_date:%Y-%m}"))
    enrolments = agenda.endable(agenda.enrolments_of(session, children), agenda.local_now().date())
    return render("agenda/enrol.html", block="form", form=form, children=children, enrolments=enrolments,
                  status=form_status(form) if form.errors or form.form_errors else 200)


@bp.route("/inscriptions/<int:enrolment_id>/fin", methods=["GET", "POST"])
def end_enrolment(enrolment_id: int):
    """Mettre fin à l'inscription: its last day; the days booked after it are cancelled."""
    session = get_session()
    try:
        enrolment = agenda.enrolment_for(session, current_user, enrolment_id, _household_id())
    except NotFound:
        abort(404)
    form = EndEnrolmentForm()
    today = agenda.local_now().date()
    if request.method == "GET":
        form.last_day.data = agenda.default_last_day(enrolment, today)
    if form.validate_on_submit():
        child_id, name, first = enrolment.child_id, enrolment.activity.name, enrolment.child.first_name
        ok, result = attempt(form, agenda.end_enrolment, session, current_user, enrolment_id, form.last_day.data,
                             base_url())
        if ok:
            ended, cancelled, left_waiting = result
            undone = agenda.undone_text(cancelled, left_waiting)
            flash((f"L'inscription {of(first)} à {name} est retirée." if ended is None else
                   f"L'inscription {of(first)} à {name} prend fin le {ended.end_date:%d/%m/%Y}.")
                  + (f" {undone[0].upper()}{undone[1:]}." if undone else ""), "success")
            return redirect(_month_url(str(child_id), f"{form.last_day.data:%Y-%m}"))
        try:
            enrolment = agenda.enrolment_for(session, current_user, enrolment_id, _household_id())  # as it stands now
        except NotFound:
            abort(404)
    booked = agenda.bookings_after(session, enrolment, today)
    return render("agenda/end_enrolment.html", block="form", form=form, enrolment=enrolment, booked=booked,
                  today=today, status=form_status(form) if form.errors or form.form_errors else 200)


@bp.route("/saisie-groupee", methods=["GET", "POST"])
def bulk():
    """Saisie groupée: a preview of what will be booked and what will not, then Créer or Supprimer."""
    session = get_session()
    children = _children()
    activities = agenda.activities_for_children(session, children)
    form = BulkForm()
    form.children.choices = [SelectChoice(c.id, c.full_name) for c in children]
    form.activities.choices = [SelectChoice(a.id, a.name) for a in activities]
    # « preview » shows what « Créer » would do, « preview_delete » what « Supprimer » would do.
    lines, applied, action = None, False, request.form.get("action", "preview")
    intent = "delete" if action in ("delete", "preview_delete") else "create"
    if request.method == "GET":
        start = agenda.local_now().date()
        form.start_date.data, form.end_date.data = start, _school_year(start)[1]
        form.children.data = [c.id for c in children]
        form.weekdays.data = [0, 1, 3, 4]
    elif form.validate_on_submit():
        apply = action in ("create", "delete")
        ok, lines = attempt(form, agenda.bulk, session, current_user, form.children.data or [],
                            form.activities.data or [], form.start_date.data, form.end_date.data,
                            form.weekdays.data or [], intent, base_url(), apply=apply)
        if not ok:
            lines = None
        applied = ok and apply
    return render("agenda/bulk.html", block="bulk", form=form, lines=lines, applied=applied, intent=intent,
                  status=422 if form.errors or form.form_errors else 200)


def _certificate(form) -> tuple[str, bytes] | None:
    """(name, content) of the chosen certificate, read to one byte past the
    size limit at most, so that an oversized file is refused unread."""
    chosen = form.certificate.data
    if not chosen or not getattr(chosen, "filename", ""):
        return None
    return chosen.filename, chosen.stream.read(current_app.config["DOCUMENT_MAX_FILE_SIZE"] + 1)


def _absence_page(form, status: int = 200):
    session = get_session()
    today = agenda.local_now().date()
    return render("agenda/absence.html", block="form", form=form, status=status,
                  absences=agenda.absences_of(session, _children(), today), motives=agenda.ABSENCE_MOTIVES,
                  certificate_form=CertificateForm(formdata=None))


@bp.route("/absence", methods=["GET", "POST"])
@csrf.exempt  # checked by uploads.parse_body, once the body is read under its own bound
def absence():
    """Déclarer l'absence d'un enfant: the bookings of those days are cancelled,
    even past the deadline; a medical certificate can come with it."""
    session = get_session()
    too_big = request.method == "POST" and not uploads.parse_body()
    children = _children()
    activities = agenda.activities_for_children(session, children)
    form = AbsenceForm(formdata=None) if too_big else AbsenceForm()
    form.child.choices = [SelectChoice("", "Choisissez…")] + [SelectChoice(c.id, c.full_name) for c in children]
    form.activities.choices = [SelectChoice(a.id, a.name) for a in activities]
    if too_big:
        add_error(form, "certificate", _certificate_too_big())
        return _absence_page(form, 422)
    if request.method == "GET":
        form.start_date.data = form.end_date.data = agenda.local_now().date()
        form.child.data = parse_id(request.args.get("enfant")) or form.child.data
    if form.validate_on_submit():
        try:
            certificate = _certificate(form)
            declared, count = agenda.declare_absence(
                session, current_user, form.child.data, form.start_date.data, form.end_date.data,
                form.motive.data, form.comment.data or "", base_url(), form.activities.data or None,
                certificate=certificate, storage=uploads.storage(),
                max_size=current_app.config["DOCUMENT_MAX_FILE_SIZE"])
        except NotFound:
            session.rollback()
            add_error(form, "child", "Choisissez un enfant de la liste.")
        except DomainError as error:
            session.rollback()
            add_error(form, error.field, error.message)
        else:
            flash("L'absence est enregistrée. " + (
                f"{count} réservation{'s' if count > 1 else ''} annulée{'s' if count > 1 else ''}."
                if count else "Il n'y avait pas de réservation sur ces jours.")
                + (f" Le certificat « {declared.certificate_name} » est joint." if certificate else ""), "success")
            return redirect(_month_url(str(form.child.data), f"{form.start_date.data:%Y-%m}"))
    return _absence_page(form, 422 if form.errors or form.form_errors else 200)


def _certificate_too_big() -> str:
    size = current_app.config["DOCUMENT_MAX_FILE_SIZE"] // (1024 * 1024)
    return f"Le certificat dépasse la taille autorisée ({size} Mo au plus) : réduisez sa taille, puis envoyez-le à nouveau."


@bp.route("/absences/<int:absence_id>/certificat", methods=["POST"])
@csrf.exempt  # checked by uploads.parse_body, once the body is read under its own bound
def attach_certificate(absence_id: int):
    """Joindre un certificat à une absence déjà déclarée."""
    too_big = not uploads.parse_body()
    session = get_session()
    try:
        agenda.absence_for(session, current_user, absence_id)
    except NotFound:
        abort(404)
    if request.args.get("retour") == "agent" and current_user.is_agent:
        back = url_for("agent.absences")
    else:
        back = url_for("agenda.absence", foyer=_household_id()) + f"#absence-{absence_id}"
    form = CertificateForm(formdata=None) if too_big else CertificateForm()
    try:
        if too_big:
            raise DomainError(_certificate_too_big(), "certificate")
        if not form.validate_on_submit():
            raise DomainError("Choisissez le fichier du certificat.", "certificate")
        agenda.attach_certificate(session, uploads.storage(), current_user, absence_id, _certificate(form),
                                  current_app.config["DOCUMENT_MAX_FILE_SIZE"])
    except DomainError as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash("Le certificat est joint à l'absence.", "success")
    return redirect(back)


@bp.route("/absences/<int:absence_id>/certificat")
def absence_certificate(absence_id: int):
    """The certificate of an absence, for the family and the town hall."""
    try:
        found = agenda.absence_for(get_session(), current_user, absence_id)
    except NotFound:
        abort(404)
    if not found.certificate_key:
        abort(404)
    return uploads.send_stored(StoredCertificate(found))


class StoredCertificate:
    """An absence's certificate, in the shape ``send_stored`` serves."""

    def __init__(self, absence) -> None:
        self.id = absence.id
        self.storage_key = absence.certificate_key
        self.content_type = absence.certificate_type
        self.filename = absence.certificate_name
