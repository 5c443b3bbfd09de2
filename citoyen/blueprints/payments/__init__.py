from flask import Blueprint

bp = Blueprint("payments", __name__, url_prefix="/paiements")

from citoyen.blueprints.payments import views  # noqa: E402,F401
