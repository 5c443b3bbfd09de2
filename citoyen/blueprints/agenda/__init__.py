"""Agenda: enrol a child in an activity, book and cancel days, bulk booking, absences."""

from flask import Blueprint

bp = Blueprint("agenda", __name__, url_prefix="/agenda")

from citoyen.blueprints.agenda import views  # noqa: E402,F401
