"""Every page of the portal, public or behind the sign-in, in a real browser:
no axe violation (WCAG 2.0/2.1/2.2 A and AA, best practices), no console
error, and a screenshot under test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from citoyen.models.base import utcnow
from citoyen.services import backoffice
from citoyen.services import notifications
from tests import factories
from tests.browser.helpers import assert_accessible
from tests.browser.helpers import axe_violations
from tests.browser.helpers import describe_violations
from tests.browser.helpers import screenshot
from tests.factories import PASSWORD

PUBLIC_PAGES = [
    # (path, HTTP status, screenshot name, also at 320 px)
    ("/", 200, "public-bienvenue", True),
    ("/connexion", 200, "public-connexion", True),
    ("/inscription", 200, "public-inscription", False),
    ("/contact", 200, "public-contact", True),
    ("/conditions-generales", 200, "public-conditions-generales", False),
    ("/mentions-legales", 200, "public-mentions-legales", False),
    ("/accessibilite", 200, "public-accessibilite", False),
    ("/mot-de-passe-oublie", 200, "public-mot-de-passe-oublie", False),
    ("/mot-de-passe-oublie/mot-de-passe", 200, "public-mot-de-passe-perdu", False),
    ("/mot-de-passe-oublie/identifiant", 200, "public-identifiant-perdu", False),
    ("/activation/renvoyer", 200, "public-renvoyer-activation", False),
    ("/activation/lien-abime", 400, "public-lien-non-valable", False),
    ("/page-qui-n-existe-pas", 404, "public-404", True),
]


@pytest.fixture
def commune(db):
    """The contact, terms and legal pages show the commune's details."""
    return factories.organisation(db)


@pytest.mark.parametrize(
    ("path", "status", "name", "mobile"), PUBLIC_PAGES, ids=[p[0] for p in PUBLIC_PAGES]
)
def test_public_page(visit, commune, path, status, name, mobile):
    visit.goto(path, status=status)
    assert visit.page.locator("h1").count() == 1
    visit.check(name, mobile=mobile)


def check_pages(visit, pages: list[tuple[str, str, bool]]) -> None:
    """Visit each page (path, screenshot name, also at 320 px) and report every
    problem of every page at once."""
    problems = []
    for path, name, mobile in pages:
        visit.goto(path)
        assert visit.path() == path, f"{path} led to {visit.path()}"
        violations = axe_violations(visit.page)
        if violations:
            problems.append(f"axe on {path}:\n{describe_violations(violations)}")
        if visit.console_errors:
            problems.append(f"console on {path}:\n" + "\n".join(visit.console_errors))
            visit.console_errors = []
        screenshot(visit.page, name, mobile=mobile)
    assert not problems, "\n\n".join(problems)


def test_pages_of_a_signed_in_parent(visit, db, make_account, commune):
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    message = notifications.notify(
        db,
        parent,
        "Bienvenue sur le portail famille",
        "Votre compte est prêt. Vous pouvez maintenant rattacher votre foyer.",
        visit.base_url,
    )
    db.commit()
    visit.sign_in(parent.email, PASSWORD)
    # The unread count in the menu is read out with words, not as a bare number.
    visit.goto("/")
    assert visit.page.locator(".site-nav .badge").text_content() == "1 non lu"
    # « Marquer comme lu » swaps the message in place, and the menu's count with it.
    visit.goto("/messages/")
    visit.page.get_by_role("button", name="Marquer comme lu : Bienvenue sur le portail famille").click()
    visit.page.wait_for_selector(f"#message-{message.id}:not(.unread)")
    assert visit.page.locator(".site-nav .badge").count() == 0
    # The button is gone: the keyboard goes on from the message's subject, not from the top of the page.
    expect(visit.page.get_by_role("link", name="Bienvenue sur le portail famille")).to_be_focused()
    assert visit.page.url.endswith("/messages/")  # swapped in place, not a new page
    check_pages(
        visit,
        [
            ("/", "parent-accueil", False),
            ("/messages/", "parent-messages", False),
            (f"/messages/{message.id}", "parent-message", False),
            ("/profil/", "parent-mon-profil", True),
            ("/profil/mot-de-passe", "parent-modifier-mot-de-passe", False),
            ("/profil/identifiant", "parent-modifier-identifiant", False),
            ("/profil/notifications", "parent-preferences-notification", False),
            ("/profil/supprimer", "parent-supprimer-compte", False),
            ("/contact", "parent-nous-contacter", False),
        ],
    )


def test_pages_of_an_agent(visit, db, make_account):
    agent = make_account(email="julien.moreau@mairie.example", first_name="Julien", role="agent")
    parent = make_account(email="camille.martin@example.org", last_name="Martin")
    parent.locked_until = utcnow() + timedelta(minutes=15)
    db.commit()
    visit.sign_in(agent.email, PASSWORD)
    check_pages(
        visit,
        [
            ("/agent/", "agent-espace-agent", False),
            ("/agent/comptes?q=martin", "agent-recherche", False),
            (f"/agent/comptes/{parent.id}", "agent-compte", True),
        ],
    )

    # The live search of the back office: results come in place as the agent types.
    page = visit.page
    visit.goto("/agent/")
    page.fill("#q", "Martin")
    page.locator("#results table").wait_for()
    assert "camille.martin@example.org" in page.locator("#results").inner_text()
    assert_accessible(page, "/agent/ with live results")
    visit.assert_clean_console("/agent/ live search")


def test_pages_of_an_administrator(visit, db, make_account, commune):
    admin = make_account(email="nadia.roussel@mairie.example", first_name="Nadia", role="admin")
    parent = make_account(email="camille.martin@example.org")
    backoffice.unlock(db, admin, parent)  # one line in the journal
    visit.sign_in(admin.email, PASSWORD)
    check_pages(
        visit,
        [
            ("/agent/", "admin-espace-agent", False),
            (f"/agent/comptes/{parent.id}", "admin-compte", False),
            ("/agent/journal", "admin-journal", True),
            ("/agent/agents/nouveau", "admin-nouvel-agent", False),
            (f"/agent/communes/{commune.id}", "admin-coordonnees-commune", False),
            ("/agent/communes/nouvelle", "admin-nouvelle-commune", False),
        ],
    )


def test_household_pages(visit, db, make_account, commune):
    from citoyen.services import households

    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    household = households.create_household(
        db, agent, commune, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin")
    child = households.add_child(db, agent, household, first_name="Léa", last_name="Martin",
                                 birth_date=date(2018, 9, 14))
    visit.sign_in(parent.email, PASSWORD)
    check_pages(visit, [("/abonnements", "parent-abonnements", True)])
    # Subscribe with the keyboard-free plain form, as a person without JavaScript would.
    page = visit.page
    page.fill("#code-code", household.subscription_code)
    page.locator("form[action='/abonnements/code'] button").click()
    visit.wait_for_path("/foyer")
    from citoyen.services import children as child_records

    pickup = child_records.add_pickup(db, agent, household, child.id, first_name="Jeanne", last_name="Roux",
                                      relation="Voisine", phone="06 12 34 56 78")
    check_pages(
        visit,
        [
            ("/foyer", "parent-mon-foyer", True),
            ("/enfants", "parent-mes-enfants", False),
            (f"/foyer/{household.id}/enfants/nouveau", "parent-ajouter-enfant", False),
            (f"/foyer/{household.id}/enfants/{child.id}", "parent-fiche-enfant", True),
            (f"/foyer/{household.id}/enfants/{child.id}/sante", "parent-donnees-sanitaires", False),
            (f"/foyer/{household.id}/enfants/{child.id}/informations", "parent-informations-generales",
             True),
            (f"/foyer/{household.id}/enfants/{child.id}/autorisations", "parent-autorisations", False),
            (f"/foyer/{household.id}/enfants/{child.id}/personnes", "parent-personnes-autorisees", False),
            (f"/foyer/{household.id}/enfants/{child.id}/personnes/nouvelle", "parent-nouvelle-personne",
             False),
            (f"/foyer/{household.id}/enfants/{child.id}/personnes/{pickup.id}/retirer",
             "parent-retirer-personne", True),
            (f"/foyer/{household.id}/responsables/nouveau", "parent-ajouter-responsable", False),
            (f"/foyer/{household.id}/responsables/{household.guardians[0].id}/identite",
             "parent-identite", False),
        ],
    )
    page.context.clear_cookies()
    visit.sign_in(agent.email, PASSWORD)
    check_pages(
        visit,
        [
            ("/agent/foyers", "agent-foyers", False),
            ("/agent/foyers/nouveau", "agent-creer-foyer", False),
            ("/agent/foyers/import", "agent-importer-foyers", False),
            ("/agent/modifications", "agent-a-valider", False),
            (f"/agent/foyers/{household.id}", "agent-foyer", True),
            (f"/agent/foyers/{household.id}/comptes/{parent.id}/detacher", "agent-detacher-compte", False),
        ],
    )


def test_commune_choice_pages(visit, db, make_account, commune):
    from tests import factories

    factories.organisation(db, name="Orme", slug="orme", postcodes="45100")
    factories.organisation(db, name="Pré-le-Bourg", slug="pre", postcodes="45100")
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    visit.sign_in(parent.email, PASSWORD)
    check_pages(visit, [
        ("/abonnements", "parent-votre-commune", True),
        ("/abonnements/commune?code_postal=45100", "parent-plusieurs-communes", False),
    ])


def martin_family(db, make_account, commune):
    """An agent, and Camille subscribed to the Martin household of the commune."""
    from citoyen.services import households

    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    household = households.create_household(
        db, agent, commune, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin")
    households.subscribe(db, parent, households.Attempt("code", code=household.subscription_code),
                         "http://localhost")
    return agent, parent


def test_request_pages_and_a_request_sent_with_the_keyboard(visit, db, make_account, commune):
    """« Mes demandes »: a family writes a request with the keyboard only; the town hall answers it."""
    from citoyen.services import requests

    agent, parent = martin_family(db, make_account, commune)
    visit.sign_in(parent.email, PASSWORD)
    page = visit.page
    check_pages(visit, [("/demandes", "parent-mes-demandes", True),
                        ("/demandes/nouvelle", "parent-nouvelle-demande", True)])
    page.locator("#kind").focus()
    page.keyboard.press("ArrowDown")  # « Demande d'attestation »
    page.keyboard.press("Tab")
    page.keyboard.type("Attestation de quotient familial")
    page.keyboard.press("Tab")
    page.keyboard.type("Bonjour, pourriez-vous m'envoyer une attestation pour la CAF ?")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Envoyer la demande")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Votre demande est envoyée à la mairie.")
    found = requests.of_account(db, parent)[0]
    assert found.status == "pending" and found.kind == "certificate"
    check_pages(visit, [(f"/demandes/{found.id}", "parent-demande", True),
                        (f"/demandes/{found.id}/annuler", "parent-demande-annuler", True)])
    requests.add_message(db, agent, found.id, "Elle part au courrier demain.", "http://localhost")
    page.context.clear_cookies()
    visit.sign_in(agent.email, PASSWORD)
    check_pages(visit, [("/agent/demandes", "agent-demandes", False),
                        (f"/agent/demandes/{found.id}", "agent-demande", False)])


def test_a_request_sent_and_cancelled_without_javascript(browser, live_server, db, make_account, commune):
    """« Mes demandes » as plain forms: nothing needs JavaScript."""
    from tests.browser.helpers import Visit

    agent, parent = martin_family(db, make_account, commune)
    context = browser.new_context(java_script_enabled=False)
    try:
        visit = Visit(context.new_page(), live_server)
        page = visit.page
        visit.sign_in(parent.email, PASSWORD)
        visit.goto("/demandes/nouvelle")
        page.select_option("#kind", label="Question sur une facture")
        page.fill("#subject", "Facture de novembre")
        # Sending without the text: the message at the field, what was typed kept.
        page.get_by_role("button", name="Envoyer la demande").click()
        page.wait_for_selector("#body-error")
        assert page.input_value("#subject") == "Facture de novembre"
        page.fill("#body", "La cantine du 11 novembre est facturée alors que c'était férié.")
        page.get_by_role("button", name="Envoyer la demande").click()
        page.wait_for_selector("text=Votre demande est envoyée à la mairie.")
        # (axe needs JavaScript: these pages are checked by the test above.)
        page.get_by_role("link", name="Annuler la demande").click()
        page.wait_for_selector("text=La mairie ne traitera pas cette demande.")
        page.get_by_role("button", name="Annuler la demande").click()
        page.wait_for_selector("text=Vous avez annulé cette demande.")
        screenshot(page, "parent-demande-annulee-sans-js", mobile=True)
    finally:
        context.close()
