"""Properties of the password rule and of e-mail addresses, checked with hypothesis."""

from __future__ import annotations

import itertools
import re
import string

import pytest
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from citoyen import passwords
from citoyen.services import accounts
from tests.services.helpers import BASE_URL
from tests.services.helpers import PASSWORD

# No example database: nothing is written outside tests/services.
FAST = settings(max_examples=100, deadline=None, database=None)
WITH_DB = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Letters with and without accents, ASCII digits, punctuation and spaces. Unicode
# digits are left out: the browser's pattern (\d in JavaScript) only knows 0-9.
PASSWORD_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " éÉàÀçÇœŒ"
password_text = st.text(alphabet=PASSWORD_ALPHABET, max_size=140)


def follows_the_rule(password: str) -> bool:
    """The rule as the sign-up page states it."""
    return (
        8 <= len(password) <= 128
        and any(c in string.ascii_uppercase for c in password)
        and any(c in string.ascii_lowercase for c in password)
        and any(c in string.digits for c in password)
    )


@FAST
@given(password_text)
@example("Motdepa1")  # exactly 8
@example("Motdepa")  # 7
@example("Aa1" + "x" * 125)  # exactly 128
@example("Aa1" + "x" * 126)  # 129
@example("ÉCOLEécole1")  # accented capitals are not "une majuscule"
def test_rule_problem_is_none_exactly_when_the_rule_is_followed(password):
    assert (passwords.rule_problem(password) is None) == follows_the_rule(password)


@FAST
@given(password_text)
def test_rule_problem_names_each_missing_criterion(password):
    problem = passwords.rule_problem(password)
    if len(password) > 128:
        assert problem == "Le mot de passe ne doit pas dépasser 128 caractères."
        return
    expected = {
        "8 caractères": len(password) < 8,
        "une majuscule": not re.search("[A-Z]", password),
        "une minuscule": not re.search("[a-z]", password),
        "un chiffre": not re.search("[0-9]", password),
    }
    if not any(expected.values()):
        assert problem is None
        return
    assert problem.startswith("Le mot de passe doit contenir au moins ")
    for words, missing in expected.items():
        assert (words in problem) == missing


@FAST
@given(st.text(alphabet=PASSWORD_ALPHABET, max_size=128))
def test_the_server_rule_agrees_with_the_browser_pattern(password):
    browser_accepts = re.fullmatch(passwords.HTML_PATTERN, password) is not None

    assert (passwords.rule_problem(password) is None) == browser_accepts


# ---------------------------------------------------------------- addresses

label = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)
local_part = st.lists(label, min_size=1, max_size=3).map(".".join)
domain = st.tuples(
    st.lists(label, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["fr", "org", "com", "net", "FR", "Org"]),
).map(".".join)
address = st.tuples(local_part, domain).map("@".join)


def recase(text: str, data) -> str:
    """The same text with the case of each letter drawn at random."""
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@FAST
@given(address)
def test_normalise_email_is_idempotent(raw):
    once = accounts.normalise_email(raw)

    assert accounts.normalise_email(once) == once


@FAST
@given(address)
def test_normalise_email_gives_a_lower_case_address(raw):
    normalised = accounts.normalise_email(raw)

    assert normalised == normalised.lower()
    assert normalised == raw.lower()


@FAST
@given(address, st.data())
def test_normalise_email_ignores_case(raw, data):
    assert accounts.normalise_email(recase(raw, data)) == accounts.normalise_email(raw)


@FAST
@given(address, st.text(alphabet=" \t", max_size=3), st.text(alphabet=" \t\n", max_size=3))
def test_normalise_email_ignores_surrounding_spaces(raw, before, after):
    assert accounts.normalise_email(before + raw + after) == accounts.normalise_email(raw)


# ---------------------------------------------------------------- with the database

_unique = itertools.count()


@WITH_DB
@given(st.data())
def test_an_address_registered_in_any_case_is_found_in_any_other_case(app, db, data):
    # Every example uses a new address: the database is shared by the examples.
    base = f"famille{next(_unique)}.{data.draw(label)}@{data.draw(domain)}"
    registered_as = recase(base, data)
    searched_as = recase(base, data)
    account = accounts.register(
        db,
        app.config,
        first_name="Camille",
        last_name="Martin",
        email=registered_as,
        password=PASSWORD,
        base_url=BASE_URL,
    )

    assert account.email == base.lower()
    assert accounts.find_by_email(db, searched_as).id == account.id
    with pytest.raises(accounts.EmailTaken):
        accounts.register(
            db,
            app.config,
            first_name="Autre",
            last_name="Personne",
            email=recase(base, data),
            password=PASSWORD,
            base_url=BASE_URL,
        )
