from flask import Blueprint

bp = Blueprint("messages", __name__, url_prefix="/messages")

from citoyen.blueprints.messages import views  # noqa: E402,F401
