"""Destructive actions of the family ask first, on a page that works without JavaScript."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from citoyen.models import AuthorizedPickup
from citoyen.models import ChangeSet
from citoyen.models import Child
from tests.blueprints.helpers import subscribed_family
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.factories import PASSWORD

ADDRESS = {"address_line1": "5 rue Neuve", "address_line2": "", "postcode": "45990", "city": "Belval"}


@pytest.fixture
def family(db, agent, parent):
    return subscribed_family(db, agent, parent)


def _confirmation(client, url: str, title: str, button: str, back: str) -> str:
    """The page: its title, the button that posts to ``url`` and the way back."""
    response = client.get(url)
    assert response.status_code == 200
    page = text(response)
    assert f"<h1>{title}</h1>" in page
    assert f'<form method="post" action="{url}">' in page and 'name="csrf_token"' in page
    assert f'<button type="submit" class="danger">{button}</button>' in page
    assert f'<a href="{back}">Annuler et revenir en arrière</a>' in page
    return page


def test_removing_a_pickup_person_asks_first(client, auth, parent, family, db):
    household, child = family
    auth.sign_in(parent.email)
    base = f"/foyer/{household.id}/enfants/{child.id}/personnes"
    client.post(base + "/nouvelle", data={"last_name": "Roux", "first_name": "Jeanne", "relation": "Voisine",
                                          "phone": "06 12 34 56 78"})
    pickup_id = db.scalar(select(AuthorizedPickup.id))
    url = f"{base}/{pickup_id}/retirer"
    assert f'href="{url}"' in text(client.get(base))  # a link, not a one-click form
    page = _confirmation(client, url, "Retirer Jeanne Roux", "Retirer Jeanne Roux", base)
    assert "Jeanne Roux ne pourra plus venir chercher Léa" in page
    fresh(db)
    assert db.get(AuthorizedPickup, pickup_id) is not None  # the page alone changes nothing
    assert client.post(url).status_code == 303
    fresh(db)
    assert db.get(AuthorizedPickup, pickup_id) is None
    # Already removed (by the other parent, or in another tab): said so.
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 303 and response.headers["Location"] == base
    assert "Cette personne n'est plus autorisée à récupérer Léa." in text(client.get(base))


def test_removing_the_photo_asks_first(client, auth, parent, family, db):
    household, child = family
    auth.sign_in(parent.email)
    record = f"/foyer/{household.id}/enfants/{child.id}"
    url = record + "/photo/retirer"
    assert client.get(url).headers["Location"] == record  # no photo: nothing to confirm
    image = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(image, "PNG")
    client.post(record + "/photo", data={"photo": (io.BytesIO(image.getvalue()), "lea.png")},
                content_type="multipart/form-data")
    assert f'href="{url}"' in text(client.get(record))
    _confirmation(client, url, "Retirer la photo de Léa", "Retirer la photo", record)
    fresh(db)
    assert db.get(Child, child.id).photo
    assert client.post(url).status_code == 303
    fresh(db)
    assert not db.get(Child, child.id).photo


def test_withdrawing_a_pending_change_asks_first(client, auth, parent, family, db):
    household, _child = family
    auth.sign_in(parent.email)
    client.post(f"/foyer/{household.id}/adresse", data=ADDRESS)
    change = db.scalar(select(ChangeSet))
    url = f"/foyer/{household.id}/modifications/{change.id}/retirer"
    assert f'href="{url}"' in text(client.get("/foyer"))
    page = _confirmation(client, url, "Retirer votre modification « Adresse »", "Retirer cette modification",
                         "/foyer")
    assert "« 5 rue Neuve »" in page
    fresh(db)
    assert db.get(ChangeSet, change.id).status == "pending"
    assert client.post(url).status_code == 303
    # No longer waiting (withdrawn in another tab, or decided by the town hall): said so, not « introuvable ».
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 303 and response.headers["Location"] == "/foyer"
    assert "Cette modification n'est plus en attente." in text(client.get("/foyer"))
    assert client.get(f"/foyer/{household.id}/modifications/999/retirer").status_code == 404


def test_the_link_to_withdraw_says_which_change_and_agents_do_not_get_it(app, client, auth, parent, agent,
                                                                         family, db):
    household, child = family
    auth.sign_in(parent.email)
    client.post(f"/foyer/{household.id}/adresse", data=ADDRESS)
    client.post(f"/foyer/{household.id}/enfants/{child.id}/sante",
                data={"allergies": "Arachide", "diet": "", "doctor_name": "", "doctor_phone": ""})
    assert ('Retirer cette modification<span class="visually-hidden"> de l\'adresse</span>'
            in text(client.get("/foyer")))
    record = f"/foyer/{household.id}/enfants/{child.id}"
    assert ('Retirer cette modification<span class="visually-hidden"> : données sanitaires de Léa</span>'
            in text(client.get(record)))
    staff = app.test_client()
    staff.post("/connexion", data={"email": agent.email, "password": PASSWORD})
    page = text(staff.get(record))
    assert "En attente de validation par la mairie" in page and "Retirer cette modification" not in page


def test_a_new_calendar_address_asks_first_the_first_does_not(client, auth, parent, family, db):
    household, child = family
    auth.sign_in(parent.email)
    record = f"/foyer/{household.id}/enfants/{child.id}"
    url = record + "/calendrier"
    assert client.get(url).headers["Location"] == record + "#calendrier"  # no address yet: nothing to confirm
    assert client.post(url).status_code == 303  # the first address: one click, nothing is lost
    fresh(db)
    token = db.get(Child, child.id).calendar_token
    assert f'href="{url}"' in text(client.get(record))
    page = _confirmation(client, url, "Créer une nouvelle adresse du calendrier", "Créer une nouvelle adresse",
                         record + "#calendrier")
    assert "ne fonctionnera plus" in page
    fresh(db)
    assert db.get(Child, child.id).calendar_token == token
    assert client.post(url).status_code == 303
    fresh(db)
    assert db.get(Child, child.id).calendar_token != token


def test_another_familys_confirmation_pages_are_not_found(client, auth, make_account, family, db):
    household, child = family
    make_account(email="autre@example.org")
    auth.sign_in("autre@example.org")
    for path in (f"/foyer/{household.id}/enfants/{child.id}/photo/retirer",
                 f"/foyer/{household.id}/enfants/{child.id}/calendrier",
                 f"/foyer/{household.id}/enfants/{child.id}/personnes/1/retirer",
                 f"/foyer/{household.id}/modifications/1/retirer"):
        assert client.get(path).status_code == 404, path
