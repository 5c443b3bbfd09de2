"""S'identifier avec FranceConnect (OpenID Connect)."""

from flask import Blueprint

bp = Blueprint("franceconnect", __name__)

from citoyen.blueprints.franceconnect import views  # noqa: E402,F401
