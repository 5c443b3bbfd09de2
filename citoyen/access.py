"""Who may see what. Every view is for signed-in people unless marked public;
back-office views are for agents; objects are fetched through helpers that
abort when the actor may not see them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask import request
from flask_login import current_user

from citoyen.db import get_session
from citoyen.models import Account
from citoyen.services import backoffice
from citoyen.services.errors import NotFound


def public(view: Callable) -> Callable:
    """Mark a view as open to anonymous visitors."""
    view.is_public = True
    return view


def is_public_endpoint(app, endpoint: str | None) -> bool:
    if endpoint is None or endpoint == "static":
        return True
    view = app.view_functions.get(endpoint)
    return bool(getattr(view, "is_public", False))


def anonymous_only(view: Callable) -> Callable:
    """Public pages that make no sense once signed in send home instead."""
    from flask import redirect
    from flask import url_for

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user.is_authenticated:
            return redirect(url_for("main.home"))
        return view(*args, **kwargs)

    wrapper.is_public = True
    return wrapper


def require_agent() -> None:
    """For a blueprint's before_request: only agents and administrators."""
    if not current_user.is_authenticated:
        return  # the app-wide check redirects to the sign-in page
    if not current_user.is_agent:
        abort(403)


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not (current_user.is_authenticated and current_user.is_admin):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def account_or_404(actor: Account, account_id: int) -> Account:
    """An account, as seen by an agent."""
    if not actor.is_agent:
        abort(403)
    try:
        return backoffice.get_account(get_session(), actor, account_id)
    except NotFound:
        abort(404)


def household_or_404(actor: Account, household_id: int):
    """A household the actor may see (subscribed account or agent), or 404:
    another family's household does not exist for a parent."""
    from citoyen.services import households

    try:
        return households.household_for(get_session(), actor, household_id)
    except NotFound:
        abort(404)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path inside this site, else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def current_path() -> str:
    return request.full_path.rstrip("?")
