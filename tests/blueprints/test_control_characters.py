"""A control character typed or pasted in any text field (a NUL byte breaks
PostgreSQL) is refused in French next to the field, and what was typed stays."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.blueprints.fields import CONTROL_MESSAGE
from citoyen.models import Account
from citoyen.models import Child
from tests.blueprints.helpers import subscribed_family
from tests.blueprints.helpers import text
from tests.conftest import fresh

SIGN_UP = {"last_name": "Martin", "first_name": "Camille", "email": "camille@example.org",
           "password": "Motdepasse1", "confirm": "Motdepasse1", "accept_terms": "y"}


@pytest.fixture
def family(db, agent, parent):
    return subscribed_family(db, agent, parent)


def error_of(response, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', text(response), re.S)
    return html.unescape(match.group(1)) if match else ""


@pytest.mark.parametrize("bad", ["Mar\x00tin", "Mar\x01tin", "Martin\x1b", "Mar\ttin", "Martin\n"])
def test_sign_up_refuses_a_control_character(client, db, bad):
    form = client.get("/inscription").get_data(as_text=True)
    started = form.split('name="started" type="hidden" value="')[1].split('"')[0]
    response = client.post("/inscription", data={**SIGN_UP, "last_name": bad, "started": started})
    assert response.status_code == 422
    assert error_of(response, "last_name") == CONTROL_MESSAGE
    assert 'value="Camille"' in text(response)
    assert fresh(db).scalar(select(func.count()).select_from(Account).where(
        Account.email == "camille@example.org")) == 0


def test_adding_a_child_refuses_a_nul_byte_and_keeps_what_was_typed(client, auth, parent, family, db):
    household, _ = family
    auth.sign_in(parent.email)
    response = client.post(f"/foyer/{household.id}/enfants/nouveau",
                           data={"first_name": "Léo\x00", "last_name": "Martin", "birth_date": "08/03/2017",
                                 "school": "École\x00 Jaurès"})
    assert response.status_code == 422
    assert error_of(response, "first_name") == CONTROL_MESSAGE
    assert error_of(response, "school") == CONTROL_MESSAGE
    assert 'value="Martin"' in text(response)
    assert fresh(db).scalar(select(func.count()).select_from(Child)) == 1


def test_a_pickup_refuses_a_control_character(client, auth, parent, family):
    household, child = family
    auth.sign_in(parent.email)
    response = client.post(f"/foyer/{household.id}/enfants/{child.id}/personnes/nouvelle",
                           data={"last_name": "Roux", "first_name": "Jeanne", "relation": "tante\x07",
                                 "phone": "06 12 34 56 78"})
    assert response.status_code == 422
    assert error_of(response, "relation") == CONTROL_MESSAGE
    assert 'value="Jeanne"' in text(response)


def test_the_household_code_refuses_a_nul_byte(client, auth, parent):
    auth.sign_in(parent.email)
    response = client.post("/abonnements/code", data={"code-code": "AAAA\x00BBBB"})
    assert response.status_code == 422
    assert error_of(response, "code-code") == CONTROL_MESSAGE


def test_a_multi_line_field_keeps_its_line_breaks_but_not_a_nul_byte(app):
    from werkzeug.datastructures import MultiDict
    from wtforms import TextAreaField

    from citoyen.blueprints.fields import Form

    class Note(Form):
        class Meta:
            csrf = False

        note = TextAreaField("Note")

    with app.test_request_context():
        assert Note(MultiDict({"note": "ligne 1\r\n\tligne 2"})).validate()
        form = Note(MultiDict({"note": "ligne 1\x00"}))
        assert not form.validate() and form.note.errors == [CONTROL_MESSAGE]
