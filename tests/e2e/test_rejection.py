"""« Rejetée » asks for a confirmation in real Chromium: a native <dialog> with
JavaScript (focus on its title, Escape and Annuler close it, the keyboard alone
confirms), a page without. Nothing is written until Confirmer le rejet."""

from __future__ import annotations

from datetime import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from commands.demo import DEMO_PASSWORD
from services import backoffice
from tests.e2e.conftest import login, shot
from tests.integration.plans import confirmed_plan, user, validate

pytestmark = pytest.mark.e2e

REINSTATED = "soit 5\u202f895,98\u00a0MAD"


@pytest.fixture
def due(live_server) -> str:
    """Validated on 05/12/2023, avance paid; on 11/02/2024 instalment 1 awaits its result."""
    clock = live_server.app.config["CLOCK"]
    with live_server.app.app_context():
        demande = confirmed_plan()
        clock.set(datetime(2023, 12, 5, 11, 0))
        validate(demande)
        clock.set(datetime(2024, 1, 11, 9, 0))
        backoffice.record_result(demande, 0, "payee", actor=user("agent.casa"))
        clock.set(datetime(2024, 2, 11, 9, 0))
        return demande.reference


def row_status(page):
    return page.locator("#echeancier ~ .table-scroll tbody tr").nth(1).locator("td").nth(2)


def test_the_dialog_asks_before_rejecting(page, live_server, due):
    login(page, live_server.url, "agent.casa", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/perception/demandes/{due}")
    rejetee = page.get_by_role("button", name="Rejetée — Échéance 1")
    rejetee.click()
    dialog = page.locator("dialog#rejet-dialog")
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.locator("#rejet-titre")).to_be_focused()
    expect(dialog).to_contain_text(f"Demande {due} : prélèvement de l'échéance n° 1 du 10/02/2024")
    expect(dialog).to_contain_text(REINSTATED)
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    shot(page, "dialogue")

    page.keyboard.press("Escape")
    expect(dialog).not_to_have_attribute("open", "")
    expect(row_status(page)).to_have_text("À prélever")

    rejetee.click()
    expect(dialog).to_have_attribute("open", "")
    dialog.get_by_role("button", name="Annuler").click()
    expect(dialog).not_to_have_attribute("open", "")
    expect(row_status(page)).to_have_text("À prélever")

    # The keyboard alone: Enter on Rejetée, Tab to Confirmer le rejet, Enter.
    rejetee.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.locator("#rejet-titre")).to_be_focused()
    confirm = dialog.get_by_role("button", name="Confirmer le rejet")
    for _ in range(4):
        if confirm.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".entete").first).to_contain_text("Annulée")
    expect(row_status(page)).to_contain_text("Rejetée")


def test_without_javascript_a_page_asks_before_rejecting(js_disabled_page, live_server, due):
    page = js_disabled_page
    login(page, live_server.url, "agent.casa", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/perception/demandes/{due}")
    page.get_by_role("button", name="Rejetée — Échéance 1").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Enregistrer le rejet du prélèvement ?")
    expect(page.locator("main")).to_contain_text(REINSTATED)
    shot(page, "page")
    page.get_by_role("link", name="Annuler").click()
    expect(row_status(page)).to_have_text("À prélever")

    page.get_by_role("button", name="Rejetée — Échéance 1").click()
    page.get_by_role("button", name="Confirmer le rejet").click()
    expect(page.locator(".entete").first).to_contain_text("Annulée")
