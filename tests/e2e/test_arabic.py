"""The simulation in Arabic, in real Chromium: the slider's spoken value follows Arabic
plurals as it moves, amounts are typed and shown left to right."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.a11y_support import (
    GUIDE_NUMERO,
    choose_language,
    sign_in,
    start_request,
    wait_for_swap,
)
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def arabic_simulation(page: Page, width: int = 1280) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/connexion")
    choose_language(page, "ar")
    sign_in(page)
    start_request(page, GUIDE_NUMERO, "acomptes")


def test_the_slider_says_its_months_with_arabic_plurals(page: Page, live_server):
    arabic_simulation(page)
    slider = page.locator("#curseur")
    expect(slider).to_have_attribute("aria-valuetext", "6 أشهر")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    expect(slider).to_have_attribute("aria-valuetext", "شهر واحد")
    page.keyboard.press("ArrowUp")
    expect(slider).to_have_attribute("aria-valuetext", "شهران")
    wait_for_swap(page, lambda: page.locator("#nombre_echeances").fill("11"))
    expect(slider).to_have_attribute("aria-valuetext", "11 شهرا")
    expect(page.locator("#picture-texte")).to_contain_text("لمدة 11 شهرا")
    shot(page, "simulation-ar-1280")


@pytest.mark.parametrize("width", [1280, 320])
def test_an_amount_typed_in_arabic_reads_left_to_right(page: Page, live_server, width):
    arabic_simulation(page, width)
    field = page.locator("#avance")
    wait_for_swap(page, lambda: field.fill("1 000,50"))
    expect(field).to_have_css("direction", "ltr")
    expect(page.locator("#simulation-panel")).to_contain_text("1.000,50")
    page.locator("#palier").scroll_into_view_if_needed()
    shot(page, f"avance-ar-{width}")
