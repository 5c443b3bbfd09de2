"""A household's records at the edges: the same child sent twice, a pickup
person removed while being edited, the calendar address replaced by an agent,
a postcode in other digits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import AuthorizedPickup
from citoyen.models import Child
from citoyen.services import children
from citoyen.services import household_import
from citoyen.services import households
from citoyen.services.errors import DomainError
from tests import factories
from tests.blueprints.helpers import subscribed_family
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.services.test_household_import import HEADER

CHILD = {"first_name": "Zoé", "last_name": "Martin", "birth_date": "14/09/2019", "school": "", "class_name": ""}


def test_the_same_child_sent_twice_is_recorded_once(db, client, auth, parent, agent):
    household = subscribed_family(db, agent, parent, child=False)
    auth.sign_in(parent.email)
    assert client.post(f"/foyer/{household.id}/enfants/nouveau", data=CHILD).status_code == 303
    again = client.post(f"/foyer/{household.id}/enfants/nouveau", data={**CHILD, "first_name": "zoe"})
    assert again.status_code == 422
    page = text(again)
    assert "Zoé Martin est déjà dans ce foyer." in page
    assert 'value="zoe"' in page
    fresh(db)
    assert db.scalars(select(Child.first_name).where(Child.household_id == household.id)).all() == ["Zoé"]
    # A twin, born the same day, is another child.
    twin = households.add_child(db, parent, household, first_name="Lou", last_name="Martin",
                                birth_date=date(2019, 9, 14))
    assert twin.id is not None


def test_a_pickup_person_removed_while_edited_keeps_what_was_typed(db, client, auth, parent, agent):
    household, child = subscribed_family(db, agent, parent)
    pickup = children.add_pickup(db, parent, household, child.id, first_name="Jean", last_name="Dupont",
                                 phone="06 12 34 56 78")
    address = f"/foyer/{household.id}/enfants/{child.id}/personnes/{pickup.id}"
    auth.sign_in(parent.email)
    assert client.get(address).status_code == 200
    children.remove_pickup(db, parent, household, child.id, pickup.id)  # the other parent, meanwhile
    response = client.post(address, data={"first_name": "Jean", "last_name": "Dupont-Lefèvre",
                                          "phone": "06 12 34 56 79"})
    assert response.status_code == 422
    page = text(response)
    assert f"Cette personne n'est plus autorisée à récupérer {child.first_name}." in page
    assert 'value="Dupont-Lefèvre"' in page
    # Opened again from an old link, it is gone, as any other.
    assert client.get(address).status_code == 404
    add = f"/foyer/{household.id}/enfants/{child.id}/personnes/nouvelle"
    assert f'action="{add}"' in page
    # Sent again from there, the person is authorised again, as typed.
    assert client.post(add, data={"first_name": "Jean", "last_name": "Dupont-Lefèvre", "relation": "",
                                  "phone": "06 12 34 56 79"}).status_code == 303
    fresh(db)
    assert db.scalars(select(AuthorizedPickup.last_name).where(AuthorizedPickup.child_id == child.id)).all() == [
        "Dupont-Lefèvre"]


def test_an_agent_replacing_a_childs_calendar_address_is_in_the_journal(db, client, auth, parent, agent):
    household, child = subscribed_family(db, agent, parent)
    auth.sign_in(agent.email)
    for _ in range(2):
        client.post(f"/foyer/{household.id}/enfants/{child.id}/calendrier")
    fresh(db)
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("household.calendar%"))
                         .order_by(AuditEntry.id)).all()
    assert actions == ["household.calendar_created", "household.calendar_renewed"]
    # The family's own changes are not the journal's.
    auth.sign_out()
    auth.sign_in(parent.email)
    assert client.post(f"/foyer/{household.id}/enfants/{child.id}/calendrier").status_code == 303
    fresh(db)
    assert db.scalar(select(func.count()).select_from(AuditEntry)
                     .where(AuditEntry.action.like("household.calendar%"))) == 2


def test_an_imported_postcode_is_five_plain_digits(db, agent):
    town = factories.organisation(db)
    data = (HEADER + "\n;Martin;;;٤٥٠٠٠;;Martin;Camille;;;;;;;\n").encode()
    try:
        report = household_import.check(db, agent, town, data)
    except DomainError as refusal:
        assert "code postal" in refusal.message.lower()
    else:
        assert report.households == []
        assert any("code postal" in r.reason.lower() for r in report.refused)
