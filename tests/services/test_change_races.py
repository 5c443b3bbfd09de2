"""Changes to the family record decided, withdrawn or proposed at the same
moment on several app servers: the first one wins, the others are told the
change is no longer waiting; an agent's withdrawal is audited and told.

The races use ``OtherServers`` (see test_write_races.py): the same
interleaving on every run. On SQLite the write lock serialises them; on
PostgreSQL (CITOYEN_TEST_DATABASE_URL) the row locks of the service do."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from citoyen.db import new_session
from citoyen.models import Account
from citoyen.models import AuditEntry
from citoyen.models import ChangeSet
from citoyen.models import Child
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.models import Notification
from citoyen.services import changes
from citoyen.services import households
from citoyen.services.errors import NotFound
from citoyen.services.households import Attempt
from tests import factories
from tests.conftest import fresh
from tests.services.test_write_races import OtherServers
from tests.services.test_write_races import refused

BASE = "http://localhost"
ADDRESS = {"address_line1": "5 rue Neuve", "address_line2": "", "postcode": "45990", "city": "Belval"}


@pytest.fixture
def household(db, agent, parent):
    town = factories.organisation(db)
    created = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                          guardian_last_name="Martin", address_line1="1 rue Vieille",
                                          postcode="45000", city="Orléans")
    households.subscribe(db, parent, Attempt("code", code=created.subscription_code), BASE)
    return created


@pytest.fixture
def colleague(make_account):
    return make_account(email="collegue@example.org", first_name="Inès", last_name="Garnier", role="agent")


def audit_actions(db, prefix: str) -> list[str]:
    return fresh(db).scalars(select(AuditEntry.action).where(AuditEntry.action.like(prefix + "%"))
                             .order_by(AuditEntry.id)).all()


def subjects(db, prefix: str) -> list[str]:
    return fresh(db).scalars(select(Notification.subject).where(Notification.subject.like(prefix + "%"))
                             .order_by(Notification.id)).all()


def decide(agent_id: int, change_id: int, accept: bool, reason: str = ""):
    def work(session):
        return changes.decide(session, session.get(Account, agent_id), change_id, accept, reason, BASE)

    return work


def withdraw(household_id: int, account_id: int, change_id: int):
    def work(session):
        return changes.withdraw(session, session.get(Account, account_id), session.get(Household, household_id),
                                change_id, BASE)

    return work


# ---------------------------------------------------------------- decisions and withdrawals


def test_the_family_withdrawing_while_an_agent_validates_is_told_it_is_too_late(
        app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    change_id, household_id = change.id, household.id

    other = OtherServers(app, withdraw(household_id, parent.id, change_id))
    with new_session(app) as session:
        other.during_first_write_of(session)
        decide(agent.id, change_id, True)(session)
    (outcome,), errors = other.results()

    assert errors == []
    assert isinstance(outcome, NotFound) and outcome.message == changes.NO_LONGER_PENDING
    fresh(db)
    assert db.get(ChangeSet, change_id).status == "validated"
    assert db.get(Household, household_id).city == "Belval"
    assert subjects(db, "Modification") == ["Modification validée : adresse"]


def test_an_agent_validating_while_the_family_withdraws_is_told_it_is_too_late(
        app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    change_id, household_id = change.id, household.id

    other = OtherServers(app, decide(agent.id, change_id, True))
    with new_session(app) as session:
        other.during_first_write_of(session)
        withdraw(household_id, parent.id, change_id)(session)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, changes.ALREADY_DECIDED)
    fresh(db)
    assert db.get(ChangeSet, change_id).status == "withdrawn"
    assert db.get(Household, household_id).city == "Orléans"
    assert audit_actions(db, "household.change") == []
    assert subjects(db, "Modification") == []


def test_a_refusal_while_another_agent_validates_changes_nothing(app, db, parent, agent, colleague, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    change_id, household_id = change.id, household.id

    other = OtherServers(app, decide(colleague.id, change_id, False, "Justificatif manquant"))
    with new_session(app) as session:
        other.during_first_write_of(session)
        decide(agent.id, change_id, True)(session)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, changes.ALREADY_DECIDED)
    fresh(db)
    assert db.get(ChangeSet, change_id).status == "validated"
    assert db.get(Household, household_id).city == "Belval"
    assert audit_actions(db, "household.change") == ["household.change_validated"]
    assert subjects(db, "Modification") == ["Modification validée : adresse"]


def test_two_agents_validating_at_once_audit_and_tell_the_family_once(app, db, parent, agent, colleague,
                                                                       household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    change_id = change.id

    other = OtherServers(app, decide(colleague.id, change_id, True))
    with new_session(app) as session:
        other.during_first_write_of(session)
        decide(agent.id, change_id, True)(session)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, changes.ALREADY_DECIDED)
    fresh(db)
    assert db.get(ChangeSet, change_id).decided_by_id == agent.id
    assert audit_actions(db, "household.change") == ["household.change_validated"]
    assert subjects(db, "Modification") == ["Modification validée : adresse"]


# ---------------------------------------------------------------- proposals


def test_two_guardians_proposing_the_same_section_at_once_leave_one_change_waiting(
        app, db, parent, make_account, household):
    second = make_account(email="lou@example.org", first_name="Lou", last_name="Martin")
    households.subscribe(db, second, Attempt("code", code=household.subscription_code), BASE)
    household_id, parent_id, second_id = household.id, parent.id, second.id

    def propose(account_id, values):
        def work(session):
            return changes.propose(session, app.config, session.get(Account, account_id),
                                   session.get(Household, household_id), "address", values, BASE)

        return work

    other = OtherServers(app, propose(second_id, {**ADDRESS, "city": "Autreville"}))
    with new_session(app) as session:
        other.during_first_write_of(session)
        first = propose(parent_id, ADDRESS)(session)
    (second_change,), errors = other.results()

    assert errors == []
    fresh(db)
    # The second proposal came once the first was recorded, and replaced it.
    assert db.get(ChangeSet, first.id).status == "withdrawn"
    pending = db.scalars(select(ChangeSet).where(ChangeSet.household_id == household_id,
                                                 ChangeSet.status == "pending")).all()
    assert [c.id for c in pending] == [second_change.id]
    assert "Autreville" in pending[0].proposed


def test_a_new_proposal_while_the_waiting_one_is_validated_starts_from_the_validated_values(
        app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    change_id, household_id, parent_id = change.id, household.id, parent.id

    def propose(session):
        return changes.propose(session, app.config, session.get(Account, parent_id),
                               session.get(Household, household_id), "address",
                               {**ADDRESS, "city": "Autreville"}, BASE)

    other = OtherServers(app, propose)
    with new_session(app) as session:
        other.during_first_write_of(session)
        decide(agent.id, change_id, True)(session)
    (proposed,), errors = other.results()

    assert errors == []
    fresh(db)
    assert db.get(ChangeSet, change_id).status == "validated"
    assert db.get(Household, household_id).city == "Belval"
    newer = db.get(ChangeSet, proposed.id)
    assert newer.status == "pending"
    assert [(label, before, after) for label, before, after, diff in changes.rows(newer) if diff] == [
        ("Commune", "Belval", "Autreville")]


# ---------------------------------------------------------------- children and guardians added by families


def test_a_child_validated_and_refused_at_once_stays_validated(app, db, parent, agent, colleague, household):
    child = households.add_child(db, parent, household, first_name="Zoé", last_name="Martin",
                                 birth_date=date(2019, 9, 14))
    child_id, agent_id, colleague_id = child.id, agent.id, colleague.id

    def refuse(session):
        return changes.decide_child(session, session.get(Account, colleague_id), child_id, False, "Doublon", BASE)

    other = OtherServers(app, refuse)
    with new_session(app) as session:
        other.during_first_write_of(session)
        changes.decide_child(session, session.get(Account, agent_id), child_id, True, "", BASE)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, "Cette fiche a déjà été traitée.")
    fresh(db)
    assert db.get(Child, child_id).status == "validated"
    assert audit_actions(db, "household.child_") == ["household.child_validated"]
    assert subjects(db, "Zoé Martin") == ["Zoé Martin : validé par la mairie"]


def test_a_guardian_validated_and_refused_at_once_stays_validated(app, db, parent, agent, colleague, household):
    guardian = households.add_guardian(db, parent, household, first_name="Lou", last_name="Martin")
    guardian_id, agent_id, colleague_id = guardian.id, agent.id, colleague.id

    def refuse(session):
        return changes.decide_guardian(session, session.get(Account, colleague_id), guardian_id, False,
                                       "Inconnu", BASE)

    other = OtherServers(app, refuse)
    with new_session(app) as session:
        other.during_first_write_of(session)
        changes.decide_guardian(session, session.get(Account, agent_id), guardian_id, True, "", BASE)
    (outcome,), errors = other.results()

    assert errors == []
    assert refused(outcome, "Ce responsable a déjà été traité.")
    fresh(db)
    assert db.get(Guardian, guardian_id).status == "validated"
    assert audit_actions(db, "household.guardian_") == ["household.guardian_validated"]
    assert subjects(db, "Lou Martin") == ["Lou Martin : validé par la mairie"]


# ---------------------------------------------------------------- what a validation applies


def test_a_validation_applies_only_what_the_family_changed(app, db, parent, agent, household):
    # The family changes the town only (the form comes filled with the rest).
    asked = changes.propose(db, app.config, parent, household, "address",
                            {"address_line1": "1 rue Vieille", "address_line2": "", "postcode": "45000",
                             "city": "Saint-Jean"}, BASE)
    # Meanwhile an agent corrects the street.
    changes.propose(db, app.config, agent, household, "address",
                    {"address_line1": "12 avenue Foch", "address_line2": "", "postcode": "45000",
                     "city": "Orléans"}, BASE)
    # The agent validating the request is shown the town only.
    shown = [label for label, _before, _after, diff in changes.rows(db.get(ChangeSet, asked.id)) if diff]
    assert shown == ["Commune"]

    changes.decide(db, agent, asked.id, True, "", BASE)

    saved = fresh(db).get(Household, household.id)
    assert (saved.address_line1, saved.city) == ("12 avenue Foch", "Saint-Jean")


def test_a_validation_of_a_child_section_keeps_a_correction_made_meanwhile(app, db, parent, agent, household):
    child = households.add_child(db, agent, household, first_name="Léa", last_name="Martin",
                                 birth_date=date(2018, 9, 14))
    health = {"allergies": "", "diet": "", "pai": False, "doctor_name": "", "doctor_phone": "",
              "vaccinations_up_to_date": False, "glasses": False, "dental_appliance": False,
              "hearing_aid": False}
    asked = changes.propose(db, app.config, parent, household, "child_health", {**health, "glasses": True},
                            BASE, child_id=child.id)
    changes.propose(db, app.config, agent, household, "child_health", {**health, "allergies": "Arachide"},
                    BASE, child_id=child.id)

    changes.decide(db, agent, asked.id, True, "", BASE)

    saved = fresh(db).get(Child, child.id)
    assert (saved.glasses, saved.allergies) == (True, "Arachide")


# ---------------------------------------------------------------- withdrawals by an agent


def test_an_agent_withdrawing_a_familys_change_is_audited_and_the_family_told(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)

    changes.withdraw(db, agent, household, change.id, BASE)

    fresh(db)
    assert db.get(ChangeSet, change.id).status == "withdrawn"
    assert db.get(Household, household.id).city == "Orléans"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "household.change_withdrawn"))
    assert entry.actor_id == agent.id and entry.target_id == household.id
    assert "Orléans" in entry.details and "Belval" in entry.details
    told = db.scalar(select(Notification).where(Notification.account_id == parent.id,
                                                Notification.subject.like("Modification%")))
    assert told.subject == "Modification retirée : adresse"
    assert "La mairie a retiré la modification" in told.body and told.link == "/foyer"


def test_the_family_withdrawing_its_own_change_is_neither_audited_nor_told(app, db, parent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)

    changes.withdraw(db, parent, household, change.id, BASE)

    assert fresh(db).get(ChangeSet, change.id).status == "withdrawn"
    assert audit_actions(db, "household.change") == []
    assert subjects(db, "Modification") == []


def test_an_agent_withdrawing_while_the_family_withdraws_audits_nothing(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    change_id, household_id = change.id, household.id

    other = OtherServers(app, withdraw(household_id, agent.id, change_id))
    with new_session(app) as session:
        other.during_first_write_of(session)
        withdraw(household_id, parent.id, change_id)(session)
    (outcome,), errors = other.results()

    assert errors == []
    assert isinstance(outcome, NotFound) and outcome.message == changes.NO_LONGER_PENDING
    assert audit_actions(db, "household.change") == []
    assert subjects(db, "Modification") == []
