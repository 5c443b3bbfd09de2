"""What agents do in "Espace agent": access rules, audit rows, accounts and communes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import Account
from citoyen.models import AuditEntry
from citoyen.models.base import utcnow
from citoyen.services import accounts
from citoyen.services import audit
from citoyen.services import backoffice
from citoyen.services import organisations
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from tests import factories
from tests.services.helpers import BASE_URL
from tests.services.helpers import INVITATION_LINK
from tests.services.helpers import NEW_PASSWORD
from tests.services.helpers import PASSWORD
from tests.services.helpers import last_token
from tests.services.helpers import reload
from tests.services.helpers import set_account


def audit_rows(db) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def emails(found: list[Account]) -> list[str]:
    return [account.email for account in found]


# ---------------------------------------------------------------- access


AGENT_ACTIONS = {
    "search_accounts": lambda db, cfg, actor, target: backoffice.search_accounts(db, actor, "a"),
    "get_account": lambda db, cfg, actor, target: backoffice.get_account(db, actor, target.id),
    "unlock": lambda db, cfg, actor, target: backoffice.unlock(db, actor, target),
    "resend_activation": lambda db, cfg, actor, target: backoffice.resend_activation(
        db, cfg, actor, target, BASE_URL
    ),
}
ADMIN_ACTIONS = {
    "set_role": lambda db, cfg, actor, target: backoffice.set_role(db, actor, target, "agent"),
    "create_agent": lambda db, cfg, actor, target: backoffice.create_agent(
        db,
        cfg,
        actor,
        first_name="Léa",
        last_name="Petit",
        email="lea.petit@example.org",
        base_url=BASE_URL,
    ),
}


@pytest.mark.parametrize("action", sorted({**AGENT_ACTIONS, **ADMIN_ACTIONS}))
def test_a_parent_may_not_use_the_back_office(app, db, parent, make_account, outbox, action):
    target = make_account(email="cible@example.org", activated=False)
    run = {**AGENT_ACTIONS, **ADMIN_ACTIONS}[action]

    with pytest.raises(Forbidden) as caught:
        run(db, app.config, parent, target)

    assert "réservée" in caught.value.message
    assert audit_rows(db) == []
    assert outbox.all() == []


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS))
def test_an_agent_may_not_use_the_admin_actions(app, db, agent, make_account, outbox, action):
    target = make_account(email="cible@example.org")

    with pytest.raises(Forbidden) as caught:
        ADMIN_ACTIONS[action](db, app.config, agent, target)

    assert caught.value.message == "Cette action est réservée aux administrateurs."
    assert reload(db, target).role == "parent"
    assert audit_rows(db) == []


def test_get_account_of_an_unknown_id_is_not_found(app, db, agent):
    with pytest.raises(NotFound):
        backoffice.get_account(db, agent, 424242)


# ---------------------------------------------------------------- unlock


def test_unlock_lifts_the_lock_and_writes_an_audit_row(app, db, agent, parent):
    set_account(db, parent, locked_until=utcnow() + timedelta(minutes=10), failed_sign_ins=3)

    backoffice.unlock(db, agent, parent)

    account = reload(db, parent)
    assert account.locked_until is None
    assert account.failed_sign_ins == 0
    (entry,) = audit_rows(db)
    assert entry.actor_id == agent.id
    assert entry.actor_label == "Julien Moreau <agent@example.org>"
    assert entry.action == "account.unlock"
    assert entry.target_type == "account"
    assert entry.target_id == parent.id
    assert entry.target_label == "parent@example.org"
    accounts.authenticate(db, app.config, "parent@example.org", PASSWORD)


def test_an_audit_row_outlives_its_actor(app, db, agent, parent):
    backoffice.unlock(db, agent, parent)
    accounts.delete_account(db, agent, PASSWORD)

    (entry,) = audit_rows(db)
    assert entry.actor_id is None
    assert "agent@example.org" in entry.actor_label


# ---------------------------------------------------------------- activation


def test_resend_activation_refuses_an_active_account(app, db, agent, parent, outbox):
    with pytest.raises(DomainError) as caught:
        backoffice.resend_activation(db, app.config, agent, parent, BASE_URL)

    assert not isinstance(caught.value, Forbidden)
    assert caught.value.message == "Ce compte est déjà activé."
    assert outbox.all() == []
    assert audit_rows(db) == []


def test_resend_activation_mails_a_working_link_and_audits(app, db, agent, make_account, outbox):
    newcomer = make_account(email="nouveau@example.org", activated=False)

    backoffice.resend_activation(db, app.config, agent, newcomer, BASE_URL)

    mail = outbox.last("nouveau@example.org")
    assert mail.subject == "Activez votre compte"
    (entry,) = audit_rows(db)
    assert (entry.action, entry.actor_id, entry.target_id) == (
        "account.resend_activation",
        agent.id,
        newcomer.id,
    )
    token = mail.text_body.split("/activation/", 1)[1].split()[0]
    accounts.activate(db, app.config, token)
    assert reload(db, newcomer).activated_at is not None


# ---------------------------------------------------------------- roles


def test_set_role_by_an_admin_changes_the_role_and_audits(app, db, admin, parent):
    backoffice.set_role(db, admin, parent, "agent")

    assert reload(db, parent).role == "agent"
    (entry,) = audit_rows(db)
    assert entry.action == "account.role"
    assert entry.actor_id == admin.id
    assert entry.target_id == parent.id
    assert entry.details == "Famille → Agent"


def test_set_role_to_the_same_role_writes_nothing(app, db, admin, parent):
    backoffice.set_role(db, admin, parent, "parent")

    assert audit_rows(db) == []


def test_set_role_refuses_an_unknown_role(app, db, admin, parent):
    with pytest.raises(DomainError) as caught:
        backoffice.set_role(db, admin, parent, "superuser")

    assert caught.value.field == "role"
    assert reload(db, parent).role == "parent"


def test_the_last_admin_cannot_be_demoted(app, db, admin):
    with pytest.raises(accounts.LastAdmin):
        backoffice.set_role(db, admin, admin, "agent")

    assert reload(db, admin).role == "admin"
    assert audit_rows(db) == []


def test_an_admin_can_be_demoted_when_another_remains(app, db, admin, make_account):
    other = make_account(email="admin2@example.org", role="admin")

    backoffice.set_role(db, admin, other, "parent")

    assert reload(db, other).role == "parent"
    assert audit_rows(db)[0].details == "Administrateur → Famille"


# ---------------------------------------------------------------- agents


def create_agent(db, app, actor, **overrides) -> Account:
    values = {
        "first_name": "Léa",
        "last_name": "Petit",
        "email": "Lea.Petit@Example.org",
        "base_url": BASE_URL,
    }
    values.update(overrides)
    return backoffice.create_agent(db, app.config, actor, **values)


def test_create_agent_without_password_mails_an_invitation(app, db, admin, outbox):
    agent = create_agent(db, app, admin)

    agent = reload(db, agent)
    assert agent.email == "lea.petit@example.org"
    assert agent.role == "agent"
    assert agent.password_hash is None
    mail = outbox.last()
    assert mail.recipient == "lea.petit@example.org"
    assert mail.subject == "Votre compte agent sur le portail"
    assert INVITATION_LINK.search(mail.text_body)


def test_the_invitation_link_lets_the_agent_choose_a_password(app, db, admin, outbox):
    agent = create_agent(db, app, admin)
    token = last_token(outbox, "lea.petit@example.org", INVITATION_LINK)

    accounts.accept_invitation(db, app.config, token, NEW_PASSWORD)

    signed_in = accounts.authenticate(db, app.config, "lea.petit@example.org", NEW_PASSWORD)
    assert signed_in.id == agent.id
    assert signed_in.is_agent


def test_an_invitation_link_works_only_once(app, db, admin, outbox):
    create_agent(db, app, admin)
    token = last_token(outbox, "lea.petit@example.org", INVITATION_LINK)
    accounts.accept_invitation(db, app.config, token, NEW_PASSWORD)

    with pytest.raises(accounts.TokenUsed):
        accounts.accept_invitation(db, app.config, token, "Autre1motdepasse")


def test_an_invitation_link_is_not_a_reset_link(app, db, admin, outbox):
    create_agent(db, app, admin)
    token = last_token(outbox, "lea.petit@example.org", INVITATION_LINK)

    with pytest.raises(accounts.TokenInvalid):
        accounts.reset_password(db, app.config, token, NEW_PASSWORD)


def test_create_agent_with_a_password_sends_no_invitation(app, db, admin, outbox):
    create_agent(db, app, admin, password=NEW_PASSWORD, role="admin")

    assert outbox.all() == []
    account = accounts.authenticate(db, app.config, "lea.petit@example.org", NEW_PASSWORD)
    assert account.role == "admin"


def test_create_agent_is_audited(app, db, admin):
    agent = create_agent(db, app, admin)

    (entry,) = audit_rows(db)
    assert entry.action == "account.create_agent"
    assert entry.target_id == agent.id
    assert entry.details == "Agent"


def test_create_agent_from_the_command_line_writes_no_audit_row(app, db, outbox):
    create_agent(db, app, None)

    assert audit_rows(db) == []
    assert len(outbox.all()) == 1


def test_create_agent_refuses_an_address_taken_in_any_case(app, db, admin, make_account):
    make_account(email="lea.petit@example.org")

    with pytest.raises(DomainError) as caught:
        create_agent(db, app, admin, email="LEA.PETIT@example.org")

    assert caught.value.field == "email"
    assert "Rechercher un compte" in caught.value.message and "Mot de passe" not in caught.value.message


def test_create_agent_refuses_a_parent_role(app, db, admin):
    with pytest.raises(DomainError) as caught:
        create_agent(db, app, admin, role="parent")

    assert caught.value.field == "role"


def test_create_agent_refuses_a_weak_password(app, db, admin):
    with pytest.raises(accounts.WeakPassword):
        create_agent(db, app, admin, password="faible")

    db.expire_all()
    assert db.scalar(select(Account).where(Account.email == "lea.petit@example.org")) is None


# ---------------------------------------------------------------- search


@pytest.fixture
def people(make_account):
    make_account(email="camille.martin@example.org", first_name="Camille", last_name="Martin")
    make_account(email="jean.dupont@mairie.example", first_name="Jean", last_name="Dupont")
    make_account(email="martine.leroy@example.org", first_name="Martine", last_name="Leroy")


def test_search_matches_names_in_any_case(app, db, agent, people):
    found = backoffice.search_accounts(db, agent, "MARTIN")

    # Ordered by last name.
    assert emails(found) == ["martine.leroy@example.org", "camille.martin@example.org"]


def test_search_matches_the_address_in_any_case(app, db, agent, people):
    found = backoffice.search_accounts(db, agent, "Mairie.EXAMPLE")

    assert emails(found) == ["jean.dupont@mairie.example"]


def test_search_requires_every_word(app, db, agent, people):
    found = backoffice.search_accounts(db, agent, "martin camille")

    assert emails(found) == ["camille.martin@example.org"]


def test_search_without_words_lists_everyone(app, db, agent, people):
    assert len(backoffice.search_accounts(db, agent, "   ")) == 4


def test_search_treats_percent_literally(app, db, agent, make_account):
    make_account(email="cent%pour@example.org", first_name="Pour", last_name="Cent")
    make_account(email="centpour@example.org", first_name="Sans", last_name="Signe")

    assert emails(backoffice.search_accounts(db, agent, "%")) == ["cent%pour@example.org"]
    assert emails(backoffice.search_accounts(db, agent, "t%p")) == ["cent%pour@example.org"]


def test_search_treats_underscore_literally(app, db, agent, make_account):
    make_account(email="jean_paul@example.org", first_name="Jean", last_name="Paul")
    make_account(email="jeanxpaul@example.org", first_name="Jean", last_name="Xpaul")

    assert emails(backoffice.search_accounts(db, agent, "jean_paul")) == ["jean_paul@example.org"]


def test_search_treats_backslash_literally(app, db, agent, make_account):
    make_account(email="a@example.org", first_name="Back\\slash", last_name="Nom")
    make_account(email="b@example.org", first_name="Backslash", last_name="Nom")

    assert emails(backoffice.search_accounts(db, agent, "k\\s")) == ["a@example.org"]


def test_search_returns_at_most_fifty_accounts_and_one_to_tell_there_are_more(app, db, agent, client, auth):
    db.add_all(
        Account(
            email=f"famille{n:02}@example.org",
            first_name="Famille",
            last_name=f"Nom{n:02}",
            password_hash=None,
            activated_at=utcnow(),
        )
        for n in range(55)
    )
    db.commit()

    found = backoffice.search_accounts(db, agent, "famille")

    assert len(found) == backoffice.SEARCH_LIMIT + 1 == 51
    assert found[0].last_name == "Nom00"
    auth.sign_in(agent.email)
    page = client.get("/agent/comptes?q=famille").get_data(as_text=True)
    assert "Les 50 premiers comptes pour « famille » : précisez la recherche pour trouver les autres" in page
    assert "Nom50" not in page


@pytest.mark.parametrize("query", ["Élodie", "élodie", "ÉLODIE"])
def test_search_matches_accented_names_in_any_case(app, db, agent, make_account, query):
    make_account(email="e.lefevre@example.org", first_name="Élodie", last_name="Lefèvre")

    assert emails(backoffice.search_accounts(db, agent, query)) == ["e.lefevre@example.org"]


def test_search_by_a_parent_is_forbidden_even_without_words(app, db, parent):
    with pytest.raises(Forbidden):
        backoffice.search_accounts(db, parent, "")


# ---------------------------------------------------------------- organisations


@pytest.fixture
def commune(db):
    return factories.organisation(db)


def contact(organisation, **changes) -> dict:
    values = {name: getattr(organisation, name) for name in organisations.CONTACT_FIELDS}
    values.update(changes)
    return values


def test_update_contact_is_for_admins_only(app, db, agent, commune):
    with pytest.raises(Forbidden):
        organisations.update_contact(db, agent, commune, **contact(commune, phone="05 00 00 00 00"))

    assert reload(db, commune).phone == "01 23 45 67 89"
    assert audit_rows(db) == []


def test_update_contact_saves_and_lists_the_changed_fields(app, db, admin, commune):
    organisations.update_contact(
        db,
        admin,
        commune,
        **contact(commune, phone=" 05 61 00 00 00 ", email="Accueil@Testville.example"),
    )

    saved = reload(db, commune)
    assert saved.phone == "05 61 00 00 00"
    assert saved.email == "accueil@testville.example"
    assert saved.service_name == "Service Enfance"
    (entry,) = audit_rows(db)
    assert entry.action == "organisation.update"
    assert entry.target_type == "organisation"
    assert entry.target_id == commune.id
    assert entry.actor_id == admin.id
    assert entry.details == "Champs modifiés : Téléphone, Adresse e-mail"


def test_update_contact_with_nothing_changed_writes_no_audit_row(app, db, admin, commune):
    organisations.update_contact(db, admin, commune, **contact(commune, phone=" 01 23 45 67 89 "))

    assert audit_rows(db) == []


@pytest.mark.parametrize("phone", ["abc", "01 23 45 67 89 poste 12", "12345", "0" * 31])
def test_update_contact_refuses_an_invalid_phone(app, db, admin, commune, phone):
    with pytest.raises(DomainError) as caught:
        organisations.update_contact(db, admin, commune, **contact(commune, phone=phone))

    assert caught.value.field == "phone"
    assert audit_rows(db) == []
    assert reload(db, commune).phone == "01 23 45 67 89"


@pytest.mark.parametrize("phone", ["+33 (0)1 23 45 67 89", "01.23.45.67.89", "0123456789"])
def test_update_contact_accepts_usual_phone_formats(app, db, admin, commune, phone):
    organisations.update_contact(db, admin, commune, **contact(commune, phone=phone))

    assert reload(db, commune).phone == phone


@pytest.mark.parametrize("phone", ["------", "(( ))..", "+ + + +"])
def test_update_contact_refuses_a_phone_without_digits(app, db, admin, commune, phone):
    with pytest.raises(DomainError) as caught:
        organisations.update_contact(db, admin, commune, **contact(commune, phone=phone))

    assert caught.value.field == "phone"


def test_update_contact_refuses_an_invalid_email(app, db, admin, commune):
    with pytest.raises(accounts.InvalidEmail) as caught:
        organisations.update_contact(db, admin, commune, **contact(commune, email="mairie@"))

    assert caught.value.field == "email"
    assert reload(db, commune).email == "enfance@testville.example"


def test_update_contact_refuses_an_overlong_field(app, db, admin, commune):
    with pytest.raises(DomainError) as caught:
        organisations.update_contact(db, admin, commune, **contact(commune, service_name="s" * 151))

    assert caught.value.field == "service_name"
    assert "150" in caught.value.message


def test_update_contact_accepts_empty_optional_fields(app, db, admin, commune):
    organisations.update_contact(db, admin, commune, **contact(commune, phone="", email=""))

    saved = reload(db, commune)
    assert (saved.phone, saved.email) == ("", "")
    assert audit_rows(db)[0].details == "Champs modifiés : Téléphone, Adresse e-mail"


def test_get_an_unknown_organisation_is_not_found(app, db):
    with pytest.raises(NotFound):
        organisations.get(db, 424242)


# ---------------------------------------------------------------- audit reading


def test_audit_for_target_lists_the_entries_of_one_account_newest_first(
    app, db, agent, parent, make_account
):
    other = make_account(email="autre@example.org")
    backoffice.unlock(db, agent, parent)
    backoffice.unlock(db, agent, other)
    backoffice.unlock(db, agent, parent)

    entries = audit.for_target(db, "account", parent.id)

    assert len(entries) == 2
    assert all(entry.target_id == parent.id for entry in entries)
    assert entries[0].id > entries[1].id


def test_audit_page_shows_newest_first_with_a_next_page(app, db, agent, parent):
    for _ in range(audit.PAGE_SIZE + 1):
        audit.record(db, agent, "account.unlock", "account", parent.id, parent.email)
    db.commit()

    rows, has_next = audit.page(db, 1)
    rest, has_more = audit.page(db, 2)

    assert len(rows) == 50 and has_next is True
    assert len(rest) == 1 and has_more is False
    assert rows[0].id > rest[0].id


def test_audit_labels_are_french(app):
    assert audit.label("account.unlock") == "Déblocage du compte"
    assert audit.label("unknown.action") == "unknown.action"
