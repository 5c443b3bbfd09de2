"""Espace agent: the documents an activity requires before enrolment."""

from flask import abort
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from citoyen.blueprints.agent import bp
from citoyen.blueprints.util import attempt
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.models.agenda import Activity
from citoyen.services import requirements


@bp.route("/activites/<int:activity_id>/justificatifs", methods=["GET", "POST"])
def activity_requirements(activity_id: int):
    """Justificatifs exigés avant l'inscription à une activité."""
    session = get_session()
    activity = session.get(Activity, activity_id)
    if activity is None:
        abort(404)
    if request.method == "POST":

        chosen = []
        for value in request.form.getlist("types"):
            if value.isascii() and value.isdigit() and len(value) < 10:
                chosen.append(int(value))
        ok, result = attempt(None, requirements.set_required, session, current_user, activity.id, chosen)
        if ok:
            flash(f"Justificatifs exigés pour « {activity.name} » enregistrés.", "success")
        else:
            flash(result.message, "error")
        return redirect(url_for("agent.activity_requirements", activity_id=activity.id))
    required = {t.id for t in requirements.required_types(session, activity.id)}
    return render("agent/activity_requirements.html", activity=activity, required=required,
                  types=requirements.choices(session, activity))
