"""Links sent by mail: activation, password reset and address change.

Each link is signed, single-use and expires; only the hash of its secret is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import Account
from citoyen.models import AccountToken
from citoyen.models.base import utcnow
from citoyen.services import accounts
from tests.services.helpers import ACTIVATION_LINK
from tests.services.helpers import BASE_URL
from tests.services.helpers import EMAIL_CHANGE_LINK
from tests.services.helpers import NEW_PASSWORD
from tests.services.helpers import PASSWORD
from tests.services.helpers import RESET_LINK
from tests.services.helpers import last_token
from tests.services.helpers import reload
from tests.services.helpers import set_account
from tests.services.helpers import set_tokens
from tests.services.helpers import tokens_of

EMAIL = "camille.martin@example.org"


@pytest.fixture
def newcomer(app, db):
    """An account just registered, not yet activated."""
    return accounts.register(
        db,
        app.config,
        first_name="Camille",
        last_name="Martin",
        email=EMAIL,
        password=PASSWORD,
        base_url=BASE_URL,
    )


@pytest.fixture
def activation_token(newcomer, outbox):
    return last_token(outbox, EMAIL, ACTIVATION_LINK)


def reset_token(app, db, outbox, email="parent@example.org") -> str:
    accounts.request_password_reset(db, app.config, email, BASE_URL)
    return last_token(outbox, email, RESET_LINK)


def tamper(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another valid one."""
    replacement = "B" if text[index] == "A" else "A"
    return text[:index] + replacement + text[index + 1 :]


# ---------------------------------------------------------------- activation


def test_activate_activates_the_account(app, db, newcomer, activation_token):
    account = accounts.activate(db, app.config, activation_token)

    assert account.id == newcomer.id
    assert reload(db, newcomer).activated_at is not None
    accounts.authenticate(db, app.config, EMAIL, PASSWORD)


def test_the_database_keeps_only_a_hash_of_the_token(app, db, newcomer, activation_token):
    secret = activation_token.rsplit(".", 1)[0]
    (row,) = tokens_of(db, newcomer.id)

    assert secret not in row.secret_hash
    assert activation_token not in row.secret_hash


def test_the_activation_link_lasts_24_hours(app, db, newcomer, activation_token):
    (row,) = tokens_of(db, newcomer.id)

    assert row.expires_at - row.created_at == timedelta(hours=app.config["ACTIVATION_HOURS"])
    assert app.config["ACTIVATION_HOURS"] == 24


def test_an_activation_link_works_only_once(app, db, newcomer, activation_token):
    accounts.activate(db, app.config, activation_token)

    with pytest.raises(accounts.TokenUsed) as caught:
        accounts.activate(db, app.config, activation_token)

    assert "déjà été utilisé" in caught.value.message


def test_an_expired_activation_link_is_refused(app, db, newcomer, activation_token):
    set_tokens(db, newcomer.id, expires_at=utcnow() - timedelta(seconds=1))

    with pytest.raises(accounts.TokenExpired) as caught:
        accounts.activate(db, app.config, activation_token)

    assert caught.value.message == "Ce lien a expiré. Demandez-en un nouveau."
    assert reload(db, newcomer).activated_at is None


def test_an_activation_link_with_a_changed_signature_is_refused(
    app, db, newcomer, activation_token
):
    # Change the first character of the signature: the last one may carry only
    # padding bits, and changing it may leave the decoded signature unchanged.
    signature_start = activation_token.rindex(".") + 1

    with pytest.raises(accounts.TokenInvalid) as caught:
        accounts.activate(db, app.config, tamper(activation_token, signature_start))

    assert "n'est pas valide" in caught.value.message
    assert reload(db, newcomer).activated_at is None


def test_an_activation_link_with_a_changed_secret_is_refused(app, db, newcomer, activation_token):
    with pytest.raises(accounts.TokenInvalid):
        accounts.activate(db, app.config, tamper(activation_token, 0))

    assert reload(db, newcomer).activated_at is None


def test_an_activation_link_signed_with_another_key_is_refused(app, db, newcomer, activation_token):
    other_settings = {**app.config, "SECRET_KEY": "another-secret-key"}

    with pytest.raises(accounts.TokenInvalid):
        accounts.activate(db, other_settings, activation_token)


@pytest.mark.parametrize("token", ["", "abc", "abc.def", "..", "é.é"])
def test_garbage_is_not_a_token(app, db, newcomer, token):
    with pytest.raises(accounts.TokenInvalid):
        accounts.activate(db, app.config, token)


def test_a_validly_signed_secret_that_was_never_issued_is_refused(app, db, newcomer):
    forged = accounts._signer(app.config["SECRET_KEY"], "activation").sign("made-up").decode()

    with pytest.raises(accounts.TokenInvalid):
        accounts.activate(db, app.config, forged)


def test_an_activation_link_is_not_a_reset_link(app, db, newcomer, activation_token):
    with pytest.raises(accounts.TokenInvalid):
        accounts.reset_password(db, app.config, activation_token, NEW_PASSWORD)


def test_a_new_activation_link_replaces_the_previous_one(app, db, newcomer, outbox):
    first = last_token(outbox, EMAIL, ACTIVATION_LINK)

    accounts.resend_activation(db, app.config, "Camille.Martin@example.org", BASE_URL)
    second = last_token(outbox, EMAIL, ACTIVATION_LINK)

    assert second != first
    with pytest.raises(accounts.TokenUsed):
        accounts.activate(db, app.config, first)
    accounts.activate(db, app.config, second)
    assert reload(db, newcomer).activated_at is not None


def test_resend_activation_says_nothing_for_an_active_or_unknown_address(app, db, parent, outbox):
    accounts.resend_activation(db, app.config, "parent@example.org", BASE_URL)
    accounts.resend_activation(db, app.config, "inconnu@example.org", BASE_URL)

    assert outbox.all() == []


# ---------------------------------------------------------------- password reset


def test_request_password_reset_for_an_unknown_address_queues_nothing(app, db, parent, outbox):
    accounts.request_password_reset(db, app.config, "inconnu@example.org", BASE_URL)
    accounts.request_password_reset(db, app.config, "pas une adresse", BASE_URL)

    assert outbox.all() == []
    assert tokens_of(db, parent.id) == []


def test_request_password_reset_mails_a_reset_link(app, db, parent, outbox):
    accounts.request_password_reset(db, app.config, "  PARENT@example.org", BASE_URL)

    mail = outbox.last()
    assert mail.recipient == "parent@example.org"
    assert mail.subject == "Réinitialisation de votre mot de passe"
    assert RESET_LINK.search(mail.text_body)


def test_a_reset_of_an_inactive_account_lets_the_mailbox_owner_choose_the_password(
    app, db, newcomer, outbox
):
    # The password typed at sign-up may be someone else's: the reset link, not an
    # activation link, goes to the mailbox, and choosing a password activates.
    accounts.request_password_reset(db, app.config, EMAIL, BASE_URL)

    mails = outbox.all()
    assert mails[-1].subject == "Réinitialisation de votre mot de passe"
    accounts.reset_password(db, app.config, last_token(outbox, EMAIL, RESET_LINK), NEW_PASSWORD)
    account = reload(db, newcomer)
    assert account.activated_at is not None and account.email_verified_at is not None


def test_the_reset_link_lasts_one_hour(app, db, parent, outbox):
    reset_token(app, db, outbox)

    (row,) = tokens_of(db, parent.id, "reset")
    assert app.config["RESET_HOURS"] == 1
    assert row.expires_at - row.created_at == timedelta(hours=1)


def test_an_expired_reset_link_is_refused(app, db, parent, outbox):
    token = reset_token(app, db, outbox)
    set_tokens(db, parent.id, expires_at=utcnow() - timedelta(seconds=1))

    with pytest.raises(accounts.TokenExpired):
        accounts.reset_password(db, app.config, token, NEW_PASSWORD)

    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_reset_password_sets_the_new_password(app, db, parent, outbox):
    token = reset_token(app, db, outbox)

    accounts.reset_password(db, app.config, token, NEW_PASSWORD)

    accounts.authenticate(db, app.config, "parent@example.org", NEW_PASSWORD)
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_a_reset_link_works_only_once(app, db, parent, outbox):
    token = reset_token(app, db, outbox)
    accounts.reset_password(db, app.config, token, NEW_PASSWORD)

    with pytest.raises(accounts.TokenUsed):
        accounts.reset_password(db, app.config, token, "Troisieme3mdp")

    accounts.authenticate(db, app.config, "parent@example.org", NEW_PASSWORD)


def test_a_reset_link_stops_working_once_the_password_or_the_address_changes(app, db, parent, outbox):
    token = reset_token(app, db, outbox)
    accounts.change_password(db, reload(db, parent), PASSWORD, "Troisieme3mdp")
    with pytest.raises(accounts.TokenUsed):
        accounts.reset_password(db, app.config, token, NEW_PASSWORD)

    token = reset_token(app, db, outbox)
    request_change(app, db, reload(db, parent), password="Troisieme3mdp")
    accounts.confirm_email_change(db, app.config, last_token(outbox, "nouvelle@example.org", EMAIL_CHANGE_LINK))
    with pytest.raises(accounts.TokenUsed):  # it went to the old address
        accounts.reset_password(db, app.config, token, NEW_PASSWORD)


def test_a_second_reset_request_cancels_the_first_link(app, db, parent, outbox):
    first = reset_token(app, db, outbox)
    second = reset_token(app, db, outbox)

    with pytest.raises(accounts.TokenUsed):
        accounts.reset_password(db, app.config, first, NEW_PASSWORD)
    accounts.reset_password(db, app.config, second, NEW_PASSWORD)


def test_reset_password_signs_out_other_sessions(app, db, parent, outbox):
    old_id = parent.get_id()
    token = reset_token(app, db, outbox)

    account = accounts.reset_password(db, app.config, token, NEW_PASSWORD)

    assert account.get_id() != old_id
    assert accounts.load_session_account(db, old_id) is None
    assert accounts.load_session_account(db, account.get_id()).id == parent.id


def test_reset_password_lifts_a_lockout(app, db, parent, outbox):
    set_account(db, parent, locked_until=utcnow() + timedelta(minutes=15), failed_sign_ins=4)
    token = reset_token(app, db, outbox)

    accounts.reset_password(db, app.config, token, NEW_PASSWORD)

    account = reload(db, parent)
    assert account.locked_until is None
    assert account.failed_sign_ins == 0
    accounts.authenticate(db, app.config, "parent@example.org", NEW_PASSWORD)


def test_a_weak_new_password_does_not_use_up_the_reset_link(app, db, parent, outbox):
    token = reset_token(app, db, outbox)

    with pytest.raises(accounts.WeakPassword) as caught:
        accounts.reset_password(db, app.config, token, "faible")

    assert caught.value.field == "password"
    (row,) = tokens_of(db, parent.id, "reset")
    assert row.used_at is None
    accounts.reset_password(db, app.config, token, NEW_PASSWORD)
    accounts.authenticate(db, app.config, "parent@example.org", NEW_PASSWORD)


def test_remind_identifier_mails_the_address_only_if_it_has_an_account(app, db, parent, outbox):
    accounts.remind_identifier(db, app.config, "inconnu@example.org", BASE_URL)
    assert outbox.all() == []

    accounts.remind_identifier(db, app.config, "Parent@Example.org", BASE_URL)

    mail = outbox.last()
    assert mail.recipient == "parent@example.org"
    assert "parent@example.org" in mail.text_body


# ---------------------------------------------------------------- address change


def request_change(app, db, account, new_email="nouvelle@example.org", password=PASSWORD):
    accounts.request_email_change(db, app.config, account, new_email, password, BASE_URL)


def test_request_email_change_refuses_a_wrong_password(app, db, parent, outbox):
    with pytest.raises(accounts.WrongPassword) as caught:
        request_change(app, db, parent, password="Mauvais1xx")

    assert caught.value.field == "password"
    assert outbox.all() == []


def test_request_email_change_refuses_the_current_address(app, db, parent, outbox):
    with pytest.raises(accounts.InvalidEmail) as caught:
        request_change(app, db, parent, new_email=" PARENT@example.ORG ")

    assert caught.value.field == "new_email"
    assert caught.value.message == "C'est déjà l'adresse de votre compte."
    assert outbox.all() == []


def test_request_email_change_refuses_an_invalid_address(app, db, parent):
    with pytest.raises(accounts.InvalidEmail) as caught:
        request_change(app, db, parent, new_email="pas-une-adresse")

    assert caught.value.field == "new_email"


@pytest.mark.parametrize("new_email", ["autre@example.org", "Autre@EXAMPLE.org"])
def test_request_email_change_refuses_an_address_of_another_account(
    app, db, parent, make_account, outbox, new_email
):
    make_account(email="autre@example.org")

    with pytest.raises(accounts.EmailTaken) as caught:
        request_change(app, db, parent, new_email=new_email)

    assert caught.value.field == "new_email"
    assert outbox.all() == []


def test_request_email_change_mails_a_link_to_the_new_address_and_a_notice_to_the_old(
    app, db, parent, outbox
):
    request_change(app, db, parent, new_email="Nouvelle@Example.org")

    (confirmation,) = outbox.all("nouvelle@example.org")
    (notice,) = outbox.all("parent@example.org")
    assert confirmation.subject == "Confirmez votre nouvelle adresse e-mail"
    assert EMAIL_CHANGE_LINK.search(confirmation.text_body)
    assert notice.subject == "Changement d'adresse e-mail demandé"
    assert "nouvelle@example.org" in notice.text_body
    # The old address must not be able to confirm the change itself.
    assert not EMAIL_CHANGE_LINK.search(notice.text_body)
    assert not EMAIL_CHANGE_LINK.search(notice.html_body)


def test_request_email_change_keeps_the_address_until_confirmed(app, db, parent, outbox):
    request_change(app, db, parent)

    assert reload(db, parent).email == "parent@example.org"
    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_confirm_email_change_switches_the_address(app, db, parent, outbox):
    request_change(app, db, parent)
    token = last_token(outbox, "nouvelle@example.org", EMAIL_CHANGE_LINK)

    account = accounts.confirm_email_change(db, app.config, token)

    assert account.id == parent.id
    assert reload(db, parent).email == "nouvelle@example.org"
    accounts.authenticate(db, app.config, "nouvelle@example.org", PASSWORD)
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_an_email_change_link_works_only_once(app, db, parent, outbox):
    request_change(app, db, parent)
    token = last_token(outbox, "nouvelle@example.org", EMAIL_CHANGE_LINK)
    accounts.confirm_email_change(db, app.config, token)

    with pytest.raises(accounts.TokenUsed):
        accounts.confirm_email_change(db, app.config, token)


def test_confirm_email_change_fails_if_the_address_was_taken_meanwhile(
    app, db, parent, make_account, outbox
):
    request_change(app, db, parent)
    token = last_token(outbox, "nouvelle@example.org", EMAIL_CHANGE_LINK)
    make_account(email="nouvelle@example.org", first_name="Quelqu'un")

    with pytest.raises(accounts.EmailTaken):
        accounts.confirm_email_change(db, app.config, token)

    assert reload(db, parent).email == "parent@example.org"
    db.expire_all()
    owners = db.scalars(select(Account.id).where(Account.email == "nouvelle@example.org")).all()
    assert len(owners) == 1 and owners[0] != parent.id


def test_an_expired_email_change_link_is_refused(app, db, parent, outbox):
    request_change(app, db, parent)
    token = last_token(outbox, "nouvelle@example.org", EMAIL_CHANGE_LINK)
    set_tokens(db, parent.id, expires_at=utcnow() - timedelta(minutes=1))

    with pytest.raises(accounts.TokenExpired):
        accounts.confirm_email_change(db, app.config, token)

    assert reload(db, parent).email == "parent@example.org"


def test_tokens_of_a_deleted_account_stop_working(app, db, parent, outbox):
    token = reset_token(app, db, outbox)
    accounts.delete_account(db, parent, PASSWORD)

    with pytest.raises(accounts.TokenInvalid):
        accounts.reset_password(db, app.config, token, NEW_PASSWORD)


def test_a_token_row_points_to_its_account(app, db, parent, outbox):
    request_change(app, db, parent)

    db.expire_all()
    row = db.scalar(select(AccountToken).where(AccountToken.account_id == parent.id))
    assert row.purpose == "email_change"
    assert row.new_email == "nouvelle@example.org"
    assert row.used_at is None
