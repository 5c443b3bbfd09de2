"""A portal that serves several communes: the family types its postcode, then
picks its commune; agents say which commune a household belongs to."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from citoyen.models import Household
from citoyen.models import HouseholdLink
from citoyen.services import households
from citoyen.services import organisations
from citoyen.services.errors import DomainError
from citoyen.services.households import Attempt
from tests import factories
from tests.blueprints.helpers import text
from tests.blueprints.test_household_import_views import hidden_content
from tests.services.test_household_import import GOOD


@pytest.fixture
def towns(db):
    belval = factories.organisation(db, name="Belval-sur-Loire", slug="belval", postcodes="45990")
    orme = factories.organisation(db, name="Orme", slug="orme", postcodes="45100 45991")
    pre = factories.organisation(db, name="Pré-le-Bourg", slug="pre", postcodes="45100")
    return belval, orme, pre


@pytest.fixture
def homes(db, agent, towns):
    belval, orme, _ = towns
    mine = households.create_household(db, agent, belval, name="Martin", guardian_first_name="Camille",
                                       guardian_last_name="Martin", family_number="000001")
    theirs = households.create_household(db, agent, orme, name="Benali", guardian_first_name="Karim",
                                         guardian_last_name="Benali", family_number="000001")
    return mine, theirs


def test_postcode_lookup(db, towns):
    belval, orme, pre = towns
    assert organisations.for_postcode(db, "45990") == [belval]
    assert {o.id for o in organisations.for_postcode(db, "45100")} == {orme.id, pre.id}
    for bad in ("4599", "abcde", "75001"):
        with pytest.raises(DomainError) as raised:
            organisations.for_postcode(db, bad)
        assert raised.value.field == "postcode"


def test_a_code_of_another_commune_is_not_found(db, parent, homes):
    mine, theirs = homes
    with pytest.raises(DomainError) as raised:
        households.subscribe(db, parent, Attempt("code", code=theirs.subscription_code,
                                                 organisation_id=mine.organisation_id), "http://x")
    assert raised.value.field == "code" and "Il vous reste 4 essais" in raised.value.message
    household = households.subscribe(db, parent, Attempt(
        "family_number", family_number="000001", last_name="Martin", first_name="Camille",
        organisation_id=mine.organisation_id), "http://x")
    assert household.id == mine.id


def test_the_family_chooses_its_commune_by_postcode_first(client, auth, parent, homes, db):
    mine, theirs = homes
    auth.sign_in(parent.email)
    page = text(client.get("/abonnements"))
    assert "Code postal de votre commune" in page and "Avec votre code abonné" not in page
    # Without a commune, subscribing sends back to the choice.
    response = client.post("/abonnements/code", data={"code-code": mine.subscription_code})
    assert response.status_code == 303 and response.headers["Location"].endswith("/abonnements/commune")
    bad = client.get("/abonnements/commune?code_postal=75001")
    assert bad.status_code == 422 and "Aucune commune" in text(bad) and 'value="75001"' in text(bad)
    assert client.get("/abonnements/commune?code_postal=45990").status_code == 303
    page = text(client.get("/abonnements"))
    assert "Commune : <strong>Belval-sur-Loire</strong>" in page and "Avec votre code abonné" in page
    wrong = client.post("/abonnements/code", data={"code-code": theirs.subscription_code})
    assert wrong.status_code == 422 and "ne correspondent à aucun foyer" in text(wrong)
    assert client.post("/abonnements/code", data={"code-code": mine.subscription_code}).status_code == 303
    assert db.scalar(select(HouseholdLink.household_id)) == mine.id


def test_a_postcode_shared_by_two_communes_offers_both(client, auth, parent, towns):
    _, orme, pre = towns
    auth.sign_in(parent.email)
    page = text(client.get("/abonnements/commune?code_postal=45100"))
    assert "Plusieurs communes ont ce code postal" in page and "Orme" in page and "Pré-le-Bourg" in page
    assert client.post("/abonnements/commune", data={"organisation_id": "abc"}).status_code == 422
    assert client.post("/abonnements/commune", data={"organisation_id": str(pre.id)}).status_code == 303
    assert "Commune : <strong>Pré-le-Bourg</strong>" in text(client.get("/abonnements"))


def test_one_commune_needs_no_choice(client, auth, parent, db, agent):
    factories.organisation(db)
    auth.sign_in(parent.email)
    page = text(client.get("/abonnements"))
    assert "Code postal de votre commune" not in page and "Avec votre code abonné" in page


def test_the_agent_picks_the_commune_of_a_new_household(client, auth, agent, towns, db):
    _, orme, _ = towns
    auth.sign_in(agent.email)
    assert "Commune" in text(client.get("/agent/foyers/nouveau"))
    data = {"name": "Durand", "guardian_last_name": "Durand", "guardian_first_name": "Alex"}
    missing = client.post("/agent/foyers/nouveau", data=data)
    assert missing.status_code == 422 and "Choisissez la commune du foyer" in text(missing)
    assert 'value="Durand"' in text(missing)
    client.post("/agent/foyers/nouveau", data={**data, "organisation_id": str(orme.id)})
    assert db.scalar(select(Household.organisation_id).where(Household.name == "Durand")) == orme.id


def test_the_agent_imports_into_the_chosen_commune(client, auth, agent, towns, db):
    _, _, pre = towns
    auth.sign_in(agent.email)
    upload = {"file": (io.BytesIO(GOOD.encode()), "familles.csv")}
    missing = client.post("/agent/foyers/import", data=upload, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choisissez la commune" in text(missing)
    checked = client.post("/agent/foyers/import", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(GOOD.encode()), "familles.csv"), "organisation_id": str(pre.id)})
    assert checked.status_code == 200
    client.post("/agent/foyers/import/confirmation", data={"content": hidden_content(text(checked))})
    assert set(db.scalars(select(Household.organisation_id))) == {pre.id}


def test_nous_contacter_puts_the_familys_commune_first(app, client, auth, parent, agent, db, towns):
    belval, orme, pre = towns
    for town, service in ((belval, "Enfance de Belval"), (orme, "Enfance à Orme"), (pre, "Enfance de Pré")):
        town.service_name = service
    db.commit()
    created = households.create_household(db, agent, orme, name="Martin", guardian_first_name="Camille",
                                          guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=created.subscription_code), "http://localhost")

    def order(page: str) -> list[str]:
        names = ("Enfance de Belval", "Enfance à Orme", "Enfance de Pré", "Les autres communes du portail")
        return sorted((n for n in names if n in page), key=page.index)

    # A visitor sees every commune, in the order of their names.
    assert order(text(client.get("/contact"))) == ["Enfance de Belval", "Enfance à Orme", "Enfance de Pré"]
    auth.sign_in(parent.email)
    page = text(client.get("/contact"))
    assert order(page) == ["Enfance à Orme", "Les autres communes du portail", "Enfance de Belval",
                           "Enfance de Pré"]
    assert f'<h2 id="org-{orme.id}">' in page and f'<h3 id="org-{belval.id}">' in page
