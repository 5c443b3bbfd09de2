"""Pages that exist only in demo mode."""

from flask import Blueprint

bp = Blueprint("demo", __name__, url_prefix="/demo")

from citoyen.blueprints.demo import views  # noqa: E402,F401
