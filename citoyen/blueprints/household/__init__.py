"""Mes abonnements, Mon foyer, Mes enfants."""

from flask import Blueprint

bp = Blueprint("household", __name__)

from citoyen.blueprints.household import views  # noqa: E402,F401
