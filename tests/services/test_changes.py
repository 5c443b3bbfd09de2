"""Changes to the family record and their validation by the town hall."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import ChangeSet
from citoyen.models import Child
from citoyen.models import Household
from citoyen.models import Notification
from citoyen.services import changes
from citoyen.services import households
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.households import Attempt
from tests import factories

BASE = "http://localhost"
ADDRESS = {"address_line1": "5 rue Neuve", "address_line2": "", "postcode": "45990", "city": "Belval"}


@pytest.fixture
def household(db, agent, parent):
    town = factories.organisation(db)
    created = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                          guardian_last_name="Martin", postcode="45000", city="Orléans")
    households.subscribe(db, parent, Attempt("code", code=created.subscription_code), BASE)
    return created


def reloaded(db, household):
    db.rollback()
    db.expire_all()
    return db.get(Household, household.id)


def test_an_address_change_waits_for_the_town_hall(app, db, parent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    assert change.status == "pending"
    assert reloaded(db, household).city == "Orléans"
    assert (("address", None) in changes.pending_for(db, household))


def test_contacts_apply_at_once_by_default(app, db, parent, household):
    guardian = household.guardians[0]
    change = changes.propose(db, app.config, parent, household, "contacts",
                             {"mobile_phone": "06 12 34 56 78", "email": "Cam@Example.org"}, BASE,
                             guardian_id=guardian.id)
    assert change.status == "applied"
    assert reloaded(db, household).guardians[0].email == "cam@example.org"


def test_the_town_chooses_which_sections_wait(app, db, parent, household):
    app.config["CHANGE_VALIDATION"] = {"address": False, "contacts": True}
    assert changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE).status == "applied"
    assert reloaded(db, household).city == "Belval"


def test_validation_applies_notifies_and_audits(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    changes.decide(db, agent, change.id, True, "", BASE)
    assert reloaded(db, household).city == "Belval"
    assert db.scalar(select(Notification.subject).order_by(Notification.id.desc())).startswith(
        "Modification validée")
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "household.change_validated"))
    assert "Orléans" in entry.details and "Belval" in entry.details


def test_refusal_needs_a_reason_and_changes_nothing(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    with pytest.raises(DomainError):
        changes.decide(db, agent, change.id, False, " ", BASE)
    changes.decide(db, agent, change.id, False, "Justificatif manquant", BASE)
    assert reloaded(db, household).city == "Orléans"
    assert "Justificatif manquant" in db.scalar(select(Notification.body).order_by(Notification.id.desc()))


def test_a_decided_change_cannot_be_decided_again(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    changes.decide(db, agent, change.id, True, "", BASE)
    with pytest.raises(DomainError):
        changes.decide(db, agent, change.id, False, "Trop tard", BASE)


def test_the_family_withdraws_a_waiting_change(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    changes.withdraw(db, parent, household, change.id)
    assert changes.pending_for(db, household) == {}
    with pytest.raises(DomainError):
        changes.decide(db, agent, change.id, True, "", BASE)


def test_a_new_proposal_replaces_the_one_waiting(app, db, parent, household):
    changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    changes.propose(db, app.config, parent, household, "address", {**ADDRESS, "city": "Autre"}, BASE)
    pending = db.scalars(select(ChangeSet).where(ChangeSet.status == "pending")).all()
    assert len(pending) == 1 and "Autre" in pending[0].proposed


@pytest.mark.parametrize(("section", "values", "field"), [
    ("address", {**ADDRESS, "postcode": "4599"}, "postcode"),
    ("address", {**ADDRESS, "postcode": "٩٩٩٩٩"}, "postcode"),
    ("contacts", {"mobile_phone": "123", "email": ""}, "mobile_phone"),
    ("contacts", {"mobile_phone": "", "email": "pas-une-adresse"}, "email"),
])
def test_bad_values_are_refused_and_nothing_is_stored(app, db, parent, household, section, values, field):
    guardian_id = household.guardians[0].id if section == "contacts" else None
    with pytest.raises(DomainError) as caught:
        changes.propose(db, app.config, parent, household, section, values, BASE, guardian_id=guardian_id)
    assert caught.value.field == field
    db.rollback()
    assert db.scalars(select(ChangeSet)).all() == []


def test_nothing_changed_is_said(app, db, parent, household):
    with pytest.raises(DomainError, match="rien modifié"):
        changes.propose(db, app.config, parent, household, "address",
                        {"address_line1": "", "address_line2": "", "postcode": "45000", "city": "Orléans"}, BASE)


def test_an_agent_edits_directly_and_it_is_audited(app, db, agent, household):
    change = changes.propose(db, app.config, agent, household, "address", ADDRESS, BASE)
    assert change.status == "applied"
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.action == "household.edit"))


def test_an_agents_edit_leaves_the_familys_request_to_be_decided(app, db, parent, agent, household):
    asked = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    fixed = changes.propose(db, app.config, agent, household, "address", {**ADDRESS, "city": "Corrigée"}, BASE)
    assert fixed.status == "applied"
    assert db.get(ChangeSet, asked.id).status == "pending"
    changes.decide(db, agent, asked.id, True, "", BASE)  # the move the family asked for still applies
    assert db.get(ChangeSet, asked.id).status == "validated"


def test_parents_cannot_see_the_queue_or_decide(app, db, parent, household):
    with pytest.raises(Forbidden):
        changes.queue(db, parent)
    change = changes.propose(db, app.config, parent, household, "address", ADDRESS, BASE)
    with pytest.raises(Forbidden):
        changes.decide(db, parent, change.id, True, "", BASE)


def test_children_added_by_families_are_validated_or_refused(app, db, parent, agent, household):
    first = households.add_child(db, parent, household, first_name="Léo", last_name="Martin",
                                 birth_date=date(2017, 3, 8))
    second = households.add_child(db, parent, household, first_name="Zoé", last_name="Martin",
                                  birth_date=date(2019, 5, 1))
    _, waiting = changes.queue(db, agent)
    assert [c.first_name for c in waiting] == ["Léo", "Zoé"]
    changes.decide_child(db, agent, first.id, True, "", BASE)
    changes.decide_child(db, agent, second.id, False, "Enfant déjà inscrit dans un autre foyer", BASE)
    db.rollback()
    db.expire_all()
    assert [(c.first_name, c.status) for c in db.scalars(select(Child))] == [("Léo", "validated")]


IBAN = "FR76 3000 6000 0112 3456 7890 189"


def test_bank_details_are_checked_and_kept_out_of_the_audit_log(app, db, parent, agent, household):
    with pytest.raises(DomainError) as caught:
        changes.propose(db, app.config, parent, household, "bank",
                        {"account_holder": "C. Martin", "iban": IBAN[:-1] + "8", "bic": ""}, BASE)
    assert caught.value.field == "iban" and "IBAN n'est pas valide" in caught.value.message
    db.rollback()
    with pytest.raises(DomainError) as caught:
        changes.propose(db, app.config, parent, household, "bank",
                        {"account_holder": "C. Martin", "iban": IBAN, "bic": "XX"}, BASE)
    assert caught.value.field == "bic"
    db.rollback()
    change = changes.propose(db, app.config, parent, household, "bank",
                             {"account_holder": "C. Martin", "iban": IBAN.lower(), "bic": "agrifrpp"}, BASE)
    assert change.status == "pending"
    changes.decide(db, agent, change.id, True, "", BASE)
    saved = reloaded(db, household)
    assert saved.iban == "FR7630006000011234567890189" and saved.bic == "AGRIFRPP"
    logged = " ".join(db.scalars(select(AuditEntry.details)))
    assert "3000" not in logged and "IBAN" in logged
    messages = " ".join(db.scalars(select(Notification.body)))
    assert "3000" not in messages


def test_the_iban_is_masked_for_the_family_and_shown_to_agents(app, db, parent, household):
    change = changes.propose(db, app.config, parent, household, "bank",
                             {"account_holder": "", "iban": IBAN, "bic": ""}, BASE)
    masked = dict((label, after) for label, _, after, _ in changes.rows(change))["IBAN"]
    assert masked.startswith("FR76") and masked.endswith("0189"[-3:]) and "3000" not in masked
    full = dict((label, after) for label, _, after, _ in changes.rows(change, reveal=True))["IBAN"]
    assert full == "FR7630006000011234567890189"


@pytest.mark.parametrize(("values", "field"), [
    ({"family_quotient": "huit cents", "quotient_year": ""}, "family_quotient"),
    ({"family_quotient": "850,5", "quotient_year": ""}, "family_quotient"),
    ({"family_quotient": "850", "quotient_year": "1999"}, "quotient_year"),
    ({"family_quotient": "850", "quotient_year": "3000"}, "quotient_year"),
    # Digits of other scripts pass str.isdigit() but are not numbers to int().
    ({"family_quotient": "²", "quotient_year": ""}, "family_quotient"),
    ({"family_quotient": "٩٠٠", "quotient_year": ""}, "family_quotient"),
    ({"family_quotient": "850", "quotient_year": "²"}, "quotient_year"),
    ({"family_quotient": "850", "quotient_year": "٢٠٢٥"}, "quotient_year"),
])
def test_bad_fiscal_information(app, db, parent, household, values, field):
    with pytest.raises(DomainError) as caught:
        changes.propose(db, app.config, parent, household, "fiscal", values, BASE)
    assert caught.value.field == field


def test_fiscal_information_waits_then_applies(app, db, parent, agent, household):
    change = changes.propose(db, app.config, parent, household, "fiscal",
                             {"family_quotient": "850", "quotient_year": "2025"}, BASE)
    assert reloaded(db, household).family_quotient is None
    changes.decide(db, agent, change.id, True, "", BASE)
    saved = reloaded(db, household)
    assert (saved.family_quotient, saved.quotient_year) == (850, 2025)


GENERAL = {"last_name": "Martin", "first_name": "Léa", "birth_date": "2018-09-14", "sex": "F",
           "school": "", "class_name": "", "insurance_company": "", "insurance_policy": ""}


@pytest.mark.parametrize("birth_date", [date(1901, 1, 1), date.today().replace(day=1, month=1,
                                                                                   year=date.today().year - 26)])
def test_one_birth_date_rule_for_adding_a_child_and_changing_its_information(
        app, db, parent, agent, household, birth_date):
    child = households.add_child(db, agent, household, first_name="Léa", last_name="Martin",
                                 birth_date=date(2018, 9, 14))
    with pytest.raises(DomainError) as on_add:
        households.add_child(db, parent, household, first_name="Léo", last_name="Martin",
                             birth_date=birth_date)
    with pytest.raises(DomainError) as on_change:
        changes.propose(db, app.config, parent, household, "child_general",
                        {**GENERAL, "birth_date": birth_date.strftime("%d/%m/%Y")}, BASE, child_id=child.id)
    assert on_add.value.field == on_change.value.field == "birth_date"
    assert on_add.value.message == on_change.value.message
    assert "25 ans" in on_change.value.message


def test_a_birth_date_is_checked_on_29_february(app):
    assert households.check_birth_date(date(2004, 3, 1), today=date(2028, 2, 29)) == date(2004, 3, 1)
    with pytest.raises(DomainError):
        households.check_birth_date(date(2003, 2, 27), today=date(2028, 2, 29))
