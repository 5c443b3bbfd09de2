"""Reading an upload of justificatifs, and serving a stored file back.

The body of an upload is bounded before it is read: DOCUMENT_MAX_FILES files
of DOCUMENT_MAX_FILE_SIZE each, plus room for the form. That bound is larger
than the portal's MAX_CONTENT_LENGTH, so the view lifts the limit for its own
request only (``request.max_content_length``) and checks the CSRF token itself
once the body is parsed; the app-wide check would parse the body first, under
the smaller limit, and answer a bare 413."""

from __future__ import annotations

import logging

from flask import abort
from flask import current_app
from flask import request
from flask import send_file
from werkzeug.exceptions import RequestEntityTooLarge

from citoyen import storage as file_storage
from citoyen.extensions import csrf

log = logging.getLogger(__name__)

# A body this much over the limit is not read to the end: the connection closes.
DRAIN_LIMIT = 64 * 1024 * 1024
FILE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'"
)


def body_limit() -> int:
    config = current_app.config
    return config["DOCUMENT_MAX_FILES"] * config["DOCUMENT_MAX_FILE_SIZE"] + 64 * 1024


def too_big_message() -> str:
    config = current_app.config
    size = config["DOCUMENT_MAX_FILE_SIZE"] // (1024 * 1024)
    return (
        f"Les fichiers envoyés dépassent la taille autorisée ({size} Mo au plus par fichier, "
        f"{config['DOCUMENT_MAX_FILES']} fichiers au plus). Réduisez leur taille, puis "
        "envoyez-les à nouveau."
    )


def parse_body(limit: int | None = None) -> bool:
    """Parse the posted form under the upload's bound (``limit`` bytes, by default
    that of justificatifs); False when the body is too big.

    Then the CSRF token is checked (a CSRFError is answered like everywhere else).
    A view that calls it is ``@csrf.exempt``, so that the app-wide check does not
    read the body first under the portal's smaller limit."""
    request.max_content_length = limit or body_limit()
    try:
        request.files  # noqa: B018  (parses the body, within the bound)
    except RequestEntityTooLarge:
        _discard_body()
        return False
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    return True


def _discard_body() -> None:
    """Read what the browser still sends, without keeping it, so that it gets
    the French answer instead of a connection reset."""
    length = request.content_length or 0
    stream = request.environ.get("wsgi.input")
    if stream is None or length <= 0 or length > DRAIN_LIMIT:
        return
    try:
        while length > 0:
            chunk = stream.read(min(64 * 1024, length))
            if not chunk:
                break
            length -= len(chunk)
    except OSError:
        pass


def uploads(form) -> list[tuple[str, bytes, str]]:
    """(name, content, field) of every file chosen, each read to one byte past
    the size limit at most, so that an oversized file is refused unread."""
    limit = current_app.config["DOCUMENT_MAX_FILE_SIZE"] + 1
    chosen = [(f, form.files.name) for f in form.files.data or []]
    if form.photo.data:
        chosen.append((form.photo.data, form.photo.name))
    return [(f.filename or "", f.stream.read(limit), name) for f, name in chosen if f and f.filename]


def storage():
    return file_storage.from_config(current_app.config, current_app.instance_path)


def send_stored(row, inline: bool = False):
    """A stored file, under its own name, with headers that stop a browser from
    running it: a fixed type, nosniff, a content security policy that allows
    nothing, and a download unless a preview is asked for."""
    try:
        handle = storage().open(row.storage_key)
    except (FileNotFoundError, KeyError):
        log.error("stored file missing: document file %s", row.id)
        abort(404)
    response = send_file(
        handle, mimetype=row.content_type, as_attachment=not inline,
        download_name=row.filename, conditional=False, max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    csp = FILE_CSP if row.content_type == "application/pdf" else FILE_CSP + "; sandbox"
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
