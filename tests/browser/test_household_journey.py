"""Subscribe with a code, change the address in place, the town hall validates."""

from __future__ import annotations

import pytest

from citoyen.services import households
from tests import factories
from tests.factories import PASSWORD


@pytest.fixture
def household(db, make_account):
    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    town = factories.organisation(db)
    return households.create_household(
        db, agent, town, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin",
        city="Orléans", postcode="45000")


def journey(visit, household, make_account, javascript: bool):
    page = visit.page
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    visit.sign_in(parent.email, PASSWORD)
    visit.goto("/abonnements")
    page.fill("#code-code", household.subscription_code.lower())
    page.locator("form[action='/abonnements/code'] button").click()
    visit.wait_for_path("/foyer")
    if javascript:
        visit.check("foyer-01-mon-foyer")
    page.get_by_role("link", name="Modifier l'adresse").click()
    if javascript:
        # htmx swaps the form into the section: the address stays on screen around it.
        page.wait_for_selector(f"#address-{household.id} form")
        assert visit.path() == "/foyer"
    else:
        visit.wait_for_path(f"/foyer/{household.id}/adresse")
    page.fill("#address_line1", "5 rue Neuve")
    page.fill("#postcode", "45990")
    page.fill("#city", "Belval")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_selector("text=En attente de validation par la mairie")
    if javascript:
        visit.check("foyer-02-en-attente")
    page.context.clear_cookies()
    visit.sign_in("agent@belval.example", PASSWORD)
    visit.goto("/agent/modifications")
    if javascript:
        visit.check("foyer-03-a-valider")
    page.get_by_role("link", name="Adresse").click()
    page.wait_for_selector("text=Avant et après")
    if javascript:
        visit.check("foyer-04-avant-apres")
    page.get_by_role("button", name="Valider la modification").click()
    visit.wait_for_path("/agent/modifications")
    page.context.clear_cookies()
    visit.sign_in(parent.email, PASSWORD)
    visit.goto("/foyer")
    assert "Belval" in page.content()
    assert "En attente de validation" not in page.content()


def test_household_journey_with_javascript(visit, household, make_account):
    journey(visit, household, make_account, javascript=True)


def test_household_journey_without_javascript(browser, live_server, household, make_account):
    from tests.browser.helpers import Visit

    context = browser.new_context(java_script_enabled=False)
    try:
        visit = Visit(context.new_page(), live_server)
        journey(visit, household, make_account, javascript=False)
    finally:
        context.close()
