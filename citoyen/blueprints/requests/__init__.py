"""Mes demandes: a family's requests to the town hall, and their answers."""

from flask import Blueprint

bp = Blueprint("requests", __name__, url_prefix="/demandes")

from citoyen.blueprints.requests import views  # noqa: E402,F401
