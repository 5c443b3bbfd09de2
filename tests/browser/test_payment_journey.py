"""Paiements in a real browser: a parent tops up the compte d'avance through the
local test bank (served over HTTP, its notification posted to the live portal),
with JavaScript on and off; a refusal at the bank; cash recorded by an agent."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from dataclasses import field

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from citoyen import demo_bank
from citoyen.db import new_session
from citoyen.models import LedgerEntry
from citoyen.models import Payment
from citoyen.models.money import PAYMENT_PAID
from citoyen.models.money import PAYMENT_REFUSED
from citoyen.services import households
from citoyen.services import ledger
from citoyen.services.households import Attempt
from tests import factories
from tests.browser.helpers import Visit
from tests.browser.helpers import assert_accessible
from tests.browser.helpers import screenshot
from tests.factories import PASSWORD

NBSP = "\u00a0"


@dataclass
class Notified:
    """One notification the bank posted to the portal, and what it found there."""

    url: str
    status: int | None
    balance: int | None


@dataclass
class Bank:
    url: str
    app: object
    portal: object = None  # the portal's Flask app, once it exists
    household_id: int | None = None
    notified: list[Notified] = field(default_factory=list)


@pytest.fixture
def bank():
    """The test bank served over HTTP on a free port. Its notifications go to the
    portal for real (``demo_bank.post_form``); each one records the answer and the
    balance right after it, before the browser is sent back."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    server.daemon_threads = True
    server.block_on_close = False
    holder = Bank(url=f"http://127.0.0.1:{server.server_port}", app=None)

    def notify(url: str, fields: dict) -> int:
        status = None
        try:
            status = demo_bank.post_form(url, fields)
            return status
        finally:
            balance = None
            if holder.portal is not None and holder.household_id is not None:
                with new_session(holder.portal) as session:
                    balance = ledger.balance(session, holder.household_id)
            holder.notified.append(Notified(url, status, balance))

    holder.app = demo_bank.create_bank({"TESTING": True, "NOTIFY": notify})
    server.app = holder.app
    thread = threading.Thread(target=server.serve_forever, name="test-bank", daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def app_config(bank):
    """The browser tests' portal, paying through the test bank."""
    return {
        "MAIL_SEND_AFTER_REQUEST": False,
        "WTF_CSRF_ENABLED": True,
        "DEMO": True,
        "MAIL_BACKEND": "file",
        "PAYMENT_BACKENDS": {
            "*": {
                "kind": "systempayv2",
                "options": {
                    "service_url": bank.url + "/vads-payment/",
                    "secret_test": demo_bank.DEMO_SECRET,
                    "signature_algo": "hmac_sha256",
                    "vads_site_id": "12345678",
                },
            }
        },
    }


@pytest.fixture
def family(app, db, make_account, bank):
    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    town = factories.organisation(db)
    household = households.create_household(
        db, agent, town, name="Martin", guardian_first_name="Camille", guardian_last_name="Martin"
    )
    households.subscribe(
        db, parent, Attempt("code", code=household.subscription_code), "http://localhost"
    )
    bank.portal = app
    bank.household_id = household.id
    return agent, parent, household


def _euros(text: str) -> str:
    return text.replace(" €", NBSP + "€")


def _balance(page) -> str:
    return page.locator("section.card p.balance").inner_text()


def _rows(app, household_id):
    with new_session(app) as session:
        entries = list(
            session.scalars(select(LedgerEntry).where(LedgerEntry.household_id == household_id))
        )
        paid = list(session.scalars(select(Payment).where(Payment.household_id == household_id)))
        return entries, paid


def check(visit, name: str, mobile: bool = False, portal: bool = True) -> None:
    """``visit.check`` (axe, clean console, screenshot). Without JavaScript, axe cannot
    run in the page itself (its promise never settles there: page.evaluate hangs), so
    the page's HTML, scripts left out, is served again at the same address to a page
    with JavaScript (``visit.axe_page``) and axe runs there."""
    page = visit.page
    clone = getattr(visit, "axe_page", None)
    if clone is None:
        if portal:
            visit.check(name, mobile=mobile)
        else:
            page.wait_for_load_state()
            assert_accessible(page, f"{name} ({page.url})")
            screenshot(page, name, mobile=mobile)
        return
    page.wait_for_load_state()
    html = re.sub(r"<script\b[^>]*>.*?</script>", "", page.content(), flags=re.S)
    url = page.url

    def serve(route):
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    clone.route(url, serve)
    try:
        clone.goto(url)
        clone.wait_for_load_state()
        assert_accessible(clone, f"{name} ({url}, without JavaScript)")
    finally:
        clone.unroute(url, serve)
    if portal:
        visit.assert_clean_console(name)
    screenshot(page, name, mobile=mobile)


def back_from_the_bank(visit, bank) -> None:
    """Wait for the portal, then forget the bank page's own favicon request: the test
    bank links no icon, so Chromium asks it for /favicon.ico and gets a 404 there."""
    visit.wait_for_path("/paiements")
    favicon = bank.url + "/favicon.ico"
    visit.console_errors = [e for e in visit.console_errors if not e.endswith(f"[{favicon}]")]


def to_the_bank(visit, household, bank, amount: str, javascript: bool, name: str) -> None:
    """From the home page to the bank's page: Paiements, Montant, Valider le paiement."""
    page = visit.page
    visit.goto("/")
    amount_field = f"#h{household.id}-amount"
    if javascript:
        visit.tab_to("a", "Paiements")
        page.keyboard.press("Enter")
        visit.wait_for_path("/paiements")
    else:
        page.get_by_role("link", name="Paiements", exact=True).click()
        visit.wait_for_path("/paiements")
    assert page.get_by_role("heading", name="Solde de votre compte d'avance").is_visible()
    assert _balance(page) == _euros("0,00 €")
    assert "Aucun mouvement pour l'instant." in page.content()
    assert page.get_by_label("Montant").get_attribute("id") == amount_field[1:]
    check(visit, f"{name}-01-paiements", mobile=javascript)
    if javascript:
        visit.type_into(amount_field, amount)
        visit.tab_to("button", "Valider le paiement")
        page.keyboard.press("Enter")
    else:
        page.get_by_label("Montant").fill(amount)
        page.get_by_role("button", name="Valider le paiement").click()
        # Without JavaScript, the page that leaves for the bank stays on screen.
        visit.wait_for_path(f"/paiements/{household.id}/recharger")
        assert page.get_by_role("heading", name="Paiement sécurisé").is_visible()
        check(visit, f"{name}-02-paiement-securise", mobile=True)
        page.get_by_role("button", name="Continuer vers la banque").click()
    page.wait_for_url(bank.url + "/vads-payment/")
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Banque de test").is_visible()
    check(visit, f"{name}-03-banque", portal=False)


def pay(visit, family, bank, javascript: bool, name: str) -> None:
    _, _, household = family
    page = visit.page
    visit.sign_in("camille.martin@example.org", PASSWORD)
    to_the_bank(visit, household, bank, "25", javascript, name)
    assert "Paiement de 25,00 € à 12345678." in page.locator("main").inner_text()
    page.get_by_role("button", name="Payer", exact=True).click()
    back_from_the_bank(visit, bank)
    success = (
        "Votre paiement de 25,00\u00a0€ est accepté. Le solde de votre compte d'avance est à jour."
    )
    assert success in page.locator(".flashes").inner_text()
    assert _balance(page) == _euros("25,00 €")
    movements = page.locator("section.card table tbody tr")
    assert movements.count() == 1
    assert "Rechargement en ligne" in movements.first.inner_text()
    assert "+25,00" in movements.first.inner_text()
    assert "en cours de traitement" not in page.content()
    check(visit, f"{name}-04-retour", mobile=javascript)
    # The bank's server-to-server notification reached the live portal, and
    # credited the account on its own, before the browser came back.
    assert len(bank.notified) == 1
    assert bank.notified[0].url == visit.base_url + "/paiements/notification"
    assert bank.notified[0].status == 200
    assert bank.notified[0].balance == 2500
    # The return then found the payment settled: credited once, not twice.
    entries, paid = _rows(bank.portal, household.id)
    assert [e.amount_cents for e in entries] == [2500]
    assert [(p.status, p.amount_cents) for p in paid] == [(PAYMENT_PAID, 2500)]
    # Coming back to the page later: the message is gone, the balance stays.
    visit.goto("/paiements")
    assert page.locator(".flashes").count() == 0
    assert _balance(page) == _euros("25,00 €")


def test_top_up_with_javascript_and_the_keyboard(visit, family, bank):
    pay(visit, family, bank, javascript=True, name="paiement-js")


def test_top_up_without_javascript(browser, live_server, family, bank):
    context = browser.new_context(java_script_enabled=False)
    with_js = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        visit = Visit(page, live_server)
        visit.axe_page = with_js.new_page()
        visit.axe_page.set_default_timeout(10_000)
        pay(visit, family, bank, javascript=False, name="paiement-sans-js")
    finally:
        with_js.close()
        context.close()


def test_refused_at_the_bank(visit, family, bank):
    _, _, household = family
    page = visit.page
    visit.sign_in("camille.martin@example.org", PASSWORD)
    to_the_bank(visit, household, bank, "40", True, "paiement-refus")
    page.get_by_role("button", name="Refuser", exact=True).click()
    back_from_the_bank(visit, bank)
    assert (
        "La banque a refusé le paiement : rien n'a été débité."
        in page.locator(".flashes").inner_text()
    )
    assert _balance(page) == _euros("0,00 €")
    assert "Aucun mouvement pour l'instant." in page.content()
    visit.check("paiement-refus-04-retour", mobile=True)
    assert [(n.status, n.balance) for n in bank.notified] == [(200, 0)]
    entries, paid = _rows(bank.portal, household.id)
    assert entries == []
    assert [(p.status, p.amount_cents) for p in paid] == [(PAYMENT_REFUSED, 4000)]


def test_agent_records_cash_with_the_keyboard(visit, family):
    agent, _, household = family
    page = visit.page
    visit.sign_in(agent.email, PASSWORD)
    visit.goto(f"/agent/foyers/{household.id}/compte")
    assert page.get_by_role("heading", name="Paiement en espèces").is_visible()
    assert _euros("Solde : 0,00 €") in page.locator("p.balance").inner_text()
    visit.check("paiement-agent-01-compte", mobile=True)
    visit.type_into("#cash-amount", "20")
    visit.tab_to("button", "Enregistrer le paiement")
    page.keyboard.press("Enter")
    visit.wait_for_path(f"/agent/foyers/{household.id}/compte")
    page.wait_for_selector(".flashes")
    assert (
        "Paiement en espèces de 20,00\u00a0€ enregistré." in page.locator(".flashes").inner_text()
    )
    assert page.locator("p.balance").inner_text() == _euros("Solde : 20,00 €")
    assert re.search(r"\+20,00", page.locator("table").first.inner_text())
    visit.check("paiement-agent-02-especes-enregistrees", mobile=True)
    visit.assert_focus_visible()
