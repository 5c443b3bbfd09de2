"""Messages: list, unread count in the header, mark as read."""

from __future__ import annotations

import pytest

from citoyen.models import Notification
from citoyen.services import notifications
from tests.blueprints.helpers import text
from tests.conftest import fresh


@pytest.fixture
def messages(db, parent):
    rows = [
        notifications.notify(db, parent, f"Message {i}", f"Texte {i}", "http://localhost")
        for i in range(3)
    ]
    db.commit()
    return rows


def test_unread_count_is_in_the_header(client, auth, parent, messages):
    auth.sign_in(parent.email)
    body = text(client.get("/"))
    assert "Messages 3 non lus" in " ".join(body.replace("<", " <").split()).replace(" <span class=\"visually-hidden\">", "")\
        or ">3<" in body
    assert "Vous avez 3 messages non lus." in body


def test_mark_one_as_read_with_htmx_swaps_the_item(client, auth, parent, messages, hx, db):
    auth.sign_in(parent.email)
    response = client.post(f"/messages/{messages[0].id}/lu", headers=hx)
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith(f'<li id="message-{messages[0].id}"')
    assert "Non lu" not in body
    assert notifications.unread_count(db, parent) == 2
    # The menu's count goes down with it, out of band; and goes away with the last one.
    assert ('<span id="unread-count" hx-swap-oob="true"> <span class="badge">2'
            '<span class="visually-hidden"> non lus</span></span></span>') in body
    client.post(f"/messages/{messages[1].id}/lu", headers=hx)
    body = text(client.post(f"/messages/{messages[2].id}/lu", headers=hx))
    assert '<span id="unread-count" hx-swap-oob="true"></span>' in body
    assert '<span id="unread-count"></span>' in text(client.get("/messages/"))


def test_mark_one_as_read_without_javascript(client, auth, parent, messages, db):
    auth.sign_in(parent.email)
    response = client.post(f"/messages/{messages[1].id}/lu")
    assert response.status_code == 303
    assert notifications.unread_count(db, parent) == 2


def test_opening_a_message_marks_it_read(client, auth, parent, messages, db):
    auth.sign_in(parent.email)
    body = text(client.get(f"/messages/{messages[2].id}"))
    assert "Texte 2" in body
    fresh(db)
    assert db.get(Notification, messages[2].id).read_at is not None


def _badge(body: str) -> str:
    start = body.index('class="badge">') + len('class="badge">')
    return body[start:body.index("<", start)]


def test_the_header_of_an_opened_message_counts_it_read(client, auth, parent, messages):
    # The count is read with the account at the start of the request; opening
    # the message writes, so the header reads it again.
    auth.sign_in(parent.email)
    assert _badge(text(client.get("/messages/"))) == "3"
    assert _badge(text(client.get(f"/messages/{messages[2].id}"))) == "2"


def test_the_header_counts_a_message_sent_between_two_pages(client, auth, parent, messages, db):
    auth.sign_in(parent.email)
    assert _badge(text(client.get("/"))) == "3"
    notifications.notify(db, parent, "Message 3", "Texte 3", "http://localhost")
    db.commit()
    assert _badge(text(client.get("/"))) == "4"


def test_mark_all_read(client, auth, parent, messages, db):
    auth.sign_in(parent.email)
    assert client.post("/messages/tout-lu").status_code == 303
    assert notifications.unread_count(db, parent) == 0


def test_another_accounts_message_is_not_found(client, auth, make_account, messages):
    make_account(email="autre@example.org")
    auth.sign_in("autre@example.org")
    assert client.get(f"/messages/{messages[0].id}").status_code == 404
    assert client.post(f"/messages/{messages[0].id}/lu").status_code == 404


def test_empty_messages_page(client, auth, parent):
    auth.sign_in(parent.email)
    assert "Vous n'avez aucun message." in text(client.get("/messages/"))


def test_a_page_past_the_last_leads_back_to_the_first(client, auth, parent, messages):
    auth.sign_in(parent.email)
    for page in ("2", "10000"):
        response = client.get(f"/messages/?page={page}")
        assert response.status_code == 303 and response.location.endswith("/messages/")
    assert client.get("/messages/?page=1").status_code == 200
