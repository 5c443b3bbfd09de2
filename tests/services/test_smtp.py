"""Mail through a real SMTP server (aiosmtpd) listening on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from citoyen import mail
from citoyen.db import new_session
from citoyen.services import accounts
from tests.services.helpers import ACTIVATION_LINK
from tests.services.helpers import BASE_URL
from tests.services.helpers import NEW_PASSWORD
from tests.services.helpers import PASSWORD
from tests.services.helpers import RESET_LINK
from tests.services.helpers import outbox_rows
from tests.services.helpers import reload
from tests.services.helpers import token_in


class RecordingHandler:
    """Keeps every envelope the server accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server, and the app configured to send through it."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        yield handler
    finally:
        controller.stop()


def deliver(app) -> int:
    return mail.deliver_due(lambda: new_session(app), app.config)


def received(envelope) -> EmailMessage:
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None, "no text/plain part"
    assert html is not None, "no text/html part"
    return text.get_content(), html.get_content()


def test_the_activation_mail_arrives_and_its_link_activates_the_account(app, db, smtp_server):
    account = accounts.register(
        db,
        app.config,
        first_name="Camille",
        last_name="Martin",
        email="  Camille.Martin@Example.ORG ",
        password=PASSWORD,
        base_url=BASE_URL,
    )

    assert deliver(app) == 1

    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["camille.martin@example.org"]
    message = received(envelope)
    assert message["To"] == "camille.martin@example.org"
    assert message["Subject"] == "Activez votre compte"
    text, html = parts(message)
    assert "Bonjour Camille" in text
    token = token_in(text, ACTIVATION_LINK)
    assert token_in(html, ACTIVATION_LINK).startswith(token)
    assert accounts.activate(db, app.config, token).id == account.id
    assert reload(db, account).activated_at is not None
    assert outbox_rows(db)[0].sent_at is not None


def test_the_reset_mail_arrives_and_its_link_sets_a_new_password(app, db, parent, smtp_server):
    accounts.request_password_reset(db, app.config, "Parent@Example.org", BASE_URL)

    assert deliver(app) == 1

    (envelope,) = smtp_server.envelopes
    message = received(envelope)
    assert message["To"] == "parent@example.org"
    # A subject with accents survives the trip (RFC 2047 encoding).
    assert message["Subject"] == "Réinitialisation de votre mot de passe"
    text, html = parts(message)
    assert "valable 1 heure," in text
    token = token_in(text, RESET_LINK)
    accounts.reset_password(db, app.config, token, NEW_PASSWORD)
    accounts.authenticate(db, app.config, "parent@example.org", NEW_PASSWORD)


def test_the_sender_address_is_the_configured_one(app, db, parent, smtp_server):
    app.config["MAIL_SENDER"] = "Mairie de Testville <ne-pas-repondre@testville.example>"
    accounts.request_password_reset(db, app.config, "parent@example.org", BASE_URL)

    deliver(app)

    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == "ne-pas-repondre@testville.example"
    assert received(envelope)["From"] == app.config["MAIL_SENDER"]


def test_mail_stays_in_the_outbox_when_the_smtp_server_is_down(app, db, parent):
    # Nothing listens on this port.
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    accounts.request_password_reset(db, app.config, "parent@example.org", BASE_URL)

    assert deliver(app) == 0

    (row,) = outbox_rows(db)
    assert row.sent_at is None
    assert row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
