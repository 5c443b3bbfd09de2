"""Households: creation by the town hall and « M'abonner »."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import HouseholdLink
from citoyen.models import Notification
from citoyen.services import households
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.services.households import Attempt
from tests import factories

BASE = "http://localhost"


@pytest.fixture
def town(db):
    return factories.organisation(db)


@pytest.fixture
def household(db, agent, town):
    return households.create_household(
        db, agent, town, name="Martin", guardian_first_name="Hélène", guardian_last_name="Martin-Dupré",
        guardian_email="helene@example.org", invoice_reference="f2026-001", invoice_amount="42,50",
    )


def test_a_new_household_gets_a_family_number_and_a_code(db, agent, town, household):
    assert household.family_number == "000001"
    assert len(household.subscription_code) == 14
    assert set(household.subscription_code.replace("-", "")) <= set(households.CODE_ALPHABET)
    second = households.create_household(db, agent, town, name="Benali",
                                          guardian_first_name="Karim", guardian_last_name="Benali")
    assert second.family_number == "000002"
    assert second.subscription_code != household.subscription_code
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.target_id == second.id)) == "household.create"


def test_a_parent_cannot_create_a_household(db, parent, town):
    with pytest.raises(Forbidden):
        households.create_household(db, parent, town, name="X", guardian_first_name="A",
                                    guardian_last_name="B")


@pytest.mark.parametrize(("changes", "field"), [
    ({"family_number": "000001"}, "family_number"),
    ({"postcode": "4599"}, "postcode"),
    ({"guardian_phone": "12345"}, "guardian_phone"),
    ({"guardian_email": "pas-une-adresse"}, "guardian_email"),
    ({"name": " "}, "name"),
    ({"invoice_amount": "douze"}, "invoice_amount"),
])
def test_bad_household_input_is_refused_at_the_field(db, agent, town, household, changes, field):
    values = {"name": "Autre", "guardian_first_name": "A", "guardian_last_name": "B", **changes}
    if "invoice_amount" in changes:
        values["invoice_reference"] = "F1"
    with pytest.raises(DomainError) as caught:
        households.create_household(db, agent, town, **values)
    assert caught.value.field == field
    db.rollback()
    assert len(households.search(db, agent, "")) == 1


@pytest.mark.parametrize("typed", ["{code}", "{code_lower}", " {code_spaced} "])
def test_subscribe_with_the_code_in_any_case_or_spacing(db, parent, household, typed):
    code = household.subscription_code
    value = typed.format(code=code, code_lower=code.lower(), code_spaced=code.replace("-", " "))
    found = households.subscribe(db, parent, Attempt("code", code=value), BASE)
    assert found.id == household.id
    assert households.households_of(db, parent) == [household]
    assert db.scalar(select(Notification.subject)).startswith("Votre compte est rattaché")


def test_subscribe_with_an_invoice(db, parent, household):
    found = households.subscribe(
        db, parent, Attempt("invoice", invoice_reference="F2026-001 ", invoice_amount="42.50 €"), BASE)
    assert found.id == household.id


def test_subscribe_with_the_family_number_and_names_without_accents(db, parent, household):
    found = households.subscribe(db, parent, Attempt(
        "family_number", family_number="000001", last_name="martin dupre", first_name="HELENE"), BASE)
    assert found.id == household.id


def test_wrong_attempts_say_how_many_remain_then_lock(db, parent, household):
    for remaining in (4, 3, 2, 1):
        with pytest.raises(households.WrongSubscription) as caught:
            households.subscribe(db, parent, Attempt("code", code="AAAA-BBBB-CCCC"), BASE)
        assert f"Il vous reste {remaining} essai" in caught.value.message
        assert caught.value.field == "code"
    with pytest.raises(households.SubscriptionLocked):
        households.subscribe(db, parent, Attempt("code", code="AAAA-BBBB-CCCC"), BASE)
    # Even the right code waits for the end of the lock.
    with pytest.raises(households.SubscriptionLocked):
        households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE)
    assert households.households_of(db, parent) == []


def test_the_lock_ends_after_fifteen_minutes(db, parent, household):
    from citoyen.models import SubscriptionFailure

    for _ in range(5):
        db.add(SubscriptionFailure(account_id=parent.id,
                                   created_at=households.utcnow() - timedelta(minutes=16)))
    db.commit()
    assert households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE)


def test_wrong_amount_or_names_do_not_match(db, parent, household):
    with pytest.raises(households.WrongSubscription):
        households.subscribe(db, parent, Attempt("invoice", invoice_reference="F2026-001",
                                                 invoice_amount="42,51"), BASE)
    with pytest.raises(households.WrongSubscription):
        households.subscribe(db, parent, Attempt("family_number", family_number="000001",
                                                 last_name="Martin", first_name="Hélène"), BASE)


def test_two_guardians_accounts_see_the_same_household(db, parent, make_account, household):
    other = make_account(email="autre@example.org", first_name="Paul", last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE)
    households.subscribe(db, other, Attempt("code", code=household.subscription_code), BASE)
    assert households.households_of(db, parent) == households.households_of(db, other) == [household]
    with pytest.raises(households.WrongSubscription, match="déjà abonné"):
        households.subscribe(db, other, Attempt("code", code=household.subscription_code), BASE)
    assert len(db.scalars(select(HouseholdLink)).all()) == 2


def test_another_familys_household_is_not_found(db, parent, household):
    with pytest.raises(NotFound):
        households.household_for(db, parent, household.id)


def test_a_child_added_by_a_family_waits_for_the_town_hall(db, parent, agent, household):
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), BASE)
    child = households.add_child(db, parent, household, first_name="Léo", last_name="Martin",
                                 birth_date=date(2017, 3, 8))
    assert child.status == "pending"
    by_agent = households.add_child(db, agent, household, first_name="Inès", last_name="Martin",
                                    birth_date=date(2020, 11, 21))
    assert by_agent.status == "validated"


def test_a_birth_date_in_the_future_is_refused(db, parent, household):
    with pytest.raises(DomainError) as caught:
        households.add_child(db, parent, household, first_name="A", last_name="B",
                             birth_date=date.today() + timedelta(days=1))
    assert caught.value.field == "birth_date"


@settings(max_examples=60, deadline=None)
@given(euros=st.integers(min_value=0, max_value=99999), cents=st.integers(min_value=0, max_value=99))
def test_amounts_typed_the_french_way_are_read_exactly(euros, cents):
    if euros == 0 and cents == 0:
        return
    assert households.parse_amount(f"{euros},{cents:02d}") == euros * 100 + cents
    assert households.parse_amount(f"{euros}.{cents:02d} €") == euros * 100 + cents


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=households.CODE_ALPHABET, min_size=12, max_size=12))
def test_codes_are_read_whatever_the_case_and_separators(raw):
    code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    assert households.normalise_code(raw.lower()) == code
    assert households.normalise_code(" ".join(raw)) == code


# ---------------------------------------------------------------- invitations and unproven addresses

def _invited_household(db, agent, town, email="vera@example.org"):
    return households.create_household(db, agent, town, name="Victime", guardian_first_name="Vera",
                                       guardian_last_name="Victime", guardian_email=email)


def _squatter(db, make_account, *, activated, franceconnect=False):
    from citoyen.models import ExternalIdentity

    account = make_account(email="vera@example.org", password="Squatteur1", activated=activated)
    if franceconnect:
        db.add(ExternalIdentity(provider="franceconnect", subject="squatter-sub",
                                account_id=account.id))
        db.commit()
    return account


@pytest.mark.parametrize("franceconnect", [False, True], ids=["never-activated", "franceconnect-unverified"])
def test_an_invitation_does_not_link_an_account_whose_address_was_never_proven(
        app, db, agent, town, make_account, outbox, franceconnect):
    from citoyen.models import ExternalIdentity
    from citoyen.services import accounts
    from tests.services.helpers import INVITATION_LINK
    from tests.services.helpers import last_token

    squatter = _squatter(db, make_account, activated=franceconnect, franceconnect=franceconnect)
    created = _invited_household(db, agent, town)
    households.invite_guardian(db, app.config, agent, created, created.guardians[0].id, BASE)

    assert households.households_of(db, squatter) == []
    assert db.scalars(select(Notification).where(Notification.account_id == squatter.id)).all() == []
    assert db.get(type(created.guardians[0]), created.guardians[0].id).account_id is None
    # The owner of the mailbox follows the invitation link: the account becomes
    # theirs, subscribed, and the squatter's password and identity stop working.
    token = last_token(outbox, "vera@example.org", INVITATION_LINK)
    accounts.accept_invitation(db, app.config, token, "Proprietaire1")
    db.expire_all()
    assert [h.id for h in households.households_of(db, squatter)] == [created.id]
    assert accounts.authenticate(db, app.config, "vera@example.org", "Proprietaire1").id == squatter.id
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "vera@example.org", "Squatteur1")
    assert db.scalars(select(ExternalIdentity)).all() == []


def test_an_invitation_links_an_account_whose_address_is_proven_at_once(
        app, db, agent, town, make_account, outbox):
    from tests.services.helpers import set_account

    account = make_account(email="vera@example.org")
    set_account(db, account, email_verified_at=account.activated_at)
    created = _invited_household(db, agent, town)
    households.invite_guardian(db, app.config, agent, created, created.guardians[0].id, BASE)
    assert [h.id for h in households.households_of(db, account)] == [created.id]


def test_a_reset_of_a_never_activated_account_lets_the_mailbox_owner_choose_the_password(
        app, db, agent, town, make_account, outbox):
    from citoyen.services import accounts
    from tests.services.helpers import RESET_LINK
    from tests.services.helpers import last_token

    squatter = _squatter(db, make_account, activated=False)
    created = _invited_household(db, agent, town)
    households.invite_guardian(db, app.config, agent, created, created.guardians[0].id, BASE)
    accounts.request_password_reset(db, app.config, "vera@example.org", BASE)
    mail = outbox.last("vera@example.org")
    assert mail.subject == "Réinitialisation de votre mot de passe"
    accounts.reset_password(db, app.config, last_token(outbox, "vera@example.org", RESET_LINK),
                            "Proprietaire1")
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "vera@example.org", "Squatteur1")
    assert accounts.authenticate(db, app.config, "vera@example.org", "Proprietaire1").id == squatter.id


def test_a_long_family_number_typed_by_an_agent_does_not_push_the_numbering_out(db, agent):
    from citoyen.services.households import free_family_numbers

    assert next(free_family_numbers(["000041", "99999999999999999999", "F12", "²", "٩", ""])) == "000042"
    after_nines = free_family_numbers(["999999999", "1000000000"])  # one typed, one given after it
    assert (next(after_nines), next(after_nines)) == ("1000000001", "1000000002")
    organisation = factories.organisation(db)
    households.create_household(db, agent, organisation, name="Grand", guardian_first_name="Ana",
                                guardian_last_name="Grand", family_number="99999999999999999999")
    created = households.create_household(db, agent, organisation, name="Petit", guardian_first_name="Jo",
                                          guardian_last_name="Petit")
    assert created.family_number == "000001"


def test_the_same_household_created_twice_is_refused_the_second_time(db, agent):
    organisation = factories.organisation(db)
    first = households.create_household(db, agent, organisation, name="Martin", guardian_first_name="Camille",
                                        guardian_last_name="Martin")
    with pytest.raises(DomainError, match="existe déjà") as error:
        households.create_household(db, agent, organisation, name="MARTIN", guardian_first_name="camille",
                                    guardian_last_name="Martin")
    assert error.value.field == "name" and first.family_number in error.value.message
    db.rollback()
    # Another guardian's household of the same name is another family.
    households.create_household(db, agent, organisation, name="Martin", guardian_first_name="Paul",
                                guardian_last_name="Martin")
