"""Small helpers shared by the views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort
from flask import current_app
from flask import request
from flask_wtf import FlaskForm

from citoyen.db import get_session
from citoyen.services.errors import DomainError


def base_url() -> str:
    """The portal's address for links in mails."""
    return current_app.config.get("BASE_URL") or request.host_url


def id_arg(name: str) -> int | None:
    """A filter of the query string: absent or empty for all, an id, or not found."""
    from citoyen.services.documents import parse_id

    value = request.args.get(name, "")
    if not value:
        return None
    number = parse_id(value)
    if number is None:
        abort(404)
    return number


def confirm_page(title: str, lines: list[str], button: str, action: str, back: str,
                 hidden: dict[str, str] | None = None):
    """The page a destructive action shows first: what will happen, the button
    that does it (a form post) and the way back."""
    from citoyen.htmx import render

    return render("confirm.html", title=title, lines=lines, button=button, action=action, back=back,
                  hidden=hidden or {})


def search_text(name: str = "q", limit: int = 100) -> str:
    """What was typed in a search box, without control characters (a NUL
    cannot even reach PostgreSQL), at most ``limit`` characters."""
    return "".join(ch for ch in request.args.get(name, "") if ch >= " " and ch != "\x7f")[:limit]


def settings():
    return current_app.config


def attempt(form: FlaskForm | None, service: Callable, *args, **kwargs) -> tuple[bool, Any]:
    """Call a service; on a domain error, undo the transaction and put the
    message next to the field it concerns (or at the top of the form)."""
    try:
        return True, service(*args, **kwargs)
    except DomainError as error:
        get_session().rollback()
        if form is not None:
            add_error(form, error.field, error.message)
        return False, error


def add_error(form: FlaskForm, field: str | None, message: str) -> None:
    """The message next to ``field``; a field of a list of sub-forms is named
    as in the page (« brackets-1-price »), and its message is also said at the
    top of the form, which lists only the form's own fields."""
    target = _field(form, field) if field else None
    if target is not None and hasattr(target, "errors"):
        if isinstance(target.errors, tuple):
            target.errors = list(target.errors)
        target.errors.append(message)
        if getattr(form, field, None) is None:
            form.form_errors.append(message)
    else:
        form.form_errors.append(message)


def _field(form, name: str):
    found = getattr(form, name, None)
    if found is not None or "-" not in name:
        return found
    node = form
    for part in name.split("-"):
        if part.isdigit():
            entries = getattr(node, "entries", None)
            if entries is None or int(part) >= len(entries):
                return None
            node = entries[int(part)]
        else:
            node = getattr(node, part, None)
            if node is None:
                return None
    return node


def form_status(form: FlaskForm) -> int:
    """422 when a submitted form is shown again with errors."""
    return 422 if request.method == "POST" else 200


def page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1
