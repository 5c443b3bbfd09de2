"""From a booked day to its invoice: the family books with one click, the month
is billed, the family finds the invoice in « Mes factures », opens its PDF and
pays it through the test bank (the top-up through the bank is in
test_payment_journey.py)."""

from __future__ import annotations

from sqlalchemy import update

from citoyen.models import Organisation
from citoyen.services import billing
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.factories import PASSWORD


def test_book_then_invoice_then_pdf(visit, db, make_account):
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    town = build_town(db, parent=parent)
    db.execute(update(Organisation).values(billing_mode="postpaid"))
    db.commit()
    billing.set_prices(db, town.agent, town.canteen.id, [("", "3,90")])
    page = visit.page
    visit.sign_in(parent.email, PASSWORD)
    day = next_weekday(0)
    visit.goto(f"/agenda?enfant={town.leo.id}&mois={day:%Y-%m}")
    cell = f"#c{town.leo.id}-a{town.canteen.id}-{day:%Y%m%d}"
    button = page.locator(f"#b-c{town.leo.id}-a{town.canteen.id}-{day:%Y%m%d}")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{cell}.slot-booked")
    # The town hall bills the month (as « Lancer la facturation » does for every household).
    assert billing.bill_household(db, town.household.id, day, BASE_URL) == (1, 390)
    visit.goto("/paiements/factures")
    assert "Reste à payer" in page.content() and "3,90" in page.content() and "À payer" in page.content()
    visit.check("argent-facture-apres-reservation")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger au format PDF").first.click()
    path = download.value.path()
    with open(path, "rb") as document:
        content = document.read()
    assert content.startswith(b"%PDF") and len(content) < 100_000
    assert download.value.suggested_filename.startswith("F")
    visit.goto("/paiements")
    assert "-3,90" in page.content()
    visit.assert_clean_console()
