"""Helpers of the accessibility, keyboard, reflow and bandwidth browser tests.

Every selector here is an id, a name or a value, never a visible text, so one walk
serves both languages.
"""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from commands.demo import DEMO_PASSWORD, GUIDE_NUMERO, INTEGRAL_NUMERO

# WCAG 2.0, 2.1 and 2.2, levels A and AA: what the portal must meet.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
    },
    "resultTypes": ["violations"],
}
_AXE = Axe()

__all__ = [
    "AXE_OPTIONS",
    "GUIDE_NUMERO",
    "INTEGRAL_NUMERO",
    "axe_report",
    "axe_report_without_js",
    "choose_language",
    "sign_in",
    "start_request",
    "wait_for_swap",
]


def axe_report(page: Page, state: str) -> str:
    """axe-core on the page as it is now: '' when clean, else a readable report."""
    results = _AXE.run(page, options=AXE_OPTIONS)
    if results.violations_count == 0:
        return ""
    return f"--- {state} ({page.url})\n{results.generate_report()}"


def axe_report_without_js(checker: Page, page: Page, state: str) -> str:
    """axe-core on what a no-JS ``page`` shows, run in the JS-enabled ``checker`` page.

    axe.run waits on timers, and a page with JavaScript off never fires them: the
    document's HTML, without its scripts, is replayed at the same origin in ``checker``.
    """
    html = re.sub(r"<script\b[^>]*>.*?</script>", "", page.content(), flags=re.S)
    origin = page.url.split("/", 3)[:3]
    if not checker.url.startswith("/".join(origin)):
        checker.goto("/".join(origin) + "/connexion")
    checker.set_content(html)
    return axe_report(checker, state)


def choose_language(page: Page, lang: str) -> None:
    """The header's language button, as a user would press it (a no-op for French)."""
    if page.evaluate("document.documentElement.lang") == lang:
        return
    page.locator(f'.user-nav button[name="lang"][value="{lang}"]').click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def sign_in(page: Page, login: str = "groupe", password: str = DEMO_PASSWORD) -> None:
    """The login form by its field ids (the labels change with the language)."""
    page.locator("#utilisateur").fill(login)
    page.locator("#mot_de_passe").fill(password)
    with page.expect_navigation():
        page.locator("form button.primary").click()


def start_request(page: Page, numero: str, modalite: str) -> None:
    """Paramétrage of ``numero`` filled in and sent: lands on its Simulation page."""
    page.goto(f"/demande/{numero}/parametrage")
    page.locator(f"#modalite-{modalite}").check()
    if modalite == "acomptes":
        page.locator("#garanties").check()
    page.locator("#compte").select_option(index=1)
    with page.expect_navigation():
        page.locator("form.parametrage button.primary").click()
    expect(page).to_have_url(f"{page.url.split('/demande/')[0]}/demande/{numero}/simulation")


def wait_for_swap(page: Page, action) -> None:
    """Run ``action`` (a click, a key press) and wait until htmx has swapped its answer in."""
    page.evaluate(
        """() => { window.__swapped = false;
                   document.body.addEventListener('htmx:afterSettle',
                     () => { window.__swapped = true; }, {once: true}); }"""
    )
    action()
    page.wait_for_function("() => window.__swapped === true")
