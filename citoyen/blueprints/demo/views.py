"""The demo mailbox: the mails the portal "sent", so a visitor can click their links."""

import email
import email.policy
import os
import re
from email.utils import parsedate_to_datetime

from flask import abort
from flask import current_app

from citoyen.access import public
from citoyen.blueprints.demo import bp
from citoyen.htmx import render
from citoyen.timefmt import format_datetime

NAME = re.compile(r"^[0-9T]+-[0-9a-f]{8}\.eml$")
LINK = re.compile(r"https?://[^\s<>\"]+")


def _read(name: str) -> dict:
    path = os.path.join(current_app.config["MAIL_DIR"], name)
    with open(path, "rb") as fh:
        message = email.message_from_binary_file(fh, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return {
        "name": name,
        "to": message["To"],
        "subject": message["Subject"],
        "date": format_datetime(parsedate_to_datetime(message["Date"])),
        "text": text,
        "links": LINK.findall(text),
    }


@bp.route("/courriels")
@public
def mailbox():
    """Every mail written in demo mode, newest first."""
    directory = current_app.config["MAIL_DIR"]
    names = sorted(
        (n for n in os.listdir(directory) if NAME.match(n)) if os.path.isdir(directory) else [],
        reverse=True,
    )[:100]
    return render("demo/mailbox.html", mails=[_read(n) for n in names])


@bp.route("/courriels/<name>")
@public
def show_mail(name: str):
    """One mail, with its links."""
    if not NAME.match(name) or not os.path.exists(
        os.path.join(current_app.config["MAIL_DIR"], name)
    ):
        abort(404)
    return render("demo/mail.html", mail=_read(name))
