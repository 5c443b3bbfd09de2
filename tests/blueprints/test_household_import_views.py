"""Importer des foyers in Espace agent: check the file, then import it."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

import citoyen.blueprints.agent.imports  # noqa: F401  (routes added before create_app registers bp)
from citoyen.models import AuditEntry
from citoyen.models import Child
from citoyen.models import Household
from tests import factories
from tests.blueprints.helpers import text
from tests.conftest import fresh
from tests.services.test_household_import import GOOD

URL = "/agent/foyers/import"
CONFIRM_URL = "/agent/foyers/import/confirmation"


@pytest.fixture
def town(db):
    return factories.organisation(db)


def upload(client, data: bytes, name: str = "familles.csv", **extra):
    return client.post(
        URL, data={"file": (io.BytesIO(data), name), **extra}, content_type="multipart/form-data"
    )


def hidden_content(body: str) -> str:
    match = (
        re.search(r'name="content" type="hidden" value="([^"]+)"', body)
        or re.search(r'type="hidden" name="content" value="([^"]+)"', body)
        or re.search(r'id="content" name="content" type="hidden" value="([^"]+)"', body)
    )
    assert match, body
    return match.group(1)


def households_count(db) -> int:
    return fresh(db).scalar(select(func.count()).select_from(Household))


def test_the_page_explains_the_format_next_to_the_file_field(client, auth, agent, town):
    auth.sign_in(agent.email)
    body = text(client.get(URL))
    assert body.count("<h1") == 1 and "Importer des foyers" in body
    assert '<label for="file">Fichier des familles' in body
    assert 'aria-describedby="file-hint"' in body
    assert "Fichier CSV (séparateur point-virgule), encodé en UTF-8, une ligne par enfant" in body
    assert 'enctype="multipart/form-data"' in body and "Vérifier le fichier" in body
    assert 'method="post"' in body and "hx-" not in body.split("<main")[-1].split("</main>")[0]


def test_check_then_import_with_plain_form_posts(client, auth, agent, town, db):
    auth.sign_in(agent.email)
    response = upload(client, GOOD.encode())
    assert response.status_code == 200
    body = text(response)
    assert "Rien n'est encore enregistré" in body
    assert "3 foyers, 4 responsables, 3 enfants" in body
    assert "<caption>Foyers qui seront créés (3)</caption>" in body
    assert '<th scope="col">Responsables</th>' in body and "Alex Dupont" in body
    assert "Léo Martin, né(e) le 08/03/2017" in body
    assert households_count(db) == 0
    token = hidden_content(body)
    response = client.post(CONFIRM_URL, data={"content": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/agent/foyers"
    assert "Import terminé : 3 foyers, 4 responsables, 3 enfants créés." in text(
        client.get("/agent/foyers")
    )
    assert households_count(db) == 3
    assert db.scalar(select(func.count()).select_from(Child)) == 3
    assert db.scalar(select(AuditEntry.details).where(AuditEntry.action == "household.import")) == (
        "3 foyers, 4 responsables, 3 enfants importés depuis « familles.csv »."
    )

    # The same confirmation posted again (double click, back button) creates nothing.
    response = client.post(CONFIRM_URL, data={"content": token})
    assert response.status_code == 422
    assert "Aucun foyer n'est à créer" in text(response)
    assert households_count(db) == 3


def test_refused_lines_are_listed_with_their_number_and_reason(client, auth, agent, town):
    auth.sign_in(agent.email)
    data = GOOD + "\n;Petit;;;4599;;Petit;Anne;;;;;;;"
    body = text(upload(client, data.encode()))
    assert "<caption>Lignes refusées (1)</caption>" in body
    assert '<th scope="row">7</th><td>Le code postal « 4599 » doit compter 5 chiffres.</td>' in body
    assert "Les lignes refusées ne sont pas importées" in body and ">Importer</button>" in body


def test_a_file_with_nothing_to_create_offers_no_import(client, auth, agent, town):
    auth.sign_in(agent.email)
    body = text(upload(client, b"nom_foyer;responsable_nom;responsable_prenom\n;Martin;Camille\n"))
    assert "Aucun foyer ne peut être créé" in body and ">Importer</button>" not in body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"nom_foyer;adresse\nMartin;1 rue\n", "Il manque les colonnes « responsable_nom »"),
        (b"", "Le fichier est vide."),
        (b"PK\x03\x04\x14\x00binary", "pas un fichier CSV"),
        (b"x" * (2 * 1024 * 1024 + 1), "dépasse 2 Mo"),
    ],
)
def test_a_refused_file_is_explained_next_to_the_field(
    client, auth, agent, town, db, data, message
):
    auth.sign_in(agent.email)
    response = upload(client, data)
    assert response.status_code == 422
    body = text(response)
    assert 'id="file-error"' in body and message in body
    assert households_count(db) == 0


def test_no_file_chosen(client, auth, agent, town):
    auth.sign_in(agent.email)
    response = client.post(URL, data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choisissez le fichier CSV à vérifier." in text(response)


def test_a_request_over_the_app_limit_is_refused_in_french(client, auth, agent, town):
    auth.sign_in(agent.email)
    response = upload(client, b"x" * (3 * 1024 * 1024))
    assert response.status_code == 413
    assert "Fichier trop volumineux" in text(response)


def test_an_altered_or_foreign_confirmation_is_refused(client, auth, agent, town, db, make_account):
    auth.sign_in(agent.email)
    token = hidden_content(text(upload(client, GOOD.encode())))
    for bad in ("", "abc", token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")):
        response = client.post(CONFIRM_URL, data={"content": bad})
        assert response.status_code == 422
        assert "La vérification a expiré ou n'est plus valable" in text(response)
    other = make_account(email="autre.agent@example.org", role="agent")
    auth.sign_out()
    auth.sign_in(other.email)
    response = client.post(CONFIRM_URL, data={"content": token})
    assert response.status_code == 422
    assert households_count(db) == 0


def test_a_parent_is_refused_both_routes(client, auth, parent, town, db):
    auth.sign_in(parent.email)
    assert client.get(URL).status_code == 403
    assert upload(client, GOOD.encode()).status_code == 403
    assert client.post(CONFIRM_URL, data={"content": "x"}).status_code == 403
    assert households_count(db) == 0


def test_the_csrf_token_is_required(client, app, auth, agent, town, db):
    auth.sign_in(agent.email)
    token = hidden_content(text(upload(client, GOOD.encode())))
    app.config["WTF_CSRF_ENABLED"] = True
    response = upload(client, GOOD.encode())
    assert response.status_code == 400 and "Le formulaire a expiré" in text(response)
    response = client.post(CONFIRM_URL, data={"content": token})
    assert response.status_code == 400
    assert households_count(db) == 0
    # With the token of the page, the same posts work.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', text(client.get(URL))).group(1)
    body = text(upload(client, GOOD.encode(), csrf_token=csrf))
    assert "Rien n'est encore enregistré" in body
    response = client.post(CONFIRM_URL, data={"content": hidden_content(body), "csrf_token": csrf})
    assert response.status_code == 303
    assert households_count(db) == 3
