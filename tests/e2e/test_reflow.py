"""Reflow (WCAG 1.4.10) and text resize (1.4.4): the journey at 320 CSS pixels wide,
and with text at 200 %, scrolls in one direction only.

Wide tables may scroll sideways inside their own ``.table-scroll`` region (a focusable,
labelled region): that is the exception 1.4.10 allows for data tables. Screenshots at
320 px are kept in tests/artifacts/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from commands.demo import seed_back_office_cases
from tests.e2e.a11y_support import (
    GUIDE_NUMERO,
    choose_language,
    sign_in,
    start_request,
    wait_for_swap,
)
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

# Elements reaching past the viewport's edge, outside a .table-scroll region.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const rtl = document.documentElement.dir === "rtl";
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".table-scroll, dialog:not([open]), .visually-hidden, .skip")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (rtl ? r.left < -1 : r.right > width + 1) out.push(el.outerHTML.slice(0, 100));
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 5)};
}"""


def assert_no_horizontal_scroll(page: Page, state: str, limit: int) -> None:
    """Waits (bounded) for the layout to settle within ``limit``, then says what overflows:
    a swap, a dialog or a font change may still be laying out on a loaded machine."""
    fits = f"const f = ({OVERFLOW})(); return f.scrollWidth <= {limit} && !f.out.length;"
    try:
        page.wait_for_function(f"() => {{ {fits} }}", timeout=5000)
    except PlaywrightTimeoutError:
        pass
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= limit and not found["out"], f"{state}: {found}"


def walk(page: Page, check) -> None:
    """The journey's pages and states, ``check(name)`` at each."""
    page.goto("/connexion")
    check("01-login")
    sign_in(page)
    check("02-accueil")
    page.goto("/demande/nouvelle")
    check("03-choisir-un-affilie")
    page.goto(f"/demande/{GUIDE_NUMERO}/parametrage")
    page.locator("form.parametrage button.primary").click()
    expect(page.locator("#resume-erreurs")).to_be_visible()
    check("04-parametrage-erreurs")
    start_request(page, GUIDE_NUMERO, "acomptes")
    wait_for_swap(page, lambda: page.locator("#nombre_echeances").fill("60"))
    page.locator("details.echeances summary").click()
    # Fetched on opening: a loaded machine (the suite on every core) may take seconds.
    expect(page.locator("details.echeances tbody tr")).to_have_count(60, timeout=20_000)
    check("05-simulation-60-echeances")
    wait_for_swap(page, lambda: page.locator("#avance").fill("abc"))
    check("06-simulation-erreur")
    wait_for_swap(page, lambda: page.locator("#avance").fill(""))
    page.locator("a[data-dialog=conditions-dialog]").click()
    expect(page.locator("#conditions-dialog")).to_be_visible()
    check("07-dialogue-conditions")
    page.locator("[data-accept-conditions]").click()
    page.locator('button[name="action"][value="valider"]').click()
    expect(page.locator("#confirmation-dialog")).to_be_visible()
    check("08-dialogue-confirmation")
    with page.expect_navigation():
        page.locator("#confirmation-dialog button[data-once]").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check("09-recapitulatif")


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_nothing_scrolls_sideways_at_320_pixels(page: Page, live_server, lang):
    page.set_viewport_size({"width": 320, "height": 640})

    def check(state: str) -> None:
        assert_no_horizontal_scroll(page, f"{lang} {state}", 320)
        shot(page, state)

    page.goto("/connexion")
    choose_language(page, lang)
    walk(page, check)


def test_text_at_200_percent_still_fits(page: Page, live_server):
    """Text-only zoom at 200 % (the root font size doubled) on a 1280 px screen zoomed to
    200 %, i.e. 640 CSS pixels: no sideways scrolling, the controls still reachable."""
    page.set_viewport_size({"width": 640, "height": 450})

    def check(state: str) -> None:
        page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
        page.wait_for_function(
            "() => parseFloat(getComputedStyle(document.documentElement).fontSize) >= 32"
        )
        assert_no_horizontal_scroll(page, f"200 % {state}", 640)
        shot(page, state)

    walk(page, check)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_validated_request_fits_320_pixels(page: Page, live_server, lang):
    """The récapitulatif of a validated request, with its Échéancier définitif: the
    tables scroll in their own regions, the page does not."""
    with live_server.app.app_context():
        seed_back_office_cases()
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/connexion")
    choose_language(page, lang)
    sign_in(page)
    page.goto("/demandes/RM-DEMO-CAS-VALIDEE")
    expect(page.locator("h1")).to_contain_text("RM-DEMO-CAS-VALIDEE")
    definitive = page.locator("table", has=page.locator("td", has_text="10/"))
    expect(definitive.first).to_be_visible()
    assert_no_horizontal_scroll(page, f"{lang} validée", 320)
    shot(page, f"validee-{lang}")


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_validation_dialog_opens_at_its_title_at_320_pixels(page: Page, live_server, lang):
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/connexion")
    choose_language(page, lang)
    sign_in(page)
    start_request(page, GUIDE_NUMERO, "acomptes")
    page.locator("#cgu").check()
    page.locator('button[name="action"][value="valider"]').click()
    dialog = page.locator("#confirmation-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirmation-titre")).to_be_focused()
    assert dialog.evaluate("(d) => d.scrollTop") == 0
    title = page.locator("#confirmation-titre").bounding_box()
    assert 0 <= title["y"] < 640, title
    shot(page, f"validation-320-{lang}")
