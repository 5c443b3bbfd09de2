"""A child's record (general information, authorisations, health data), the
photo, the adults allowed to pick the child up, and a guardian added by the family."""

from __future__ import annotations

import io
import json
from datetime import date
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import ChangeSet
from citoyen.models import Guardian
from citoyen.services import changes
from citoyen.services import children
from citoyen.services import households
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from citoyen.services.households import Attempt
from tests import factories
from tests.services.helpers import BASE_URL
from tests.services.helpers import reload

GENERAL = {"last_name": "Martin", "first_name": "Léa", "birth_date": "2018-09-14", "sex": "F",
           "school": "École Jules Ferry", "class_name": "CE1", "insurance_company": "MAIF",
           "insurance_policy": "123 456"}
HEALTH = {"allergies": "Arachide", "diet": "sans_porc", "pai": "y", "doctor_name": "Dr Roux",
          "doctor_phone": "02 38 00 00 00", "vaccinations_up_to_date": "y", "glasses": "",
          "dental_appliance": "", "hearing_aid": "y"}


@pytest.fixture
def family(db, agent, parent):
    town = factories.organisation(db)
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE_URL)
    child = households.add_child(db, agent, household, first_name="Léa", last_name="Martin",
                                 birth_date=date(2018, 9, 14))
    return household, child


def _propose(db, actor, household, section, values, child, settings=None):
    return changes.propose(db, settings or {}, actor, household, section, values, BASE_URL,
                           child_id=child.id)


def test_health_change_waits_for_the_town_hall_then_applies(db, parent, agent, family, outbox):
    household, child = family
    change = _propose(db, parent, household, "child_health", HEALTH, child)
    assert change.status == "pending" and change.child_id == child.id
    assert reload(db, child).allergies == ""
    assert changes.pending_for(db, household)[("child_health", child.id)].id == change.id
    changes.decide(db, agent, change.id, True, "", BASE_URL)
    child = reload(db, child)
    assert child.allergies == "Arachide" and child.pai is True and child.hearing_aid is True
    assert child.glasses is False and child.diet == "sans_porc"


def test_health_values_never_reach_the_audit_log_or_messages(db, parent, agent, family, outbox):
    household, child = family
    change = _propose(db, parent, household, "child_health", HEALTH, child)
    changes.decide(db, agent, change.id, True, "", BASE_URL)
    logged = " ".join(e.details for e in db.scalars(select(AuditEntry)))
    assert "Allergies" in logged and "Arachide" not in logged and "Dr Roux" not in logged
    assert all("Arachide" not in m.text_body for m in outbox.all())


def test_general_information_with_a_birth_date_and_a_sex(db, parent, agent, family):
    household, child = family
    change = _propose(db, parent, household, "child_general", GENERAL, child)
    assert json.loads(change.proposed)["birth_date"] == "2018-09-14"
    labels = {label: (before, after) for label, before, after, _ in changes.rows(change)}
    assert labels["Sexe"] == ("", "Fille") and labels["Date de naissance"][1] == "14/09/2018"
    changes.decide(db, agent, change.id, True, "", BASE_URL)
    child = reload(db, child)
    assert child.sex == "F" and child.insurance_company == "MAIF" and child.birth_date == date(2018, 9, 14)


@pytest.mark.parametrize("field, value", [
    ("birth_date", (date.today() + timedelta(days=1)).isoformat()),
    ("birth_date", "31/02/2019"),
    ("sex", "X"),
    ("last_name", "  "),
    ("insurance_policy", "9" * 51),
])
def test_bad_general_information_is_refused_at_its_field(db, parent, family, field, value):
    household, child = family
    with pytest.raises(DomainError) as raised:
        _propose(db, parent, household, "child_general", {**GENERAL, field: value}, child)
    assert raised.value.field == field
    assert db.scalar(select(ChangeSet)) is None


def test_authorisations_apply_at_once_when_the_town_says_so(db, parent, family):
    household, child = family
    change = _propose(db, parent, household, "child_authorisations",
                      {"allows_sport": "y", "allows_photo": True}, child,
                      settings={"CHANGE_VALIDATION": {"child_authorisations": False}})
    assert change.status == "applied"
    child = reload(db, child)
    assert child.allows_sport and child.allows_photo and not child.allows_leave_alone


def test_a_child_of_another_household_is_not_found(db, parent, agent, family):
    household, _ = family
    other = households.create_household(db, agent, factories.organisation(db, slug="autre"), name="Benali",
                                        guardian_first_name="Karim", guardian_last_name="Benali")
    theirs = households.add_child(db, agent, other, first_name="Inès", last_name="Benali",
                                  birth_date=date(2017, 1, 2))
    with pytest.raises(NotFound):
        _propose(db, parent, household, "child_health", HEALTH, theirs)
    with pytest.raises(NotFound):
        children.add_pickup(db, parent, household, theirs.id, first_name="A", last_name="B", phone="0612345678")


def test_pickups_add_edit_remove(db, parent, agent, family):
    household, child = family
    pickup = children.add_pickup(db, parent, household, child.id, first_name="Jeanne", last_name="Roux",
                                 relation="Grand-mère", phone="06 12 34 56 78")
    children.edit_pickup(db, parent, household, child.id, pickup.id, first_name="Jeanne",
                         last_name="Roux", relation="Voisine", phone="06 12 34 56 79")
    assert reload(db, pickup).relation == "Voisine"
    with pytest.raises(DomainError) as raised:
        children.add_pickup(db, parent, household, child.id, first_name="Paul", last_name="Roux",
                            phone="12")
    assert raised.value.field == "phone"
    children.remove_pickup(db, agent, household, child.id, pickup.id)
    assert reload(db, child).pickups == []
    actions = [e.action for e in db.scalars(select(AuditEntry))]
    assert "household.pickup_removed" in actions and "household.pickup_added" not in actions


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (1600, 1200), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {2: (48.0, 51.0, 24.0), 1: "N"}  # GPSInfo
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photo_is_resized_and_stripped_of_its_metadata(db, parent, family):
    household, child = family
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()
    children.set_photo(db, parent, household, child.id, original)
    kept = reload(db, child).photo.data
    image = Image.open(io.BytesIO(kept))
    assert image.format == "JPEG" and max(image.size) == children.PHOTO_SIZE
    assert not image.getexif() and b"PhoneMaker" not in kept


@pytest.mark.parametrize("data", [b"%PDF-1.4 not an image", b"", b"\x89PNG\r\n\x1a\n broken"])
def test_a_file_that_is_not_an_image_is_refused(db, parent, family, data):
    household, child = family
    with pytest.raises(DomainError) as raised:
        children.set_photo(db, parent, household, child.id, data)
    assert raised.value.field == "photo"
    assert reload(db, child).photo is None


def test_a_photo_too_big_is_refused(db, parent, family):
    household, child = family
    with pytest.raises(DomainError, match="trop lourde"):
        children.set_photo(db, parent, household, child.id, b"\xff" * (children.PHOTO_MAX_BYTES + 1))


def test_a_second_guardian_waits_then_the_agent_validates(db, parent, agent, family, outbox):
    household, _ = family
    guardian = households.add_guardian(db, parent, household, first_name="Alex", last_name="Durand",
                                       email="alex@example.org", mobile_phone="0611223344")
    assert guardian.status == "pending"
    assert [g.id for g in changes.pending_guardians(db, agent)] == [guardian.id]
    changes.decide_guardian(db, agent, guardian.id, True, "", BASE_URL)
    assert reload(db, guardian).status == "validated"
    assert "Alex Durand" in outbox.last(parent.email).text_body


def test_a_refused_guardian_is_removed_with_a_reason(db, parent, agent, family):
    household, _ = family
    guardian = households.add_guardian(db, parent, household, first_name="Alex", last_name="Durand")
    with pytest.raises(DomainError):
        changes.decide_guardian(db, agent, guardian.id, False, "", BASE_URL)
    changes.decide_guardian(db, agent, guardian.id, False, "Pas de justificatif", BASE_URL)
    assert db.get(Guardian, guardian.id) is None


def test_a_pending_guardian_cannot_be_invited_and_a_refused_one_loses_the_household(app, db, parent, agent,
                                                                                     family):
    from citoyen.models import HouseholdLink

    household, _ = family
    guardian = households.add_guardian(db, parent, household, first_name="Alex", last_name="Durand",
                                       email="alex@example.org")
    db.expire_all()
    with pytest.raises(DomainError, match="attend la validation"):
        households.invite_guardian(db, app.config, agent, household, guardian.id, BASE_URL)
    # Were it linked to an account (an older invitation), the refusal takes the access back.
    alex = factories.account(db, email="alex@example.org")
    guardian = db.get(Guardian, guardian.id)
    guardian.account_id = alex.id
    db.add(HouseholdLink(account_id=alex.id, household_id=household.id, method="invitation"))
    db.commit()
    changes.decide_guardian(db, agent, guardian.id, False, "Inconnu de la mairie", BASE_URL)
    assert db.scalar(select(HouseholdLink).where(HouseholdLink.account_id == alex.id)) is None
    assert db.scalar(select(HouseholdLink).where(HouseholdLink.account_id == parent.id)) is not None


def test_the_same_guardian_twice_is_refused(db, parent, family):
    household, _ = family
    with pytest.raises(DomainError) as raised:
        households.add_guardian(db, parent, household, first_name="camille", last_name="MARTIN")
    assert raised.value.field == "first_name"


def test_guardian_identity_and_employer(db, parent, agent, family):
    household, _ = family
    guardian = household.guardians[0]
    change = changes.propose(db, {}, parent, household, "identity",
                             {"last_name": "Martin", "first_name": "Camille", "employer": "Mairie",
                              "work_phone": "02 38 11 22 33"}, BASE_URL, guardian_id=guardian.id)
    changes.decide(db, agent, change.id, True, "", BASE_URL)
    assert reload(db, guardian).employer == "Mairie"
