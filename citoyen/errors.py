"""Error pages in French, in the layout, or as a fragment for htmx."""

from __future__ import annotations

import logging

from flask import Flask
from flask import g
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from citoyen.htmx import render

log = logging.getLogger(__name__)

PAGES = {
    400: (
        "Requête incorrecte",
        "La demande envoyée n'a pas pu être comprise. Revenez en arrière et réessayez.",
    ),
    403: (
        "Accès refusé",
        "Vous n'avez pas le droit d'accéder à cette page. Si vous pensez que c'est une erreur, contactez la mairie.",
    ),
    404: (
        "Page introuvable",
        "Cette page n'existe pas ou a été déplacée. Vérifiez l'adresse, ou revenez à l'accueil.",
    ),
    405: (
        "Action impossible",
        "Cette action n'est pas possible de cette façon. Revenez à la page précédente.",
    ),
    413: (
        "Fichier trop volumineux",
        "Le fichier ou le formulaire envoyé dépasse la taille autorisée (2 Mo par fichier). Réduisez sa taille puis réessayez.",
    ),
    422: (
        "Formulaire incomplet",
        "Certaines informations sont manquantes ou incorrectes. Corrigez-les puis validez à nouveau.",
    ),
    429: (
        "Trop de tentatives",
        "Vous avez fait trop de tentatives en peu de temps. Patientez quelques minutes puis réessayez.",
    ),
    500: (
        "Erreur du service",
        "Une erreur inattendue s'est produite de notre côté. Réessayez dans quelques instants ; si le problème persiste, contactez la mairie.",
    ),
}

CSRF_MESSAGE = (
    "Le formulaire a expiré ou n'a pas pu être vérifié. Rechargez la page, puis validez à nouveau."
)


def render_error(code: int, message: str | None = None):
    title, default = PAGES.get(code, PAGES[500])
    return render(
        "errors/error.html",
        block="error",
        status=code,
        code=code,
        title=title,
        message=message or default,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return render_error(400, CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        return render_error(error.code if error.code in PAGES else 400)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error", exc_info=error)
        session = g.get("db_session")
        if session is not None:
            session.rollback()
        if app.testing and app.config.get("PROPAGATE_EXCEPTIONS") is not False:
            raise error
        return render_error(500)
