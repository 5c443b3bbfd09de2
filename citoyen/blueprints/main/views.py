"""Accueil, Nous contacter and the pages every portal has."""

from flask import current_app
from flask import send_from_directory
from flask_login import current_user
from sqlalchemy import text

from citoyen.access import public
from citoyen.blueprints.main import bp
from citoyen.db import get_session
from citoyen.htmx import render
from citoyen.services import home as home_service
from citoyen.services import organisations


@bp.route("/")
@public
def home():
    """The welcome page for visitors, "Accueil" for signed-in people."""
    if not current_user.is_authenticated:
        return render("main/welcome.html")
    return render("main/home.html", items=home_service.attention_items(get_session(), current_user))


@bp.route("/contact")
@public
def contact():
    """Nous contacter: each commune's service, phone, mail, address and hours;
    for a family, its own commune first, then the portal's other communes."""
    own, others = organisations.for_contact(
        get_session(), current_user if current_user.is_authenticated else None)
    return render("main/contact.html", own=own, others=others)


@bp.route("/conditions-generales")
@public
def terms():
    """Conditions générales d'utilisation."""
    return render("main/terms.html", organisations=organisations.all_organisations(get_session()))


@bp.route("/mentions-legales")
@public
def legal():
    """Mentions légales."""
    return render("main/legal.html", organisations=organisations.all_organisations(get_session()))


@bp.route("/accessibilite")
@public
def accessibility():
    """Déclaration d'accessibilité."""
    return render(
        "main/accessibility.html", organisations=organisations.all_organisations(get_session())
    )


@bp.route("/favicon.ico")
@public
def favicon():
    return send_from_directory(
        current_app.static_folder,
        "img/favicon.ico",
        mimetype="image/vnd.microsoft.icon",
        max_age=7 * 24 * 3600,
    )


@bp.route("/sante")
@public
def health():
    """For load balancers: answers 200 when the database answers."""
    get_session().execute(text("SELECT 1"))
    return {"status": "ok"}
