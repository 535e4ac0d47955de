"""The whole instalments journey from the keyboard alone, in real Chromium.

Only key presses once the login page is open: Tab, Shift+Tab, Space, Enter, an arrow on
the slider and the radio group, ArrowDown on the bank account list, and typed text. At
every stop the focused element must show a focus ring, and a swap of the simulation
panel must leave the focus on the control that asked for it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from commands.demo import DEMO_PASSWORD
from tests.e2e.a11y_support import GUIDE_NUMERO, wait_for_swap
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

MAX_TABS = 80

FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "nothing focused";
  const style = getComputedStyle(el);
  const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  if (!el.matches(":focus-visible")) return "not :focus-visible: " + el.outerHTML.slice(0, 120);
  if (!ring) return "no outline: " + el.outerHTML.slice(0, 120);
  return "";
}"""


def focused(page: Page, selector: str) -> bool:
    return page.evaluate("(s) => document.activeElement.matches(s)", selector)


def assert_focus_visible(page: Page) -> None:
    problem = page.evaluate(FOCUS_RING)
    assert problem == "", problem


def tab_to(page: Page, selector: str, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until ``selector`` has the focus; every stop shows a ring."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        assert_focus_visible(page)
        if focused(page, selector):
            return
    pytest.fail(f"{selector} not reached in {MAX_TABS} presses of {key}")


def press_and_wait_for_the_panel(page: Page, key: str) -> None:
    wait_for_swap(page, lambda: page.keyboard.press(key))


def announcement(page: Page):
    return page.locator("#simulation-annonce")


def test_the_instalments_journey_by_keyboard_alone(page: Page, live_server):
    page.goto("/connexion")

    # Login: the skip link comes first, then the language button, then the form.
    page.keyboard.press("Tab")
    assert focused(page, "a.skip")
    assert_focus_visible(page)
    tab_to(page, "#utilisateur")
    page.keyboard.type("groupe")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/")

    # Home → Nouvelle demande de remise.
    tab_to(page, 'a[href="/demande/nouvelle"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # Choisir un affilié: search, then the affilié's link in the filtered table.
    tab_to(page, "#q")
    wait_for_swap(page, lambda: page.keyboard.type("ATLAS"))
    assert focused(page, "#q")  # the table was swapped, not the search field
    tab_to(page, f'#affilies-table a[href="/demande/{GUIDE_NUMERO}/parametrage"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # Paramétrage: Paiement par acomptes, the guarantees, the first bank account.
    tab_to(page, "#modalite-integral")
    page.keyboard.press("ArrowDown")  # inside a radio group the arrows choose
    assert focused(page, "#modalite-acomptes")
    expect(page.locator("#modalite-acomptes")).to_be_checked()
    tab_to(page, "#garanties")
    page.keyboard.press("Space")
    expect(page.locator("#garanties")).to_be_checked()
    tab_to(page, "#compte")
    page.keyboard.press("ArrowDown")
    assert page.locator("#compte").input_value() != ""
    tab_to(page, "form.parametrage button.primary")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/demande/{GUIDE_NUMERO}/simulation$"))

    # Simulation: an avance, then + / − and the slider; focus stays put across swaps.
    tab_to(page, "#avance")
    wait_for_swap(page, lambda: page.keyboard.type("5000"))
    assert focused(page, "#avance")

    tab_to(page, 'button[name="action"][value="plus"]')
    press_and_wait_for_the_panel(page, "Enter")
    assert focused(page, 'button[name="action"][value="plus"]')
    assert_focus_visible(page)
    expect(announcement(page)).to_contain_text("Simulation mise à jour : 7 mois")
    press_and_wait_for_the_panel(page, "Space")
    assert focused(page, 'button[name="action"][value="plus"]')
    expect(announcement(page)).to_contain_text("Simulation mise à jour : 8 mois")

    tab_to(page, "#curseur", backwards=True)
    press_and_wait_for_the_panel(page, "ArrowRight")
    assert focused(page, "#curseur")
    assert_focus_visible(page)
    slider = page.locator("#curseur")
    expect(slider).to_have_value("9")
    expect(slider).to_have_attribute("aria-valuetext", "9 mois")
    expect(slider).to_have_accessible_name("Nombre des échéances (curseur)")
    expect(page.locator("#nombre_echeances")).to_have_value("9")
    expect(announcement(page)).to_contain_text("Simulation mise à jour : 9 mois")

    tab_to(page, 'button[name="action"][value="moins"]', backwards=True)
    press_and_wait_for_the_panel(page, "Enter")
    assert focused(page, 'button[name="action"][value="moins"]')
    expect(announcement(page)).to_contain_text("Simulation mise à jour : 8 mois")

    # The number field: another way than dragging, across the 24-instalment tier.
    tab_to(page, "#nombre_echeances")  # Tab selects the field's text: typing replaces it
    page.keyboard.type("8")
    press_and_wait_for_the_panel(page, "3")  # 83: out of range, refused
    expect(page.locator("#nombre_echeances-erreur")).to_be_visible()
    expect(page.locator("#nombre_echeances")).to_have_attribute("aria-invalid", "true")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("3")
    press_and_wait_for_the_panel(page, "0")
    assert focused(page, "#nombre_echeances")
    expect(page.locator("#nombre_echeances")).to_have_attribute("aria-invalid", "false")
    expect(announcement(page)).to_contain_text("Simulation mise à jour : 30 mois")
    expect(page.locator("#palier")).to_contain_text("40,00")
    shot(page, "1-simulation")

    # Conditions générales in their dialog, accepted from the keyboard.
    tab_to(page, "a[data-dialog=conditions-dialog]")
    page.keyboard.press("Enter")
    expect(page.locator("#conditions-dialog")).to_be_visible()
    tab_to(page, "#conditions-dialog [data-accept-conditions]")
    page.keyboard.press("Enter")
    expect(page.locator("#conditions-dialog")).to_be_hidden()
    expect(page.locator("#cgu")).to_be_checked()
    assert focused(page, "#cgu")

    # Valider → the confirmation dialog (focus on its title) → Confirmer.
    tab_to(page, 'button[name="action"][value="valider"]')
    page.keyboard.press("Enter")
    dialog = page.locator("#confirmation-dialog")
    expect(dialog).to_be_visible()
    assert focused(page, "#confirmation-titre")
    shot(page, "2-confirmation")
    tab_to(page, "#confirmation-dialog button[data-once]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator(".confirmation-banner")).to_contain_text("bien enregistrée")
    expect(page.locator("main")).to_contain_text("30 mois")
    shot(page, "3-recapitulatif")
