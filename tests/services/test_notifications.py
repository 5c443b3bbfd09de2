"""Notifications: messages in the account, and by mail for those who want it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import update

from citoyen.models import Notification
from citoyen.models.base import utcnow
from citoyen.services import notifications
from citoyen.services.errors import NotFound
from tests.services.helpers import BASE_URL


def post(db, account, subject="Inscription validée", body="La cantine est validée.", link=None):
    notification = notifications.notify(db, account, subject, body, BASE_URL, link=link)
    db.commit()
    return notification


def all_notifications(db, account) -> list[Notification]:
    db.expire_all()
    return list(
        db.scalars(
            select(Notification)
            .where(Notification.account_id == account.id)
            .order_by(Notification.id)
        )
    )


def test_notify_adds_a_message_to_the_account(app, db, parent):
    post(db, parent, link="/agenda")

    (notification,) = all_notifications(db, parent)
    assert notification.subject == "Inscription validée"
    assert notification.body == "La cantine est validée."
    assert notification.link == "/agenda"
    assert notification.read_at is None


def test_notify_mails_an_account_that_wants_mail(app, db, parent, outbox):
    post(db, parent, link="/agenda")

    (sent,) = outbox.all()
    assert sent.recipient == "parent@example.org"
    assert sent.subject == "Inscription validée"
    assert "La cantine est validée." in sent.text_body
    assert "http://localhost/agenda" in sent.text_body


def test_notify_mail_links_to_the_messages_page_by_default(app, db, parent, outbox):
    post(db, parent)

    assert "http://localhost/messages" in outbox.last().text_body


def test_notify_does_not_mail_an_account_that_declined_mail(app, db, make_account, outbox):
    account = make_account(email="discret@example.org", email_notifications=False)

    post(db, account)

    assert len(all_notifications(db, account)) == 1
    assert outbox.all() == []


def test_notify_is_part_of_the_callers_transaction(app, db, parent, outbox):
    notifications.notify(db, parent, "Objet", "Texte", BASE_URL)
    db.rollback()

    assert all_notifications(db, parent) == []
    assert outbox.all() == []


def test_unread_count_counts_only_the_accounts_unread_messages(app, db, parent, make_account):
    other = make_account(email="autre@example.org")
    first = post(db, parent)
    post(db, parent)
    post(db, parent)
    post(db, other)
    notifications.mark_read(db, parent, first.id)

    assert notifications.unread_count(db, parent) == 2
    assert notifications.unread_count(db, other) == 1


def test_mark_read_marks_one_message(app, db, parent):
    first = post(db, parent)
    second = post(db, parent)

    notifications.mark_read(db, parent, first.id)

    read = {n.id: n.read_at is not None for n in all_notifications(db, parent)}
    assert read == {first.id: True, second.id: False}


def test_mark_read_twice_keeps_the_first_reading_time(app, db, parent):
    notification = post(db, parent)
    notifications.mark_read(db, parent, notification.id)
    first_time = all_notifications(db, parent)[0].read_at

    notifications.mark_read(db, parent, notification.id)

    assert all_notifications(db, parent)[0].read_at == first_time


def test_mark_read_refuses_another_accounts_message(app, db, parent, make_account):
    other = make_account(email="autre@example.org")
    theirs = post(db, other)

    with pytest.raises(NotFound) as caught:
        notifications.mark_read(db, parent, theirs.id)

    assert caught.value.message == "Ce message n'existe pas."
    assert all_notifications(db, other)[0].read_at is None


def test_mark_read_refuses_an_unknown_message(app, db, parent):
    with pytest.raises(NotFound):
        notifications.mark_read(db, parent, 424242)


def test_mark_all_read_marks_only_the_accounts_messages(app, db, parent, make_account):
    other = make_account(email="autre@example.org")
    already = post(db, parent)
    notifications.mark_read(db, parent, already.id)
    post(db, parent)
    post(db, parent)
    post(db, other)

    assert notifications.mark_all_read(db, parent) == 2

    assert notifications.unread_count(db, parent) == 0
    assert notifications.unread_count(db, other) == 1


def add_many(db, account, count: int) -> None:
    """``count`` messages, one minute apart, the last one newest."""
    start = utcnow() - timedelta(days=1)
    db.add_all(
        Notification(
            account_id=account.id,
            subject=f"Message {n}",
            body="",
            created_at=start + timedelta(minutes=n),
        )
        for n in range(count)
    )
    db.commit()


def test_page_shows_page_size_messages_newest_first(app, db, parent):
    add_many(db, parent, notifications.PAGE_SIZE * 2 + 5)

    rows, has_next = notifications.page(db, parent, 1)

    assert has_next is True
    assert len(rows) == notifications.PAGE_SIZE == 20
    assert rows[0].subject == "Message 44"
    assert rows[-1].subject == "Message 25"


def test_page_continues_where_the_previous_page_stopped(app, db, parent):
    add_many(db, parent, 45)

    second, has_next = notifications.page(db, parent, 2)
    third, has_last_next = notifications.page(db, parent, 3)

    assert has_next is True
    assert [n.subject for n in second] == [f"Message {n}" for n in range(24, 4, -1)]
    assert has_last_next is False
    assert [n.subject for n in third] == [f"Message {n}" for n in range(4, -1, -1)]


def test_page_has_no_next_page_when_exactly_full(app, db, parent):
    add_many(db, parent, notifications.PAGE_SIZE)

    rows, has_next = notifications.page(db, parent, 1)

    assert len(rows) == 20
    assert has_next is False


def test_page_numbers_below_one_show_the_first_page(app, db, parent):
    add_many(db, parent, 3)

    rows, _ = notifications.page(db, parent, 0)

    assert [n.subject for n in rows] == ["Message 2", "Message 1", "Message 0"]


def test_page_shows_only_the_accounts_messages(app, db, parent, make_account):
    other = make_account(email="autre@example.org")
    add_many(db, other, 3)

    rows, has_next = notifications.page(db, parent, 1)

    assert rows == []
    assert has_next is False


def test_purge_old_forgets_only_old_messages(app, db, parent):
    old = post(db, parent, subject="Ancien")
    post(db, parent, subject="Récent")
    db.execute(
        update(Notification)
        .where(Notification.id == old.id)
        .values(created_at=utcnow() - timedelta(days=366))
    )
    db.commit()

    assert notifications.purge_old(db, days=365) == 1

    assert [n.subject for n in all_notifications(db, parent)] == ["Récent"]
