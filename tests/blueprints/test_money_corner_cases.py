"""Agents' money pages at the edges: a price grid's error next to its tranche,
an avoir sent from a page that offered an invoice settled since."""

from __future__ import annotations

from datetime import date

from citoyen.services import invoices
from tests.agenda_helpers import build_town
from tests.blueprints.helpers import subscribed_family
from tests.blueprints.helpers import text


def test_a_price_grid_error_is_next_to_its_tranche(client, auth, db):
    town = build_town(db)
    auth.sign_in(town.agent.email)
    response = client.post(f"/agent/activites/{town.canteen.id}/tarifs", data={
        "brackets-0-ceiling": "500", "brackets-0-price": "1,20",
        "brackets-1-ceiling": "800", "brackets-1-price": "abc",
        "brackets-2-ceiling": "", "brackets-2-price": "4"})
    assert response.status_code == 422
    page = text(response)
    assert 'id="brackets-1-price-error"' in page
    assert 'aria-describedby="brackets-1-price-error"' in page
    assert page.count('class="field-error"') == 1
    assert 'value="abc"' in page


def test_an_avoir_for_an_invoice_settled_since_says_why(client, auth, parent, agent, db):
    household, child = subscribed_family(db, agent, parent)
    invoice = invoices.issue(db, household, "F", date(2026, 9, 1), date(2026, 9, 30),
                             [invoices.Line("Restauration", 2, 1000, child.id, True)], today=date(2026, 10, 1))
    db.commit()
    auth.sign_in(agent.email)
    address = f"/agent/foyers/{household.id}/avoir"
    sent = {"avoir-amount": "20", "avoir-reason": "Erreur de saisie", "avoir-invoice": str(invoice.id)}
    assert client.post(address, data={**sent, "avoir-idempotency_key": "a" * 32}).status_code == 303
    # The same avoir from a second tab, opened before the first was made.
    again = client.post(address, data={**sent, "avoir-idempotency_key": "b" * 32})
    assert again.status_code == 422
    page = text(again)
    assert "ne peut pas dépasser" in page
    assert "Il ne reste aucune facture à corriger par un avoir." in page
