"""Justificatifs: states, household documents asked once, validity, decisions, reminders."""

from __future__ import annotations

import os
from datetime import date
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.filecheck import FileRefused
from citoyen.models import Account
from citoyen.models import AuditEntry
from citoyen.models import Document
from citoyen.models import DocumentFile
from citoyen.models import Household
from citoyen.models import Notification
from citoyen.services import documents
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.storage import LocalStorage
from tests import factories
from tests import samples
from tests.document_data import family_for
from tests.document_data import make_family
from tests.services.test_concurrency import run_together

BASE = "http://localhost"
TODAY = date(2026, 11, 22)
SETTINGS = {"DOCUMENT_MAX_FILES": 5, "DOCUMENT_MAX_FILE_SIZE": 2 * 1024 * 1024,
            "DOCUMENT_REMINDER_DAYS": 30}


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(str(tmp_path / "uploads"))


@pytest.fixture
def family(db, agent, parent):
    return make_family(db, agent, parent)


def stored_files(storage) -> list[str]:
    found = []
    for folder, _dirs, names in os.walk(storage.root):
        found += [os.path.join(folder, n) for n in names]
    return found


def states(db, household, on=TODAY):
    return {
        (group.title, slot.document_type.name): slot.label
        for group in documents.overview(db, household, on) for slot in group.slots
    }


def send(db, storage, parent, family, doc_type, child=None, files=None, on=TODAY):
    return documents.submit(db, SETTINGS, storage, parent, family.household, doc_type.id,
                            child.id if child else None,
                            [("domicile.pdf", samples.pdf())] if files is None else files,
                            on=on)


def test_what_is_asked_a_household_document_once_and_a_child_document_per_child(db, family):
    assert states(db, family.household) == {
        ("Le foyer", "Justificatif de domicile"): "Non fourni",
        ("Léo Martin", "Attestation d'assurance"): "Non fourni",
        ("Inès Martin", "Attestation d'assurance"): "Non fourni",
    }


def test_sent_then_validated_until_the_end_date_of_its_type(db, storage, parent, agent, family,
                                                             outbox):
    document = send(db, storage, parent, family, family.address)
    assert states(db, family.household)[("Le foyer", "Justificatif de domicile")] == "Non traité"
    assert [f.filename for f in document.files] == ["domicile.pdf"]
    assert storage.read(document.files[0].storage_key) == samples.pdf()
    assert documents.queue(db, agent) == [document]

    until = documents.default_valid_until(family.address, TODAY)
    assert until == date(2027, 11, 22)
    documents.validate(db, agent, document.id, until, BASE, on=TODAY)
    assert states(db, family.household)[("Le foyer", "Justificatif de domicile")] == "Validé"
    assert documents.queue(db, agent) == []
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "document.validated"))
    assert entry.target_id == family.household.id and "22 novembre 2027" in entry.details
    mail = outbox.last(parent.email)
    assert mail.subject == "Justificatif validé : Justificatif de domicile"
    assert "22 novembre 2027" in mail.text_body


def test_validity_until_a_fixed_day_of_the_year():
    insurance = documents.DocumentType(valid_until_day="31/08")
    assert documents.default_valid_until(insurance, date(2026, 11, 22)) == date(2027, 8, 31)
    assert documents.default_valid_until(insurance, date(2027, 8, 31)) == date(2027, 8, 31)
    assert documents.default_valid_until(insurance, date(2027, 9, 1)) == date(2028, 8, 31)
    yearly = documents.DocumentType(validity_months=12)
    assert documents.default_valid_until(yearly, date(2028, 2, 29)) == date(2029, 2, 28)
    assert documents.default_valid_until(documents.DocumentType(), TODAY) is None


def test_a_validated_document_is_not_asked_again_until_it_expires(db, storage, parent, agent, family):
    document = send(db, storage, parent, family, family.address)
    documents.validate(db, agent, document.id, date(2027, 6, 30), BASE, on=TODAY)
    assert documents.is_satisfied(db, family.household, family.address.id, on=TODAY)
    with pytest.raises(FileRefused, match="validé jusqu'au 30 juin 2027"):
        send(db, storage, parent, family, family.address, files=[("autre.pdf", samples.pdf("2"))])
    db.rollback()
    with pytest.raises(DomainError, match="n'est pas demandé à nouveau"):
        documents.request_document(db, agent, family.household, family.address.id, None, "", BASE,
                                   on=TODAY)
    db.rollback()
    # Within the reminder period, a new one may be sent; after the end, it is Périmé.
    near = date(2027, 6, 10)
    send(db, storage, parent, family, family.address, files=[("neuf.pdf", samples.pdf("2"))], on=near)
    assert documents.is_satisfied(db, family.household, family.address.id, on=near)
    later = date(2027, 7, 1)
    assert not documents.is_satisfied(db, family.household, family.address.id, on=later)


def test_expired_shows_as_perime_and_may_be_sent_again(db, storage, parent, agent, family):
    document = send(db, storage, parent, family, family.insurance, family.leo,
                    [("assurance.jpg", samples.jpeg())])
    documents.validate(db, agent, document.id, date(2027, 8, 31), BASE, on=TODAY)
    after = date(2027, 9, 1)
    assert states(db, family.household, after)[("Léo Martin", "Attestation d'assurance")] == "Périmé"
    assert states(db, family.household, after)[("Inès Martin", "Attestation d'assurance")] == "Non fourni"
    send(db, storage, parent, family, family.insurance, family.leo,
         [("assurance-2027.jpg", samples.image(color=(0, 0, 200)))], on=after)
    assert states(db, family.household, after)[("Léo Martin", "Attestation d'assurance")] == "Non traité"


def test_invalid_with_the_agents_reason_then_sent_again(db, storage, parent, agent, family, outbox):
    document = send(db, storage, parent, family, family.address)
    with pytest.raises(DomainError, match="motif"):
        documents.reject(db, agent, document.id, "  ", BASE)
    db.rollback()
    documents.reject(db, agent, document.id, "Document illisible ou flou", BASE)
    slot = documents.overview(db, family.household, TODAY)[0].slots[0]
    assert slot.label == "Invalide" and slot.document.reason == "Document illisible ou flou"
    assert "Motif : Document illisible ou flou" in outbox.last(parent.email).text_body
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "document.rejected"))
    with pytest.raises(DomainError, match="déjà été traité"):
        documents.validate(db, agent, document.id, None, BASE, on=TODAY)
    db.rollback()
    again = send(db, storage, parent, family, family.address, files=[("net.pdf", samples.pdf("x"))])
    assert again.id != document.id
    assert states(db, family.household)[("Le foyer", "Justificatif de domicile")] == "Non traité"


def test_an_agent_requests_a_document_with_a_message(db, storage, parent, agent, family, outbox):
    assert ("Léo Martin", "PAI") not in states(db, family.household)
    requested = documents.request_document(db, agent, family.household, family.pai.id, family.leo.id,
                                           "Merci de fournir le PAI signé.", BASE, on=TODAY)
    assert states(db, family.household)[("Léo Martin", "PAI")] == "Réclamé"
    assert ("Inès Martin", "PAI") not in states(db, family.household)
    mail = outbox.last(parent.email)
    assert mail.subject == "Justificatif réclamé : PAI" and "PAI signé" in mail.text_body
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "document.requested"))
    with pytest.raises(DomainError, match="déjà réclamé"):
        documents.request_document(db, agent, family.household, family.pai.id, family.leo.id, "",
                                   BASE, on=TODAY)
    db.rollback()
    sent = send(db, storage, parent, family, family.pai, family.leo, [("pai.odt", samples.odt())])
    assert sent.id == requested.id and sent.status == "submitted"


def test_the_same_upload_posted_twice_is_stored_once(db, storage, parent, family):
    files = [("recto.jpg", samples.jpeg()), ("verso.png", samples.png()), ("recto-bis.jpg", samples.jpeg())]
    first = send(db, storage, parent, family, family.address, files=files)
    second = send(db, storage, parent, family, family.address, files=files)
    assert first.id == second.id
    assert db.scalar(select(func.count()).select_from(Document)) == 1
    assert db.scalar(select(func.count()).select_from(DocumentFile)) == 2
    assert len(stored_files(storage)) == 2
    with pytest.raises(FileRefused, match="attend la vérification"):
        send(db, storage, parent, family, family.address, files=[("autre.pdf", samples.pdf("b"))])


@pytest.mark.parametrize("files", [
    [("bon.pdf", samples.pdf()), ("mauvais.pdf", samples.windows_executable())],
    [("vide.pdf", b"")],
    [(f"page{i}.pdf", samples.pdf(str(i))) for i in range(6)],
    [],
])
def test_a_refused_upload_stores_nothing(db, storage, parent, family, files):
    with pytest.raises(FileRefused):
        send(db, storage, parent, family, family.address, files=files)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Document)) == 0
    assert stored_files(storage) == []


def test_documents_stay_within_their_household_and_commune(db, storage, parent, agent, family):
    other = family_for(db, family.town, agent, "Benali")
    with pytest.raises(NotFound):  # a household document is never per child
        send(db, storage, parent, family, family.address, child=family.leo)
    with pytest.raises(NotFound):  # a child document needs one of the household's children
        documents.submit(db, SETTINGS, storage, parent, other, family.insurance.id, family.leo.id,
                         [("a.pdf", samples.pdf())], on=TODAY)
    elsewhere = make_family(db, agent, name="Durand",
                            town=factories.organisation(db, name="Ailleurs", slug="ailleurs"))
    with pytest.raises(NotFound):  # a type of another commune
        send(db, storage, parent, family, elsewhere.address)
    document = send(db, storage, parent, family, family.address)
    with pytest.raises(NotFound):
        documents.file_for(db, parent, other, document.files[0].id)


def test_only_agents_decide(db, storage, parent, family):
    document = send(db, storage, parent, family, family.address)
    with pytest.raises(Forbidden):
        documents.validate(db, parent, document.id, None, BASE, on=TODAY)
    with pytest.raises(Forbidden):
        documents.queue(db, parent)
    with pytest.raises(Forbidden):
        documents.request_document(db, parent, family.household, family.pai.id, family.leo.id, "",
                                   BASE)


def test_families_are_told_once_before_a_document_expires(db, storage, parent, agent, family, outbox):
    soon = send(db, storage, parent, family, family.address)
    documents.validate(db, agent, soon.id, TODAY + timedelta(days=20), BASE, on=TODAY)
    later = send(db, storage, parent, family, family.insurance, family.leo,
                 [("assurance.pdf", samples.pdf("assurance"))])
    documents.validate(db, agent, later.id, TODAY + timedelta(days=60), BASE, on=TODAY)
    before = len(outbox.all(parent.email))

    assert documents.remind_expiring(db, SETTINGS, BASE, on=TODAY) == 1
    mail = outbox.last(parent.email)
    assert mail.subject == "Justificatif bientôt périmé : Justificatif de domicile"
    assert "12 décembre 2026" in mail.text_body
    assert documents.remind_expiring(db, SETTINGS, BASE, on=TODAY) == 0
    assert len(outbox.all(parent.email)) == before + 1
    # Thirty days before its end, the other one's turn comes.
    assert documents.remind_expiring(db, SETTINGS, BASE, on=TODAY + timedelta(days=30)) == 1
    assert "Attestation d'assurance" in outbox.last(parent.email).subject
    assert db.scalar(select(func.count()).select_from(Notification).where(
        Notification.subject.like("Justificatif bientôt périmé%"))) == 2


def test_no_reminder_when_a_new_document_is_on_its_way(db, storage, parent, agent, family, outbox):
    old = send(db, storage, parent, family, family.address)
    documents.validate(db, agent, old.id, TODAY + timedelta(days=10), BASE, on=TODAY)
    send(db, storage, parent, family, family.address, files=[("neuf.pdf", samples.pdf("n"))])
    assert documents.remind_expiring(db, SETTINGS, BASE, on=TODAY) == 0


def test_document_types_are_checked(db, agent, family):
    with pytest.raises(DomainError) as error:
        documents.create_type(db, agent, family.town, {"name": "Livret", "valid_until_day": "31/02"})
    assert error.value.field == "valid_until_day"
    db.rollback()
    with pytest.raises(DomainError, match="pas les deux"):
        documents.create_type(db, agent, family.town, {"name": "Livret", "validity_months": "12",
                                                       "valid_until_day": "31/08"})
    db.rollback()
    created = documents.create_type(db, agent, family.town, {
        "name": "Livret de famille", "scope": "household", "valid_until_day": "1/9",
        "asked_of_all": True})
    assert created.valid_until_day == "01/09"
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "document_type.create"))


def test_a_type_with_documents_sent_keeps_its_scope(db, storage, parent, agent, family):
    send(db, storage, parent, family, family.address)
    values = {"name": family.address.name, "scope": "child", "validity_months": "12"}
    with pytest.raises(DomainError, match="ne peut plus changer de destinataire") as error:
        documents.update_type(db, agent, family.address.id, values)
    assert error.value.field == "scope"
    db.rollback()
    assert db.get(type(family.address), family.address.id).scope == "household"
    documents.update_type(db, agent, family.address.id, {**values, "scope": "household"})  # other changes go


@pytest.mark.parametrize("months", ["²", "٣", "1000", "0", "12.5", "-1", "9" * 40])
def test_a_duration_that_is_not_a_plain_number_is_refused_in_french(db, agent, family, months):
    with pytest.raises(DomainError, match="entre 1 et 120 mois") as error:
        documents.create_type(db, agent, family.town, {"name": "Livret", "validity_months": months})
    assert error.value.field == "validity_months"


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (" 7 ", 7), ("", None), (None, None), ("0", None), ("-3", None), ("²", None),
    ("１２", None), (str(2**31 - 1), 2**31 - 1), (str(2**31), None), ("9" * 40, None),
])
def test_ids_from_forms_and_query_strings_are_bounded(value, expected):
    assert documents.parse_id(value) == expected


def test_huge_ids_are_not_found_rather_than_a_database_error(db, storage, parent, agent, family):
    huge = 2**63
    with pytest.raises(NotFound):
        documents.slot_for(db, family.household, huge, None, TODAY)
    with pytest.raises(NotFound):
        documents.slot_for(db, family.household, family.insurance.id, huge, TODAY)
    with pytest.raises(NotFound):
        documents.get(db, agent, huge)
    with pytest.raises(DomainError, match="Choisissez un justificatif"):
        documents.request_document(db, agent, family.household, huge, None, "", BASE, on=TODAY)


# ---------------------------------------------------------------- at the same time

def _notified(db, subject_start: str) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(Notification).where(
        Notification.subject.like(subject_start + "%")))


def test_two_agents_deciding_at_once_decide_once_and_tell_the_family_once(app, db, storage, parent,
                                                                          agent, family):
    other = factories.account(db, email="agent2@example.org", role="agent")
    document = send(db, storage, parent, family, family.address)
    agents = [agent.id, other.id]
    document_id = document.id
    before = _notified(db, "Justificatif")

    def decide(session, i):
        actor = session.get(Account, agents[i % 2])
        if i % 2:
            return documents.reject(session, actor, document_id, "Document illisible ou flou",
                                    BASE).status
        return documents.validate(session, actor, document_id, date(2027, 11, 22), BASE,
                                  on=TODAY).status

    results, errors = run_together(app, decide, count=8)
    assert errors == []
    decided = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(decided) == 1 and len(refused) == 7
    assert all("déjà été traité" in r.message for r in refused)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(["document.validated", "document.rejected"]))) == 1
    assert _notified(db, "Justificatif") == before + 1
    assert db.get(Document, document_id).status == decided[0]


def test_the_same_upload_posted_at_once_makes_one_document(app, db, storage, parent, family):
    household_id, type_id = family.household.id, family.address.id

    def post(session, i):
        return documents.submit(session, SETTINGS, storage, session.get(Account, parent.id),
                                session.get(Household, household_id), type_id, None,
                                [("domicile.pdf", samples.pdf())], on=TODAY).id

    results, errors = run_together(app, post, count=6)
    assert errors == [] and len(results) == 6
    assert len(set(results)) == 1
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Document)) == 1
    assert db.scalar(select(func.count()).select_from(DocumentFile)) == 1


def test_two_different_uploads_at_once_keep_one_and_refuse_the_other(app, db, storage, parent,
                                                                    family):
    household_id, type_id = family.household.id, family.address.id

    def post(session, i):
        try:
            return documents.submit(session, SETTINGS, storage, session.get(Account, parent.id),
                                    session.get(Household, household_id), type_id, None,
                                    [(f"domicile{i}.pdf", samples.pdf(str(i)))], on=TODAY).id
        except FileRefused as refused:
            return refused

    results, errors = run_together(app, post, count=4)
    assert errors == [] and len(results) == 4
    assert len([r for r in results if isinstance(r, int)]) == 1
    assert all("attend la vérification" in r.message for r in results if isinstance(r, FileRefused))
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Document)) == 1
    assert len(stored_files(storage)) == 1


def test_one_document_requested_at_once_by_two_agents_is_requested_once(app, db, agent, family):
    household_id, type_id, child_id = family.household.id, family.pai.id, family.leo.id

    def request(session, i):
        return documents.request_document(session, session.get(Account, agent.id),
                                          session.get(Household, household_id), type_id, child_id,
                                          "", BASE, on=TODAY).id

    results, errors = run_together(app, request, count=4)
    assert errors == [] and len(results) == 4
    assert len([r for r in results if isinstance(r, int)]) == 1
    assert _notified(db, "Justificatif réclamé") == 1


# ---------------------------------------------------------------- renewals and scope

def test_a_refused_renewal_leaves_the_valid_document_in_force(db, storage, parent, agent, family):
    old = send(db, storage, parent, family, family.address)
    documents.validate(db, agent, old.id, date(2027, 6, 30), BASE, on=TODAY)
    near = date(2027, 6, 10)
    renewal = send(db, storage, parent, family, family.address, files=[("neuf.pdf", samples.pdf("n"))],
                   on=near)
    documents.reject(db, agent, renewal.id, "Document illisible ou flou", BASE)
    slot = documents.overview(db, family.household, near)[0].slots[0]
    assert slot.label == "Validé" and slot.document.id == old.id
    assert slot.valid_until == date(2027, 6, 30)
    assert slot.refused_renewal.id == renewal.id
    assert slot.refused_renewal.reason == "Document illisible ou flou"
    assert slot.can_upload  # still within the reminder period: another one may be sent
    assert documents.slot_for(db, family.household, family.address.id, None, near).state == "valid"
    assert documents.is_satisfied(db, family.household, family.address.id, on=near)
    # Once the old one has ended, the refusal is what remains.
    after = date(2027, 7, 1)
    slot = documents.overview(db, family.household, after)[0].slots[0]
    assert slot.label == "Invalide" and slot.refused_renewal is None
    assert not documents.is_satisfied(db, family.household, family.address.id, on=after)


def test_a_household_document_satisfies_whatever_child_is_asked_about(db, storage, parent, agent,
                                                                       family):
    document = send(db, storage, parent, family, family.address)
    documents.validate(db, agent, document.id, None, BASE, on=TODAY)
    assert documents.is_satisfied(db, family.household, family.address.id, on=TODAY)
    assert documents.is_satisfied(db, family.household, family.address.id, family.leo.id, on=TODAY)
    # A child document stays per child.
    insurance = send(db, storage, parent, family, family.insurance, family.leo)
    documents.validate(db, agent, insurance.id, None, BASE, on=TODAY)
    assert documents.is_satisfied(db, family.household, family.insurance.id, family.leo.id, on=TODAY)
    assert not documents.is_satisfied(db, family.household, family.insurance.id, family.ines.id,
                                      on=TODAY)
    assert not documents.is_satisfied(db, family.household, family.insurance.id, on=TODAY)


def test_an_agent_sending_a_document_for_the_family_leaves_an_audit_row(db, storage, parent, agent,
                                                                        family):
    send(db, storage, parent, family, family.insurance, family.leo)
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "document.submitted")) is None
    send(db, storage, agent, family, family.address,
         files=[("recto.pdf", samples.pdf("r")), ("verso.pdf", samples.pdf("v"))])
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "document.submitted"))
    assert entry.actor_id == agent.id and entry.target_id == family.household.id
    assert entry.details == "« Justificatif de domicile » — 2 fichiers"
    assert documents.audit.label("document.submitted") == "Justificatif transmis par un agent"


def test_no_reminder_for_a_type_no_longer_in_use(db, storage, parent, agent, family, outbox):
    document = send(db, storage, parent, family, family.address)
    documents.validate(db, agent, document.id, TODAY + timedelta(days=20), BASE, on=TODAY)
    family.address.active = False
    db.commit()
    before = len(outbox.all(parent.email))
    assert documents.remind_expiring(db, SETTINGS, BASE, on=TODAY) == 0
    assert len(outbox.all(parent.email)) == before
    assert db.get(Document, document.id).reminded_at is None
