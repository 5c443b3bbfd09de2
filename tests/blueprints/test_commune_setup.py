"""A new portal gets its commune: an administrator adds it in the back office
(or the town's IT from the server's command line), then renames it or changes
its postcodes; families find it by postcode from then on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Household
from citoyen.models import Organisation
from citoyen.services import households
from citoyen.services import organisations
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from tests import factories
from tests.blueprints.helpers import text
from tests.conftest import fresh

NEW = {"name": "Ville de Saint-Jean-de-Braye", "postcodes": "45800", "school_zone": "B"}


def _communes(db) -> list[tuple[str, str, str, str]]:
    fresh(db)
    return [tuple(row) for row in db.execute(
        select(Organisation.name, Organisation.slug, Organisation.postcodes, Organisation.school_zone)
        .order_by(Organisation.id))]


def test_an_administrator_adds_the_first_commune_and_families_find_it(db, client, auth, admin):
    auth.sign_in(admin.email)
    home = text(client.get("/agent/"))
    assert "Aucune commune n'est encore ajoutée" in home
    assert 'href="/agent/communes/nouvelle"' in home
    form = text(client.get("/agent/communes/nouvelle"))
    assert 'for="postcodes"' in form and "Zone de vacances scolaires" in form
    response = client.post("/agent/communes/nouvelle",
                           data={**NEW, "postcodes": " 45800, 45800 ;45801 "})
    assert response.status_code == 303
    assert _communes(db) == [("Ville de Saint-Jean-de-Braye", "ville-de-saint-jean-de-braye",
                              "45800 45801", "B")]
    created = db.scalar(select(Organisation))
    assert response.headers["Location"] == f"/agent/communes/{created.id}"
    page = text(client.get(response.headers["Location"]))
    assert "La commune « Ville de Saint-Jean-de-Braye » est ajoutée." in page
    assert "ville-de-saint-jean-de-braye" in page
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.create"))
    assert entry.actor_id == admin.id and entry.target_id == created.id
    assert "45800 45801" in entry.details
    # The journal names it in French.
    assert "Commune ajoutée" in text(client.get("/agent/journal"))
    # A family typing the postcode finds it.
    assert [o.id for o in organisations.for_postcode(db, "45801")] == [created.id]
    assert "Aucune commune n'est encore ajoutée" not in text(client.get("/agent/"))


@pytest.mark.parametrize("field, data, message", [
    ("name", {**NEW, "name": "   "}, "Indiquez le nom de la commune"),
    ("name", {**NEW, "name": "— !"}, "Indiquez le nom de la commune en lettres"),
    ("name", {**NEW, "name": "Ville\x07 de X"}, "Ce champ contient un caractère non autorisé."),
    ("postcodes", {**NEW, "postcodes": ""}, "Indiquez au moins un code postal"),
    ("postcodes", {**NEW, "postcodes": "45800 4580"}, "« 4580 » n'est pas un code postal"),
    ("postcodes", {**NEW, "postcodes": "٤٥٨٠٠"}, "n'est pas un code postal"),
    ("school_zone", {**NEW, "school_zone": ""}, "Choisissez la zone de vacances scolaires"),
    ("school_zone", {**NEW, "school_zone": "Z"}, "Choisissez la zone de vacances scolaires"),
])
def test_a_commune_with_bad_input_is_not_added_and_keeps_what_was_typed(db, client, auth, admin,
                                                                        field, data, message):
    auth.sign_in(admin.email)
    response = client.post("/agent/communes/nouvelle", data=data)
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert 'aria-invalid="true"' in page
    if field != "name":
        assert 'value="Ville de Saint-Jean-de-Braye"' in page
    assert _communes(db) == []


def test_two_communes_cannot_share_a_name_but_may_share_a_postcode(db, client, auth, admin):
    factories.organisation(db, name="Orme", slug="orme", postcodes="45100")
    auth.sign_in(admin.email)
    same = client.post("/agent/communes/nouvelle", data={**NEW, "name": "ORME", "postcodes": "45101"})
    assert same.status_code == 422
    assert "Une commune de ce portail porte déjà ce nom." in text(same)
    assert client.post("/agent/communes/nouvelle",
                       data={**NEW, "name": "Pré-le-Bourg", "postcodes": "45100"}).status_code == 303
    assert [o.name for o in organisations.for_postcode(db, "45100")] == ["Orme", "Pré-le-Bourg"]


def test_names_that_read_the_same_are_the_same_name(db, admin):
    organisations.create(db, admin, "Ville d'Étampes", "91150", "C")
    for same in ("VILLE D'ÉTAMPES", "ville d'étampes", "Ville d'E\u0301tampes", "  Ville   d'Étampes "):
        with pytest.raises(DomainError) as refused:
            organisations.create(db, admin, same, "91150", "C")
        assert refused.value.field == "name", same
        db.rollback()
    other = organisations.create(db, admin, "Étréchy", "91580", "C")
    with pytest.raises(DomainError):
        organisations.update_identity(db, admin, other, "VILLE D'E\u0301TAMPES", "91580")
    db.rollback()
    # Its own name, in other capitals, is not another's.
    organisations.update_identity(db, admin, other, "ÉTRÉCHY", "91580")
    assert [row[0] for row in _communes(db)] == ["Ville d'Étampes", "ÉTRÉCHY"]


def test_a_long_list_of_postcodes_pasted_with_commas_fits(db, client, auth, admin):
    codes = [f"45{n:03}" for n in range(33)]
    auth.sign_in(admin.email)
    assert client.post("/agent/communes/nouvelle",
                       data={**NEW, "postcodes": ", ".join(codes)}).status_code == 303
    assert _communes(db)[0][2] == " ".join(codes)
    too_many = client.post("/agent/communes/nouvelle",
                           data={**NEW, "name": "Autre", "postcodes": " ".join(codes + ["46000"])})
    assert too_many.status_code == 422
    assert "Indiquez au plus 33 codes postaux." in text(too_many)


def test_identifiers_made_from_names_stay_unique(db, admin):
    factories.organisation(db, name="Ancienne", slug="orme", postcodes="45100")
    made = organisations.create(db, admin, "Orme", "45100", "b")
    assert (made.slug, made.school_zone) == ("orme-2", "B")
    with pytest.raises(DomainError) as refused:
        organisations.create(db, admin, "Autre", "45100", "B", slug="orme")
    assert refused.value.field == "slug"
    with pytest.raises(DomainError) as refused:
        organisations.create(db, admin, "Autre", "45100", "B", slug="Pas Bon")
    assert refused.value.field == "slug"
    assert organisations.create(db, None, "Œuvre-sur-Mer", "45200", "C").slug == "oeuvre-sur-mer"


def test_only_an_administrator_adds_or_renames_a_commune(db, client, auth, agent):
    town = factories.organisation(db)
    with pytest.raises(Forbidden):
        organisations.create(db, agent, **{"name": "X", "postcodes": "45000", "school_zone": "A"})
    with pytest.raises(Forbidden):
        organisations.update_identity(db, agent, town, "Y", "45000")
    auth.sign_in(agent.email)
    assert client.get("/agent/communes/nouvelle").status_code == 403
    assert client.post("/agent/communes/nouvelle", data=NEW).status_code == 403
    assert client.post(f"/agent/communes/{town.id}/nom", data={"name": "Y", "postcodes": "45000"}).status_code == 403
    assert "Ajouter une commune" not in text(client.get("/agent/"))
    assert [row[0] for row in _communes(db)] == ["Ville de Testville"]


def test_an_administrator_renames_a_commune_and_changes_its_postcodes(db, client, auth, admin, agent):
    town = factories.organisation(db)
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    auth.sign_in(admin.email)
    page = text(client.get(f"/agent/communes/{town.id}"))
    assert 'value="Ville de Testville"' in page and 'value="99999"' in page
    response = client.post(f"/agent/communes/{town.id}/nom",
                           data={"name": "Ville de Testville-sur-Mer", "postcodes": "99999 99998"})
    assert response.status_code == 303
    assert "Le nom et les codes postaux sont enregistrés." in text(client.get(response.headers["Location"]))
    # The identifier, which settings refer to, does not change with the name.
    assert _communes(db) == [("Ville de Testville-sur-Mer", "testville", "99999 99998", "B")]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.identity"))
    assert entry.target_label == "Ville de Testville"
    assert "Ville de Testville → Ville de Testville-sur-Mer" in entry.details
    assert "99999 → 99999 99998" in entry.details
    # The households already in it stay in it.
    fresh(db)
    assert db.get(Household, household.id).organisation_id == town.id
    # Sent again unchanged: nothing new in the journal.
    client.post(f"/agent/communes/{town.id}/nom", data={"name": "Ville de Testville-sur-Mer",
                                                        "postcodes": "99999 99998"})
    fresh(db)
    assert len(db.scalars(select(AuditEntry).where(AuditEntry.action == "organisation.identity")).all()) == 1


def test_a_bad_rename_keeps_what_was_typed_and_changes_nothing(db, client, auth, admin, hx):
    town = factories.organisation(db)
    factories.organisation(db, name="Orme", slug="orme", postcodes="45100")
    auth.sign_in(admin.email)
    response = client.post(f"/agent/communes/{town.id}/nom", data={"name": "Orme", "postcodes": "45 000"})
    assert response.status_code == 422
    page = text(response)
    assert "Une commune de ce portail porte déjà ce nom." in page
    assert 'value="45 000"' in page
    # With htmx, only the form comes back.
    fragment = client.post(f"/agent/communes/{town.id}/nom", data={"name": "Neuve", "postcodes": "45 000"},
                           headers=hx)
    assert fragment.status_code == 422
    body = text(fragment)
    assert "« 45 » n'est pas un code postal" in body and "<html" not in body
    assert 'value="Neuve"' in body
    assert _communes(db)[0] == ("Ville de Testville", "testville", "99999", "B")
    assert client.post("/agent/communes/999999/nom", data={"name": "X", "postcodes": "45000"}).status_code == 404


def test_the_command_line_adds_a_commune(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["communes", "create", "--name", "Ville de Belval-sur-Loire",
                                 "--postcodes", "45990 45991", "--zone", "b", "--slug", "belval"])
    assert result.exit_code == 0, result.output
    assert "Commune « Ville de Belval-sur-Loire » ajoutée (identifiant : belval" in result.output
    again = runner.invoke(args=["communes", "create", "--name", "Ville de Belval-sur-Loire",
                                "--postcodes", "45990", "--zone", "B"])
    assert again.exit_code == 1
    assert "Une commune de ce portail porte déjà ce nom." in again.output
    bad = runner.invoke(args=["communes", "create", "--name", "Orme", "--postcodes", "4599", "--zone", "B"])
    assert bad.exit_code == 1 and "n'est pas un code postal" in bad.output
    assert _communes(db) == [("Ville de Belval-sur-Loire", "belval", "45990 45991", "B")]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.create"))
    assert entry.actor_id is None and entry.actor_label == "Système"


def test_public_pages_speak_of_every_commune_even_a_new_one(db, client, admin):
    factories.organisation(db, name="Orme", slug="orme", postcodes="45100")
    organisations.create(db, admin, "Pré-le-Bourg", "45100", "B")
    contact = text(client.get("/contact"))
    assert contact.count("Les coordonnées de cette commune n'ont pas encore été renseignées.") == 1
    assert "enfance@testville.example" in contact
    terms = text(client.get("/conditions-generales"))
    assert "aux familles de Orme et Pré-le-Bourg" in terms
    assert "traitées par la commune de votre foyer (Orme ou Pré-le-Bourg)" in terms
    assert "Les communes Orme et Pré-le-Bourg s'engagent" in text(client.get("/accessibilite"))
