from flask import Blueprint

bp = Blueprint("profile", __name__, url_prefix="/profil")

from citoyen.blueprints.profile import views  # noqa: E402,F401
