"""Rendered pages (or fragments) kept in the memory of one process.

A page is kept with the inputs it was rendered from and the moment it
stops being valid by the clock alone. It is served again only if the inputs
read for the new request are equal to those it was made from, and that moment
has not come: nothing ever needs to be invalidated, and each app server
behind a load balancer keeps its own without talking to the others. What
differs from one visitor to the next (the CSRF token) is left as a
placeholder and put in at serving time.

The bound is a number of pages (``cachetools.LRUCache``: the least
recently used goes first)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from cachetools import LRUCache
from flask import Response
from flask import make_response
from flask import session
from flask_login import current_user

from citoyen import chrome
from citoyen.csrf import session_token

TOKEN = "\x00csrf\x00"  # stands for the CSRF token in a kept fragment


_TOKEN = TOKEN.encode()


class Entry(NamedTuple):
    inputs: tuple
    valid_until: datetime
    parts: tuple[bytes, ...]  # the UTF-8 page, cut where the token goes
    made_at: datetime | None = None


class FragmentCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: LRUCache = LRUCache(maxsize=max(size, 1))
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def parts(self, key: tuple, inputs: tuple, now: datetime) -> tuple[bytes, ...] | None:
        """The kept page, as UTF-8 parts to join with the token, if it may be served."""
        if self.size <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now < entry.valid_until and entry.inputs == inputs \
                and (entry.made_at is None or entry.made_at <= now):  # a clock set back: made again
            self.hits += 1
            return entry.parts
        self.misses += 1
        return None

    def put(self, key: tuple, inputs: tuple, valid_until: datetime, html: str,
            made_at: datetime | None = None) -> tuple[bytes, ...]:
        """Keep ``html``; returns its parts (as ``parts`` would)."""
        parts = tuple(html.encode().split(_TOKEN))
        if self.size > 0:
            with self._lock:
                self._entries[key] = Entry(inputs, valid_until, parts, made_at)
        return parts


def serve(cache: FragmentCache, key: tuple, inputs: tuple, now: datetime,
          render: Callable[[], tuple[str, datetime]]) -> Response:
    """The page kept under ``key`` if it was made from ``inputs``, or the one
    ``render`` makes (its HTML, with ``TOKEN`` for the CSRF token, and the
    moment it stops being valid), kept for next time. The header's name and
    unread count are part of the inputs; a page that carries a flashed
    message is neither served from nor kept."""
    inputs = (inputs, current_user.full_name, current_user.is_agent, chrome.unread_messages(),
              chrome.portal_name())
    keep = not session.get("_flashes")
    parts = cache.parts(key, inputs, now) if keep else None
    if parts is None:
        html, valid_until = render()
        if keep:
            parts = cache.put(key, inputs, valid_until, html, made_at=now)
        else:
            parts = tuple(html.encode().split(_TOKEN))
    response = make_response(session_token().encode().join(parts))
    response.vary.add("HX-Request")
    return response
