"""One template for a page and its htmx fragments.

``render`` returns the whole page for a normal request, a boosted navigation
or a history restore, and only the named block for a plain htmx request."""

from __future__ import annotations

from flask import Response
from flask import make_response
from flask import redirect as flask_redirect
from flask import render_template
from flask import request
from jinja2_fragments.flask import render_block


def is_fragment_request() -> bool:
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(template: str, block: str | None = None, status: int = 200, **context) -> Response:
    if block is not None and is_fragment_request():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def redirect(location: str) -> Response:
    """Go to ``location``: a 303 for a plain request; for htmx, an
    ``HX-Redirect`` so that the browser loads the whole page (an XHR would
    follow a 303 itself and swap the new page into the fragment)."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return flask_redirect(location, 303)
