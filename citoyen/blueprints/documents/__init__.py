"""Mes justificatifs: what the town hall asks, and « Fournir le justificatif »."""

from flask import Blueprint

bp = Blueprint("documents", __name__)

from citoyen.blueprints.documents import views  # noqa: E402,F401
