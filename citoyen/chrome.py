"""What every page's header shows beside its own content: the portal's name
and the number of unread messages, read once per request: with the signed-in
account when nothing has changed them since, or else on their own."""

from __future__ import annotations

import logging

from flask import g
from flask_login import current_user

from citoyen.db import get_session
from citoyen.services import accounts
from citoyen.services import notifications
from citoyen.services import organisations

log = logging.getLogger(__name__)


def unread_messages() -> int:
    if "unread_messages" not in g:
        g.unread_messages = 0
        if current_user.is_authenticated:
            header = accounts.session_header(get_session(), current_user.id)
            if header is not None:
                g.unread_messages = header.unread_messages
                return g.unread_messages
            try:
                g.unread_messages = notifications.unread_count(get_session(), current_user)
            except Exception:  # never let the header break a page
                log.exception("unread count unavailable")
                get_session().rollback()
    return g.unread_messages


def portal_name() -> str:
    if "portal_name" not in g:
        g.portal_name = "Portail famille"
        header = accounts.session_header(get_session())
        if header is not None:
            if header.communes == 1:
                g.portal_name = f"Portail famille — {header.first_commune}"
            return g.portal_name
        try:
            names = organisations.first_names(get_session())
        except Exception:  # an error page must render even when the database fails
            log.exception("organisations unavailable")
            get_session().rollback()
            return g.portal_name
        if len(names) == 1:
            g.portal_name = f"Portail famille — {names[0]}"
    return g.portal_name
