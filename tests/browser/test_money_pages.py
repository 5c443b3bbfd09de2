"""The money pages of families and agents, checked with axe (and looked at)."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

from citoyen.models import DocumentType
from citoyen.services import billing
from citoyen.services import invoices
from citoyen.services import ledger
from tests.agenda_helpers import build_town
from tests.browser.test_pages_a11y import check_pages
from tests.factories import PASSWORD


def test_money_pages(visit, db, make_account):
    admin = make_account(email="admin.argent@example.org", role="admin")
    town = build_town(db)
    billing.set_prices(db, town.agent, town.canteen.id, [("800", "1,50"), ("", "4")])
    db.add(DocumentType(organisation_id=town.organisation.id, name="Attestation d'assurance", scope="child"))
    ledger.record_cash(db, town.agent, town.household, "20")
    invoice = invoices.issue(db, town.household, "Facture post-paiement pour octobre 2026", date(2026, 10, 1),
                             date(2026, 10, 31), [invoices.Line("Restauration scolaire — Léo — 12 jours à 4,00 €",
                                                                12, 400, town.leo.id)])
    db.commit()
    last_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)  # a month ended
    run = billing.start_run(db, town.agent, town.organisation.id, last_month)
    visit.sign_in(town.parent.email, PASSWORD)
    check_pages(visit, [
        ("/paiements", "argent-paiements", True),
        ("/paiements/factures", "argent-mes-factures", True),
    ])
    assert invoice.number in visit.page.content()
    visit.page.context.clear_cookies()
    visit.sign_in(town.agent.email, PASSWORD)
    check_pages(visit, [
        (f"/agent/foyers/{town.household.id}/compte", "argent-agent-compte", True),
        ("/agent/soldes", "argent-agent-soldes", False),
        ("/agent/facturation", "argent-agent-facturation", False),
        (f"/agent/facturation/{run.id}", "argent-agent-facturation-en-cours", False),
        (f"/agent/activites/{town.canteen.id}/tarifs", "argent-agent-tarifs", True),
        (f"/agent/activites/{town.canteen.id}/justificatifs", "agent-justificatifs-exiges", False),
    ])
    visit.goto("/paiements/factures")
    visit.page.context.clear_cookies()
    visit.sign_in(admin.email, PASSWORD)
    check_pages(visit, [(f"/agent/communes/{town.organisation.id}/facturation", "argent-regles", False)])
