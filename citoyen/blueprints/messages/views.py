"""Messages: the notifications of the account."""

from flask import abort
from flask import url_for
from flask_login import current_user

from citoyen.blueprints.messages import bp
from citoyen.blueprints.util import page_number
from citoyen.db import get_session
from citoyen.htmx import is_fragment_request
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import notifications
from citoyen.services.errors import NotFound


@bp.route("/")
def index():
    """The account's messages, newest first, unread ones marked."""
    number = page_number()
    items, has_next = notifications.page(get_session(), current_user, number)
    if not items and number > 1:  # past the last page (an old link): back to the first
        return redirect(url_for("messages.index"))
    return render("messages/index.html", items=items, page=number, has_next=has_next)


@bp.route("/<int:notification_id>")
def show(notification_id: int):
    """One message; opening it marks it as read."""
    try:
        item = notifications.mark_read(get_session(), current_user, notification_id)
    except NotFound:
        abort(404)
    return render("messages/show.html", item=item)


@bp.route("/<int:notification_id>/lu", methods=["POST"])
def mark_read(notification_id: int):
    """Marquer comme lu (htmx swaps the message in place)."""
    try:
        item = notifications.mark_read(get_session(), current_user, notification_id)
    except NotFound:
        abort(404)
    if is_fragment_request():
        # The menu's count goes down with it (out of band).
        return render("messages/index.html", block="item", item=item,
                      unread=notifications.unread_count(get_session(), current_user))
    return redirect(url_for("messages.index"))


@bp.route("/tout-lu", methods=["POST"])
def mark_all_read():
    """Tout marquer comme lu."""
    notifications.mark_all_read(get_session(), current_user)
    return redirect(url_for("messages.index"))
