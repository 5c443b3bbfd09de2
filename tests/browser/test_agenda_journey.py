"""A family enrols a child, the town hall validates, the family books a day in
one click and cancels it; with JavaScript (only the cell changes) and without
(the month comes back), checked with axe."""

from __future__ import annotations

from datetime import time
from datetime import timedelta

import pytest

from citoyen.models import Closure
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.factories import PASSWORD


@pytest.fixture
def town(db, make_account):
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    town = build_town(db, parent=parent, agent=agent)
    town.study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True,
                          start_time=time(16, 30), end_time=time(17, 30))
    return town


def journey(visit, town, javascript: bool):
    page = visit.page
    name = "js" if javascript else "sans-js"
    visit.sign_in(town.parent.email, PASSWORD)
    visit.goto("/agenda")
    if javascript:
        visit.check("agenda-01-mois", mobile=True)
    page.get_by_role("link", name="Inscrire à une activité").click()
    visit.wait_for_path("/agenda/inscription")
    page.select_option("#child", label="Léo Martin")
    page.select_option("#activity", label="Étude — École Jules-Ferry (sur validation de la mairie)")
    if javascript:
        visit.check("agenda-02-inscrire")
    page.get_by_role("button", name="Inscrire").click()
    visit.wait_for_path("/agenda")
    assert "en attente de validation par la mairie" in page.content()

    page.context.clear_cookies()
    visit.sign_in(town.agent.email, PASSWORD)
    visit.goto("/agent/inscriptions")
    if javascript:
        visit.check("agenda-03-inscriptions-a-valider")
    page.get_by_role("button", name="Valider l'inscription de Léo Martin à Étude").click()
    visit.wait_for_path("/agent/inscriptions")
    assert "Aucune inscription en attente" in page.content()

    page.context.clear_cookies()
    visit.sign_in(town.parent.email, PASSWORD)
    day = next_weekday(0)
    visit.goto(f"/agenda?enfant={town.leo.id}&mois={day:%Y-%m}")
    cell = f"#c{town.leo.id}-a{town.study.id}-{day:%Y%m%d}"
    button = page.locator(f"#b-c{town.leo.id}-a{town.study.id}-{day:%Y%m%d}")
    assert "Non réservé" in page.inner_text(cell)
    url_before = page.url
    if javascript:
        # The keyboard: the button is reachable, Enter books, the focus stays on the cell's button.
        button.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(f"{cell}.slot-booked")
        assert page.url == url_before
        assert page.evaluate("document.activeElement.id") == f"b-c{town.leo.id}-a{town.study.id}-{day:%Y%m%d}"
        visit.check("agenda-04-reserve")
        # The mouse: one click cancels.
        page.locator(cell).get_by_role("button").click()
        page.wait_for_selector(f"{cell}.slot-bookable")
        assert page.url == url_before
    else:
        button.click()
        page.wait_for_selector("text=La réservation est enregistrée.")
        assert "Réservé" in page.inner_text(cell)
        page.locator(cell).get_by_role("button").click()
        page.wait_for_selector("text=La réservation est annulée.")
    assert "Non réservé" in page.inner_text(cell)
    page.screenshot(path=f"test-artifacts/screenshots/agenda-05-annule-{name}.png", full_page=True)
    visit.goto("/agenda/saisie-groupee")
    if javascript:
        visit.check("agenda-06-saisie-groupee")
    visit.goto("/agenda/absence")
    if javascript:
        visit.check("agenda-07-absence")
    visit.assert_clean_console()


def test_agenda_journey_with_javascript(visit, town):
    journey(visit, town, javascript=True)


def test_agenda_journey_without_javascript(browser, live_server, town):
    from tests.browser.helpers import Visit

    context = browser.new_context(java_script_enabled=False)
    try:
        visit = Visit(context.new_page(), live_server)
        journey(visit, town, javascript=False)
    finally:
        context.close()


def test_agent_activity_pages_are_accessible(visit, town, db, app):
    from citoyen import storage
    from citoyen.services import agenda
    from tests import samples

    agenda.book(db, town.parent, town.leo.id, town.canteen.id, next_weekday(0))
    files = storage.from_config(app.config, app.instance_path)
    for day, certificate in ((next_weekday(1), ("certificat.pdf", samples.pdf())), (next_weekday(3), None)):
        agenda.declare_absence(db, town.parent, town.leo.id, day, day, "illness", "Fièvre", "http://test",
                               certificate=certificate, storage=files)
    visit.sign_in(town.parent.email, PASSWORD)
    visit.goto("/agenda/absence")
    visit.check("agenda-08-absences-declarees")
    visit.page.context.clear_cookies()
    closure = Closure(organisation_id=town.organisation.id, activity_id=town.canteen.id, reason="Grève",
                      start_date=next_weekday(4), end_date=next_weekday(4))
    db.add(closure)
    db.commit()
    visit.sign_in(town.agent.email, PASSWORD)
    for path, name in [("/agent/activites", "agent-activites"),
                       (f"/agent/activites/{town.canteen.id}", "agent-activite"),
                       ("/agent/activites/nouvelle", "agent-activite-nouvelle"),
                       (f"/agent/listes?jour={next_weekday(0).isoformat()}", "agent-listes"),
                       ("/agent/inscriptions", "agent-inscriptions"),
                       ("/agent/absences", "agent-absences"),
                       (f"/agent/fermetures/{closure.id}/supprimer?back=/agent/activites/{town.canteen.id}",
                        "agent-fermeture-supprimer")]:
        visit.goto(path)
        visit.check(name)
    visit.goto("/agent/listes?jour=31/02/2026", status=422)
    visit.check("agent-listes-date-invalide")


def test_an_agent_books_for_a_family_from_the_back_office(visit, town, db):
    """At the counter or on the phone: from the household's page to its agenda, with the keyboard."""
    page = visit.page
    visit.sign_in(town.agent.email, PASSWORD)
    visit.goto(f"/agent/foyers/{town.household.id}")
    page.get_by_role("link", name="Agenda du foyer").click()
    visit.wait_for_path("/agenda")
    day = next_weekday(0)
    visit.goto(f"/agenda?foyer={town.household.id}&enfant={town.leo.id}&mois={day:%Y-%m}")
    assert "Agenda du foyer Martin" in page.inner_text("h1")
    cell = f"#c{town.leo.id}-a{town.canteen.id}-{day:%Y%m%d}"
    page.locator(f"#b-c{town.leo.id}-a{town.canteen.id}-{day:%Y%m%d}").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{cell}.slot-booked")
    assert page.evaluate("document.activeElement.id") == f"b-c{town.leo.id}-a{town.canteen.id}-{day:%Y%m%d}"
    visit.check("agent-agenda-du-foyer")
    for path, name in [(f"/agenda/inscription?foyer={town.household.id}", "agent-inscrire-pour-le-foyer"),
                       (f"/agenda/saisie-groupee?foyer={town.household.id}", "agent-saisie-groupee-du-foyer"),
                       (f"/agenda/absence?foyer={town.household.id}", "agent-absence-pour-le-foyer")]:
        visit.goto(path)
        visit.check(name)
    # « Mettre fin à l'inscription », from the list of the household's enrolments, with the keyboard.
    visit.goto(f"/agenda/inscription?foyer={town.household.id}")
    link = page.get_by_role("link", name="Mettre fin à l'inscription de Léo à Restauration scolaire du")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#last_day")
    visit.check("agent-fin-inscription")
    page.fill("#last_day", (day - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Mettre fin à l'inscription").press("Enter")
    page.wait_for_selector("text=prend fin le")
    assert "1 réservation annulée." in page.content()
    visit.check("agent-fin-inscription-faite")
    visit.assert_clean_console()
