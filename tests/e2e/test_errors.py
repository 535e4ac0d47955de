"""Errors as a screen-reader or keyboard user meets them, in real Chromium: "Erreur :" in the
page title, a summary at the top whose links lead to the fields, each field marked
aria-invalid and described by its message, and the answers kept."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.a11y_support import GUIDE_NUMERO, sign_in, start_request, wait_for_swap
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

BOTH = pytest.mark.parametrize("page_fixture", ["page", "js_disabled_page"])


def assert_summary_leads_to_invalid_fields(page: Page, expected: dict[str, str]) -> None:
    """Each summary link points at its field, which is invalid and described by the message."""
    summary = page.locator("#resume-erreurs")
    expect(summary).to_be_visible()
    links = summary.get_by_role("link")
    expect(links).to_have_count(len(expected))
    for field, message in expected.items():
        link = summary.locator(f'a[href="#{field}"]')
        expect(link).to_have_text(message)
        target = page.locator(f"#{field}")
        expect(target).to_have_count(1)
        expect(target).to_have_attribute("aria-invalid", "true")
        described = target.get_attribute("aria-describedby").split()
        assert f"{field}-erreur" in described, described
        expect(page.locator(f"#{field}-erreur")).to_have_text(f"Erreur : {message}")


@BOTH
def test_parametrage_errors(request, live_server, page_fixture):
    page = request.getfixturevalue(page_fixture)
    page.goto("/connexion")
    sign_in(page)
    page.goto(f"/demande/{GUIDE_NUMERO}/parametrage")
    page.locator("#modalite-acomptes").check()
    with page.expect_navigation():
        page.locator("form.parametrage button.primary").click()

    expect(page).to_have_title(re.compile(r"^Erreur : Paramétrage de la remise — "))
    assert_summary_leads_to_invalid_fields(
        page,
        {
            "compte": "Veuillez choisir le compte bancaire à utiliser.",
            "garanties": "Pour continuer, vous devez accepter de déposer les garanties "
            "suffisantes auprès de votre perception dans un délai de 30 jours.",
        },
    )
    expect(page.locator("#modalite-acomptes")).to_be_checked()  # the answer is kept
    if page_fixture == "page":
        # With JavaScript the summary takes the focus, so it is read first.
        expect(page.locator("#resume-erreurs")).to_be_focused()
        page.locator('#resume-erreurs a[href="#compte"]').click()
        expect(page).to_have_url(re.compile(r"#compte$"))
    shot(page, "parametrage-erreurs")


def test_simulation_errors_without_javascript(js_disabled_page: Page, live_server):
    page = js_disabled_page
    page.goto("/connexion")
    sign_in(page)
    start_request(page, GUIDE_NUMERO, "acomptes")
    page.locator("#avance").fill("12,345")
    with page.expect_navigation():
        page.locator('fieldset button[name="action"][value="simuler"]').click()

    expect(page).to_have_title(re.compile(r"^Erreur : Simulation de la demande de remise — "))
    assert_summary_leads_to_invalid_fields(
        page, {"avance": "Le montant de l'avance ne peut pas avoir plus de 2 décimales."}
    )
    expect(page.locator("#avance")).to_have_value("12,345")  # the answer is kept
    shot(page, "simulation-erreurs")


def test_simulation_errors_with_javascript_follow_the_swapped_messages(page: Page, live_server):
    """The panel is swapped, the fields stay: their error state is updated in place, and
    the live region says the simulation could not be made."""
    page.goto("/connexion")
    sign_in(page)
    start_request(page, GUIDE_NUMERO, "acomptes")
    avance = page.locator("#avance")

    wait_for_swap(page, lambda: avance.fill("abc"))
    expect(avance).to_be_focused()
    expect(avance).to_have_attribute("aria-invalid", "true")
    expect(avance).to_have_attribute("aria-describedby", "avance-aide avance-erreur")
    expect(page.locator("#avance-erreur")).to_have_text(
        "Erreur : Le montant de l'avance doit être un nombre, par exemple 5 000,00."
    )
    # The field's own message is announced with the line that says what happened.
    expect(page.locator("#simulation-annonce")).to_have_text(
        "Simulation impossible : corrigez les champs signalés. Le montant de l'avance doit"
        " être un nombre, par exemple 5 000,00."
    )
    expect(page.get_by_role("status").filter(has_text="Simulation impossible")).to_have_count(1)
    # And its border turns red (--red), not the ink of a field without error.
    red = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--red')")
    border = avance.evaluate("(el) => getComputedStyle(el).borderTopColor")
    swatch = page.evaluate(
        "(c) => { const s = document.createElement('span'); s.style.color = c;"
        " document.body.append(s); const v = getComputedStyle(s).color; s.remove(); return v; }",
        red.strip(),
    )
    assert border == swatch, (border, swatch)

    wait_for_swap(page, lambda: avance.fill("5000"))
    expect(avance).to_have_attribute("aria-invalid", "false")
    expect(avance).to_have_attribute("aria-describedby", "avance-aide")
    expect(page.locator("#simulation-annonce")).to_contain_text("Simulation mise à jour : 6 mois")

    # Valider without the conditions: the message next to the checkbox, announced, linked.
    wait_for_swap(page, lambda: page.locator('button[name="action"][value="valider"]').click())
    message = page.locator("#validation-erreurs")
    expect(message).to_have_attribute("role", "alert")
    expect(message).to_have_text(
        "Veuillez lire et accepter les conditions générales d'utilisation."
    )
    cgu = page.locator("#cgu")
    expect(cgu).to_have_attribute("aria-invalid", "true")
    expect(cgu).to_have_attribute("aria-describedby", "cgu-erreur")
    shot(page, "valider-sans-conditions")
