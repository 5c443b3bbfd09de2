"""A parent sends a PDF, the town hall previews and validates it, the parent sees
it Validé until its end date — with JavaScript on and off."""

from __future__ import annotations

import pytest

from citoyen.services import documents
from citoyen.timefmt import format_date
from tests import samples
from tests.document_data import make_family
from tests.factories import PASSWORD


@pytest.fixture
def family(db, make_account):
    agent = make_account(email="agent@belval.example", first_name="Julien", role="agent")
    parent = make_account(email="camille.martin@example.org", first_name="Camille")
    return make_family(db, agent, parent)


def journey(visit, family, javascript: bool):
    page = visit.page
    upload = f"/justificatifs/{family.household.id}/{family.address.id}/fournir"
    visit.sign_in("camille.martin@example.org", PASSWORD)
    visit.goto("/justificatifs")
    if javascript:
        visit.check("justificatifs-01-mes-justificatifs", mobile=True)
    page.get_by_role("link", name="Fournir le justificatif : Justificatif de domicile").click()
    visit.wait_for_path(upload)
    assert page.get_attribute("#photo", "capture") == "environment"

    # A picture named .pdf: refused, with the message at the field.
    visit.allow_status(upload, 422)
    page.set_input_files("#files", files=[
        {"name": "domicile.pdf", "mimeType": "application/pdf", "buffer": samples.png()}])
    page.get_by_role("button", name="Fournir le justificatif").click()
    page.wait_for_selector("#files-error")
    assert "ne correspond pas à un fichier .pdf" in page.inner_text("#files-error")
    if javascript:
        assert visit.path() == upload
        visit.check("justificatifs-02-fichier-refuse")

    content = samples.pdf_of_size(300_000)
    page.set_input_files("#files", files=[
        {"name": "domicile.pdf", "mimeType": "application/pdf", "buffer": content}])
    if javascript:
        # A slow connection: the upload shows its progress.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 50, "downloadThroughput": 200_000,
            "uploadThroughput": 100_000})
    page.get_by_role("button", name="Fournir le justificatif").click()
    if javascript:
        page.wait_for_selector(".upload-progress", state="visible")
        assert page.is_disabled("#upload-form button[type=submit]")
    visit.wait_for_path("/justificatifs")
    if javascript:
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    page.wait_for_selector("text=est transmis à la mairie")
    assert "Non traité" in page.inner_text("main")
    if javascript:
        visit.check("justificatifs-03-non-traite")

    page.context.clear_cookies()
    visit.sign_in("agent@belval.example", PASSWORD)
    visit.goto("/agent/justificatifs")
    if javascript:
        visit.check("justificatifs-04-a-verifier")
    page.get_by_role("link", name="Justificatif de domicile").click()
    page.wait_for_selector("iframe.preview")
    if javascript:
        visit.check("justificatifs-05-apercu")
    page.get_by_role("button", name="Valider le justificatif").click()
    visit.wait_for_path("/agent/justificatifs")
    assert "Aucun justificatif à vérifier" in page.inner_text("main")

    page.context.clear_cookies()
    visit.sign_in("camille.martin@example.org", PASSWORD)
    visit.goto("/justificatifs")
    until = format_date(documents.default_valid_until(family.address, documents.today()))
    item = page.locator(f"#justificatif-{family.address.id}-0").inner_text()
    assert f"Validé jusqu'au {until}" in item
    if javascript:
        visit.check("justificatifs-06-valide")


def test_documents_journey_with_javascript(visit, family):
    journey(visit, family, javascript=True)


def test_documents_journey_without_javascript(browser, live_server, family):
    from tests.browser.helpers import Visit

    context = browser.new_context(java_script_enabled=False)
    try:
        visit = Visit(context.new_page(), live_server)
        journey(visit, family, javascript=False)
    finally:
        context.close()


def test_agent_pages_for_justificatifs_are_accessible(visit, family):
    visit.sign_in("agent@belval.example", PASSWORD)
    visit.goto(f"/agent/foyers/{family.household.id}/justificatifs")
    visit.check("justificatifs-07-foyer-agent")
    visit.page.select_option("#document_type", f"{family.pai.id}-{family.leo.id}")
    visit.page.fill("#message", "Le PAI signé, s'il vous plaît.")
    visit.page.get_by_role("button", name="Réclamer le justificatif").click()
    visit.page.wait_for_selector("text=la famille est prévenue")
    assert "Réclamé" in visit.page.inner_text("main")
    visit.goto("/agent/justificatifs/types")
    visit.check("justificatifs-08-types")
    visit.goto("/agent/justificatifs/types/nouveau")
    visit.check("justificatifs-09-nouveau-type")


@pytest.mark.parametrize("javascript", [True, False])
def test_too_much_at_once_gets_the_message_at_the_field(browser, live_server, family, javascript):
    from tests.browser.helpers import Visit

    context = browser.new_context(java_script_enabled=javascript)
    try:
        visit = Visit(context.new_page(), live_server)
        upload = f"/justificatifs/{family.household.id}/{family.address.id}/fournir"
        visit.sign_in("camille.martin@example.org", PASSWORD)
        visit.goto(upload)
        visit.allow_status(upload, 422)
        visit.page.set_input_files("#files", files=[
            {"name": f"page{i}.pdf", "mimeType": "application/pdf",
             "buffer": samples.pdf_of_size(2 * 1024 * 1024)} for i in range(6)])
        visit.page.get_by_role("button", name="Fournir le justificatif").click()
        visit.page.wait_for_selector("#files-error")
        assert "dépassent la taille autorisée" in visit.page.inner_text("#files-error")
        assert "Fichier trop volumineux" not in visit.page.inner_text("main")
        if javascript:
            visit.check("justificatifs-10-trop-volumineux")
    finally:
        context.close()
