"""Mes justificatifs and the agents' review: uploads through HTTP, refusals at
the field, access, the headers of served files, decisions with audit and mail."""

from __future__ import annotations

import io
import os
import re
from datetime import date
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Document
from citoyen.models import DocumentFile
from citoyen.services import documents
from tests import samples
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.document_data import family_for
from tests.document_data import make_family
from tests.factories import PASSWORD

MB = 1024 * 1024


@pytest.fixture
def family(db, agent, parent):
    return make_family(db, agent, parent)


@pytest.fixture
def staff(app, agent):
    client = app.test_client()
    client.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    return client


def upload_url(family, doc_type, child=None):
    url = f"/justificatifs/{family.household.id}/{doc_type.id}/fournir"
    return url + (f"?enfant={child.id}" if child else "")


def post_files(client, url, files, headers=None, field="files", extra=None):
    data = {field: [(io.BytesIO(content), name) for name, content in files]}
    data.update(extra or {})
    return client.post(url, data=data, content_type="multipart/form-data", headers=headers or {})


def stored(app) -> list[str]:
    root = os.path.join(app.instance_path, "uploads")
    return [os.path.join(d, n) for d, _s, names in os.walk(root) for n in names]


def count(db, model) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model))


def field_error(body: str) -> str:
    match = re.search(r'<p class="field-error" id="files-error">(.*?)</p>', body, re.DOTALL)
    assert match, body[:3000]
    return match.group(1)


def test_mes_justificatifs_lists_what_is_asked(client, auth, parent, family):
    auth.sign_in(parent.email)
    body = text(client.get("/justificatifs"))
    assert "Mes justificatifs" in body and 'aria-current="page">Mes justificatifs' in body
    assert body.count("<strong>Justificatif de domicile</strong>") == 1  # once for the household
    assert body.count("<strong>Attestation d'assurance</strong>") == 2  # once per child
    assert "Non fourni" in body and "PAI" not in body
    assert "Fournir le justificatif" in body


def test_upload_then_the_agent_validates_and_the_family_sees_it(app, client, auth, parent, family,
                                                                 staff, db, outbox):
    auth.sign_in(parent.email)
    page = text(client.get(upload_url(family, family.address)))
    assert "Formats acceptés : .pdf, .jpg, .jpeg, .png, .doc, .odt — 2 Mo maximum" in page
    assert 'capture="environment"' in page and 'accept="image/jpeg,image/png"' in page
    assert 'enctype="multipart/form-data"' in page
    response = post_files(client, upload_url(family, family.address),
                          [("recto.jpg", samples.jpeg()), ("verso.pdf", samples.pdf())])
    assert response.status_code == 303 and response.headers["Location"] == "/justificatifs"
    body = text(client.get("/justificatifs"))
    assert "est transmis à la mairie" in body and "Non traité" in body

    queue = text(staff.get("/agent/justificatifs"))
    document = fresh(db).scalar(select(Document))
    assert f"/agent/justificatifs/{document.id}" in queue and "Martin" in queue
    detail = text(staff.get(f"/agent/justificatifs/{document.id}"))
    expected = documents.default_valid_until(family.address, documents.today()).isoformat()
    assert f'value="{expected}"' in detail  # prefilled from the type
    assert f'<img class="preview" src="/agent/justificatifs/fichiers/{document.files[0].id}?apercu=1"' in detail
    assert f'<iframe class="preview" src="/agent/justificatifs/fichiers/{document.files[1].id}?apercu=1"' in detail
    response = staff.post(f"/agent/justificatifs/{document.id}/valider", data={"valid_until": "2027-09-30"})
    assert response.status_code == 303
    entry = fresh(db).scalar(select(AuditEntry).where(AuditEntry.action == "document.validated"))
    assert entry.actor_id is not None and "30 septembre 2027" in entry.details
    assert outbox.last(parent.email).subject == "Justificatif validé : Justificatif de domicile"
    body = text(client.get("/justificatifs"))
    assert "Validé</span> jusqu'au 30 septembre 2027" in body


def test_upload_with_htmx_redirects_by_header(client, auth, parent, family, hx):
    auth.sign_in(parent.email)
    response = post_files(client, upload_url(family, family.insurance, family.leo),
                          [("assurance.odt", samples.odt())], headers=hx)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/justificatifs"


@pytest.mark.parametrize("name, content, message", [
    ("domicile.pdf", samples.png(), "ne correspond pas à un fichier .pdf"),
    ("domicile.pdf", samples.html(), "ne correspond pas à un fichier .pdf"),
    ("photo.png", samples.svg(), "ne correspond pas à un fichier .png"),
    ("domicile.pdf", samples.pdf_with_javascript(), "JavaScript"),
    ("gros.pdf", samples.pdf_of_size(2 * MB + 1), "dépasse 2 Mo"),
    ("vide.pdf", b"", "est vide"),
    ("x" * 296 + ".pdf", samples.pdf(), "trop long"),
])
def test_a_refused_file_gets_its_message_at_the_field(app, client, auth, parent, family, db, hx,
                                                      name, content, message):
    auth.sign_in(parent.email)
    for headers in ({}, hx):
        response = post_files(client, upload_url(family, family.address), [(name, content)],
                              headers=headers)
        assert response.status_code == 422
        body = text(response)
        assert message in field_error(body)
        assert 'aria-invalid="true"' in body
        if headers:
            assert body.lstrip().startswith("<form")
    assert count(db, Document) == 0 and count(db, DocumentFile) == 0 and stored(app) == []


def test_a_request_past_the_size_limit_gets_a_french_message_not_a_413(app, client, auth, parent,
                                                                        family, db, hx):
    auth.sign_in(parent.email)
    ten = [(f"page{i}.pdf", samples.pdf_of_size(2 * MB - 10 - i)) for i in range(10)]
    for headers in ({}, hx):
        response = post_files(client, upload_url(family, family.address), ten, headers=headers)
        assert response.status_code == 422
        body = text(response)
        assert "dépassent la taille autorisée (2 Mo au plus par fichier, 5 fichiers au plus)" in \
            field_error(body)
        assert "Fichier trop volumineux" not in body  # not the error page
    assert count(db, Document) == 0 and stored(app) == []


def test_six_small_files_are_too_many(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    response = post_files(client, upload_url(family, family.address),
                          [(f"p{i}.pdf", samples.pdf(str(i))) for i in range(6)])
    assert response.status_code == 422 and "5 fichiers au plus" in field_error(text(response))


def test_the_size_limit_also_holds_with_csrf_on(app, client, auth, parent, family):
    auth.sign_in(parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    big = [(f"page{i}.pdf", samples.pdf_of_size(2 * MB)) for i in range(6)]
    response = post_files(client, upload_url(family, family.address), big)
    assert response.status_code == 422 and "dépassent la taille autorisée" in text(response)
    # Without its token a normal upload is refused like any other form.
    response = post_files(client, upload_url(family, family.address), [("a.pdf", samples.pdf())])
    assert response.status_code == 400 and "Le formulaire a expiré" in text(response)
    page = text(client.get(upload_url(family, family.address)))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = post_files(client, upload_url(family, family.address), [("a.pdf", samples.pdf())],
                          extra={"csrf_token": token})
    assert response.status_code == 303


def test_the_same_upload_posted_twice_is_stored_once(app, client, auth, parent, family, db):
    auth.sign_in(parent.email)
    for _ in range(2):
        response = post_files(client, upload_url(family, family.address), [("a.pdf", samples.pdf())])
        assert response.status_code == 303
    assert count(db, Document) == 1 and count(db, DocumentFile) == 1 and len(stored(app)) == 1


def test_a_photo_taken_with_the_camera_field(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    response = post_files(client, upload_url(family, family.insurance, family.ines),
                          [("IMG_0001.jpg", samples.jpeg_with_gps())], field="photo")
    assert response.status_code == 303
    assert fresh(db).scalar(select(DocumentFile)).filename == "IMG_0001.jpg"


def test_a_refused_camera_photo_is_said_next_to_the_camera_field(client, auth, parent, family):
    import html

    auth.sign_in(parent.email)
    url = upload_url(family, family.address)
    page = text(client.get(url))
    hint = re.search(r'<p class="hint" id="photo-hint">(.*?)</p>', page, re.S).group(1)
    assert "Formats acceptés : .pdf, .jpg, .jpeg, .png, .doc, .odt — 2 Mo maximum" in html.unescape(hint)
    response = post_files(client, url, [("photo.jpg", b"not an image")], field="photo")
    assert response.status_code == 422
    body = text(response)
    assert re.search(r'<p class="field-error" id="photo-error">[^<]*photo\.jpg', body)
    assert 'id="files-error"' not in body


def sent(client, family, db, name, content):
    response = post_files(client, upload_url(family, family.address), [(name, content)])
    assert response.status_code == 303
    return fresh(db).scalar(select(DocumentFile).order_by(DocumentFile.id.desc()))


def test_a_pdf_comes_back_byte_for_byte_with_safe_headers(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    data = samples.pdf("Quittance")
    row = sent(client, family, db, "Quittance d'octobre.pdf", data)
    response = client.get(f"/justificatifs/{family.household.id}/fichiers/{row.id}")
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "Quittance" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "no-store" in response.headers["Cache-Control"]


def test_a_photo_comes_back_without_its_gps_position(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    original = samples.jpeg_with_gps()
    row = sent(client, family, db, "photo.jpg", original)
    response = client.get(f"/justificatifs/{family.household.id}/fichiers/{row.id}")
    served = Image.open(io.BytesIO(response.data))
    assert not served.getexif().get_ifd(0x8825) and b"PhoneMaker" not in response.data
    assert served.size == Image.open(io.BytesIO(original)).size
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_another_households_documents_are_not_found(app, client, auth, parent, agent, family, db,
                                                    make_account):
    auth.sign_in(parent.email)
    row = sent(client, family, db, "a.pdf", samples.pdf())
    other = family_for(db, family.town, agent, "Benali")
    assert client.get(f"/justificatifs/{other.id}/{family.address.id}/fournir").status_code == 404
    assert client.get(f"/justificatifs/{other.id}/fichiers/{row.id}").status_code == 404
    # Another family's account, through its own household, cannot reach this file.
    neighbour = make_account(email="karim@example.org")
    from citoyen.services import households

    households.subscribe(db, neighbour, households.Attempt("code", code=other.subscription_code),
                         "http://localhost")
    visitor = app.test_client()
    visitor.post("/connexion", data={"email": neighbour.email, "password": PASSWORD})
    assert visitor.get(f"/justificatifs/{other.id}/fichiers/{row.id}").status_code == 404
    assert visitor.get(f"/justificatifs/{family.household.id}/fichiers/{row.id}").status_code == 404
    # A child of another household, or a household document asked per child.
    assert client.get(upload_url(family, family.insurance) + "?enfant=999").status_code == 404
    assert client.get(upload_url(family, family.address, family.leo)).status_code == 404


def test_a_parent_cannot_reach_the_agents_queue(client, auth, parent, family):
    auth.sign_in(parent.email)
    assert client.get("/agent/justificatifs").status_code == 403
    assert client.get("/agent/justificatifs/fichiers/1").status_code == 403


def test_agent_preview_is_inline_and_may_be_framed_by_the_portal_only(client, auth, parent, family,
                                                                       staff, db):
    auth.sign_in(parent.email)
    row = sent(client, family, db, "a.pdf", samples.pdf())
    response = staff.get(f"/agent/justificatifs/fichiers/{row.id}?apercu=1")
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    download = staff.get(f"/agent/justificatifs/fichiers/{row.id}")
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_word_and_opendocument_files_are_never_shown_inline_to_agents(client, auth, parent, family,
                                                                      staff, db):
    auth.sign_in(parent.email)
    response = post_files(client, upload_url(family, family.address),
                          [("attestation.odt", samples.odt()), ("attestation.doc", samples.doc())])
    assert response.status_code == 303
    rows = {r.filename: r for r in fresh(db).scalars(select(DocumentFile))}
    assert rows["attestation.odt"].content_type == "application/vnd.oasis.opendocument.text"
    assert rows["attestation.doc"].content_type == "application/msword"
    document = fresh(db).scalar(select(Document))
    page = text(staff.get(f"/agent/justificatifs/{document.id}"))
    for name, row in rows.items():
        assert f'src="/agent/justificatifs/fichiers/{row.id}?apercu=1"' not in page
        for query in ("", "?apercu=1"):
            served = staff.get(f"/agent/justificatifs/fichiers/{row.id}{query}")
            assert served.status_code == 200
            assert served.headers["Content-Disposition"].startswith("attachment;"), name
            assert "sandbox" in served.headers["Content-Security-Policy"]
            assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_agent_marks_a_document_invalid_with_a_reason(client, auth, parent, family, staff, db,
                                                      outbox):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    document = fresh(db).scalar(select(Document))
    response = staff.post(f"/agent/justificatifs/{document.id}/invalider", data={})
    assert response.status_code == 422 and "Indiquez le motif" in text(response)
    response = staff.post(f"/agent/justificatifs/{document.id}/invalider",
                          data={"reason_choice": "Document illisible ou flou"})
    assert response.status_code == 303
    assert fresh(db).scalar(select(AuditEntry).where(AuditEntry.action == "document.rejected"))
    assert "Motif : Document illisible ou flou" in outbox.last(parent.email).text_body
    body = text(client.get("/justificatifs"))
    assert "Invalide" in body and "Motif : Document illisible ou flou" in body
    response = staff.post(f"/agent/justificatifs/{document.id}/valider", data={})
    assert response.status_code == 422 and "déjà été traité" in text(response)


def test_a_reason_over_500_characters_is_refused_at_the_field_not_cut(client, auth, parent, family, staff, db):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    document = fresh(db).scalar(select(Document))
    too_long = "Pièce illisible. " * 30  # 510 characters
    response = staff.post(f"/agent/justificatifs/{document.id}/invalider", data={"reason_text": too_long})
    assert response.status_code == 422
    body = text(response)
    assert 'id="reason_text-error">Le motif ne doit pas dépasser 500 caractères.' in body
    assert too_long.strip() in body  # what was typed stays
    assert fresh(db).get(Document, document.id).status == "submitted"
    # 500 characters as the browser counts them: a line break is one, though the form sends two.
    lines = "a" * 249 + "\r\n" + "b" * 250
    response = staff.post(f"/agent/justificatifs/{document.id}/invalider", data={"reason_text": lines})
    assert response.status_code == 303
    assert fresh(db).get(Document, document.id).reason == "a" * 249 + " " + "b" * 250


def test_a_refused_renewal_shows_the_valid_document_and_why(client, auth, parent, agent, family,
                                                           staff, db, monkeypatch):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    old = fresh(db).scalar(select(Document))
    until = documents.today() + timedelta(days=10)
    staff.post(f"/agent/justificatifs/{old.id}/valider", data={"valid_until": until.isoformat()})
    sent(client, family, db, "b.pdf", samples.pdf("b"))
    renewal = fresh(db).scalar(select(Document).order_by(Document.id.desc()))
    staff.post(f"/agent/justificatifs/{renewal.id}/invalider",
               data={"reason_choice": "Document illisible ou flou"})
    section = text(client.get("/justificatifs")).split("Le foyer")[1].split("Léo")[0]
    assert "Validé</span> jusqu'au" in section and "Invalide" not in section
    assert "n'a pas été validé : celui-ci reste valable. Motif : Document illisible ou flou" in section
    page = text(client.get(upload_url(family, family.address)))
    assert "le précédent reste valable jusqu'au" in page and 'id="upload-form"' in page
    agent_page = text(staff.get(f"/agent/foyers/{family.household.id}/justificatifs"))
    assert "Renouvellement déclaré invalide" in agent_page


def test_an_agent_uploading_for_the_family_is_in_the_audit(staff, agent, family, db):
    response = post_files(staff, upload_url(family, family.address), [("guichet.pdf", samples.pdf())])
    assert response.status_code == 303
    entry = fresh(db).scalar(select(AuditEntry).where(AuditEntry.action == "document.submitted"))
    assert entry.actor_id == agent.id and entry.target_id == family.household.id
    document = fresh(db).scalar(select(Document))
    assert "Justificatif transmis par un agent" in text(staff.get(f"/agent/justificatifs/{document.id}"))


def test_agent_requests_a_document_and_the_family_sees_reclame(client, auth, parent, family, staff,
                                                               db, outbox):
    url = f"/agent/foyers/{family.household.id}/justificatifs"
    page = text(staff.get(url))
    assert "Réclamer un justificatif" in page and f'value="{family.pai.id}-{family.leo.id}"' in page
    response = staff.post(url, data={"document_type": f"{family.pai.id}-{family.leo.id}",
                                     "message": "Le PAI signé par le médecin, s'il vous plaît."})
    assert response.status_code == 303
    assert fresh(db).scalar(select(AuditEntry).where(AuditEntry.action == "document.requested"))
    assert outbox.last(parent.email).subject == "Justificatif réclamé : PAI"
    response = staff.post(url, data={"document_type": f"{family.pai.id}-{family.leo.id}"})
    assert response.status_code == 422 and "déjà réclamé" in text(response)
    auth.sign_in(parent.email)
    body = text(client.get("/justificatifs"))
    assert "Réclamé" in body and "Le PAI signé par le médecin" in body


def test_agent_queue_filters_by_type(client, auth, parent, family, staff, db):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    assert "Justificatif de domicile" in text(staff.get(f"/agent/justificatifs?type={family.address.id}"))
    body = text(staff.get(f"/agent/justificatifs?type={family.insurance.id}"))
    assert "Aucun justificatif à vérifier" in body


@pytest.mark.parametrize("value", ["99999999999999999999", str(2**31), "abc", "-1", "²"])
def test_odd_ids_in_query_strings_are_not_found(client, auth, parent, family, staff, value):
    assert staff.get(f"/agent/justificatifs?type={value}").status_code == 404
    assert staff.get(f"/agent/justificatifs?commune={value}").status_code == 404
    auth.sign_in(parent.email)
    assert client.get(upload_url(family, family.insurance) + f"?enfant={value}").status_code == 404
    assert client.get(upload_url(family, family.address) + f"?enfant={value}").status_code == 404


@pytest.mark.parametrize("choice", [
    "99999999999999999999", "99999999999999999999-1", "{pai}-99999999999999999999", "{pai}-x", "²",
])
def test_a_huge_or_odd_choice_to_request_gets_a_french_message(staff, family, db, choice):
    url = f"/agent/foyers/{family.household.id}/justificatifs"
    response = staff.post(url, data={"document_type": choice.format(pai=family.pai.id)})
    assert response.status_code == 422
    assert "Choisissez un justificatif" in text(response)
    assert count(db, Document) == 0


@pytest.mark.parametrize("months", ["²", "99999999999999999999"])
def test_a_duration_typed_oddly_is_refused_at_the_field(staff, family, months):
    response = staff.post("/agent/justificatifs/types/nouveau", data={
        "organisation_id": family.town.id, "name": "Livret de famille", "scope": "household",
        "validity_months": months, "asked_of_all": "y", "active": "y"})
    assert response.status_code == 422 and "Indiquez une durée entre 1 et 120 mois." in text(response)


@pytest.mark.parametrize("commune", ["²", "99999999999999999999", "x"])
def test_an_odd_commune_is_refused_in_french(staff, family, commune):
    response = staff.post("/agent/justificatifs/types/nouveau", data={
        "organisation_id": commune, "name": "Livret", "scope": "household", "active": "y"})
    assert response.status_code == 422 and "Choisissez la commune." in text(response)
    assert "coerce" not in text(response)


def test_agent_adds_and_changes_a_document_type(staff, family, db):
    response = staff.post("/agent/justificatifs/types/nouveau", data={
        "organisation_id": family.town.id, "name": "Livret de famille", "scope": "household",
        "validity_months": "", "valid_until_day": "31/02", "asked_of_all": "y", "active": "y"})
    assert response.status_code == 422 and "JJ/MM" in text(response)
    response = staff.post("/agent/justificatifs/types/nouveau", data={
        "organisation_id": family.town.id, "name": "Livret de famille", "scope": "household",
        "validity_months": "24", "asked_of_all": "y", "active": "y"})
    assert response.status_code == 303
    listing = text(staff.get("/agent/justificatifs/types"))
    assert "Livret de famille" in listing and "2 ans" in listing
    response = staff.post(f"/agent/justificatifs/types/{family.pai.id}", data={
        "name": "PAI", "scope": "child", "valid_until_day": "31/08", "active": "y"})
    assert response.status_code == 303
    assert fresh(db).get(type(family.pai), family.pai.id).valid_until_day == "31/08"


def test_the_daily_reminder_command(app, client, auth, parent, family, staff, db, outbox,
                                    monkeypatch):
    today = documents.today()  # the commune's day: between 23:00 and 00:00 UTC, not the machine's
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    document = fresh(db).scalar(select(Document))
    staff.post(f"/agent/justificatifs/{document.id}/valider",
               data={"valid_until": (today + timedelta(days=40)).isoformat()})
    frozen = today + timedelta(days=15)
    monkeypatch.setattr(documents, "today", lambda: frozen)
    result = app.test_cli_runner().invoke(args=["documents", "remind"])
    assert result.exit_code == 0, result.output
    assert "1 rappel(s)" in result.output
    assert outbox.last(parent.email).subject == "Justificatif bientôt périmé : Justificatif de domicile"
    assert "0 rappel(s)" in app.test_cli_runner().invoke(args=["documents", "remind"]).output
    monkeypatch.setattr(documents, "today", lambda: today + timedelta(days=41))
    assert "Périmé" in text(client.get("/justificatifs"))


def test_perime_since_the_day_after_the_end_of_validity(client, auth, parent, family, staff, db,
                                                         monkeypatch):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    document = fresh(db).scalar(select(Document))
    staff.post(f"/agent/justificatifs/{document.id}/valider", data={"valid_until": "2030-01-31"})
    monkeypatch.setattr(documents, "today", lambda: date(2030, 2, 1))
    body = text(client.get("/justificatifs"))
    assert "Périmé</span> depuis le 1 février 2030" in body  # valid on 31 January
    assert "depuis le 31 janvier 2030" not in body


def test_five_files_of_two_megabytes_fit_in_one_upload(client, auth, parent, family, db):
    auth.sign_in(parent.email)
    files = [(f"page{i}.pdf", samples.pdf_of_size(2 * MB - i)) for i in range(5)]
    response = post_files(client, upload_url(family, family.address), files)
    assert response.status_code == 303
    assert count(db, DocumentFile) == 5


def test_no_upload_form_while_a_document_waits_or_is_valid(client, auth, parent, family, staff, db):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    page = text(client.get(upload_url(family, family.address)))
    assert "attend la vérification de la mairie" in page and 'id="upload-form"' not in page
    document = fresh(db).scalar(select(Document))
    staff.post(f"/agent/justificatifs/{document.id}/valider", data={"valid_until": "2030-01-31"})
    page = text(client.get(upload_url(family, family.address)))
    assert "validé jusqu'au 31 janvier 2030 : il n'est pas demandé à nouveau" in page
    assert 'id="upload-form"' not in page
    response = post_files(client, upload_url(family, family.address), [("b.pdf", samples.pdf("b"))])
    assert response.status_code == 422
    assert "Fournir le justificatif" not in text(client.get("/justificatifs")).split("Le foyer")[1] \
        .split("Léo")[0]


@pytest.mark.parametrize("value, message", [
    ("31/02/2027", "Indiquez une date valide"),
    ("2020-01-31", "La fin de validité ne peut pas être passée."),
])
def test_a_wrong_end_date_is_refused_in_french(client, auth, parent, family, staff, db, value,
                                               message):
    auth.sign_in(parent.email)
    sent(client, family, db, "a.pdf", samples.pdf())
    document = fresh(db).scalar(select(Document))
    response = staff.post(f"/agent/justificatifs/{document.id}/valider", data={"valid_until": value})
    assert response.status_code == 422 and message in text(response)
    assert fresh(db).get(Document, document.id).status == "submitted"


def test_a_file_missing_from_the_storage_is_not_found(app, client, auth, parent, family, db):
    auth.sign_in(parent.email)
    row = sent(client, family, db, "a.pdf", samples.pdf())
    for path in stored(app):
        os.unlink(path)
    assert client.get(f"/justificatifs/{family.household.id}/fichiers/{row.id}").status_code == 404
