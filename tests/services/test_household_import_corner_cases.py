"""Import of households: a stale dry run, the commune the households go into,
the age of the children, and the wording of the dry run's report."""

from __future__ import annotations

import base64
import io
import re
import zlib
from datetime import date
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

import citoyen.blueprints.agent.imports  # noqa: F401  (routes added before create_app registers bp)
from citoyen.blueprints.agent import imports
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.services import household_import
from citoyen.services import households
from citoyen.services.errors import DomainError
from citoyen.services.household_import import FileRefused
from citoyen.timefmt import commune_today
from tests import factories
from tests.blueprints.helpers import text
from tests.conftest import fresh

URL = "/agent/foyers/import"
CONFIRM_URL = "/agent/foyers/import/confirmation"
NAMES = "nom_foyer;responsable_nom;responsable_prenom"
CAMILLE_AND_ALEX = f"{NAMES}\nMartin;Martin;Camille\nMartin;Martin;Alex\n".encode()
BELVAL = (
    b"nom_foyer;code_postal;commune;responsable_nom;responsable_prenom\n"
    b"Benali;45990;Belval;Benali;Karim\n"
)
CHILD_HEADER = f"{NAMES};enfant_nom;enfant_prenom;enfant_naissance"
COMMUNE_TODAY = date(2026, 6, 15)


@pytest.fixture
def town(db):
    return factories.organisation(db)


def upload(client, data: bytes, name: str = "familles.csv", **extra):
    return client.post(
        URL, data={"file": (io.BytesIO(data), name), **extra}, content_type="multipart/form-data"
    )


def confirmation(body: str) -> dict[str, str]:
    """The hidden fields of the « Importer » form, as the browser posts them."""
    form = body[body.index('id="confirm-import-form"') :].split("</form>")[0]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
    fields.update(
        (name, value)
        for value, name in re.findall(r'<input[^>]*value="([^"]*)"[^>]*name="([^"]+)"', form)
    )
    fields.pop("csrf_token", None)
    assert "content" in fields, form
    return fields


def selected_commune(body: str) -> str | None:
    """The commune chosen in the page's « Commune » list, if any."""
    select_html = body[body.index('<select id="organisation_id"') :].split("</select>")[0]
    match = re.search(r'<option selected value="([^"]*)">', select_html)
    return match.group(1) if match else None


def report_part(body: str) -> str:
    return body[body.index('id="report-title"') : body.index("</section>")]


def rename_guardian(db, guardian_id: int, first_name: str) -> None:
    """What another agent does meanwhile: correct a guardian's first name."""
    session = fresh(db)
    session.get(Guardian, guardian_id).first_name = first_name
    session.commit()


def households_count(db) -> int:
    return fresh(db).scalar(select(func.count()).select_from(Household))


# ---------------------------------------------------------------- 1. a stale dry run


def test_the_import_creates_nothing_when_a_household_differs_from_the_dry_run(db, agent, town):
    existing = households.create_household(
        db, agent, town, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin"
    )
    report = household_import.check(db, agent, town, CAMILLE_AND_ALEX)
    assert [g.full_name for h in report.households for g in h.guardians] == ["Alex Martin"]
    fingerprint = report.fingerprint()
    rename_guardian(db, existing.guardians[0].id, "Alex")

    # Still one household to create, but Camille's instead of Alex's: nothing is created.
    again = household_import.check(db, agent, town, CAMILLE_AND_ALEX)
    assert [g.full_name for h in again.households for g in h.guardians] == ["Camille Martin"]
    with pytest.raises(FileRefused, match="ont changé depuis la vérification") as refusal:
        household_import.run(db, agent, town, CAMILLE_AND_ALEX, expected_fingerprint=fingerprint)
    assert refusal.value.field == "file"
    assert "rien n'a été importé" in refusal.value.message
    assert households_count(db) == 1

    # Checked again, the file imports what the new dry run shows.
    report = household_import.run(
        db, agent, town, CAMILLE_AND_ALEX, expected_fingerprint=again.fingerprint()
    )
    assert [g.full_name for h in report.created for g in h.guardians] == ["Camille Martin"]
    assert households_count(db) == 2


@pytest.mark.parametrize(
    "changed",
    [
        "F7;Martin;1 rue A;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léo;08/03/2017;;",
        "F8;Martin;1 rue A;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léo;08/03/2017;;CP",
        "F8;Martin;1 rue B;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léo;08/03/2017;;",
        "F8;Martin;1 rue A;;45990;Belval;Martin;Lou;lo@example.org;;Martin;Léo;08/03/2017;;",
        "F8;Martin;1 rue A;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léa;08/03/2017;;",
        "F8;Martin;1 rue A;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léo;09/03/2017;;",
        "F8;Martine;1 rue A;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léo;08/03/2017;;",
    ],
)
def test_the_fingerprint_tells_any_listed_difference(db, agent, town, changed):
    header = (
        "identifiant_famille;nom_foyer;adresse;complement_adresse;code_postal;commune;"
        "responsable_nom;responsable_prenom;responsable_email;responsable_telephone;"
        "enfant_nom;enfant_prenom;enfant_naissance;enfant_ecole;enfant_classe"
    )
    line = "F8;Martin;1 rue A;;45990;Belval;Martin;Lou;lou@example.org;;Martin;Léo;08/03/2017;;"
    first = household_import.check(db, agent, town, f"{header}\n{line}".encode())
    same = household_import.check(db, agent, town, f"{header}\n{line}".encode())
    other = household_import.check(db, agent, town, f"{header}\n{changed}".encode())
    assert first.fingerprint() == same.fingerprint()
    assert first.fingerprint() != other.fingerprint()


def test_a_stale_confirmation_is_refused_in_french_with_the_commune_kept(
    client, auth, agent, db
):
    factories.organisation(db, name="Ville A", slug="a", postcodes="99999")
    town = factories.organisation(db, name="Ville B", slug="b", postcodes="45990")
    existing = households.create_household(
        db, agent, town, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin"
    )
    guardian_id = existing.guardians[0].id
    auth.sign_in(agent.email)
    body = text(upload(client, CAMILLE_AND_ALEX, organisation_id=str(town.id)))
    planned = body.split('id="planned-households"')[1]
    assert "Alex Martin" in planned and "Camille Martin" not in planned
    rename_guardian(db, guardian_id, "Alex")

    response = client.post(CONFIRM_URL, data=confirmation(body))
    assert response.status_code == 422
    page = text(response)
    assert "Les foyers à créer ont changé depuis la vérification" in page
    assert "Vérifiez à nouveau le fichier avant de l'importer." in page
    assert selected_commune(page) == str(town.id)
    assert households_count(db) == 1


def test_a_confirmation_without_the_fingerprint_is_not_valid(client, app, auth, agent, town, db):
    """A confirmation signed before the fingerprint existed only counted the households."""
    auth.sign_in(agent.email)
    packed = base64.b64encode(zlib.compress(CAMILLE_AND_ALEX)).decode("ascii")
    with app.app_context():
        token = imports._serializer().dumps(
            {"a": agent.id, "o": town.id, "f": "f.csv", "n": 2, "d": packed}
        )
    response = client.post(CONFIRM_URL, data={"content": token})
    assert response.status_code == 422
    assert "La vérification a expiré ou n'est plus valable" in text(response)
    assert households_count(db) == 0


# ---------------------------------------------------------------- 2. the commune


def test_households_outside_the_communes_postcodes_are_flagged_not_refused(db, agent):
    town = factories.organisation(db, name="Ville A", slug="a", postcodes="99999 99998")
    data = (
        "nom_foyer;code_postal;commune;responsable_nom;responsable_prenom\n"
        "Benali;45990;Belval;Benali;Karim\n"
        "Durand;99998;Ville A;Durand;Zoé\n"
        "Petit;;;Petit;Anne\n"
    ).encode()
    report = household_import.check(db, agent, town, data)
    assert report.organisation_name == "Ville A"
    assert report.organisation_postcodes == ["99999", "99998"]
    assert report.refused == []
    assert [h.name for h in report.elsewhere] == ["Benali"]
    assert not report.none_in_commune
    created = household_import.run(db, agent, town, data, expected_fingerprint=report.fingerprint())
    assert [h.postcode for h in created.created] == ["45990", "99998", ""]


def test_a_file_of_another_commune_is_said_to_be_so(db, agent):
    town = factories.organisation(db, name="Ville A", slug="a", postcodes="99999")
    report = household_import.check(db, agent, town, BELVAL)
    assert [h.name for h in report.elsewhere] == ["Benali"] and report.none_in_commune


def test_a_commune_without_postcodes_flags_nothing(db, agent):
    town = factories.organisation(db, name="Ville A", slug="a", postcodes="")
    report = household_import.check(db, agent, town, BELVAL)
    assert report.elsewhere == [] and not report.none_in_commune


def test_the_report_names_the_commune_and_the_postcodes_to_check(client, auth, agent, db):
    chosen = factories.organisation(db, name="Ville A", slug="a", postcodes="99999")
    factories.organisation(db, name="Ville B", slug="b", postcodes="45990")
    auth.sign_in(agent.email)
    body = text(upload(client, BELVAL, organisation_id=str(chosen.id)))
    report = report_part(body)
    assert "Commune des foyers importés : <strong>Ville A</strong> (code postal 99999)." in report
    assert "Ville B" not in report
    warnings = report.split('id="postcode-warnings"')[1]
    assert "un foyer a un code postal qui n'est pas celui de Ville A" in warnings
    assert "Aucun code postal du fichier n'est celui de cette commune" in warnings
    assert "il est créé dans Ville A" in warnings
    assert "choisissez la bonne commune ci-dessous et vérifiez à nouveau le fichier" in warnings
    assert "45990 Belval" in warnings
    assert "L'import crée le foyer ci-dessous dans Ville A" in report
    assert selected_commune(body) == str(chosen.id)


def test_a_refused_confirmation_keeps_the_chosen_commune(client, auth, agent, db, monkeypatch):
    factories.organisation(db, name="Ville A", slug="a", postcodes="99999")
    chosen = factories.organisation(db, name="Ville B", slug="b", postcodes="45990")
    auth.sign_in(agent.email)
    body = text(upload(client, BELVAL, organisation_id=str(chosen.id)))
    assert selected_commune(body) == str(chosen.id)
    fields = confirmation(body)

    monkeypatch.setattr(imports, "MAX_AGE", -1)  # expired
    response = client.post(CONFIRM_URL, data=fields)
    assert response.status_code == 422
    page = text(response)
    assert "La vérification a expiré" in page
    assert selected_commune(page) == str(chosen.id)

    response = client.post(CONFIRM_URL, data={**fields, "content": "altered"})
    assert response.status_code == 422
    assert selected_commune(text(response)) == str(chosen.id)
    assert households_count(db) == 0


# ---------------------------------------------------------------- 3. the age of the children


def earliest_birth_date(today: date) -> date:
    """The earliest birth date « Ajouter un enfant » accepts on ``today``."""
    day = today
    while True:
        try:
            households.check_birth_date(day - timedelta(days=1), today)
        except DomainError:
            return day
        day -= timedelta(days=1)


def test_children_are_checked_like_ajouter_un_enfant_on_the_communes_today(
    db, agent, town, monkeypatch
):
    monkeypatch.setattr(household_import, "commune_today", lambda: COMMUNE_TODAY)
    oldest = earliest_birth_date(COMMUNE_TODAY)
    assert oldest == date(2001, 6, 15)
    lines = [
        f"Vieux;Vieux;Paul;Vieux;Jean;{oldest - timedelta(days=1):%d/%m/%Y}",  # 2
        f"Grand;Grand;Paul;Grand;Jean;{oldest:%d/%m/%Y}",  # 3
        f"Neuf;Neuf;Paul;Neuf;Jean;{COMMUNE_TODAY:%d/%m/%Y}",  # 4
        f"Futur;Futur;Paul;Futur;Jean;{COMMUNE_TODAY + timedelta(days=1):%d/%m/%Y}",  # 5
    ]
    report = household_import.check(db, agent, town, "\n".join([CHILD_HEADER, *lines]).encode())
    reasons = {line.number: line.reason for line in report.refused}
    assert sorted(reasons) == [2, 5]
    assert reasons[2] == (
        "Vérifiez l'année de naissance : 14/06/2001 (un enfant inscrit a moins de 25 ans)."
    )
    assert reasons[5] == "La date de naissance 16/06/2026 est dans le futur."
    assert [h.name for h in report.households] == ["Grand", "Neuf"]


def test_a_child_of_25_is_refused_even_when_born_in_the_year_allowed(db, agent, town):
    today = commune_today()
    too_old = earliest_birth_date(today) - timedelta(days=1)
    with pytest.raises(DomainError):
        households.check_birth_date(too_old, today)
    data = f"{CHILD_HEADER}\nVieux;Vieux;Paul;Vieux;Jean;{too_old:%d/%m/%Y}\n".encode()
    report = household_import.check(db, agent, town, data)
    assert report.households == []
    assert "Vérifiez l'année de naissance" in report.refused[0].reason


@pytest.mark.parametrize("today", [date(2028, 2, 29), date(2027, 3, 1), date(2027, 1, 1)])
def test_the_import_and_ajouter_un_enfant_agree(db, agent, town, monkeypatch, today):
    monkeypatch.setattr(household_import, "commune_today", lambda: today)
    oldest = earliest_birth_date(today)
    days = [oldest - timedelta(days=2), oldest - timedelta(days=1), oldest, oldest + timedelta(1)]
    lines = [f"F{i};F{i};Paul;F{i};Jean;{day:%d/%m/%Y}" for i, day in enumerate(days)]
    report = household_import.check(db, agent, town, "\n".join([CHILD_HEADER, *lines]).encode())
    assert [h.name for h in report.households] == ["F2", "F3"]


# ---------------------------------------------------------------- 4. wording


def test_one_household_is_said_in_the_singular(client, auth, agent, town):
    auth.sign_in(agent.email)
    report = report_part(text(upload(client, f"{NAMES}\nDurand;Durand;Zoé\n".encode())))
    assert "L'import crée le foyer ci-dessous dans Ville de Testville, avec un code abonné." in report
    assert "les 1 foyer" not in report


def test_several_households_are_said_in_the_plural(client, auth, agent, town):
    auth.sign_in(agent.email)
    data = f"{NAMES}\nDurand;Durand;Zoé\nPetit;Petit;Anne\n".encode()
    report = report_part(text(upload(client, data)))
    assert "L'import crée les 2 foyers ci-dessous dans Ville de Testville en une seule fois" in report


@pytest.mark.parametrize(
    ("street", "more", "postcode", "city", "shown"),
    [
        ("", "", "45990", "Belval", "45990 Belval"),
        ("", "", "", "Belval", "Belval"),
        ("", "Bât. B", "", "", "Bât. B"),
        ("3 rue des Lilas", "", "", "", "3 rue des Lilas"),
        ("3 rue des Lilas", "Bât. B", "45990", "Belval", "3 rue des Lilas, Bât. B, 45990 Belval"),
        ("", "", "", "", ""),
    ],
)
def test_the_address_has_no_stray_comma(db, agent, street, more, postcode, city, shown):
    town = factories.organisation(db, postcodes="45990")
    data = (
        "nom_foyer;adresse;complement_adresse;code_postal;commune;responsable_nom;"
        f"responsable_prenom\nDurand;{street};{more};{postcode};{city};Durand;Zoé\n"
    ).encode()
    assert household_import.check(db, agent, town, data).households[0].address == shown


def test_the_report_shows_the_address_without_a_leading_comma(client, auth, agent, db):
    factories.organisation(db, postcodes="45990")
    auth.sign_in(agent.email)
    planned = text(upload(client, BELVAL)).split('id="planned-households"')[1]
    assert "<td>45990 Belval</td>" in planned
    assert ", 45990" not in planned
