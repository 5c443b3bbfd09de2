"""Espace agent: the back office, for agents and administrators only."""

from flask import Blueprint

from citoyen.access import require_agent

bp = Blueprint("agent", __name__, url_prefix="/agent")
bp.before_request(require_agent)

from citoyen.blueprints.agent import activities  # noqa: E402,F401
from citoyen.blueprints.agent import documents  # noqa: E402,F401
from citoyen.blueprints.agent import imports  # noqa: E402,F401
from citoyen.blueprints.agent import money  # noqa: E402,F401
from citoyen.blueprints.agent import requests  # noqa: E402,F401
from citoyen.blueprints.agent import requirements  # noqa: E402,F401
from citoyen.blueprints.agent import views  # noqa: E402,F401
