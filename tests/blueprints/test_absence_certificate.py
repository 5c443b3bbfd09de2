"""A medical certificate with an absence: sent with the declaration or
joined later, checked by its content, served only to the family and the town
hall, and listed for the agents."""

from __future__ import annotations

import io
import os

import pytest
from sqlalchemy import select

from citoyen.models import Absence
from citoyen.models import AuditEntry
from tests import samples
from tests.agenda_helpers import build_town
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import declare
from tests.blueprints.helpers import stored_files
from tests.blueprints.helpers import text
from tests.conftest import fresh


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


def absences(db) -> list[Absence]:
    fresh(db)
    return list(db.scalars(select(Absence)))


def test_certificate_sent_with_the_absence_is_kept_and_served_to_the_family(client, auth, town, db, app):
    auth.sign_in(town.parent.email)
    day = next_weekday(0)
    pdf = samples.pdf("Certificat médical")
    response = declare(client, town, day, certificate=(io.BytesIO(pdf), "certificat.pdf"))
    assert response.status_code in (302, 303)
    [absence] = absences(db)
    assert absence.certificate_name == "certificat.pdf"
    assert absence.certificate_type == "application/pdf"
    page = text(client.get("/agenda/absence"))
    assert "Absences déclarées" in page and "Certificat joint : certificat.pdf" in page
    served = client.get(f"/agenda/absences/{absence.id}/certificat")
    assert served.status_code == 200
    assert served.data == pdf
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in served.headers["Content-Disposition"]


def test_a_file_that_is_not_a_document_is_refused_at_the_field_and_nothing_is_kept(client, auth, town, db, app):
    auth.sign_in(town.parent.email)
    day = next_weekday(0)
    response = declare(client, town, day, certificate=(io.BytesIO(samples.html()), "certificat.pdf"))
    assert response.status_code == 422
    body = text(response)
    assert 'id="certificate-error"' in body
    assert "Fièvre" in body  # what was typed stays
    assert absences(db) == []
    assert stored_files(app) == []


def test_an_absence_without_certificate_still_works_and_one_can_be_joined_later(client, auth, town, db, app):
    auth.sign_in(town.parent.email)
    day = next_weekday(0)
    assert declare(client, town, day).status_code in (302, 303)
    [absence] = absences(db)
    assert absence.certificate_key is None
    page = text(client.get("/agenda/absence"))
    assert "Joindre un certificat" in page
    url = f"/agenda/absences/{absence.id}/certificat"
    assert client.get(url).status_code == 404  # nothing to serve yet
    response = client.post(url, data={"certificate": (io.BytesIO(samples.jpeg()), "scan.jpg")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "Le certificat est joint à l'absence." in text(response)
    [absence] = absences(db)
    assert absence.certificate_name == "scan.jpg" and absence.certificate_type == "image/jpeg"
    # A second, different file does not replace the first.
    response = client.post(url, data={"certificate": (io.BytesIO(samples.pdf()), "autre.pdf")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "Un certificat est déjà joint à cette absence." in text(response)
    assert absences(db)[0].certificate_name == "scan.jpg"
    assert len(stored_files(app)) == 1
    # The stored file out of reach (another server's disk, a restore): the same answer, not an error.
    for name in stored_files(app):
        for folder, _dirs, names in os.walk(os.path.join(app.instance_path, "uploads")):
            if name in names:
                os.unlink(os.path.join(folder, name))
    response = client.post(url, data={"certificate": (io.BytesIO(samples.jpeg()), "scan.jpg")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "Un certificat est déjà joint à cette absence." in text(response)


def test_joining_nothing_or_a_bad_file_says_why(client, auth, town, db):
    auth.sign_in(town.parent.email)
    declare(client, town, next_weekday(0))
    [absence] = absences(db)
    url = f"/agenda/absences/{absence.id}/certificat"
    response = client.post(url, data={}, content_type="multipart/form-data", follow_redirects=True)
    assert "Choisissez le fichier du certificat." in text(response)
    response = client.post(url, data={"certificate": (io.BytesIO(samples.windows_executable()), "c.pdf")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert absences(db)[0].certificate_key is None


def test_another_family_cannot_reach_the_certificate(client, auth, town, db, make_account):
    auth.sign_in(town.parent.email)
    declare(client, town, next_weekday(0), certificate=(io.BytesIO(samples.pdf()), "certificat.pdf"))
    [absence] = absences(db)
    other = make_account(email="autre@example.org")
    household(db, town.organisation, "Durand", ["Zoé"], account=other)
    auth.sign_out()
    auth.sign_in(other.email)
    url = f"/agenda/absences/{absence.id}/certificat"
    assert client.get(url).status_code == 404
    assert client.post(url, data={"certificate": (io.BytesIO(samples.pdf()), "x.pdf")},
                       content_type="multipart/form-data").status_code == 404
    assert client.get("/agenda/absences/999999/certificat").status_code == 404
    assert "Absences déclarées" not in text(client.get("/agenda/absence"))


def declared_then_agent(client, auth, town, db, **extra) -> Absence:
    """The parent declares an absence next Monday; then the agent signs in."""
    auth.sign_in(town.parent.email)
    declare(client, town, next_weekday(0), **extra)
    [absence] = absences(db)
    auth.sign_out()
    auth.sign_in(town.agent.email)
    return absence


def test_agents_list_absences_and_open_certificates(client, auth, town, db):
    absence = declared_then_agent(client, auth, town, db, certificate=(io.BytesIO(samples.pdf()), "certificat.pdf"))
    page = text(client.get("/agent/absences"))
    assert "Absences déclarées" in page
    assert "Léo Martin" in page and "Maladie" in page and "certificat.pdf" in page
    assert client.get(f"/agenda/absences/{absence.id}/certificat").status_code == 200


def test_an_agent_joining_a_certificate_is_audited(client, auth, town, db):
    absence = declared_then_agent(client, auth, town, db)
    client.post(f"/agenda/absences/{absence.id}/certificat",
                data={"certificate": (io.BytesIO(samples.pdf()), "certificat.pdf")},
                content_type="multipart/form-data")
    fresh(db)
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "agenda.absence_certificate")) is not None


def test_a_certificate_too_big_is_refused_in_its_own_words(client, auth, town, db, app):
    auth.sign_in(town.parent.email)
    day = next_weekday(0)
    # Over 2 MB: refused by the file check, at the field.
    response = declare(client, town, day, certificate=(io.BytesIO(samples.pdf_of_size(3 * 1024 * 1024)), "c.pdf"))
    assert response.status_code == 422
    assert 'id="certificate-error"' in text(response) and "2 Mo" in text(response)
    # Far over: the body is not even read, the message says so in the same words.
    response = declare(client, town, day, certificate=(io.BytesIO(b"%PDF-1.4\n" + b"0" * (12 * 1024 * 1024)), "c.pdf"))
    assert response.status_code == 422
    assert "Le certificat dépasse la taille autorisée (2 Mo au plus)" in text(response)
    assert absences(db) == [] and stored_files(app) == []


def test_an_agent_joins_a_certificate_from_the_agents_page(client, auth, town, db):
    absence = declared_then_agent(client, auth, town, db)
    page = text(client.get("/agent/absences"))
    assert f'/agenda/absences/{absence.id}/certificat?retour=agent' in page
    response = client.post(f"/agenda/absences/{absence.id}/certificat?retour=agent",
                           data={"certificate": (io.BytesIO(samples.pdf()), "certificat.pdf")},
                           content_type="multipart/form-data")
    assert response.headers["Location"].endswith("/agent/absences")
    assert "certificat.pdf" in text(client.get("/agent/absences"))
