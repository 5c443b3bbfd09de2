"""La fiche d'un enfant, the photo and the adults allowed to pick the child up, in the browser's terms."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from citoyen.models import ChangeSet
from citoyen.models import Guardian
from tests.blueprints.helpers import subscribed_family
from tests.blueprints.helpers import text
from tests.factories import PASSWORD

HEALTH = {"allergies": "Arachide", "diet": "", "doctor_name": "Dr Roux", "doctor_phone": "02 38 00 00 00",
          "vaccinations_up_to_date": "y"}


@pytest.fixture
def family(db, agent, parent):
    return subscribed_family(db, agent, parent)


def _url(household, child, rest=""):
    return f"/foyer/{household.id}/enfants/{child.id}{rest}"


def test_the_record_shows_every_part(client, auth, parent, family):
    household, child = family
    auth.sign_in(parent.email)
    page = text(client.get(_url(household, child)))
    for words in ("Fiche de Léa Martin", "Informations générales", "Autorisations", "Données sanitaires",
                  "Gérer les personnes autorisées à récupérer mon enfant", "Photo"):
        assert words in page
    assert _url(household, child) in text(client.get("/enfants"))


def test_health_edit_in_place_waits_then_the_agent_validates(app, client, auth, parent, agent, family, hx):
    household, child = family
    auth.sign_in(parent.email)
    form = client.get(_url(household, child, "/sante"), headers=hx)
    assert text(form).lstrip().startswith("<form") and 'type="checkbox"' in text(form)
    response = client.post(_url(household, child, "/sante"), data=HEALTH, headers=hx)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#child_health-{child.id}"
    assert "En attente de validation par la mairie" in text(response) and "Arachide" in text(response)

    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    assert "Données sanitaires — Léa Martin" in text(staff.get("/agent/modifications"))
    change_id = text(staff.get("/agent/modifications")).split("/agent/modifications/")[1].split('"')[0]
    assert "Arachide" in text(staff.get(f"/agent/modifications/{change_id}"))
    staff.post(f"/agent/modifications/{change_id}/valider")
    page = text(client.get(_url(household, child)))
    assert "Arachide" in page and "En attente de validation" not in page


def test_bad_input_keeps_what_was_typed(client, auth, parent, family, db):
    household, child = family
    auth.sign_in(parent.email)
    data = {"last_name": "Martin", "first_name": "Léa", "birth_date": "14/09/2099", "sex": "F",
            "school": "École du Parc", "class_name": "", "insurance_company": "", "insurance_policy": ""}
    response = client.post(_url(household, child, "/informations"), data=data)
    assert response.status_code == 422
    body = text(response)
    assert "ne peut pas être dans le futur" in body and 'value="École du Parc"' in body
    response = client.post(_url(household, child, "/sante"), data={**HEALTH, "doctor_phone": "12"})
    assert response.status_code == 422 and "10 chiffres" in text(response)
    assert 'Arachide' in text(response)
    assert db.scalar(select(ChangeSet)) is None


def test_an_unknown_part_of_the_record_is_404(client, auth, parent, family):
    household, child = family
    auth.sign_in(parent.email)
    assert client.get(_url(household, child, "/inconnu")).status_code == 404


def _png(size=(900, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def test_photo_upload_then_shown_only_to_the_family(app, client, auth, parent, family, make_account):
    household, child = family
    auth.sign_in(parent.email)
    response = client.post(_url(household, child, "/photo"),
                           data={"photo": (io.BytesIO(_png()), "lea.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    photo = client.get(_url(household, child, "/photo.jpg"))
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"
    assert photo.data[:3] == b"\xff\xd8\xff"
    assert 'alt="Photo de Léa Martin"' in text(client.get(_url(household, child)))

    stranger = make_account(email="autre@example.org")
    other = app.test_client()
    other.post("/connexion", data={"email": stranger.email, "password": PASSWORD})
    assert other.get(_url(household, child, "/photo.jpg")).status_code == 404


def test_a_file_that_is_not_an_image_gets_a_message_at_the_field(client, auth, parent, family):
    household, child = family
    auth.sign_in(parent.email)
    response = client.post(_url(household, child, "/photo"),
                           data={"photo": (io.BytesIO(b"%PDF-1.4 hello"), "photo.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "n'est pas une photo" in text(response)


def test_a_photo_too_big_gets_a_message_not_a_bare_413(client, auth, parent, family):
    household, child = family
    auth.sign_in(parent.email)
    big = io.BytesIO(b"\xff" * (9 * 1024 * 1024))
    response = client.post(_url(household, child, "/photo"), data={"photo": (big, "big.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "trop lourde" in text(response) and "Fiche de Léa Martin" in text(response)


def _heavy_png(size: int) -> bytes:
    """A PNG of noise (it does not compress) of about ``size`` bytes."""
    import random

    side = int((size / 3) ** 0.5) + 1
    noise = random.Random(7).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, "PNG", compress_level=0)
    return out.getvalue()


def test_a_photo_of_several_megabytes_goes_through_with_csrf_on(app, client, auth, parent, family):
    import re

    household, child = family
    auth.sign_in(parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    page = text(client.get(_url(household, child)))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    photo = _heavy_png(7 * 1024 * 1024)
    assert 6 * 1024 * 1024 < len(photo) < 8 * 1024 * 1024
    response = client.post(_url(household, child, "/photo"),
                           data={"photo": (io.BytesIO(photo), "grande.png"), "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    assert client.get(_url(household, child, "/photo.jpg")).status_code == 200
    # Without its token the photo is refused like any other form, and too big
    # a photo still gets the French message.
    response = client.post(_url(household, child, "/photo"),
                           data={"photo": (io.BytesIO(_png()), "lea.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Le formulaire a expiré" in text(response)
    response = client.post(_url(household, child, "/photo"),
                           data={"photo": (io.BytesIO(b"\xff" * (9 * 1024 * 1024)), "big.jpg"),
                                 "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "trop lourde" in text(response)


def test_pickups_add_edit_remove(client, auth, parent, family):
    household, child = family
    auth.sign_in(parent.email)
    page = text(client.get(_url(household, child, "/personnes")))
    assert "Ajouter une nouvelle personne" in page
    bad = client.post(_url(household, child, "/personnes/nouvelle"),
                      data={"last_name": "Roux", "first_name": "Jeanne", "relation": "", "phone": "abc"})
    assert bad.status_code == 422 and 'value="Roux"' in text(bad)
    assert client.post(_url(household, child, "/personnes/nouvelle"),
                       data={"last_name": "Roux", "first_name": "Jeanne", "relation": "Grand-mère",
                             "phone": "06 12 34 56 78"}).status_code == 303
    page = text(client.get(_url(household, child, "/personnes")))
    assert "Jeanne Roux" in page and "Grand-mère" in page
    pickup_id = page.split("/personnes/")[1].split('"')[0]
    client.post(_url(household, child, f"/personnes/{pickup_id}"),
                data={"last_name": "Roux", "first_name": "Jeanne", "relation": "Voisine",
                      "phone": "06 12 34 56 78"})
    assert "Voisine" in text(client.get(_url(household, child, "/personnes")))
    client.post(_url(household, child, f"/personnes/{pickup_id}/retirer"))
    page = text(client.get(_url(household, child, "/personnes")))
    assert "n'est plus autorisé(e)" in page and "Aucune personne n'est autorisée" in page


def test_a_second_guardian_is_added_and_validated(app, client, auth, parent, agent, family, db):
    household, _ = family
    auth.sign_in(parent.email)
    response = client.post(f"/foyer/{household.id}/responsables/nouveau",
                           data={"last_name": "Durand", "first_name": "Alex", "email": "",
                                 "mobile_phone": ""})
    assert response.status_code == 303
    assert "En attente de validation par la mairie" in text(client.get("/foyer"))
    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    queue = text(staff.get("/agent/modifications"))
    assert "Alex Durand" in queue
    title = queue.split("<title>")[1].split("</title>")[0]
    assert title.startswith("À valider") and "<" not in title
    guardian = db.scalar(select(Guardian).where(Guardian.first_name == "Alex"))
    staff.post(f"/agent/responsables/{guardian.id}/valider")
    assert "En attente de validation" not in text(client.get("/foyer"))
