"""« Mes demandes »: a family writes to the town hall, keeps a draft, sends
it, changes or cancels it while it waits; an agent takes it, answers,
closes or refuses it; the family follows each step."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Notification
from citoyen.models import Request
from citoyen.services import households
from citoyen.services import requests as service
from tests import factories
from tests.blueprints.helpers import text
from tests.blueprints.helpers import words
from tests.conftest import fresh


@pytest.fixture
def family(db, agent, parent):
    town = factories.organisation(db)
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    households.subscribe(db, parent, households.Attempt("code", code=household.subscription_code),
                         "http://localhost")
    return household



NEW = {"kind": "certificate", "subject": "Attestation de quotient familial",
       "body": "Bonjour, pourriez-vous m'envoyer une attestation pour la CAF ?"}


def the_request(db) -> Request:
    fresh(db)
    return db.scalars(select(Request).order_by(Request.id.desc())).first()


def journal(db) -> list[str]:
    fresh(db)
    return [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id)) if a.action.startswith("request.")]


def notes(db, account) -> list[str]:
    fresh(db)
    return [n.subject for n in db.scalars(select(Notification).where(Notification.account_id == account.id)
                                          .order_by(Notification.id))]


def test_the_menu_leads_to_mes_demandes(client, auth, parent, family):
    auth.sign_in(parent.email)
    home = text(client.get("/"))
    assert 'href="/demandes"' in home and "Mes demandes" in home
    page = words(client.get("/demandes"))
    assert "Vous n'avez pas encore de demande." in page and "Nouvelle demande" in page


def test_a_family_sends_a_request_and_follows_it_to_its_end(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    response = client.post("/demandes/nouvelle", data={**NEW, "household": str(family.id), "action": "send"})
    assert response.status_code == 303
    found = the_request(db)
    assert found.status == "pending" and found.sent_at is not None
    page = words(client.get(response.headers["Location"]))
    assert "Votre demande est envoyée à la mairie." in page and "En attente" in page
    assert "Annuler la demande" in page
    assert "En attente" in words(client.get("/demandes"))
    # The town hall: the queue, the request, « Prendre en charge », an answer, « Clore ».
    auth.sign_in(agent.email)
    queue = words(client.get("/agent/demandes"))
    assert "Attestation de quotient familial" in queue and "Martin" in queue
    assert "m'envoyer une attestation" in words(client.get(f"/agent/demandes/{found.id}"))
    client.post(f"/agent/demandes/{found.id}/prise-en-charge")
    assert the_request(db).status == "processing"
    client.post(f"/agent/demandes/{found.id}/message", data={"message": "Elle part au courrier demain."})
    client.post(f"/agent/demandes/{found.id}/clore", data={"note": "Attestation envoyée le 24/11."})
    assert the_request(db).status == "closed"
    assert journal(db) == ["request.taken", "request.message", "request.closed"]
    assert notes(db, parent)[-3:] == ["Demande prise en charge : Attestation de quotient familial",
                                 "Réponse de la mairie : Attestation de quotient familial",
                                 "Demande close : Attestation de quotient familial"]
    # The family reads the answer and the end; nothing more can be written.
    auth.sign_in(parent.email)
    page = words(client.get(f"/demandes/{found.id}"))
    assert "Clos" in page and "Elle part au courrier demain." in page and "Attestation envoyée le 24/11." in page
    assert "Envoyer le message" not in page
    response = client.post(f"/demandes/{found.id}/message", data={"message": "Merci !"}, follow_redirects=True)
    assert "Cette demande est terminée" in words(response)


def test_a_draft_is_kept_changed_sent_or_deleted(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    response = client.post("/demandes/nouvelle", data={**NEW, "body": "", "action": "draft"})
    assert response.status_code == 303
    draft = the_request(db)
    assert draft.status == "draft" and draft.sent_at is None
    assert "En brouillon" in words(client.get("/demandes"))
    # Sending it needs the text of the request: said next to the field, what was typed kept.
    response = client.post(f"/demandes/{draft.id}", data={**NEW, "body": "", "subject": "Attestation CAF",
                                                          "action": "send"})
    assert response.status_code == 422
    assert "Écrivez votre demande avant de l'envoyer." in words(response)
    assert 'value="Attestation CAF"' in text(response)
    assert the_request(db).status == "draft" and the_request(db).subject == NEW["subject"]
    client.post(f"/demandes/{draft.id}", data={**NEW, "action": "send"})
    assert the_request(db).status == "pending"
    response = client.post(f"/demandes/{draft.id}/supprimer", follow_redirects=True)
    assert "Seul un brouillon se supprime" in words(response)
    second = client.post("/demandes/nouvelle", data={**NEW, "subject": "Une autre", "action": "draft"})
    second_id = int(second.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/demandes/{second_id}/supprimer")
    fresh(db)
    assert db.get(Request, second_id) is None


def test_a_pending_request_is_changed_or_cancelled_until_the_town_hall_takes_it(client, auth, parent, agent,
                                                                                family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    client.post(f"/demandes/{found.id}", data={**NEW, "subject": "Attestation pour la CAF", "action": "save"})
    assert the_request(db).subject == "Attestation pour la CAF" and the_request(db).status == "pending"
    auth.sign_in(agent.email)
    client.post(f"/agent/demandes/{found.id}/prise-en-charge")
    auth.sign_in(parent.email)
    response = client.post(f"/demandes/{found.id}", data={**NEW, "action": "save"}, follow_redirects=True)
    assert "déjà prise en charge par la mairie" in words(response)
    response = client.post(f"/demandes/{found.id}/annuler", follow_redirects=True)
    assert "elle est prise en charge par la mairie" in words(response)
    assert the_request(db).status == "processing"
    # A message is still possible while the town hall handles it.
    client.post(f"/demandes/{found.id}/message", data={"message": "J'ai oublié : pour 2026."})
    assert "J'ai oublié : pour 2026." in words(client.get(f"/demandes/{found.id}"))
    # Another one, cancelled while it waits.
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    other = the_request(db)
    client.post(f"/demandes/{other.id}/annuler")
    assert the_request(db).status == "closed" and the_request(db).reason == "Annulée par la famille."


def test_a_refusal_needs_a_reason_that_the_family_reads(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    auth.sign_in(agent.email)
    response = client.post(f"/agent/demandes/{found.id}/refuser", data={"reason": "  "})
    assert response.status_code == 422
    assert "Indiquez le motif du refus" in words(response)
    assert the_request(db).status == "pending"
    client.post(f"/agent/demandes/{found.id}/refuser", data={"reason": "Quotient non calculé : fournissez l'avis CAF."})
    assert the_request(db).status == "refused"
    response = client.post(f"/agent/demandes/{found.id}/clore", data={"note": ""}, follow_redirects=True)
    assert "Cette demande est déjà terminée." in words(response)
    auth.sign_in(parent.email)
    page = words(client.get(f"/demandes/{found.id}"))
    assert "Refusé" in page and "Quotient non calculé : fournissez l'avis CAF." in page
    assert notes(db, parent)[-1] == "Demande refusée : Attestation de quotient familial"


@pytest.mark.parametrize("data, field, message", [
    ({"kind": ""}, "kind", "Choisissez le type de demande."),
    ({"kind": "inconnu"}, "kind", "Choisissez le type de demande dans la liste."),
    ({"subject": ""}, "subject", "Indiquez l'objet de la demande."),
    ({"subject": "x" * 201}, "subject", "L'objet ne doit pas dépasser 200 caractères."),
    ({"body": "y" * 5001}, "body", "La demande ne doit pas dépasser 5000 caractères."),
])
def test_bad_input_is_said_next_to_the_field_and_kept(client, auth, parent, family, db, data, field, message):
    auth.sign_in(parent.email)
    response = client.post("/demandes/nouvelle", data={**NEW, **data, "action": "send"})
    assert response.status_code == 422
    assert message in words(response)
    assert f'id="{field}-error"' in text(response)
    assert NEW["body"][:20] in text(response) or "body" in data
    assert the_request(db) is None


def test_another_familys_request_does_not_exist(client, auth, parent, family, db, make_account):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    stranger = make_account(email="stranger@example.org")
    auth.sign_in(stranger.email)
    for path in ("", "/annuler", "/supprimer"):
        assert client.get(f"/demandes/{found.id}{path}").status_code == 404
    for path in ("", "/message", "/annuler", "/supprimer"):
        assert client.post(f"/demandes/{found.id}{path}", data={**NEW, "message": "x"}).status_code == 404
    assert client.get("/demandes/999999").status_code == 404
    assert "Attestation" not in words(client.get("/demandes"))
    assert the_request(db).status == "pending"
    # Without a household, a new request says where to start.
    page = words(client.get("/demandes/nouvelle"))
    assert "pas encore rattaché à un dossier famille" in page


def test_a_draft_is_not_shown_to_the_town_hall(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "draft"})
    draft = the_request(db)
    auth.sign_in(agent.email)
    assert "Attestation" not in words(client.get("/agent/demandes"))
    assert client.get(f"/agent/demandes/{draft.id}").status_code == 404
    assert client.post(f"/agent/demandes/{draft.id}/prise-en-charge").status_code == 404
    # The family's pages send an agent to Espace agent.
    assert client.get("/demandes").headers["Location"].endswith("/agent/demandes")


def test_the_agents_filters_and_unknown_states(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    auth.sign_in(agent.email)
    client.post(f"/agent/demandes/{found.id}/refuser", data={"reason": "Hors compétence de la mairie."})
    assert "Aucune demande à traiter." in words(client.get("/agent/demandes"))
    assert "Attestation" in words(client.get("/agent/demandes?etat=refused"))
    assert client.get("/agent/demandes?etat=<script>").status_code == 200


def test_a_second_take_at_once_is_refused(db, agent, parent, family):
    created = service.create(db, parent, family.id, **NEW, send=True)
    service.take(db, agent, created.id, "http://localhost")
    with pytest.raises(service.DomainError, match="déjà été prise en charge"):
        service.take(db, agent, created.id, "http://localhost")
    with pytest.raises(service.Forbidden):
        service.create(db, agent, family.id, **NEW, send=True)


def test_a_long_subject_still_reaches_the_family(client, auth, parent, agent, family, db):
    """The notification's subject adds words to the family's own: it is cut to its column, not refused."""
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "subject": "x" * 200, "action": "send"})
    found = the_request(db)
    auth.sign_in(agent.email)
    response = client.post(f"/agent/demandes/{found.id}/prise-en-charge")
    assert response.status_code == 303
    assert the_request(db).status == "processing"
    subject = notes(db, parent)[-1]
    assert len(subject) == 200 and subject.endswith("…")


def test_the_same_request_or_message_sent_twice_is_kept_once(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    first = client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    second = client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    assert first.headers["Location"] == second.headers["Location"]
    fresh(db)
    assert len(db.scalars(select(Request)).all()) == 1
    found = the_request(db)
    auth.sign_in(agent.email)
    for _ in range(2):
        client.post(f"/agent/demandes/{found.id}/message", data={"message": "Bien reçu."})
    fresh(db)
    assert [m.body for m in the_request(db).messages] == ["Bien reçu."]
    assert notes(db, parent).count("Réponse de la mairie : Attestation de quotient familial") == 1


def test_a_stale_form_says_why_it_was_refused(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    auth.sign_in(agent.email)
    client.post(f"/agent/demandes/{found.id}/prise-en-charge")
    auth.sign_in(parent.email)
    # The family had the form open, emptied « Objet » and saved: the page says the request was taken.
    response = client.post(f"/demandes/{found.id}", data={**NEW, "subject": "", "action": "save"},
                           follow_redirects=True)
    assert "déjà prise en charge par la mairie" in words(response)
    # Its cancellation page, opened too late, says the same instead of offering to cancel.
    response = client.get(f"/demandes/{found.id}/annuler", follow_redirects=True)
    assert "ne peut plus être annulée : elle est prise en charge par la mairie" in words(response)
    assert "La mairie ne traitera pas cette demande." not in words(response)
    client.post(f"/demandes/{found.id}/message", data={"message": "Merci."})
    auth.sign_in(agent.email)
    client.post(f"/agent/demandes/{found.id}/refuser", data={"reason": "Hors compétence."})
    response = client.post(f"/agent/demandes/{found.id}/clore", data={"note": "x" * 6000}, follow_redirects=True)
    assert "Cette demande est déjà terminée." in words(response)


def test_a_cancelled_request_says_who_cancelled_it(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    client.post(f"/demandes/{found.id}/annuler")
    page = words(client.get(f"/demandes/{found.id}"))
    assert "Vous avez annulé cette demande." in page and "Réponse de la mairie" not in page
    auth.sign_in(agent.email)
    assert "Annulée par la famille." in words(client.get(f"/agent/demandes/{found.id}"))


def test_the_agents_home_counts_the_requests_waiting(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    auth.sign_in(agent.email)
    home = words(client.get("/"))
    assert "1 demande d'une famille attend d'être prise en charge." in home


def test_a_familys_new_message_is_flagged_for_the_town_hall_until_answered(client, auth, parent, agent, family,
                                                                            db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    auth.sign_in(agent.email)
    client.post(f"/agent/demandes/{found.id}/prise-en-charge")
    # Taken, nothing new from the family yet.
    assert "Nouveau message de la famille" not in words(client.get("/agent/demandes"))
    assert "nouveau message de la famille" not in words(client.get("/"))
    auth.sign_in(parent.email)
    client.post(f"/demandes/{found.id}/message", data={"message": "J'ai oublié : pour 2026."})
    auth.sign_in(agent.email)
    page = words(client.get("/agent/demandes"))
    assert "En traitement Nouveau message de la famille" in page
    assert "1 demande en traitement a un nouveau message de la famille." in words(client.get("/"))
    # The town hall answers: the flag goes.
    client.post(f"/agent/demandes/{found.id}/message", data={"message": "C'est noté, pour 2026."})
    assert "Nouveau message de la famille" not in words(client.get("/agent/demandes"))
    assert "nouveau message de la famille" not in words(client.get("/"))
    # The family writes again, then the request is closed: nothing is flagged once it has ended.
    auth.sign_in(parent.email)
    client.post(f"/demandes/{found.id}/message", data={"message": "Merci !"})
    auth.sign_in(agent.email)
    assert "Nouveau message de la famille" in words(client.get("/agent/demandes"))
    client.post(f"/agent/demandes/{found.id}/clore", data={"note": ""})
    assert "Nouveau message de la famille" not in words(client.get("/agent/demandes?etat=closed"))
    assert "nouveau message de la famille" not in words(client.get("/"))


def test_cancelling_or_deleting_first_says_what_it_does(client, auth, parent, agent, family, db):
    auth.sign_in(parent.email)
    client.post("/demandes/nouvelle", data={**NEW, "action": "send"})
    found = the_request(db)
    page = text(client.get(f"/demandes/{found.id}"))
    assert f'<a class="button danger" href="/demandes/{found.id}/annuler">Annuler la demande</a>' in page
    confirm = client.get(f"/demandes/{found.id}/annuler")
    assert confirm.status_code == 200
    assert "La mairie ne traitera pas cette demande." in words(confirm)
    assert f'action="/demandes/{found.id}/annuler"' in text(confirm)
    assert "Revenir à la demande" in words(confirm)
    assert the_request(db).status == "pending"  # nothing done by looking
    assert client.head(f"/demandes/{found.id}/annuler").status_code == 200
    # A pending request is not a draft: its deletion page leads back to it.
    assert client.get(f"/demandes/{found.id}/supprimer").headers["Location"].endswith(f"/demandes/{found.id}")
    client.post(f"/demandes/{found.id}/annuler")
    assert the_request(db).status == "closed"
    # Once ended, the page leads back to the request, which says where it stands.
    assert client.get(f"/demandes/{found.id}/annuler").headers["Location"].endswith(f"/demandes/{found.id}")
    client.post("/demandes/nouvelle", data={**NEW, "subject": "Brouillon", "action": "draft"})
    draft = the_request(db)
    assert f'href="/demandes/{draft.id}/supprimer"' in text(client.get(f"/demandes/{draft.id}"))
    confirm = words(client.get(f"/demandes/{draft.id}/supprimer"))
    assert "Supprimer le brouillon « Brouillon »" in confirm and "Le brouillon sera effacé" in confirm
    response = client.get(f"/demandes/{draft.id}/annuler", follow_redirects=True)
    assert "Un brouillon ne s'annule pas" in words(response)
    assert the_request(db).id == draft.id

