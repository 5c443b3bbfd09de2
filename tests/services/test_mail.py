"""The mail outbox: queued in the caller's transaction, sent once, retried on failure."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from citoyen import mail
from citoyen.db import new_session
from citoyen.models import OutboxMessage
from citoyen.models.base import utcnow
from tests.services.helpers import FailingBackend
from tests.services.helpers import RecordingBackend
from tests.services.helpers import outbox_rows
from tests.services.helpers import set_outbox


def queue_notification(db, recipient="parent@example.org", subject="Nouveau message"):
    """Queue a rendered mail as a service would (the caller commits)."""

    class Reader:
        first_name = "Camille"
        email = recipient

    return mail.queue(
        db,
        recipient,
        subject,
        "notification",
        account=Reader(),
        body="Votre inscription à la cantine est validée.",
        link="http://localhost/messages",
        base_url="http://localhost",
    )


def deliver(app) -> int:
    return mail.deliver_due(lambda: new_session(app), app.config)


def eml_files(app) -> list[Path]:
    folder = Path(app.config["MAIL_DIR"])
    return sorted(folder.glob("*.eml")) if folder.exists() else []


@pytest.fixture
def recorder(monkeypatch):
    backend = RecordingBackend()
    monkeypatch.setattr(mail, "backend_for", lambda config: backend)
    return backend


@pytest.fixture
def failing(monkeypatch):
    backend = FailingBackend()
    monkeypatch.setattr(mail, "backend_for", lambda config: backend)
    return backend


# ---------------------------------------------------------------- queue


def test_queue_renders_the_text_and_html_bodies(app, db):
    row = queue_notification(db)
    db.commit()

    assert row.recipient == "parent@example.org"
    assert "Bonjour Camille" in row.text_body
    assert "Votre inscription à la cantine est validée." in row.text_body
    assert row.html_body.lstrip().startswith("<!doctype html>")
    assert 'lang="fr"' in row.html_body


def test_html_body_escapes_what_the_text_carries(app, db):
    class Reader:
        first_name = "<script>alert(1)</script>"
        email = "parent@example.org"

    row = mail.queue(
        db,
        "parent@example.org",
        "Objet",
        "notification",
        account=Reader(),
        body="a < b",
        link="http://localhost/messages",
        base_url="http://localhost",
    )

    assert "<script>" not in row.html_body
    assert "&lt;script&gt;" in row.html_body
    assert "<script>" in row.text_body


def test_a_queued_mail_leaves_only_if_the_transaction_commits(app, db, outbox, recorder):
    queue_notification(db)
    db.rollback()

    assert outbox.all() == []
    assert deliver(app) == 0
    assert recorder.sent == []


def test_commit_tells_the_web_layer_that_mail_is_waiting(app, db):
    queue_notification(db)
    db.commit()

    assert db.info.get("outbox_committed") is True


def test_rollback_forgets_the_pending_mail_flag(app, db):
    queue_notification(db)
    db.rollback()
    db.commit()

    assert "outbox_committed" not in db.info
    assert "outbox_pending" not in db.info


# ---------------------------------------------------------------- file backend


def test_deliver_due_writes_an_eml_file_with_french_text_and_html(app, db):
    queue_notification(db, subject="Votre réservation est confirmée")
    db.commit()

    assert deliver(app) == 1

    (path,) = eml_files(app)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "parent@example.org"
    assert message["From"] == app.config["MAIL_SENDER"]
    assert message["Subject"] == "Votre réservation est confirmée"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Votre inscription à la cantine est validée." in text.get_content()
    assert 'lang="fr"' in html.get_content()
    assert "Bonjour Camille" in html.get_content()


def test_deliver_due_marks_the_mail_sent(app, db):
    queue_notification(db)
    db.commit()
    before = utcnow()

    deliver(app)

    (row,) = outbox_rows(db)
    assert row.sent_at is not None and row.sent_at >= before - timedelta(seconds=1)
    assert row.attempts == 1
    assert row.claimed_at is None
    assert row.last_error is None


def test_a_sent_mail_is_not_sent_again(app, db):
    queue_notification(db)
    db.commit()
    deliver(app)

    assert deliver(app) == 0
    assert len(eml_files(app)) == 1


def test_deliver_due_sends_at_most_limit_mails(app, db, recorder):
    for n in range(5):
        queue_notification(db, recipient=f"p{n}@example.org")
    db.commit()

    assert mail.deliver_due(lambda: new_session(app), app.config, limit=3) == 3
    assert [m["To"] for m in recorder.sent] == [f"p{n}@example.org" for n in range(3)]
    # Mails already sent do not use up the next run's limit.
    assert mail.deliver_due(lambda: new_session(app), app.config, limit=3) == 2
    assert len(recorder.sent) == 5


def test_a_mail_claimed_by_a_live_sender_is_left_alone(app, db, recorder):
    queue_notification(db)
    db.commit()
    set_outbox(db, claimed_at=utcnow() - timedelta(minutes=1))

    assert deliver(app) == 0
    assert recorder.sent == []


def test_a_claim_older_than_five_minutes_is_taken_over(app, db, recorder):
    # The sender that claimed it died before sending.
    queue_notification(db)
    db.commit()
    set_outbox(db, claimed_at=utcnow() - timedelta(minutes=6), attempts=1)

    assert deliver(app) == 1
    (row,) = outbox_rows(db)
    assert row.sent_at is not None
    assert row.attempts == 2


def test_backend_for_refuses_an_unknown_backend(app):
    with pytest.raises(ValueError):
        mail.backend_for({**app.config, "MAIL_BACKEND": "pigeon"})


# ---------------------------------------------------------------- failures and retries


def test_a_failed_send_keeps_the_mail_for_later(app, db, failing):
    queue_notification(db)
    db.commit()
    before = utcnow()

    assert deliver(app) == 0

    (row,) = outbox_rows(db)
    assert failing.calls == 1
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.claimed_at is None
    assert "ConnectionRefusedError" in row.last_error
    assert "Connection refused" in row.last_error
    assert row.next_attempt_at > before


def test_a_failed_mail_is_not_retried_before_its_delay(app, db, failing):
    queue_notification(db)
    db.commit()
    deliver(app)

    deliver(app)

    assert failing.calls == 1
    assert outbox_rows(db)[0].attempts == 1


def test_a_failed_mail_is_sent_by_a_later_run(app, db, failing, monkeypatch):
    queue_notification(db)
    db.commit()
    deliver(app)
    monkeypatch.undo()  # the server is back: the file backend again
    set_outbox(db, next_attempt_at=utcnow() - timedelta(seconds=1))

    assert deliver(app) == 1

    (row,) = outbox_rows(db)
    assert row.sent_at is not None
    assert row.attempts == 2
    assert row.last_error is None
    assert len(eml_files(app)) == 1


def test_the_retry_delay_grows_with_each_failure(app, db, failing):
    queue_notification(db)
    db.commit()
    delays = []
    for _ in range(3):
        set_outbox(db, next_attempt_at=utcnow() - timedelta(seconds=1))
        before = utcnow()
        deliver(app)
        delays.append(outbox_rows(db)[0].next_attempt_at - before)

    assert [round(d.total_seconds() / 60) for d in delays] == [1, 2, 4]
    assert outbox_rows(db)[0].attempts == 3


def test_one_failing_recipient_does_not_hold_back_the_others(app, db, monkeypatch):
    backend = RecordingBackend(fail_for={"b@example.org"})
    monkeypatch.setattr(mail, "backend_for", lambda config: backend)
    for recipient in ("a@example.org", "b@example.org", "c@example.org"):
        queue_notification(db, recipient=recipient)
    db.commit()

    assert deliver(app) == 2

    assert [m["To"] for m in backend.sent] == ["a@example.org", "c@example.org"]
    sent = {row.recipient: row.sent_at is not None for row in outbox_rows(db)}
    assert sent == {"a@example.org": True, "b@example.org": False, "c@example.org": True}


@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (9, 256), (10, 360), (20, 360), (41, 360)],
)
def test_retry_delay_doubles_up_to_six_hours(attempts, minutes):
    assert mail.retry_delay(attempts) == timedelta(minutes=minutes)


def test_retry_delay_never_decreases():
    delays = [mail.retry_delay(n) for n in range(0, 42)]

    assert delays == sorted(delays)
    assert max(delays) == mail.MAX_DELAY == timedelta(hours=6)


@pytest.mark.parametrize("attempts", [42, 100])
def test_retry_delay_stays_capped_after_many_failures(attempts):
    assert mail.retry_delay(attempts) == mail.MAX_DELAY


def test_a_mail_that_failed_many_times_does_not_stop_the_outbox(app, db, monkeypatch):
    backend = RecordingBackend(fail_for={"refuse@example.org"})
    monkeypatch.setattr(mail, "backend_for", lambda config: backend)
    queue_notification(db, recipient="refuse@example.org")
    queue_notification(db, recipient="ok@example.org")
    db.commit()
    set_outbox(db, attempts=41)

    deliver(app)

    assert [m["To"] for m in backend.sent] == ["ok@example.org"]


# ---------------------------------------------------------------- concurrency


class SlowRecorder(RecordingBackend):
    """Sends slowly, so that two senders overlap."""

    def send(self, message):
        time.sleep(0.005)
        super().send(message)


def test_two_senders_at_once_send_each_mail_exactly_once(app, db, monkeypatch):
    backend = SlowRecorder()
    monkeypatch.setattr(mail, "backend_for", lambda config: backend)
    expected = [f"p{n:02}@example.org" for n in range(30)]
    for recipient in expected:
        queue_notification(db, recipient=recipient)
    db.commit()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender():
        try:
            start.wait(timeout=10)
            mail.deliver_due(lambda: new_session(app), app.config)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Later, any claim left behind by a crashed sender has timed out.
    set_outbox(db, claimed_at=None)
    deliver(app)

    assert sorted(m["To"] for m in backend.sent) == expected
    assert errors == []
    rows = outbox_rows(db)
    assert all(row.sent_at is not None for row in rows)
    assert all(row.attempts == 1 for row in rows)


def test_a_second_sender_finds_nothing_left_to_send(app, db):
    for n in range(30):
        queue_notification(db, recipient=f"p{n:02}@example.org")
    db.commit()

    assert deliver(app) == 30
    assert deliver(app) == 0

    files = eml_files(app)
    recipients = sorted(
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["To"]
        for path in files
    )
    assert recipients == [f"p{n:02}@example.org" for n in range(30)]


# ---------------------------------------------------------------- purge


def test_purge_sent_forgets_only_mails_sent_long_ago(app, db):
    now = utcnow()
    db.add_all(
        [
            OutboxMessage(
                recipient="old-sent@example.org",
                subject="s",
                text_body="t",
                html_body="h",
                sent_at=now - timedelta(days=31),
            ),
            OutboxMessage(
                recipient="recent-sent@example.org",
                subject="s",
                text_body="t",
                html_body="h",
                sent_at=now - timedelta(days=29),
            ),
            OutboxMessage(
                recipient="old-unsent@example.org",
                subject="s",
                text_body="t",
                html_body="h",
                created_at=now - timedelta(days=60),
                next_attempt_at=now - timedelta(days=60),
            ),
        ]
    )
    db.commit()

    assert mail.purge_sent(db, days=30) == 1

    assert {row.recipient for row in outbox_rows(db)} == {
        "recent-sent@example.org",
        "old-unsent@example.org",
    }
