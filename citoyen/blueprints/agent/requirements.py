"""Espace agent: the documents an activity requires before enrolment."""

from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user

from citoyen.blueprints.agent import bp
from citoyen.blueprints.agent.activities import activity_or_404
from citoyen.blueprints.util import attempt
from citoyen.db import get_session
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import requirements
from citoyen.services.documents import parse_id


@bp.route("/activites/<int:activity_id>/justificatifs", methods=["GET", "POST"])
def activity_requirements(activity_id: int):
    """Justificatifs exigés avant l'inscription à une activité."""
    session = get_session()
    activity = activity_or_404(activity_id)
    if request.method == "POST":
        chosen = [i for i in map(parse_id, request.form.getlist("types")) if i is not None]
        ok, result = attempt(None, requirements.set_required, session, current_user, activity.id, chosen)
        if ok:
            flash(f"Justificatifs exigés pour « {activity.name} » enregistrés.", "success")
        else:
            flash(result.message, "error")
        return redirect(url_for("agent.activity_requirements", activity_id=activity.id))
    required = {t.id for t in requirements.required_types(session, activity.id)}
    return render("agent/activity_requirements.html", activity=activity, required=required,
                  types=requirements.choices(session, activity))
