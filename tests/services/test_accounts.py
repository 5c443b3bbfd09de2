"""The account life cycle without HTTP: sign-up, sign-in, lockout, profile, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import Account
from citoyen.models import AccountToken
from citoyen.models.base import utcnow
from citoyen.services import accounts
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.transactions import begin_write
from tests import factories
from tests.services.helpers import ACTIVATION_LINK
from tests.services.helpers import BASE_URL
from tests.services.helpers import NEW_PASSWORD
from tests.services.helpers import PASSWORD
from tests.services.helpers import last_token
from tests.services.helpers import reload
from tests.services.helpers import set_account
from tests.services.helpers import tokens_of


def register(db, app, **overrides) -> Account:
    values = {
        "first_name": "Camille",
        "last_name": "Martin",
        "email": "camille.martin@example.org",
        "password": PASSWORD,
        "base_url": BASE_URL,
    }
    values.update(overrides)
    return accounts.register(db, app.config, **values)


def account_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Account))


# ---------------------------------------------------------------- sign-up


def test_register_stores_a_trimmed_lower_case_address(app, db):
    account = register(db, app, email="  Camille.Martin@Example.ORG ")

    assert reload(db, account).email == "camille.martin@example.org"


def test_register_mails_the_activation_link_to_the_lower_case_address(app, db, outbox):
    register(db, app, email="  Camille.Martin@Example.ORG ")

    mails = outbox.all()
    assert [m.recipient for m in mails] == ["camille.martin@example.org"]
    assert mails[0].subject == "Activez votre compte"
    assert ACTIVATION_LINK.search(mails[0].text_body)


def test_register_creates_an_account_that_is_not_activated(app, db):
    account = reload(db, register(db, app))

    assert account.activated_at is None
    assert account.role == "parent"
    assert account.terms_accepted_at is not None


def test_register_keeps_only_a_hash_of_the_password(app, db):
    account = reload(db, register(db, app))

    assert PASSWORD not in account.password_hash
    assert account.password_hash.startswith("$argon2")


@pytest.mark.parametrize(
    "second",
    ["camille.martin@example.org", "CAMILLE.MARTIN@EXAMPLE.ORG", " Camille.Martin@example.org "],
)
def test_register_refuses_an_address_taken_in_any_case(app, db, outbox, second):
    register(db, app)

    with pytest.raises(accounts.EmailTaken) as caught:
        register(db, app, email=second, first_name="Autre")

    assert caught.value.field == "email"
    assert account_count(db) == 1
    # The owner of the address is told, rather than the person signing up.
    mails = outbox.all()
    assert [m.recipient for m in mails] == ["camille.martin@example.org"] * 2
    assert mails[1].subject == "Demande de création de compte"
    assert "Quelqu'un a demandé à créer un compte" in mails[1].text_body
    assert not ACTIVATION_LINK.search(mails[1].text_body)


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("Court1a", "8 caractères"),
        ("motdepasse1", "une majuscule"),
        ("MOTDEPASSE1", "une minuscule"),
        ("Motdepasse", "un chiffre"),
    ],
)
def test_register_names_the_missing_criterion_of_a_weak_password(
    app, db, outbox, password, missing
):
    with pytest.raises(accounts.WeakPassword) as caught:
        register(db, app, password=password)

    assert caught.value.field == "password"
    assert caught.value.message == f"Le mot de passe doit contenir au moins {missing}."
    assert account_count(db) == 0
    assert outbox.all() == []


def test_register_lists_every_missing_criterion(app, db):
    with pytest.raises(accounts.WeakPassword) as caught:
        register(db, app, password="abc")

    assert caught.value.message == (
        "Le mot de passe doit contenir au moins 8 caractères, une majuscule et un chiffre."
    )


def test_register_refuses_a_password_longer_than_128_characters(app, db):
    with pytest.raises(accounts.WeakPassword) as caught:
        register(db, app, password="Aa1" + "x" * 126)

    assert "128" in caught.value.message
    assert account_count(db) == 0


def test_register_accepts_a_password_of_exactly_128_characters(app, db):
    account = register(db, app, password="Aa1" + "x" * 125)

    assert account.id is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "", "Indiquez votre prénom."),
        ("first_name", "   ", "Indiquez votre prénom."),
        ("last_name", "", "Indiquez votre nom."),
        ("first_name", "x" * 101, "Le prénom ne doit pas dépasser 100 caractères."),
        ("last_name", "x" * 101, "Le nom ne doit pas dépasser 100 caractères."),
    ],
)
def test_register_refuses_an_empty_or_overlong_name(app, db, field, value, message):
    with pytest.raises(DomainError) as caught:
        register(db, app, **{field: value})

    assert caught.value.field == field
    assert caught.value.message == message
    assert account_count(db) == 0


def test_register_accepts_a_name_of_100_characters_and_collapses_spaces(app, db):
    account = register(db, app, first_name="  Jean   Pierre ", last_name="y" * 100)

    account = reload(db, account)
    assert account.first_name == "Jean Pierre"
    assert account.last_name == "y" * 100


@pytest.mark.parametrize(
    "email", ["", "   ", "pas-une-adresse", "camille@", "@example.org", "a b@example.org"]
)
def test_register_refuses_an_invalid_address(app, db, email):
    with pytest.raises(accounts.InvalidEmail) as caught:
        register(db, app, email=email)

    assert caught.value.field == "email"
    assert caught.value.message.startswith(("Indiquez", "Cette adresse"))
    assert account_count(db) == 0


def test_register_refuses_an_address_longer_than_254_characters(app, db):
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".fr"

    with pytest.raises(accounts.InvalidEmail) as caught:
        register(db, app, email=email)

    assert "254" in caught.value.message


# ---------------------------------------------------------------- sign-in


def test_authenticate_returns_the_account_and_records_the_sign_in(app, db, parent):
    account = accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)

    assert account.id == parent.id
    assert reload(db, parent).last_sign_in_at is not None


def test_authenticate_finds_the_address_in_any_case(app, db, parent):
    account = accounts.authenticate(db, app.config, "  PARENT@Example.ORG ", PASSWORD)

    assert account.id == parent.id


def test_find_by_email_is_case_insensitive(app, db, parent):
    assert accounts.find_by_email(db, "Parent@EXAMPLE.org").id == parent.id
    assert accounts.find_by_email(db, "not an address") is None


def test_authenticate_refuses_an_unknown_address(app, db, parent):
    with pytest.raises(accounts.InvalidCredentials) as caught:
        accounts.authenticate(db, app.config, "inconnu@example.org", PASSWORD)

    assert caught.value.field == "password"
    assert caught.value.message == "Adresse e-mail ou mot de passe incorrect."


def test_a_wrong_password_is_counted(app, db, parent):
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "parent@example.org", "Mauvais1xx")
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "parent@example.org", "Mauvais2xx")

    account = reload(db, parent)
    assert account.failed_sign_ins == 2
    assert account.locked_until is None


def test_a_successful_sign_in_resets_the_failure_count(app, db, parent):
    set_account(db, parent, failed_sign_ins=3)

    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)

    assert reload(db, parent).failed_sign_ins == 0


def fail(db, app, times: int, email: str = "parent@example.org"):
    """Sign in with a wrong password ``times`` times; return the last error."""
    error = None
    for _ in range(times):
        with pytest.raises(DomainError) as caught:
            accounts.authenticate(db, app.config, email, "Mauvais1xx")
        error = caught.value
    return error


def test_four_wrong_passwords_do_not_lock(app, db, parent):
    error = fail(db, app, 4)

    assert isinstance(error, accounts.InvalidCredentials)
    assert reload(db, parent).locked_until is None


def test_five_wrong_passwords_lock_the_account_for_15_minutes(app, db, parent):
    before = utcnow()

    error = fail(db, app, 5)

    assert isinstance(error, accounts.AccountLocked)
    assert "bloqué" in error.message
    locked_until = reload(db, parent).locked_until
    assert locked_until is not None
    ahead = locked_until - before
    assert timedelta(minutes=14, seconds=50) <= ahead <= timedelta(minutes=15, seconds=10)
    assert error.until == locked_until


def test_a_locked_account_refuses_the_right_password(app, db, parent):
    fail(db, app, 5)

    with pytest.raises(accounts.AccountLocked):
        accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)

    assert reload(db, parent).last_sign_in_at is None


def test_sign_in_works_again_once_the_lock_has_expired(app, db, parent):
    fail(db, app, 5)
    set_account(db, parent, locked_until=utcnow() - timedelta(seconds=1), failed_sign_ins=2)

    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)

    account = reload(db, parent)
    assert account.locked_until is None
    assert account.failed_sign_ins == 0


def test_a_lock_does_not_leak_to_other_accounts(app, db, parent, make_account):
    make_account(email="autre@example.org")
    fail(db, app, 5)

    account = accounts.authenticate(db, app.config, "autre@example.org", PASSWORD)

    assert account.email == "autre@example.org"


def test_the_right_password_on_an_account_not_activated_says_so(app, db, make_account):
    make_account(email="nouveau@example.org", activated=False)

    with pytest.raises(accounts.AccountNotActivated) as caught:
        accounts.authenticate(db, app.config, "Nouveau@example.org", PASSWORD)

    assert caught.value.email == "nouveau@example.org"
    assert caught.value.field == "email"
    assert "pas encore activé" in caught.value.message


def test_a_wrong_password_on_an_account_not_activated_reveals_nothing(app, db, make_account):
    make_account(email="nouveau@example.org", activated=False)

    with pytest.raises(accounts.InvalidCredentials) as on_inactive:
        accounts.authenticate(db, app.config, "nouveau@example.org", "Mauvais1xx")
    with pytest.raises(accounts.InvalidCredentials) as on_unknown:
        accounts.authenticate(db, app.config, "inconnu@example.org", "Mauvais1xx")

    assert on_inactive.value.message == on_unknown.value.message
    assert on_inactive.value.field == on_unknown.value.field


def test_an_account_without_password_cannot_sign_in(app, db, make_account):
    make_account(email="invite@example.org", password=None, role="agent")

    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "invite@example.org", "")


# ---------------------------------------------------------------- sessions


def test_load_session_account_accepts_the_current_identifier(app, db, parent):
    assert accounts.load_session_account(db, parent.get_id()).id == parent.id


@pytest.mark.parametrize("session_id", ["", "abc", "1", "1.", ".x", "999.x"])
def test_load_session_account_refuses_malformed_identifiers(app, db, parent, session_id):
    assert accounts.load_session_account(db, session_id) is None


def test_load_session_account_refuses_another_epoch(app, db, parent):
    assert accounts.load_session_account(db, f"{parent.id}.0000000000000000") is None


def test_the_session_account_brings_the_headers_figures(app, db, parent):
    commune = factories.organisation(db)
    notifications.notify(db, parent, "Bonjour", "Texte", "http://localhost")
    db.commit()
    account = accounts.load_session_account(db, parent.get_id())
    header = accounts.session_header(db, account.id)
    assert header.unread_messages == 1
    assert (header.communes, header.first_commune) == (1, commune.name)


def test_the_headers_figures_hold_only_while_nothing_changed(app, db, parent, make_account):
    other = make_account(email="autre@example.org")
    db.commit()
    accounts.load_session_account(db, parent.get_id())
    assert accounts.session_header(db, parent.id).unread_messages == 0
    assert accounts.session_header(db) is not None
    assert accounts.session_header(db, other.id) is None  # read for another account
    notifications.notify(db, parent, "Bonjour", "Texte", "http://localhost")
    assert accounts.session_header(db, parent.id) is None  # pending
    db.flush()
    assert accounts.session_header(db, parent.id) is None  # written in this transaction
    db.commit()
    assert accounts.session_header(db, parent.id) is None  # another transaction
    accounts.load_session_account(db, parent.get_id())
    assert accounts.session_header(db, parent.id).unread_messages == 1
    begin_write(db)
    assert accounts.session_header(db, parent.id) is None  # read again once the write lock is taken
    db.rollback()
    assert accounts.session_header(db) is None


# ---------------------------------------------------------------- profile


def test_change_password_refuses_a_wrong_current_password(app, db, parent):
    with pytest.raises(accounts.WrongPassword) as caught:
        accounts.change_password(db, parent, "Mauvais1xx", NEW_PASSWORD)

    assert caught.value.field == "current_password"
    assert caught.value.message == "Le mot de passe actuel est incorrect."
    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_change_password_refuses_a_weak_new_password(app, db, parent):
    with pytest.raises(accounts.WeakPassword) as caught:
        accounts.change_password(db, parent, PASSWORD, "faible")

    assert caught.value.field == "new_password"
    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_change_password_sets_the_new_password(app, db, parent):
    accounts.change_password(db, parent, PASSWORD, NEW_PASSWORD)

    accounts.authenticate(db, app.config, "parent@example.org", NEW_PASSWORD)
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_change_password_signs_out_other_sessions(app, db, parent):
    old_id = parent.get_id()

    accounts.change_password(db, parent, PASSWORD, NEW_PASSWORD)

    assert accounts.load_session_account(db, old_id) is None
    fresh = reload(db, parent)
    assert accounts.load_session_account(db, fresh.get_id()).id == parent.id


def test_set_email_notifications(app, db, parent):
    accounts.set_email_notifications(db, parent, False)

    assert reload(db, parent).email_notifications is False


# ---------------------------------------------------------------- deletion


def test_delete_account_refuses_a_wrong_password(app, db, parent):
    with pytest.raises(accounts.WrongPassword) as caught:
        accounts.delete_account(db, parent, "Mauvais1xx")

    assert caught.value.field == "password"
    assert reload(db, parent) is not None


def test_delete_account_deletes_the_account_and_its_tokens(app, db, parent):
    accounts.request_password_reset(db, app.config, parent.email, BASE_URL)
    account_id = parent.id

    accounts.delete_account(db, parent, PASSWORD)

    db.expire_all()
    assert db.get(Account, account_id) is None
    assert tokens_of(db, account_id) == []


def test_the_last_admin_cannot_delete_their_account(app, db, admin):
    with pytest.raises(accounts.LastAdmin) as caught:
        accounts.delete_account(db, admin, PASSWORD)

    assert "seul compte administrateur" in caught.value.message
    assert reload(db, admin) is not None


def test_an_admin_can_delete_their_account_when_another_admin_remains(app, db, admin, make_account):
    make_account(email="admin2@example.org", role="admin")
    admin_id = admin.id

    accounts.delete_account(db, admin, PASSWORD)

    db.expire_all()
    assert db.get(Account, admin_id) is None


# ---------------------------------------------------------------- purge


def test_purge_inactive_deletes_only_accounts_never_activated_for_24_hours(
    app, db, make_account, now
):
    old_inactive = make_account(email="vieux@example.org", activated=False)
    young_inactive = make_account(email="jeune@example.org", activated=False)
    old_active = make_account(email="actif@example.org")
    set_account(db, old_inactive, created_at=now - timedelta(hours=24, minutes=1))
    set_account(db, young_inactive, created_at=now - timedelta(hours=23, minutes=59))
    set_account(db, old_active, created_at=now - timedelta(days=30))

    deleted = accounts.purge_inactive(db, app.config, now=now)

    assert deleted == 1
    db.expire_all()
    remaining = set(db.scalars(select(Account.email)))
    assert remaining == {"jeune@example.org", "actif@example.org"}


def test_purge_inactive_uses_the_given_time(app, db):
    account = register(db, app)

    assert accounts.purge_inactive(db, app.config, now=utcnow() + timedelta(hours=23)) == 0
    assert accounts.purge_inactive(db, app.config, now=utcnow() + timedelta(hours=25)) == 1
    db.expire_all()
    assert db.get(Account, account.id) is None
    # The activation token went with the account (foreign key cascade).
    assert db.scalar(select(func.count()).select_from(AccountToken)) == 0


def test_purge_inactive_spares_an_account_whose_new_activation_link_is_still_valid(app, db, outbox):
    account = register(db, app)
    set_account(db, account, created_at=utcnow() - timedelta(hours=23))
    # Nearly a day later, the family asks for a new link ("valable 24 heures").
    accounts.resend_activation(db, app.config, account.email, BASE_URL)
    token = last_token(outbox, account.email, ACTIVATION_LINK)

    accounts.purge_inactive(db, app.config, now=utcnow() + timedelta(hours=2))

    assert accounts.activate(db, app.config, token).id == account.id
