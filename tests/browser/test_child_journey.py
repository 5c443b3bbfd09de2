"""A parent edits a child's allergies, the town hall validates, the parent sees them applied."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from citoyen.services import households
from citoyen.services.households import Attempt
from tests import factories
from tests.factories import PASSWORD


@pytest.fixture
def family(db, make_account):
    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    town = factories.organisation(db)
    household = households.create_household(
        db, agent, town, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), "http://localhost")
    child = households.add_child(db, agent, household, first_name="Léa", last_name="Martin",
                                 birth_date=date(2018, 9, 14))
    return parent, household, child


def journey(visit, family, javascript: bool):
    parent, household, child = family
    page = visit.page
    visit.sign_in(parent.email, PASSWORD)
    visit.goto("/enfants")
    page.get_by_role("link", name="Voir la fiche de Léa Martin").click()
    visit.wait_for_path(f"/foyer/{household.id}/enfants/{child.id}")
    edit = page.get_by_role("link", name="Modifier : données sanitaires de Léa")
    if javascript:
        # Keyboard only: focus the link, open the form in place, type, save. The form
        # comes in with the keyboard on its first field, and the section goes back with
        # the keyboard on its heading, not at the top of the page.
        edit.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(f"#child_health-{child.id} form")
        expect(page.locator("#allergies")).to_be_focused()
        page.keyboard.type("Arachide, kiwi")
        page.locator("#pai").focus()
        page.keyboard.press("Space")
        page.locator(f"#child_health-{child.id} button[type=submit]").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("text=En attente de validation par la mairie")
        expect(page.locator(f"#child_health-{child.id} h2")).to_be_focused()
    else:
        edit.click()
        visit.wait_for_path(f"/foyer/{household.id}/enfants/{child.id}/sante")
        page.fill("#allergies", "Arachide, kiwi")
        page.check("#pai")
        page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_selector("text=En attente de validation par la mairie")
    if javascript:
        visit.check("enfant-01-allergies-en-attente")
    page.context.clear_cookies()
    visit.sign_in("agent@belval.example", PASSWORD)
    visit.goto("/agent/modifications")
    page.get_by_role("link", name="Données sanitaires — Léa Martin").click()
    page.wait_for_selector("text=Avant et après")
    if javascript:
        visit.check("enfant-02-avant-apres")
    page.get_by_role("button", name="Valider la modification").click()
    visit.wait_for_path("/agent/modifications")
    page.context.clear_cookies()
    visit.sign_in(parent.email, PASSWORD)
    visit.goto(f"/foyer/{household.id}/enfants/{child.id}")
    content = page.content()
    assert "Arachide, kiwi" in content and "En attente de validation" not in content
    if javascript:
        visit.check("enfant-03-fiche-a-jour")


def test_child_journey_with_javascript(visit, family):
    journey(visit, family, javascript=True)


def test_child_journey_without_javascript(browser, live_server, family):
    from tests.browser.helpers import Visit

    context = browser.new_context(java_script_enabled=False)
    try:
        visit = Visit(context.new_page(), live_server)
        journey(visit, family, javascript=False)
    finally:
        context.close()
