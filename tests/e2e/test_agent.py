"""The perception agent's work in real Chromium: the requests list and its htmx filters,
guarantees, debit results, a default, the simulation preview — checked with axe-core."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from commands.demo import DEMO_PASSWORD
from tests.e2e.conftest import login, shot
from tests.integration.back_office import GUIDE, make_demande

pytestmark = pytest.mark.e2e

AGENT = "agent.casa"


def assert_accessible(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.fixture
def plan(live_server) -> str:
    """An instalments request of Perception Casablanca Anfa, confirmed on 20/11/2023."""
    with live_server.app.app_context():
        return make_demande(GUIDE, n=2, avance="5000").reference


def set_clock(live_server, value: datetime) -> None:
    live_server.app.config["CLOCK"].set(value)


def test_agent_validates_records_debits_and_sees_the_default(page, live_server, plan):
    login(page, live_server.url, AGENT, DEMO_PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/perception/demandes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Demandes de remise de la perception")
    table = page.locator("#demandes-table")
    row = table.get_by_role("row").filter(has_text=plan)
    expect(row).to_contain_text("En attente de garanties")
    expect(row).to_contain_text("30 jours restants")
    assert_accessible(page)
    shot(page, "1-liste")

    # htmx: the status filter re-renders only the table and updates the address.
    page.get_by_label("Statut").select_option(label="Soldée")
    expect(page).to_have_url(re.compile(r"statut=soldee"))
    expect(table).to_contain_text("Aucune demande ne correspond à ces critères.")
    page.get_by_label("Statut").select_option(label="En attente de garanties")
    expect(table.get_by_role("link", name=plan)).to_be_visible()
    shot(page, "2-filtre")

    table.get_by_role("link", name=plan).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Demande {plan}")
    assert_accessible(page)
    shot(page, "3-detail")

    # Guarantees: a missing reference is named next to its field, the answers are kept.
    page.get_by_label("Type de garantie").select_option(label="Caution bancaire")
    page.get_by_label("Date de dépôt").fill("2023-11-20")
    page.get_by_role("button", name="Enregistrer et valider la demande").click()
    expect(page.locator("#garantie_reference-erreur")).to_have_text(
        "Erreur : Veuillez saisir la référence de la garantie."
    )
    expect(page).to_have_title(re.compile(r"^Erreur :"))
    expect(page.get_by_label("Type de garantie")).to_have_value("caution_bancaire")
    assert_accessible(page)
    shot(page, "4-garanties-erreur")

    page.get_by_label("Référence de la garantie").fill("CB-2023-0042")
    page.get_by_role("button", name="Enregistrer et valider la demande").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "la demande " + plan + " est validée. Premier prélèvement le 10/12/2023."
    )
    schedule = page.locator("table").filter(has_text="Date de prélèvement")
    expect(schedule.get_by_role("row")).to_have_count(4)
    expect(schedule.get_by_role("row").nth(1)).to_contain_text("10/12/2023")
    expect(schedule.get_by_role("row").nth(2)).to_contain_text("10/01/2024")
    expect(schedule.get_by_role("row").nth(3)).to_contain_text("10/02/2024")
    shot(page, "5-validee")

    set_clock(live_server, datetime(2023, 12, 11, 9, 0))
    page.reload()
    page.get_by_role("button", name="Payée — Avance").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Prélèvement de l'avance enregistré : payé."
    )

    set_clock(live_server, datetime(2024, 1, 11, 9, 0))
    page.reload()
    page.get_by_role("button", name="Rejetée — Échéance 1").click()
    page.locator("dialog#rejet-dialog").get_by_role("button", name="Confirmer le rejet").click()
    expect(page.locator(".entete").first).to_contain_text("Annulée")
    reinstated = page.locator("#reintegration + p + .table-scroll table")
    expect(reinstated).to_contain_text("5\u202f756,86\u00a0MAD")
    expect(reinstated).to_contain_text("139,12\u00a0MAD")
    expect(reinstated).to_contain_text("5\u202f895,98\u00a0MAD")
    assert_accessible(page)
    shot(page, "6-annulee")

    page.get_by_role("link", name=GUIDE).click()
    expect(page.get_by_role("heading", name="Montants réintégrés")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        "montants réintégrés compris : 22\u202f846,61\u00a0MAD"
    )
    shot(page, "7-affilie")


def test_agent_previews_a_simulation_without_creating_a_request(page, live_server):
    login(page, live_server.url, AGENT, DEMO_PASSWORD)
    page.get_by_role("link", name="Simulation pour un affilié").click()
    page.get_by_label("Numéro d'affiliation ou raison sociale").fill(GUIDE)
    page.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(f"{live_server.url}/perception/affilies/{GUIDE}")
    panel = page.locator("#simulation-panel")
    expect(panel).to_contain_text("6 mois")

    page.get_by_role("button", name="Une échéance de plus").click()
    expect(panel).to_contain_text("7 mois")
    expect(page.get_by_role("spinbutton", name="Nombre des échéances :")).to_have_value("7")

    page.locator("#nombre_echeances").fill("30")
    expect(page.locator("#palier")).to_contain_text("40,00\u00a0%")
    expect(panel).to_contain_text("30 mois")
    page.get_by_label("Montant de l'avance :").fill("5 000,00")
    expect(panel).to_contain_text("5\u202f000,00\u00a0MAD")
    # The page itself was never reloaded: the count is kept for the next −.
    page.get_by_role("button", name="Une échéance de moins").click()
    expect(panel).to_contain_text("29 mois")
    assert_accessible(page)
    shot(page, "simulation")

    page.get_by_role("link", name="Paiement intégral").click()
    expect(panel).to_contain_text("Montant à payer")
    expect(page.locator("#nombre_echeances")).to_have_count(0)

    with live_server.app.app_context():
        from sqlalchemy import func, select

        from db.models import Demande
        from extensions import db

        assert db.session.scalar(select(func.count()).select_from(Demande)) == 1  # the demo's


def test_agent_pages_work_without_javascript(js_disabled_page, live_server, plan):
    page = js_disabled_page
    login(page, live_server.url, AGENT, DEMO_PASSWORD)
    page.get_by_label("Statut").select_option(label="Soldée")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"statut=soldee"))
    expect(page.locator("#demandes-table")).to_contain_text("Aucune demande")
    page.get_by_role("link", name="Réinitialiser").click()
    page.get_by_role("link", name=plan).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Demande {plan}")

    page.goto(f"/perception/affilies/{GUIDE}")
    page.get_by_role("button", name="Une échéance de plus").click()
    expect(page.locator("#simulation-panel")).to_contain_text("7 mois")
    page.get_by_role("button", name="Une échéance de plus").click()
    expect(page.locator("#simulation-panel")).to_contain_text("8 mois")
    shot(page, "sans-javascript")


def test_agent_preview_survives_a_reload(page, live_server):
    login(page, live_server.url, AGENT, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/perception/affilies/{GUIDE}")
    panel = page.locator("#simulation-panel")
    page.get_by_role("button", name="Une échéance de plus").click()
    expect(panel).to_contain_text("7 mois")
    page.get_by_label("Montant de l'avance :").fill("5 000,00")
    expect(panel).to_contain_text("5\u202f000,00\u00a0MAD")
    expect(page).to_have_url(
        re.compile(r"precedent=7&avance=5\+000%2C00|precedent=7&avance=5\+000,00")
    )
    page.reload()
    expect(page.locator("#nombre_echeances")).to_have_value("7")
    expect(page.locator("#avance")).to_have_value("5 000,00")
    expect(panel).to_contain_text("5\u202f000,00\u00a0MAD")
    shot(page, "apres-rechargement")
