"""Two agenda journeys made with the keyboard only, with JavaScript on and off,
checked with axe: « Saisie groupée » (see what will be booked and why not,
« Créer », then « Supprimer ») and « Déclarer l'absence d'un enfant » (a day
past the cancellation deadline is cancelled all the same, the motive is kept).

Chromium runs in French (see conftest), so its date control reads
day/month/year; ``type_date`` still types the digits in the order the control
takes them, for a Chromium left with its English locale only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from citoyen.models import Absence
from citoyen.models import Booking
from citoyen.services import activities
from citoyen.services import agenda
from citoyen.services.booking_rules import format_limit
from citoyen.services.booking_rules import public_holiday
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.browser.helpers import Visit
from tests.factories import PASSWORD

CLOSURE = "Journée pédagogique"


@pytest.fixture
def town(db, make_account):
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def open_page(browser, live_server):
    """A page of a French browser, with JavaScript on or off."""
    contexts = []

    def open_(javascript: bool) -> Visit:
        context = browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                      timezone_id="Europe/Paris")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return Visit(page, live_server)

    yield open_
    for context in contexts:
        context.close()


# ---------------------------------------------------------------- the keyboard

def press_enter_on(visit: Visit, selector: str, text: str | None = None, limit: int = 60) -> None:
    visit.tab_to(selector, text, limit=limit)
    visit.page.keyboard.press("Enter")


def set_checkbox(visit: Visit, selector: str, checked: bool) -> None:
    visit.tab_to(selector, limit=60)
    if visit.page.is_checked(selector) != checked:
        visit.page.keyboard.press("Space")
    assert visit.page.is_checked(selector) == checked, selector


def type_date(visit: Visit, selector: str, day: date) -> None:
    """Tab to a date control and type the day in it (day first in a French
    Chromium, month first in an English one)."""
    page = visit.page
    visit.tab_to(selector, limit=60)
    page.keyboard.type(f"{day:%d%m%Y}")
    if page.input_value(selector) != day.isoformat():
        # A month-first control: back to its first part, and again.
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.type(f"{day:%m%d%Y}")
    assert page.input_value(selector) == day.isoformat(), f"{selector}: {page.input_value(selector)}"


def choose_option(visit: Visit, selector: str, label: str) -> None:
    """A closed list takes the first letters of an option (type-ahead)."""
    visit.tab_to(selector, limit=60)
    visit.page.keyboard.type(label[:3])
    chosen = visit.page.eval_on_selector(selector, "el => el.options[el.selectedIndex].text")
    assert chosen == label, f"{selector}: {chosen!r}"


def assert_focus_visible(visit: Visit) -> None:
    """Every stop of the keyboard showed the portal's focus style, the calendar
    button inside a date control included (the input does not match
    :focus-visible there: the style is given on :focus)."""
    kinds = {state["tag"] for state in visit.focused}
    assert {"a", "button", "input"} <= kinds, f"links, buttons and fields were not all reached: {kinds}"
    hidden = [state for state in visit.focused if not state["visible"]]
    assert not hidden, f"focus not visible on: {hidden}"


# ---------------------------------------------------------------- what the pages show

CELLS = """() => Object.fromEntries([...document.querySelectorAll('li.slot')].map(li => [li.id, [
  [...li.classList].find(c => c.startsWith('slot-') && c !== 'slot'),
  li.querySelector('.slot-state').innerText.trim(),
  li.querySelector('button') !== null,
]]))"""


def cells(visit: Visit) -> dict[str, tuple[str, str, bool]]:
    """Every cell of the month shown: its state (a class), its words, and whether it has a button."""
    return {key: tuple(value) for key, value in visit.page.evaluate(CELLS).items()}


def cell_id(child, activity, day: date) -> str:
    return f"c{child.id}-a{activity.id}-{day:%Y%m%d}"


def table_rows(visit: Visit) -> list[tuple[str, str, str, str]]:
    rows = []
    for row in visit.page.locator("table.bulk-preview tbody tr").all():
        day, child, activity, outcome = (c.strip() for c in row.locator("td").all_inner_texts())
        rows.append((day, child, activity, outcome.lstrip("✔✖ ")))
    return rows


def months_of(days) -> list[str]:
    return sorted({f"{d:%Y-%m}" for d in days})


def booked_days(db, child) -> set[date]:
    db.rollback()  # a new snapshot: the portal wrote in its own sessions
    return set(db.scalars(select(Booking.day).where(Booking.child_id == child.id,
                                                    Booking.status == "booked")))


# ---------------------------------------------------------------- « Saisie groupée »

def fill_bulk_form(visit: Visit, town, start: date, end: date) -> None:
    """Both children, the canteen, Mondays and Thursdays, from ``start`` to ``end``."""
    set_checkbox(visit, "#children-0", True)
    set_checkbox(visit, "#children-1", True)
    set_checkbox(visit, "#activities-0", False)
    set_checkbox(visit, "#activities-1", True)
    type_date(visit, "#start_date", start)
    type_date(visit, "#end_date", end)
    for number, checked in enumerate([True, False, False, True, False, False, False]):
        set_checkbox(visit, f"#weekdays-{number}", checked)


def assert_bulk_form_kept(visit: Visit, start: date, end: date) -> None:
    page = visit.page
    assert page.input_value("#start_date") == start.isoformat()
    assert page.input_value("#end_date") == end.isoformat()
    checked = [box.get_attribute("id") for box in page.locator("#bulk-form input[type=checkbox]:checked").all()]
    assert checked == ["children-0", "children-1", "activities-1", "weekdays-0", "weekdays-3"]


@dataclass
class BulkPlan:
    """Mondays and Thursdays of about a month; one Thursday closed by the town
    hall; Léo already booked on the first Monday."""

    start: date
    end: date
    days: list[date]
    closed: date
    preview: list[tuple[str, str, str, str]]  # the rows the preview must show
    to_book: dict[str, set[date]]  # by first name, the days « Créer » books


@pytest.fixture
def plan(db, town) -> BulkPlan:
    start = next_weekday(0)
    end = start + timedelta(days=30)
    days = [d for d in (start + timedelta(days=n) for n in range(31)) if d.weekday() in (0, 3)]
    closed = next(d for d in days if d.weekday() == 3 and not public_holiday(d))
    activities.add_closure(db, town.agent, town.organisation, closed, closed, CLOSURE)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, start)
    preview, to_book = [], {"Léo": set(), "Inès": set()}
    for child in (town.leo, town.ines):
        for d in days:
            if public_holiday(d):
                outcome = f"Non : Fermé — jour férié ({public_holiday(d)})"
            elif d == closed:
                outcome = f"Non : Fermé — {CLOSURE}"
            elif child is town.leo and d == start:
                outcome = "Non : déjà réservé"
            else:
                outcome = "Oui"
                to_book[child.first_name].add(d)
            preview.append((f"{d:%d/%m/%Y}", child.first_name, "Restauration scolaire", outcome))
    return BulkPlan(start, end, days, closed, preview, to_book)


def open_bulk_form(visit: Visit, town, plan: BulkPlan) -> None:
    """From the month agenda, the link « Saisie groupée » (with the keyboard)."""
    visit.sign_in(town.parent.email, PASSWORD)
    visit.goto(f"/agenda?mois={plan.start:%Y-%m}")
    press_enter_on(visit, "main a", "Saisie groupée")
    visit.wait_for_path("/agenda/saisie-groupee")
    assert visit.page.inner_text("h1") == "Saisie groupée"


def assert_month_cells(visit: Visit, town, plan: BulkPlan, booked: bool, name: str | None = None) -> None:
    """Each month of the period, every child: the days « Réservé » (or « Non
    réservé »), the closed days say why."""
    for month in months_of(plan.days):
        visit.goto(f"/agenda?enfant=tous&mois={month}")
        shown = cells(visit)
        for child in (town.leo, town.ines):
            for d in (d for d in plan.days if f"{d:%Y-%m}" == month):
                if public_holiday(d):
                    expected = ("slot-closed", f"– Fermé : jour férié ({public_holiday(d)})", False)
                elif d == plan.closed:
                    expected = ("slot-closed", f"– Fermé : {CLOSURE}", False)
                elif booked:
                    expected = ("slot-booked", "✔ Réservé", True)
                else:
                    expected = ("slot-bookable", "○ Non réservé", True)
                assert shown[cell_id(child, town.canteen, d)] == expected, (child.first_name, d)
        if name and month == f"{plan.start:%Y-%m}":
            visit.check(name)


def bulk_create_journey(visit: Visit, town, db, plan: BulkPlan, javascript: bool) -> None:
    page = visit.page
    start, end = plan.start, plan.end
    created = len(plan.to_book["Léo"]) + len(plan.to_book["Inès"])
    open_bulk_form(visit, town, plan)
    if javascript:
        visit.check("saisie-groupee-01-formulaire")

    # A slip: the end typed before the start. The message is at the field, the rest is kept.
    visit.allow_status("/agenda/saisie-groupee", 422)
    fill_bulk_form(visit, town, start, start - timedelta(days=3))
    press_enter_on(visit, "#bulk-form button", "Voir ce qui sera réservé")
    page.wait_for_selector("#end_date-error")
    assert page.inner_text("#end_date-error") == "La fin de la période doit être après son début."
    assert page.get_attribute("#end_date", "aria-invalid") == "true"
    assert "end_date-error" in page.get_attribute("#end_date", "aria-describedby")
    assert "La fin de la période doit être après son début." in page.inner_text(".error-summary")
    if javascript:
        # Only the form's region came back, and the keyboard is on its error summary.
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert_bulk_form_kept(visit, start, start - timedelta(days=3))
    assert page.locator("table.bulk-preview").count() == 0
    assert booked_days(db, town.ines) == set()
    if javascript:
        visit.check("saisie-groupee-02-erreur")

    # Corrected, then the preview: every day, booked or not, and why not.
    type_date(visit, "#end_date", end)
    press_enter_on(visit, "#bulk-form button", "Voir ce qui sera réservé")
    page.wait_for_selector("#apercu")
    assert page.inner_text("#apercu") == (
        f"Aperçu : {created} réservations à créer sur {len(plan.preview)} demandées")
    assert table_rows(visit) == plan.preview
    assert_bulk_form_kept(visit, start, end)
    assert booked_days(db, town.leo) == {start} and booked_days(db, town.ines) == set()
    if javascript:
        visit.check("saisie-groupee-03-apercu", mobile=True)

    press_enter_on(visit, "#bulk-form button", "Créer")
    page.wait_for_selector("text=Réservations créées")
    if javascript:
        assert page.evaluate("document.activeElement.matches('p.notice-success')")
    assert page.inner_text("p.notice-success") == (
        f"Réservations créées : {created}. Les autres jours sont restés tels quels.")
    assert page.inner_text("#apercu") == (
        f"Résultat : {created} réservations créées sur {len(plan.preview)} demandées")
    assert table_rows(visit) == plan.preview
    assert page.get_by_role("button", name="Créer").count() == 0
    if javascript:
        visit.check("saisie-groupee-04-cree")
    assert booked_days(db, town.leo) == plan.to_book["Léo"] | {start}
    assert booked_days(db, town.ines) == plan.to_book["Inès"]

    assert_month_cells(visit, town, plan, booked=True, name="saisie-groupee-05-agenda-reserve" if javascript else None)
    visit.assert_clean_console("saisie groupée, Créer")
    assert_focus_visible(visit)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "sans-js"])
def test_bulk_booking_create_with_the_keyboard(open_page, town, db, plan, javascript):
    bulk_create_journey(open_page(javascript), town, db, plan, javascript)


def bulk_delete_journey(visit: Visit, town, db, plan: BulkPlan, javascript: bool) -> None:
    page = visit.page
    agenda.bulk(db, town.parent, [town.leo.id, town.ines.id], [town.canteen.id], plan.start, plan.end, [0, 3],
                "create", BASE_URL, apply=True)
    booked = {"Léo": plan.to_book["Léo"] | {plan.start}, "Inès": plan.to_book["Inès"]}
    assert booked_days(db, town.leo) == booked["Léo"] and booked_days(db, town.ines) == booked["Inès"]
    cancelled = len(booked["Léo"]) + len(booked["Inès"])

    open_bulk_form(visit, town, plan)
    fill_bulk_form(visit, town, plan.start, plan.end)
    press_enter_on(visit, "#bulk-form button", "Voir ce qui sera annulé")
    page.wait_for_selector("#apercu")
    assert page.inner_text("#apercu") == (
        f"Aperçu : {cancelled} réservations à supprimer sur {len(plan.preview)} demandées")
    assert page.get_by_role("button", name="Créer").count() == 0
    assert_bulk_form_kept(visit, plan.start, plan.end)
    press_enter_on(visit, "#bulk-form button", "Supprimer")
    page.wait_for_selector("text=Réservations supprimées")
    assert page.inner_text("p.notice-success") == (
        f"Réservations supprimées : {cancelled}. Les autres jours sont restés tels quels.")
    assert page.inner_text("#apercu") == (
        f"Résultat : {cancelled} réservations supprimées sur {len(plan.preview)} demandées")
    outcomes = {(row[1], row[0]): row[3] for row in table_rows(visit)}
    for (first_name, day), outcome in outcomes.items():
        the_day = datetime.strptime(day, "%d/%m/%Y").date()
        if the_day in booked[first_name]:
            assert outcome == "Oui", (first_name, day)
        else:
            assert outcome.startswith("Non : pas de réservation"), (first_name, day, outcome)
    assert outcomes[("Léo", f"{plan.closed:%d/%m/%Y}")] == f"Non : pas de réservation — {CLOSURE}"
    assert page.get_by_role("button", name="Supprimer").count() == 0
    if javascript:
        visit.check("saisie-groupee-06-supprime")
    assert booked_days(db, town.leo) == set() and booked_days(db, town.ines) == set()

    assert_month_cells(visit, town, plan, booked=False, name="saisie-groupee-07-agenda-annule" if javascript else None)
    visit.assert_clean_console("saisie groupée, Supprimer")
    assert_focus_visible(visit)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "sans-js"])
def test_bulk_booking_delete_with_the_keyboard(open_page, town, db, plan, javascript):
    bulk_delete_journey(open_page(javascript), town, db, plan, javascript)


# ---------------------------------------------------------------- « Déclarer l'absence d'un enfant »

def absence_days() -> tuple[date, date]:
    """A Tuesday and the Thursday after, in one month, neither a public holiday."""
    tuesday = next_weekday(1)
    while public_holiday(tuesday + timedelta(days=2)) or (tuesday + timedelta(days=2)).month != tuesday.month:
        tuesday = next_weekday(1, after=tuesday, weeks=1)
    return tuesday, tuesday + timedelta(days=2)


def absence_journey(visit: Visit, town, db, monkeypatch, javascript: bool) -> None:
    page = visit.page
    tuesday, thursday = absence_days()
    # The family booked on Monday morning; it is now Monday 14:00, past the
    # cancellation deadline of Tuesday (the day before at 12:00). The portal is
    # served from this process, so its clock is the one frozen here.
    booked_at = datetime.combine(tuesday - timedelta(days=1), time(9, 0))
    now = datetime.combine(tuesday - timedelta(days=1), time(14, 0))
    for child, day in [(town.leo, tuesday), (town.leo, thursday), (town.ines, tuesday)]:
        agenda.book(db, town.parent, child.id, town.canteen.id, day, now=booked_at)
    monkeypatch.setattr(agenda, "local_now", lambda: now)
    month = f"{tuesday:%Y-%m}"

    visit.sign_in(town.parent.email, PASSWORD)
    visit.goto(f"/agenda?enfant={town.leo.id}&mois={month}")
    shown = cells(visit)
    deadline = format_limit(datetime.combine(tuesday - timedelta(days=1), time(12, 0)))[3:]
    # Past the deadline: booked, the limit said, no « Annuler » button; Thursday can still be cancelled.
    assert shown[cell_id(town.leo, town.canteen, tuesday)] == (
        "slot-booked", f"✔ Réservé : Annulation possible jusqu'au {deadline}", False)
    assert shown[cell_id(town.leo, town.canteen, thursday)] == ("slot-booked", "✔ Réservé", True)
    if javascript:
        visit.check("absence-01-agenda-delai-depasse")
    press_enter_on(visit, "main a", "Déclarer l'absence d'un enfant")
    visit.wait_for_path("/agenda/absence")
    assert page.inner_text("h1") == "Déclarer l'absence d'un enfant"
    if javascript:
        visit.check("absence-02-formulaire", mobile=True)

    # A slip: a day two months ago. The message is at the field, what was typed is kept.
    visit.allow_status("/agenda/absence", 422)
    long_ago = now.date() - timedelta(days=62)
    comment = "Fièvre, il reste à la maison."
    choose_option(visit, "#child", "Léo Martin")
    type_date(visit, "#start_date", long_ago)
    type_date(visit, "#end_date", long_ago)
    choose_option(visit, "#motive", "Maladie")
    visit.tab_to("#comment")
    page.keyboard.type(comment)
    press_enter_on(visit, "#absence-form button", "Enregistrer la demande")
    page.wait_for_selector("#start_date-error")
    assert page.inner_text("#start_date-error") == "Une absence se déclare au plus tard un mois après."
    assert page.get_attribute("#start_date", "aria-invalid") == "true"
    assert page.input_value("#child") == str(town.leo.id)
    assert page.input_value("#start_date") == long_ago.isoformat()
    assert page.input_value("#end_date") == long_ago.isoformat()
    assert page.input_value("#motive") == "illness"
    assert page.input_value("#comment").strip() == comment
    if javascript:
        # The form came back in place and the keyboard is on its error summary.
        assert visit.path() == "/agenda/absence"
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")
        visit.check("absence-03-erreur")
    db.rollback()
    assert db.scalars(select(Absence)).all() == []

    type_date(visit, "#start_date", tuesday)
    type_date(visit, "#end_date", thursday)
    press_enter_on(visit, "#absence-form button", "Enregistrer la demande")
    visit.wait_for_path("/agenda")
    assert visit.path() == f"/agenda?enfant={town.leo.id}&mois={month}"
    assert page.inner_text("p.notice-success") == "L'absence est enregistrée. 2 réservations annulées."
    shown = cells(visit)
    # The agenda says the absence: past the deadline, in its own words; before it, bookable again.
    assert shown[cell_id(town.leo, town.canteen, tuesday)] == ("slot-absent", "⊘ Absence déclarée : Maladie", False)
    assert shown[cell_id(town.leo, town.canteen, thursday)] == (
        "slot-bookable", "○ Non réservé : Absence déclarée (Maladie)", True)
    if javascript:
        visit.check("absence-04-agenda-apres")

    db.rollback()
    absence = db.scalars(select(Absence)).one()
    assert (absence.child_id, absence.start_date, absence.end_date, absence.motive, absence.comment) == (
        town.leo.id, tuesday, thursday, "illness", comment)
    assert agenda.ABSENCE_MOTIVES[absence.motive] == "Maladie"
    bookings = {(b.child_id, b.day): b for b in db.scalars(select(Booking))}
    for day in (tuesday, thursday):
        assert bookings[(town.leo.id, day)].status == "cancelled"
        assert bookings[(town.leo.id, day)].absence_id == absence.id
    assert bookings[(town.ines.id, tuesday)].status == "booked"
    visit.goto(f"/agenda?enfant={town.ines.id}&mois={month}")
    assert cells(visit)[cell_id(town.ines, town.canteen, tuesday)][0] == "slot-booked"
    visit.assert_clean_console("absence")
    assert_focus_visible(visit)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "sans-js"])
def test_declare_an_absence_with_the_keyboard(open_page, town, db, monkeypatch, javascript):
    absence_journey(open_page(javascript), town, db, monkeypatch, javascript)
