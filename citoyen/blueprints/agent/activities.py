"""Espace agent: activities, their capacity and closures, the enrolments to
validate, and the daily lists (printable, or as CSV)."""

from __future__ import annotations

import io
from datetime import date
from datetime import datetime
from datetime import time

from defusedcsv import csv
from flask import Response
from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import SelectChoice

from citoyen.access import safe_next
from citoyen.blueprints.agenda.forms import CertificateForm
from citoyen.blueprints.agent import bp
from citoyen.blueprints.agent.activity_forms import ActivityForm
from citoyen.blueprints.agent.activity_forms import CapacityForm
from citoyen.blueprints.agent.activity_forms import ClosureForm
from citoyen.blueprints.agent.activity_forms import DecisionForm
from citoyen.blueprints.agent.activity_forms import SiteForm
from citoyen.blueprints.fields import DATE_MESSAGE
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import confirm_page
from citoyen.blueprints.util import id_arg
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import activities
from citoyen.services import agenda
from citoyen.services import documents
from citoyen.services import organisations
from citoyen.services.activities import ACTIVITY_FIELDS
from citoyen.services.booking_rules import format_day
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from citoyen.timefmt import format_date


def activity_or_404(activity_id: int):
    """The activity, for an agent; 404 when it does not exist."""
    try:
        return activities.get(get_session(), current_user, activity_id)
    except NotFound:
        abort(404)


def _site_form(towns, submitted: bool = True) -> SiteForm:
    """The site's form; its commune is asked only when there are several."""
    form = SiteForm() if submitted else SiteForm(formdata=None)
    if len(towns) > 1:
        form.organisation_id.choices = [SelectChoice(o.id, o.name) for o in towns]
    else:
        del form.organisation_id
    return form


def _activities_page(form: SiteForm, towns, status: int = 200):
    session = get_session()
    return render("agent/activities.html", activities=activities.activities(session, current_user),
                  sites=activities.sites(session, current_user), site_form=form,
                  communes={o.id: o.name for o in towns} if len(towns) > 1 else None,
                  pending=len(agenda.pending_enrolments(session, current_user)), status=status)


@bp.route("/activites")
def activities_list():
    """Activités: every activity with its site and capacity; add a site."""
    towns = organisations.all_organisations(get_session())
    return _activities_page(_site_form(towns, submitted=False), towns)


@bp.route("/lieux", methods=["POST"])
def create_site():
    """Ajouter un lieu (école, centre de loisirs), in its commune."""
    session = get_session()
    towns = organisations.all_organisations(session)
    form = _site_form(towns)
    if form.validate_on_submit() and towns:
        chosen = form.organisation_id.data if "organisation_id" in form else towns[0].id
        town = next(o for o in towns if o.id == chosen)
        ok, result = attempt(form, activities.create_site, session, current_user, town, form.name.data)
        if ok:
            flash(f"Le lieu « {result.name} » est ajouté.", "success")
            return redirect(url_for("agent.activities_list"))
    return _activities_page(form, towns, status=422)


def _activity_form(form: ActivityForm, activity=None) -> ActivityForm:
    """The form's sites: an activity's own commune's, or, for a new one, every
    commune's, each named with its commune when there are several."""
    session = get_session()
    found = activities.sites(session, current_user, activity.organisation_id if activity else None)
    towns = {o.id: o.name for o in organisations.all_organisations(session)}
    several = activity is None and len({s.organisation_id for s in found}) > 1
    form.site_id.choices = [SelectChoice(s.id, f"{s.name} ({towns[s.organisation_id]})" if several else s.name)
                            for s in found]
    return form


def _values(form: ActivityForm) -> dict:
    values = {name: getattr(form, name).data for name in ACTIVITY_FIELDS}
    values["weekdays"] = "".join(form.weekdays.data or [])
    return values


def _defaults() -> dict:
    return {"weekdays": ["0", "1", "3", "4"], "start_time": time(11, 45), "end_time": time(13, 30),
            "default_capacity": 30, "book_time": time(12, 0), "cancel_time": time(12, 0), "book_kind": "days",
            "cancel_kind": "days", "school_holidays": "closed"}


@bp.route("/activites/nouvelle", methods=["GET", "POST"])
def new_activity():
    """Créer une activité, with its opening days, capacity and booking rule."""
    form = _activity_form(ActivityForm(data=None if request.method == "POST" else _defaults()))
    if form.validate_on_submit():
        ok, result = attempt(form, activities.create_activity, get_session(), current_user, _values(form))
        if ok:
            flash(f"L'activité « {result.name} » est créée.", "success")
            return redirect(url_for("agent.activity", activity_id=result.id))
    return render("agent/activity_form.html", form=form, activity=None,
                  status=422 if form.errors or form.form_errors else 200)


def _activity_page(activity, form=None, closure_form=None, capacity_form=None, status=200):
    session = get_session()
    if form is None:
        form = _activity_form(ActivityForm(obj=activity, formdata=None), activity)
        form.weekdays.data = list(activity.weekdays)
    today = agenda.local_now().date()
    return render(
        "agent/activity.html", activity=activity, form=form,
        closure_form=closure_form or ClosureForm(formdata=None),
        capacity_form=capacity_form or CapacityForm(formdata=None),
        closures=activities.closures(session, current_user, activity),
        occupancy=activities.occupancy(session, current_user, activity, today),
        book_rule=agenda.book_rule(activity).describe(), cancel_rule=agenda.cancel_rule(activity).describe(),
        format_day=format_day, status=status,
    )


@bp.route("/activites/<int:activity_id>", methods=["GET", "POST"])
def activity(activity_id: int):
    """One activity: its settings, the coming weeks' occupancy, closures and day capacities."""
    found = activity_or_404(activity_id)
    if request.method == "GET":
        return _activity_page(found)
    form = _activity_form(ActivityForm(), found)
    if form.validate_on_submit():
        ok, _ = attempt(form, activities.update_activity, get_session(), current_user, activity_id, _values(form),
                        base_url(), confirmed=form.confirm.data)
        if ok:
            flash("L'activité est modifiée.", "success")
            return redirect(url_for("agent.activity", activity_id=activity_id))
    return _activity_page(found, form=form, status=422)


@bp.route("/activites/<int:activity_id>/archiver", methods=["POST"])
def archive_activity(activity_id: int):
    """Ne plus proposer l'activité (or propose it again)."""
    found = activity_or_404(activity_id)
    changed = activities.set_archived(get_session(), current_user, activity_id, not found.archived)
    flash("L'activité n'est plus proposée aux familles." if changed.archived
          else "L'activité est de nouveau proposée.", "success")
    return redirect(url_for("agent.activity", activity_id=activity_id))


@bp.route("/activites/<int:activity_id>/fermetures", methods=["POST"])
def add_closure(activity_id: int):
    """Ajouter une fermeture (grève, journée pédagogique…)."""
    found = activity_or_404(activity_id)
    form = ClosureForm()
    if form.validate_on_submit():
        town = organisations.get(get_session(), found.organisation_id)
        ok, result = attempt(form, activities.add_closure, get_session(), current_user, town,
                             form.start_date.data, form.end_date.data, form.reason.data,
                             activity_id=None if form.whole_site.data else found.id,
                             site_id=found.site_id if form.whole_site.data else None, base_url=base_url())
        if ok:
            cancelled = result[1]
            flash("La fermeture est enregistrée : les familles voient « Fermé » avec le motif."
                  + (f" {cancelled} réservation(s) de ces jours sont annulées ; les familles sont prévenues."
                     if cancelled else ""), "success")
            return redirect(url_for("agent.activity", activity_id=activity_id))
    return _activity_page(found, closure_form=form, status=422)


@bp.route("/fermetures/<int:closure_id>/supprimer", methods=["GET", "POST"])
def delete_closure(closure_id: int):
    """Supprimer une fermeture, after a confirmation page (the families see the day open again)."""
    back = safe_next(request.values.get("back")) or ""
    back = back if back.startswith("/agent/") else url_for("agent.activities_list")
    if request.method == "GET":
        try:
            closure = activities.closure(get_session(), current_user, closure_id)
        except NotFound:
            abort(404)
        if closure.start_date == closure.end_date:
            when = f"Le {format_date(closure.start_date)}"
        else:
            when = f"Du {format_date(closure.start_date)} au {format_date(closure.end_date)}"
        if not closure.activity_id:
            when += ", toutes les activités du lieu" if closure.site_id else ", toutes les activités de la commune"
        return confirm_page(
            f"Supprimer la fermeture « {closure.reason} »",
            [when + ".", "Une fois la fermeture supprimée, les familles verront ces jours de nouveau ouverts "
                         "et pourront les réserver."],
            "Supprimer la fermeture", url_for("agent.delete_closure", closure_id=closure.id), back,
            hidden={"back": back})
    try:
        activities.delete_closure(get_session(), current_user, closure_id)
    except NotFound:
        abort(404)
    flash("La fermeture est supprimée.", "success")
    return redirect(back)


@bp.route("/activites/<int:activity_id>/capacite", methods=["POST"])
def set_capacity(activity_id: int):
    """Capacité d'un jour; lowering it below the bookings asks first."""
    found = activity_or_404(activity_id)
    form = CapacityForm()
    if form.validate_on_submit():
        ok, _ = attempt(form, activities.set_day_capacity, get_session(), current_user, activity_id,
                        form.day.data, form.capacity.data, form.confirm.data, base_url())
        if ok:
            flash(f"La capacité du {format_day(form.day.data)} est de {form.capacity.data} places.", "success")
            return redirect(url_for("agent.activity", activity_id=activity_id))
    return _activity_page(found, capacity_form=form, status=422)


@bp.route("/inscriptions")
def enrolments_queue():
    """Inscriptions à valider, oldest first."""
    return _enrolments_page()


def _enrolments_page(refused: int | None = None, reason: str = "", error: str = "", status: int = 200):
    """The queue; a refusal that failed shows its message next to that enrolment's reason, as typed."""
    return render("agent/activity_enrolments.html",
                  enrolments=agenda.pending_enrolments(get_session(), current_user),
                  refused=refused, reason=reason, error=error, status=status)


@bp.route("/inscriptions/<int:enrolment_id>/valider", methods=["POST"])
def validate_enrolment(enrolment_id: int):
    """Valider l'inscription: bookings open and the family is told."""
    return _decide(enrolment_id, True)


@bp.route("/inscriptions/<int:enrolment_id>/refuser", methods=["POST"])
def refuse_enrolment(enrolment_id: int):
    """Refuser l'inscription, avec un motif que la famille lira."""
    return _decide(enrolment_id, False)


def _decide(enrolment_id: int, accept: bool):
    form = DecisionForm()
    if not form.validate_on_submit():
        return _enrolments_page(enrolment_id, form.reason.data or "", " ".join(form.reason.errors)
                                or "Le formulaire n'a pas pu être lu : réessayez.", status=422)
    try:
        agenda.decide_enrolment(get_session(), current_user, enrolment_id, accept,
                                form.reason.data or "", base_url())
    except NotFound:
        get_session().rollback()
        abort(404)
    except DomainError as error:
        get_session().rollback()
        if error.field == "reason":
            return _enrolments_page(enrolment_id, form.reason.data or "", error.message, status=422)
        flash(error.message, "error")
    else:
        flash("L'inscription est validée ; la famille est prévenue." if accept
              else "L'inscription est refusée ; la famille est prévenue.", "success")
    return redirect(url_for("agent.enrolments_queue"))


def _list_day() -> tuple[date, str]:
    """The day of the lists, as picked (2026-09-14) or typed (14/09/2026), and
    the message when what was typed is not a day: today's lists then."""
    typed = request.args.get("jour", "").strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return agenda.check_day(datetime.strptime(typed, pattern).date()), ""
        except (ValueError, DomainError):
            continue
    today = agenda.local_now().date()
    return today, DATE_MESSAGE if typed else ""


@bp.route("/listes")
def daily_lists():
    """Listes du jour: who is booked on each activity that day, printable."""
    session = get_session()
    day, day_error = _list_day()
    # An activity archived, or no longer open that weekday, still lists the children it has that day.
    listed = activities.listed_activity_ids(session, current_user, day)
    all_activities = [a for a in activities.activities(session, current_user) if not a.archived or a.id in listed]
    chosen = request.args.get("activite", type=int)
    shown = [a for a in all_activities if a.id == chosen] or all_activities
    lists = [(a, *activities.daily_list(session, current_user, a.id, day)) for a in shown
             if a.opens_on(day) or a.id in listed]
    return render("agent/activity_lists.html", day=day, day_label=format_day(day), lists=lists,
                  day_error=day_error, typed_day=request.args.get("jour", ""), status=422 if day_error else 200,
                  activities=all_activities, chosen=chosen, attendance=activities.ATTENDANCE_LABELS,
                  care_notes=activities.care_notes, pickup_notes=activities.pickup_notes,
                  candidates={a.id: activities.unbooked_candidates(session, a, day) for a, _, _ in lists})


@bp.route("/activites/<int:activity_id>/presence", methods=["POST"])
def unbooked_presence(activity_id: int):
    """Pointer un enfant présent sans réservation."""
    try:
        day = agenda.parse_day(request.form.get("jour", ""))
    except DomainError:
        day = None
    child_id = documents.parse_id(request.form.get("enfant"))
    if day is None or child_id is None:
        flash("Choisissez l'enfant présent.", "error")
        return redirect(url_for("agent.daily_lists", activite=activity_id))
    try:
        activities.unbooked_presence(get_session(), current_user, activity_id, child_id, day)
        flash("La présence sans réservation est enregistrée.", "success")
    except NotFound:
        get_session().rollback()
        abort(404)
    except DomainError as error:
        get_session().rollback()
        flash(error.message, "error")
    return redirect(url_for("agent.daily_lists", jour=day.isoformat(), activite=activity_id))


@bp.route("/reservations/<int:booking_id>/pointage", methods=["POST"])
def mark_attendance(booking_id: int):
    """Pointer un enfant: présent, absent justifié ou non."""
    try:
        booking = activities.mark_attendance(get_session(), current_user, booking_id, request.form.get("status", ""))
    except NotFound:
        get_session().rollback()
        abort(404)
    except DomainError as error:
        get_session().rollback()
        flash(error.message, "error")
        return redirect(url_for("agent.daily_lists", jour=request.form.get("jour") or None))
    return redirect(url_for("agent.daily_lists", jour=booking.day.isoformat(), activite=booking.activity_id))


@bp.route("/listes.csv")
def daily_list_csv():
    """The daily list as CSV (one line per child booked)."""
    session = get_session()
    day, day_error = _list_day()
    if day_error:
        flash(day_error, "error")
        return redirect(url_for("agent.daily_lists", jour=request.args.get("jour"),
                                activite=request.args.get("activite")))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")  # a name typed as =formula stays text
    writer.writerow(["Activité", "Lieu", "Jour", "Nom", "Prénom", "Classe", "Foyer", "État", "Santé",
                     "Qui peut récupérer l'enfant"])
    for a in activities.activities(session, current_user):
        if request.args.get("activite", type=int) not in (None, a.id):
            continue
        booked, waiting = activities.daily_list(session, current_user, a.id, day)
        rows = [(r, activities.ATTENDANCE_LABELS[r.booking.status]) for r in booked]
        for row, state in rows + [(r, "Liste d'attente") for r in waiting]:
            writer.writerow([a.name, a.site.name, day.isoformat(), row.child.last_name, row.child.first_name,
                             row.child.class_name, row.household.name, state,
                             " ; ".join(activities.care_notes(row.child)), activities.pickup_notes(row.child)])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="liste-{day.isoformat()}.csv"'
    return response


@bp.route("/absences")
def absences():
    """Absences déclarées: the last month and to come, with the motive and the certificate."""
    session = get_session()
    orgs = organisations.all_organisations(session)
    organisation_id = id_arg("commune")
    return render("agent/absences.html",
                  absences=agenda.recent_absences(session, current_user, agenda.local_now().date(),
                                                  organisation_id),
                  organisations=orgs, organisation_id=organisation_id, motives=agenda.ABSENCE_MOTIVES,
                  certificate_form=CertificateForm(formdata=None))
