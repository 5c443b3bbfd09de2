"""The back office and the messages at the edges: « Tout marquer comme lu »
while someone else writes, a household typed again with other accents or
another case, an administrator giving up their own role, the journal past
its last page, more households than a page shows."""

from __future__ import annotations

from flask import request as flask_request
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy import select

from citoyen.db import new_session
from citoyen.models import Household
from citoyen.models import Notification
from citoyen.services import households
from citoyen.services.errors import DomainError
from tests import factories
from tests.blueprints.helpers import text


def test_tout_marquer_comme_lu_while_someone_else_writes(app, client, auth, db, parent):
    db.add(Notification(account_id=parent.id, subject="Premier", body="…"))
    db.commit()

    @app.before_request
    def someone_else_writes():
        if flask_request.path == "/messages/tout-lu":
            assert current_user.is_authenticated  # the account is read: the read transaction is open
            with new_session(app) as other:
                other.add(Notification(account_id=parent.id, subject="Second", body="…"))
                other.commit()

    auth.sign_in(parent.email)
    assert client.post("/messages/tout-lu").status_code == 303
    assert db.scalar(select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))) == 0


def test_a_household_typed_again_with_other_accents_or_case_is_found(db, agent):
    town = factories.organisation(db)
    first = households.create_household(db, agent, town, name="Dupré", guardian_first_name="Élodie",
                                        guardian_last_name="Dupré", family_number="F100")
    for name, first_name, last_name, number in (("Dupre", "Elodie", "DUPRE", ""),
                                                ("Martin", "Paul", "Martin", "f100")):
        try:
            households.create_household(db, agent, town, name=name, guardian_first_name=first_name,
                                        guardian_last_name=last_name, family_number=number)
        except DomainError as refusal:
            assert refusal.field == ("family_number" if number else "name")
        else:
            raise AssertionError(f"{name} created twice")
    assert db.scalars(select(Household.id).where(Household.organisation_id == town.id)).all() == [first.id]


def test_an_administrator_giving_up_their_role_goes_home(client, auth, make_account):
    admin = make_account(email="admin@example.org", role="admin")
    make_account(email="autre-admin@example.org", role="admin")
    auth.sign_in(admin.email)
    response = client.post(f"/agent/comptes/{admin.id}/role", data={"role": "parent"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Le rôle est modifié." in text(response)


def test_the_journal_past_its_last_page_goes_back_to_the_first(client, auth, make_account):
    admin = make_account(email="admin@example.org", role="admin")
    auth.sign_in(admin.email)
    response = client.get("/agent/journal?page=7")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/agent/journal")


def test_more_households_than_a_page_shows_say_so(client, auth, db, agent):
    town = factories.organisation(db)
    for n in range(households.SEARCH_LIMIT + 3):
        db.add(Household(organisation_id=town.id, name=f"Famille {n:03}", family_number=f"{n:06}",
                         subscription_code=f"CODE-{n:06}"))
    db.commit()
    auth.sign_in(agent.email)
    page = text(client.get("/agent/foyers?q=famille"))
    assert "Les 50 premiers foyers pour « famille » : précisez la recherche pour trouver les autres" in page
    assert "Famille 050" not in page
