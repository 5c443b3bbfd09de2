"""The portal's form fields: WTForms' own checks speak French, and a closed
list refuses, in French, a value it does not offer."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import Length
from wtforms.validators import Optional

from citoyen.blueprints.fields import Checkboxes
from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import ListChoice
from citoyen.blueprints.fields import Subform


def number(value):
    return int(value) if str(value).isdigit() else None


class Sample(Form):
    class Meta:
        csrf = False

    name = StringField("Nom", validators=[Length(max=5)])
    short = StringField("Code", validators=[Optional(), Length(min=3, max=3)])
    count = IntegerField("Nombre")
    kind = SelectField("Genre", choices=[SelectChoice("a", "A")])
    child = ListChoice("Enfant", coerce=number, choices=[SelectChoice("", "Choisissez…"), SelectChoice(1, "Léo")],
                       message="Choisissez un enfant de la liste.")
    days = Checkboxes("Jours", coerce=number, choices=[SelectChoice(0, "Lundi")], message="Choisissez des jours.")
    hours = Checkboxes("Heures", coerce=int, choices=[SelectChoice(8, "8 h")])


class Line(Subform):
    name = StringField("Nom", validators=[Length(max=2)])


def errors(app, data: dict) -> dict:
    with app.test_request_context("/", method="POST"):
        form = Sample(MultiDict(data))
        form.validate()
        return form.errors


def test_wtforms_own_messages_are_in_french(app):
    found = errors(app, {"name": "abcdefgh", "short": "ab", "count": "deux", "kind": "z", "child": "1"})
    assert found == {
        "name": ["Ce champ ne doit pas dépasser 5 caractères."],
        "short": ["Ce champ doit compter exactement 3 caractères."],
        "count": ["Indiquez un nombre entier."],
        "kind": ["Choisissez dans la liste."],
    }
    line = Line(MultiDict({"name": "abc"}))
    assert not line.validate() and line.errors == {"name": ["Ce champ ne doit pas dépasser 2 caractères."]}


@pytest.mark.parametrize("sent, refused", [
    ({"child": "1", "days": ["0"]}, {}),
    ({"child": ""}, {}),  # empty: left to the field's « required »
    ({"child": "2"}, {"child": ["Choisissez un enfant de la liste."]}),
    ({"child": "abc"}, {"child": ["Choisissez un enfant de la liste."]}),
    ({"child": " "}, {"child": ["Choisissez un enfant de la liste."]}),  # blanks are not an empty choice
    ({"child": "\t\r\n"}, {"child": ["Choisissez un enfant de la liste."]}),
    ({"days": ["0", "7"]}, {"days": ["Choisissez des jours."]}),
    ({"days": ["lundi"]}, {"days": ["Choisissez des jours."]}),
    ({"hours": ["huit"]}, {"hours": ["Choisissez dans la liste."]}),  # WTForms' own refusal, in French
])
def test_a_closed_list_refuses_what_it_does_not_offer(app, sent, refused):
    found = errors(app, {"kind": "a", **sent})
    assert found == refused
