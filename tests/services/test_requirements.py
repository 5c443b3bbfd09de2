"""Documents an activity requires: enrolment waits for them, a valid one is not asked again."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Document
from citoyen.models import DocumentType
from citoyen.services import agenda
from citoyen.services import requirements
from citoyen.services.agenda import MissingDocuments
from citoyen.services.errors import Forbidden
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town


@pytest.fixture
def town(db):
    town = build_town(db)
    town.study = activity(db, town.organisation, town.site, name="Étude")
    town.insurance = DocumentType(organisation_id=town.organisation.id, name="Attestation d'assurance",
                                  scope="child")
    town.address = DocumentType(organisation_id=town.organisation.id, name="Justificatif de domicile",
                                scope="household")
    db.add_all([town.insurance, town.address])
    db.commit()
    return town


def _valid(db, town, doc_type, child=None, until=None):
    db.add(Document(household_id=town.household.id, child_id=child.id if child else None,
                    document_type_id=doc_type.id, status="valid",
                    valid_until=until or date.today() + timedelta(days=200)))
    db.commit()


def _enrol(db, town, actor=None):
    today = date.today()
    return agenda.enrol(db, actor or town.parent, town.leo.id, town.study.id, today, today + timedelta(days=60),
                        BASE_URL)


def test_enrolment_waits_for_the_required_documents(db, town):
    with pytest.raises(Forbidden):
        requirements.set_required(db, town.parent, town.study.id, [town.insurance.id])
    requirements.set_required(db, town.agent, town.study.id, [town.insurance.id, town.address.id])
    assert "Justificatifs exigés" in db.scalar(select(AuditEntry.details).where(
        AuditEntry.action == "activity.requirements"))
    with pytest.raises(MissingDocuments) as raised:
        _enrol(db, town)
    assert raised.value.field == "activity"
    assert "Attestation d'assurance, Justificatif de domicile" in raised.value.message
    _valid(db, town, town.address)
    _valid(db, town, town.insurance, child=town.ines)  # another child's does not count
    with pytest.raises(MissingDocuments, match="ce justificatif : Attestation d'assurance"):
        _enrol(db, town)
    _valid(db, town, town.insurance, child=town.leo, until=date.today() - timedelta(days=1))  # Périmé
    with pytest.raises(MissingDocuments):
        _enrol(db, town)
    _valid(db, town, town.insurance, child=town.leo)
    assert _enrol(db, town).status in ("validated", "pending")


def test_an_agent_enrols_without_waiting(db, town):
    requirements.set_required(db, town.agent, town.study.id, [town.insurance.id])
    assert _enrol(db, town, town.agent).status == "validated"


def test_types_of_another_commune_are_ignored(db, town):
    from tests import factories

    other = factories.organisation(db, slug="autre")
    foreign = DocumentType(organisation_id=other.id, name="Autre", scope="household")
    db.add(foreign)
    db.commit()
    assert requirements.set_required(db, town.agent, town.study.id, [foreign.id]) == []


def test_agent_page_and_the_family_message(app, db, town):
    from tests.blueprints.helpers import text
    from tests.factories import PASSWORD

    staff = app.test_client()
    staff.post("/connexion", data={"email": town.agent.email, "password": PASSWORD})
    url = f"/agent/activites/{town.study.id}/justificatifs"
    assert "Attestation d'assurance" in text(staff.get(url))
    assert staff.post(url, data={"types": [str(town.insurance.id), "abc", "9" * 30]}).status_code == 303
    assert [t.id for t in requirements.required_types(db, town.study.id)] == [town.insurance.id]
    family = app.test_client()
    family.post("/connexion", data={"email": town.parent.email, "password": PASSWORD})
    today = date.today()
    response = family.post("/agenda/inscription", data={
        "child": str(town.leo.id), "activity": str(town.study.id),
        "start_date": today.strftime("%d/%m/%Y"), "end_date": (today + timedelta(days=30)).strftime("%d/%m/%Y")})
    assert response.status_code == 422
    body = text(response)
    import re
    assert "fournissez ce justificatif" in body, re.findall(r"field-error[^<]*<", body)
    assert "Attestation d" in body and "/justificatifs" in body
