"""Writes made at the same moment on several app servers: what one server
checks before writing is still true when it commits.

Most tests stop one server's transaction at the moment its checks are read and
its first row is written (or just before a given statement), nothing committed,
and send the competing request(s)
from other servers right then, each in its own thread and session. This server
carries on once every other request has finished or waits for a lock this
transaction holds, so the interleaving is the same on every run rather than
left to timing. The sign-in test sends the wrong guesses while this server
checks the right password. On SQLite the write lock already serialises writers;
on PostgreSQL (CITOYEN_TEST_DATABASE_URL) the row locks and guarded updates of
the services must do it."""

from __future__ import annotations

import threading
import time
from datetime import date
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from citoyen import passwords
from citoyen.db import engine as app_engine
from citoyen.db import new_session
from citoyen.models import Account
from citoyen.models import BillingRun
from citoyen.models import Booking
from citoyen.models import Enrolment
from citoyen.models import Household
from citoyen.models import Invoice
from citoyen.models import LedgerEntry
from citoyen.models import Notification
from citoyen.models import Organisation
from citoyen.models import OutboxMessage
from citoyen.models import Slot
from citoyen.models.money import RUN_DONE
from citoyen.models.money import RUN_RUNNING
from citoyen.services import accounts
from citoyen.services import agenda
from citoyen.services import billing
from citoyen.services import documents
from citoyen.services import households
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services.errors import DomainError
from citoyen.storage import LocalStorage
from tests import factories
from tests import samples
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.conftest import fresh
from tests.document_data import make_family
from tests.factories import PASSWORD
from tests.services.helpers import is_postgres

WAIT_LIMIT = 10  # seconds another server may take to finish or to queue behind this one

# Backends of the test database waiting for a lock another backend holds.
BLOCKED = text("SELECT count(*) FROM pg_stat_activity "
               "WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0")


class OtherServers:
    """Requests of other app servers, ``work(session)`` each in its own thread
    and session, sent while this server's transaction is under way."""

    def __init__(self, app, *works):
        self.app = app
        self.works = works
        self.threads: list[threading.Thread] = []
        self.outcomes: list = [None] * len(works)
        self.errors: list[str] = []

    def during_first_write_of(self, session) -> None:
        """Send them when ``session`` first flushes: its checks are read, its
        first row is written, nothing is committed yet."""
        event.listen(session, "after_flush", self._send, once=True)

    def before_statement_of(self, words: str) -> None:
        """Send them when this thread is about to run a statement containing
        ``words`` (its checks are read, that write is not made yet)."""
        me = threading.get_ident()

        def listener(_conn, _cursor, statement, *_args) -> None:
            if threading.get_ident() == me and words in statement and not self.threads:
                self._send()

        event.listen(app_engine(self.app), "before_cursor_execute", listener)

    def _send(self, *_args) -> None:
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(len(self.works))]
        for thread in self.threads:
            thread.start()
        self._until_finished_or_waiting()

    def _run(self, i: int) -> None:
        with new_session(self.app) as session:
            try:
                self.outcomes[i] = self.works[i](session)
            except DomainError as error:
                self.outcomes[i] = error
            except Exception as error:  # noqa: BLE001 - any other error is a failure
                self.errors.append(repr(error))

    def _until_finished_or_waiting(self) -> None:
        """Return once each request has finished or waits for a lock. On SQLite
        each one waits for the write lock this transaction took first."""
        if not is_postgres():
            return
        deadline = time.monotonic() + WAIT_LIMIT
        with app_engine(self.app).connect() as connection:
            while True:
                finished = sum(not thread.is_alive() for thread in self.threads)
                waiting = connection.scalar(BLOCKED)
                connection.rollback()  # pg_stat_activity is read once per transaction
                if finished + waiting >= len(self.threads):
                    return
                assert time.monotonic() < deadline, "the other servers neither finished nor waited"
                time.sleep(0.005)

    def results(self) -> tuple[list, list[str]]:
        """What each request answered (a DomainError is an answer), and any other error."""
        assert self.threads, "this server never wrote: the other servers were never sent"
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads), "another server is stuck"
        return self.outcomes, self.errors


def refused(outcome, words: str) -> bool:
    return isinstance(outcome, DomainError) and words in outcome.message


def new_household(db, agent, town) -> Household:
    return households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                       guardian_last_name="Martin")


# ---------------------------------------------------------------- money


def test_two_refunds_at_once_never_take_the_balance_below_zero(app, db, agent):
    family = new_household(db, agent, factories.organisation(db))
    ledger.record_cash(db, agent, family, "50")
    agent_id, family_id = agent.id, family.id

    def refund(session, reason="trop-perçu"):
        return ledger.refund(session, session.get(Account, agent_id), session.get(Household, family_id),
                             "30", reason)

    other = OtherServers(app, lambda session: refund(session, "trop-perçu, second poste"))
    with new_session(app) as session:
        other.during_first_write_of(session)
        first = refund(session)
    (second,), errors = other.results()

    assert errors == []
    assert ledger.balance(fresh(db), family_id) == 2000
    assert isinstance(first, LedgerEntry)
    # The second refund read the balance once the first was in it: 20 € left.
    assert refused(second, "ne peut pas dépasser le solde (20,00")


def test_two_avoirs_at_once_never_exceed_what_is_left_to_pay(app, db, agent):
    town = factories.organisation(db, billing_mode="postpaid")
    family = new_household(db, agent, town)
    invoice = invoices.issue(db, family, "Facture post-paiement pour septembre 2026", date(2026, 9, 1),
                             date(2026, 9, 30), [invoices.Line("Restauration scolaire — Léo — 12 jours",
                                                               12, 350)], today=date(2026, 10, 1))
    db.commit()
    agent_id, family_id, invoice_id = agent.id, family.id, invoice.id

    def avoir(session, reason="Sortie annulée"):
        return invoices.credit_note(session, session.get(Account, agent_id),
                                    session.get(Household, family_id), invoice_id, "30", reason)

    other = OtherServers(app, lambda session: avoir(session, "Repas non servis"))
    with new_session(app) as session:
        other.during_first_write_of(session)
        first = avoir(session)
    (second,), errors = other.results()

    assert errors == []
    fresh(db)
    credited = db.scalars(select(Invoice.amount_cents).where(Invoice.corrects_id == invoice_id)).all()
    assert credited == [3000]
    assert invoices.remaining(db, db.get(Invoice, invoice_id)) == 4200 - 3000
    assert isinstance(first, Invoice) and first.kind == "credit_note"
    # The second avoir read what was left once the first was in it: 12 €.
    assert refused(second, "ne peut pas dépasser le reste à payer (12,00")


def test_a_refund_during_the_monthly_billing_does_not_also_pay_the_invoice(app, db):
    town = build_town(db)
    billing.set_prices(db, town.agent, town.canteen.id, [("500", "1,20"), ("1000", "2,50"), ("", "4,00")])
    db.execute(update(Organisation).where(Organisation.id == town.organisation.id)
               .values(billing_mode="postpaid"))
    db.commit()
    day = next_weekday(0, weeks=3)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    charged = 400  # no quotient known: the last bracket, 4 € a day
    ledger.record_cash(db, town.agent, town.household, f"{charged / 100:.2f}")
    agent_id, family_id = town.agent.id, town.household.id

    def refund(session):
        return ledger.refund(session, session.get(Account, agent_id), session.get(Household, family_id),
                             f"{charged / 100:.2f}", "trop-perçu")

    other = OtherServers(app, refund)
    with new_session(app) as session:
        other.during_first_write_of(session)
        billed = billing.bill_household(session, family_id, day, BASE_URL)
    (refund_outcome,), errors = other.results()

    assert errors == []
    assert billed == (1, charged)
    fresh(db)
    # Never both: the invoice paid by the advance and the advance given back in cash.
    invoice = db.scalar(select(Invoice).where(Invoice.household_id == family_id))
    assert invoices.remaining(db, invoice) == 0
    assert ledger.balance(db, family_id) == 0
    # The refund waited for the billing, then found nothing left to give back.
    assert refused(refund_outcome, "ne peut pas dépasser le solde (0,00")


# ---------------------------------------------------------------- forms sent more than once


def test_the_household_form_sent_four_times_at_once_creates_one_household(app, db, agent):
    town = factories.organisation(db)
    agent_id, town_id = agent.id, town.id

    def create(session):
        return households.create_household(
            session, session.get(Account, agent_id), session.get(Organisation, town_id), name="Martin",
            guardian_first_name="Camille", guardian_last_name="Martin")

    others = OtherServers(app, create, create, create)
    with new_session(app) as session:
        others.during_first_write_of(session)
        created = create(session)
    outcomes, errors = others.results()

    assert errors == []
    fresh(db)
    assert db.scalars(select(Household.id).where(Household.organisation_id == town_id)).all() == [created.id]
    assert all(refused(o, "Le foyer Martin avec le responsable Camille Martin existe déjà") for o in outcomes)


def test_the_same_enrolment_sent_three_times_at_once_is_recorded_once(app, db, parent, agent):
    town = build_town(db, parent=parent, agent=agent)
    wednesday = activity(db, town.organisation, town.site, name="Accueil du mercredi", weekdays="2")
    parent_id, child_id, activity_id = parent.id, town.leo.id, wednesday.id
    start = next_weekday(2)

    def enrol(session):
        return agenda.enrol(session, session.get(Account, parent_id), child_id, activity_id, start,
                            start + timedelta(days=60), BASE_URL)

    others = OtherServers(app, enrol, enrol)
    with new_session(app) as session:
        others.during_first_write_of(session)
        enrolment = enrol(session)
    outcomes, errors = others.results()

    assert errors == []
    fresh(db)
    assert db.scalars(select(Enrolment.id).where(Enrolment.child_id == child_id,
                                                 Enrolment.activity_id == activity_id)).all() == [enrolment.id]
    assert all(refused(o, "Léo est déjà inscrit·e à Accueil du mercredi") for o in outcomes)


def test_two_agents_deciding_the_same_enrolment_at_once_decide_it_once(app, db, parent, agent):
    town = build_town(db, parent=parent, agent=agent)
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    start = next_weekday(0)
    enrolment = agenda.enrol(db, parent, town.leo.id, study.id, start, start + timedelta(days=30), BASE_URL)
    enrolment_id, agent_id = enrolment.id, agent.id

    def refuse(session):
        return agenda.decide_enrolment(session, session.get(Account, agent_id), enrolment_id, False, "Complet",
                                       BASE_URL)

    other = OtherServers(app, refuse)
    with new_session(app) as session:
        other.during_first_write_of(session)
        agenda.decide_enrolment(session, session.get(Account, agent_id), enrolment_id, True, "", BASE_URL)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, "Cette inscription a déjà été traitée.")
    fresh(db)
    assert db.get(Enrolment, enrolment_id).status == "validated"
    subjects = db.scalars(select(Notification.subject).where(Notification.subject.like("Inscription %"))).all()
    assert subjects == ["Inscription validée : Étude"]


def _on_the_day(monkeypatch, day):
    from datetime import datetime
    from datetime import time

    from citoyen.services import activities as activity_service

    monkeypatch.setattr(activity_service, "local_now", lambda: datetime.combine(day, time(12, 0)))


def test_the_same_attendance_clicked_twice_at_once_moves_the_counter_once(app, db, parent, agent, monkeypatch):
    from citoyen.services import activities as activity_service

    town = build_town(db, parent=parent, agent=agent)
    monday = next_weekday(0)
    booking = agenda.book(db, parent, town.leo.id, town.canteen.id, monday)
    agenda.book(db, parent, town.ines.id, town.canteen.id, monday)
    _on_the_day(monkeypatch, monday)
    booking_id, agent_id = booking.id, agent.id

    def absent(session):
        return activity_service.mark_attendance(session, session.get(Account, agent_id), booking_id,
                                                "absent_justified")

    other = OtherServers(app, absent)
    with new_session(app) as session:
        other.during_first_write_of(session)
        absent(session)
    _, errors = other.results()

    assert errors == []
    fresh(db)
    assert activity_service.counters_match(db) == []
    assert db.scalar(select(Slot.booked).where(Slot.id == booking.slot_id)) == 1


def test_the_same_unbooked_presence_sent_twice_at_once_takes_one_place(app, db, parent, agent, monkeypatch):
    from citoyen.services import activities as activity_service

    town = build_town(db, parent=parent, agent=agent)
    monday = next_weekday(0)
    booking = agenda.book(db, parent, town.leo.id, town.canteen.id, monday)
    agenda.cancel(db, parent, town.leo.id, town.canteen.id, monday, BASE_URL)
    _on_the_day(monkeypatch, monday)
    agent_id, canteen_id, child_id = agent.id, town.canteen.id, town.leo.id

    def present(session):
        return activity_service.unbooked_presence(session, session.get(Account, agent_id), canteen_id, child_id,
                                                  monday)

    other = OtherServers(app, present)
    other.before_statement_of("UPDATE slot SET booked")  # the place is taken next
    with new_session(app) as session:
        present(session)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, "Léo Martin est déjà sur la liste de ce jour.")
    fresh(db)
    assert activity_service.counters_match(db) == []
    assert db.scalar(select(Slot.booked).where(Slot.id == booking.slot_id)) == 1
    assert db.get(Booking, booking.id).status == "present"


def test_two_administrators_demoting_each_other_at_once_leave_one(app, db, make_account):
    from citoyen.services import backoffice

    first = make_account(email="a@example.org", role="admin").id
    second = make_account(email="b@example.org", role="admin").id

    def demote(session, actor_id, target_id):
        return backoffice.set_role(session, session.get(Account, actor_id), session.get(Account, target_id),
                                   "agent")

    other = OtherServers(app, lambda session: demote(session, second, first))
    with new_session(app) as session:
        other.during_first_write_of(session)
        demote(session, first, second)
    (outcome,), errors = other.results()

    assert errors == []
    # Told it would leave none, or, had it read after the first one's commit, that it no longer may.
    assert isinstance(outcome, accounts.LastAdmin) or refused(outcome, "réservée aux administrateurs")
    fresh(db)
    assert db.scalars(select(Account.email).where(Account.role == "admin")).all() == ["a@example.org"]


def test_the_same_invitation_sent_twice_at_once_creates_one_account(app, db, agent):
    town = factories.organisation(db)
    family = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                         guardian_last_name="Martin", guardian_email="camille@example.org")
    family_id, guardian_id, agent_id = family.id, family.guardians[0].id, agent.id
    settings = {**app.config}

    def invite(session):
        return households.invite_guardian(session, settings, session.get(Account, agent_id),
                                          session.get(Household, family_id), guardian_id, BASE_URL)

    other = OtherServers(app, invite)
    with new_session(app) as session:
        other.during_first_write_of(session)
        invite(session)
    _, errors = other.results()

    assert errors == []
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Account)
                     .where(Account.email == "camille@example.org")) == 1


def test_two_agents_starting_the_same_month_at_once_start_one_run(app, db, agent, make_account):
    colleague = make_account(email="collegue@example.org", first_name="Inès", last_name="Garnier",
                             role="agent")
    town = factories.organisation(db, billing_mode="postpaid")
    month = billing.default_month()
    # An earlier pass has finished: the month is started again.
    earlier = billing.start_run(db, agent, town.id, month)
    earlier.status = RUN_DONE
    db.commit()
    town_id, agent_id, colleague_id = town.id, agent.id, colleague.id

    def start(session, starter_id):
        return billing.start_run(session, session.get(Account, starter_id), town_id, month)

    other = OtherServers(app, lambda session: start(session, colleague_id))
    with new_session(app) as session:
        other.during_first_write_of(session)
        run = start(session, agent_id)
    (second,), errors = other.results()

    assert errors == []
    fresh(db)
    assert db.scalars(select(BillingRun.status)).all() == [RUN_RUNNING]
    assert db.get(BillingRun, run.id).started_by_id == agent_id
    assert refused(second, "est déjà en cours")


# ---------------------------------------------------------------- cron and sign-in


def test_reminders_run_at_once_by_two_servers_tell_the_family_once(app, db, parent, agent, tmp_path):
    family = make_family(db, agent, parent)
    today = date(2026, 11, 22)
    settings = {"DOCUMENT_MAX_FILES": 5, "DOCUMENT_MAX_FILE_SIZE": 2 * 1024 * 1024,
                "DOCUMENT_REMINDER_DAYS": 30}
    sent = documents.submit(db, settings, LocalStorage(str(tmp_path / "uploads")), parent, family.household,
                            family.address.id, None, [("domicile.pdf", samples.pdf())], on=today)
    documents.validate(db, agent, sent.id, today + timedelta(days=20), BASE_URL, on=today)
    subject = "Justificatif bientôt périmé : Justificatif de domicile"

    def remind(session):
        return documents.remind_expiring(session, settings, BASE_URL, on=today)

    other = OtherServers(app, remind)
    with new_session(app) as session:
        other.during_first_write_of(session)
        told_here = remind(session)
    (told_there,), errors = other.results()

    assert errors == []
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Notification)
                     .where(Notification.subject == subject)) == 1
    assert db.scalar(select(func.count()).select_from(OutboxMessage)
                     .where(OutboxMessage.subject == subject)) == 1
    assert (told_here, told_there) == (1, 0)


def test_a_right_password_checked_while_wrong_ones_lock_the_account_does_not_sign_in(
        app, db, make_account, monkeypatch):
    account = make_account(email="parent@example.org")
    guesses = app.config["LOGIN_MAX_FAILURES"]
    real_verify = passwords.verify
    answers = []

    def verify_while_guessing(password_hash, password):
        # While this server hashes the right password, another one receives
        # enough wrong guesses to lock the account.
        if password == PASSWORD and not answers:
            with new_session(app) as other:
                for _ in range(guesses):
                    try:
                        accounts.authenticate(other, app.config, "parent@example.org", "Mauvais1x")
                    except DomainError as error:
                        answers.append(type(error))
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify", verify_while_guessing)
    with new_session(app) as session, pytest.raises(accounts.AccountLocked):
        accounts.authenticate(session, app.config, "parent@example.org", PASSWORD)

    assert answers == [accounts.InvalidCredentials] * (guesses - 1) + [accounts.AccountLocked]
    refreshed = fresh(db).get(Account, account.id)
    assert refreshed.locked_until is not None
    assert refreshed.last_sign_in_at is None


# ---------------------------------------------------------------- the end of an enrolment


def _live_after(db, child_id, activity_id, last_day) -> list:
    fresh(db)
    return db.scalars(select(Booking.day).where(
        Booking.child_id == child_id, Booking.activity_id == activity_id, Booking.day > last_day,
        Booking.status.in_(("booked", "waiting")))).all()


def _canteen_enrolment_id(db, town) -> int:
    return db.scalar(select(Enrolment.id).where(Enrolment.child_id == town.leo.id,
                                                Enrolment.activity_id == town.canteen.id))


def test_a_click_while_the_enrolment_ends_books_nothing_after_the_last_day(app, db, parent, agent):
    from citoyen.services import activities as activity_service

    town = build_town(db, parent=parent, agent=agent)
    monday = next_weekday(0)
    later = monday + timedelta(days=7)
    enrolment_id = _canteen_enrolment_id(db, town)
    parent_id, agent_id, leo_id, canteen_id = parent.id, agent.id, town.leo.id, town.canteen.id

    def click(session):
        return agenda.click(session, session.get(Account, parent_id), "book", leo_id, canteen_id, later, BASE_URL)

    other = OtherServers(app, click)
    other.before_statement_of("UPDATE enrolment SET end_date")
    with new_session(app) as session:
        agenda.end_enrolment(session, session.get(Account, agent_id), enrolment_id, monday, BASE_URL)
    (cell,), errors = other.results()

    assert errors == []
    assert cell.state != agenda.BOOKED
    assert "n'est pas inscrit·e à Restauration scolaire ce jour-là" in cell.message
    assert _live_after(db, leo_id, canteen_id, monday) == []
    assert activity_service.counters_match(db) == []


def test_an_enrolment_ended_while_an_agent_books_cancels_what_was_booked(app, db, parent, agent):
    from citoyen.services import activities as activity_service

    town = build_town(db, parent=parent, agent=agent)
    monday = next_weekday(0)
    later = monday + timedelta(days=7)
    enrolment_id = _canteen_enrolment_id(db, town)
    agent_id, leo_id, canteen_id = agent.id, town.leo.id, town.canteen.id

    def end(session):
        return agenda.end_enrolment(session, session.get(Account, agent_id), enrolment_id, monday, BASE_URL)

    other = OtherServers(app, end)
    with new_session(app) as session:
        # The agent's click is journaled: its first flush comes after its booking is written.
        other.during_first_write_of(session)
        cell = agenda.click(session, session.get(Account, agent_id), "book", leo_id, canteen_id, later, BASE_URL)
    (ended,), errors = other.results()

    assert errors == []
    assert cell.state == agenda.BOOKED
    assert ended[1] == 1  # the booking made first is cancelled by the end
    assert _live_after(db, leo_id, canteen_id, monday) == []
    assert activity_service.counters_match(db) == []


def test_a_place_given_to_the_child_while_its_enrolment_ends_is_cancelled_too(app, db, parent, agent,
                                                                              make_account):
    from citoyen.services import activities as activity_service
    from tests.agenda_helpers import one_place_and_zoe

    town = build_town(db, parent=parent, agent=agent)
    other_parent = make_account(email="durand@example.org")
    zoe = one_place_and_zoe(db, town, other_parent)
    monday = next_weekday(0)
    later = monday + timedelta(days=7)
    agenda.book(db, other_parent, zoe.id, town.canteen.id, later)
    agenda.join_waiting_list(db, parent, town.leo.id, town.canteen.id, later)
    enrolment_id = _canteen_enrolment_id(db, town)
    other_id, agent_id, zoe_id, leo_id, canteen_id = other_parent.id, agent.id, zoe.id, town.leo.id, town.canteen.id

    def cancel(session):
        # Zoé's place goes to the first in line: Léo, whose enrolment is ending.
        return agenda.cancel(session, session.get(Account, other_id), zoe_id, canteen_id, later, BASE_URL)

    other = OtherServers(app, cancel)
    other.before_statement_of("ORDER BY booking.day, booking.id")
    with new_session(app) as session:
        agenda.end_enrolment(session, session.get(Account, agent_id), enrolment_id, monday, BASE_URL)
    _, errors = other.results()

    assert errors == []
    assert _live_after(db, leo_id, canteen_id, monday) == []
    assert activity_service.counters_match(db) == []
    assert db.scalar(select(Slot.booked).join(Booking, Booking.slot_id == Slot.id)
                     .where(Booking.child_id == zoe_id)) == 0


def test_a_bulk_booking_while_the_enrolment_ends_books_nothing_after_the_last_day(app, db, parent, agent):
    from citoyen.services import activities as activity_service

    town = build_town(db, parent=parent, agent=agent)
    monday = next_weekday(0)
    enrolment_id = _canteen_enrolment_id(db, town)
    parent_id, agent_id, leo_id, canteen_id = parent.id, agent.id, town.leo.id, town.canteen.id

    def bulk(session):
        return agenda.bulk(session, session.get(Account, parent_id), [leo_id], [canteen_id], monday,
                           monday + timedelta(days=27), [0, 1, 3, 4], "create", BASE_URL, apply=True)

    other = OtherServers(app, bulk)
    other.before_statement_of("UPDATE enrolment SET end_date")
    with new_session(app) as session:
        agenda.end_enrolment(session, session.get(Account, agent_id), enrolment_id, monday + timedelta(days=1),
                             BASE_URL)
    (lines,), errors = other.results()

    assert errors == []
    assert [line.day for line in lines if line.ok] == [monday, monday + timedelta(days=1)]
    assert _live_after(db, leo_id, canteen_id, monday + timedelta(days=1)) == []
    assert activity_service.counters_match(db) == []
