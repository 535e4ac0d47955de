"""axe-core (WCAG 2.2 A and AA rules) on every page and state of the affiliate's journey,
in French and in Arabic: zero violations.

One walk per language, axe run at each stop; the test fails once, at the end, with the
report of every state that had violations (so one run shows all of them).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.a11y_support import (
    GUIDE_NUMERO,
    INTEGRAL_NUMERO,
    axe_report,
    axe_report_without_js,
    choose_language,
    sign_in,
    start_request,
    wait_for_swap,
)
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_affiliate_journey_has_no_axe_violations(page: Page, live_server, lang):
    reports: list[str] = []

    def check(state: str) -> None:
        reports.append(axe_report(page, f"{lang}: {state}"))
        shot(page, state)

    page.goto("/connexion")
    choose_language(page, lang)
    check("01-login")

    sign_in(page, password="pas-le-bon")
    expect(page.locator("#erreur-connexion")).to_be_visible()
    check("02-login-erreur")

    sign_in(page)
    expect(page).to_have_url(f"{live_server.url}/")
    check("03-accueil")

    page.goto("/demande/nouvelle")
    check("04-choisir-un-affilie")
    wait_for_swap(page, lambda: page.locator("#q").fill("ATLAS"))
    expect(page.locator("#affilies-table tbody tr")).to_have_count(1)
    check("05-choisir-apres-recherche")

    page.goto(f"/demande/{GUIDE_NUMERO}/parametrage")
    check("06-parametrage")
    page.locator("form.parametrage button.primary").click()
    expect(page.locator("#resume-erreurs")).to_be_visible()
    check("07-parametrage-erreurs")

    start_request(page, INTEGRAL_NUMERO, "integral")
    check("08-simulation-integral")

    start_request(page, GUIDE_NUMERO, "acomptes")
    check("09-simulation-acomptes")
    wait_for_swap(page, lambda: page.locator('button[name="action"][value="plus"]').click())
    wait_for_swap(page, lambda: page.locator('button[name="action"][value="moins"]').click())
    wait_for_swap(page, lambda: page.locator("#avance").fill("abc"))
    expect(page.locator("#avance-erreur")).to_be_visible()
    check("10-simulation-acomptes-erreur-avance")
    wait_for_swap(page, lambda: page.locator("#avance").fill("5000"))
    expect(page.locator("#avance-erreur")).to_have_count(0)

    page.locator("a[data-dialog=conditions-dialog]").click()
    expect(page.locator("#conditions-dialog")).to_be_visible()
    check("11-dialogue-conditions")
    page.locator("[data-accept-conditions]").click()
    expect(page.locator("#cgu")).to_be_checked()

    page.locator('button[name="action"][value="valider"]').click()
    expect(page.locator("#confirmation-dialog")).to_be_visible()
    check("12-dialogue-confirmation")
    with page.expect_navigation():
        page.locator("#confirmation-dialog button[data-once]").click()
    expect(page.locator(".confirmation-banner")).to_be_visible()
    check("13-recapitulatif")

    page.goto("/")
    check("14-accueil-avec-demande")

    failures = [r for r in reports if r]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_pages_without_javascript_have_no_axe_violations(
    js_disabled_page: Page, page: Page, live_server, lang
):
    """The no-JS fallbacks: the Simulation error page, the conditions and validation pages."""
    nojs = js_disabled_page
    reports: list[str] = []

    def check(state: str) -> None:
        reports.append(axe_report_without_js(page, nojs, f"{lang} sans JS: {state}"))
        shot(nojs, state)

    nojs.goto("/connexion")
    choose_language(nojs, lang)
    check("01-login")
    sign_in(nojs)
    start_request(nojs, GUIDE_NUMERO, "acomptes")
    nojs.locator("#avance").fill("abc")
    with nojs.expect_navigation():
        nojs.locator('fieldset button[name="action"][value="simuler"]').click()
    expect(nojs.locator("#resume-erreurs")).to_be_visible()
    check("02-simulation-erreur")

    nojs.goto(f"/demande/{GUIDE_NUMERO}/conditions")
    check("03-conditions")
    with nojs.expect_navigation():
        nojs.locator('button[name="decision"][value="accepter"]').click()
    nojs.goto(f"/demande/{GUIDE_NUMERO}/validation")
    check("04-validation")

    failures = [r for r in reports if r]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_back_office_has_no_axe_violations(page: Page, live_server, lang):
    """The perception agent's pages and their states (blueprints/perception.py)."""
    from tests.integration.back_office import make_demande

    with live_server.app.app_context():
        reference = make_demande(GUIDE_NUMERO, n=2, avance="5000").reference
    reports: list[str] = []

    def check(state: str) -> None:
        reports.append(axe_report(page, f"{lang} back office: {state}"))
        shot(page, state)

    page.goto("/connexion")
    choose_language(page, lang)
    sign_in(page, "agent.casa")
    expect(page).to_have_url(f"{live_server.url}/perception/demandes")
    check("01-demandes")
    wait_for_swap(page, lambda: page.locator("#statut").select_option("soldee"))
    check("02-demandes-filtre-vide")
    page.locator("#du").fill("2023-12-31")
    page.locator("#au").fill("2023-01-01")
    wait_for_swap(page, lambda: page.locator("form.filtres button.primary").click())
    check("03-demandes-filtre-dates")

    page.goto(f"/perception/demandes/{reference}")
    check("04-demande")
    page.locator("#garantie_type").select_option("caution_bancaire")
    page.locator("#garantie_reference").fill("")
    with page.expect_navigation():
        page.locator("#garantie_type").evaluate("(el) => el.form.requestSubmit()")
    expect(page.locator("#garantie_reference-erreur")).to_be_visible()
    check("05-garanties-erreurs")

    page.goto("/perception/affilies")
    check("06-affilies")
    wait_for_swap(page, lambda: page.locator("#q").fill("ATLAS"))
    check("07-affilies-recherche")

    page.goto(f"/perception/affilies/{GUIDE_NUMERO}")
    check("08-affilie-simulation")
    wait_for_swap(page, lambda: page.locator('button[name="action"][value="plus"]').click())
    wait_for_swap(page, lambda: page.locator("#avance").fill("abc"))
    expect(page.locator("#avance-erreur")).to_be_visible()
    check("09-affilie-simulation-erreur")
    page.goto(f"/perception/affilies/{GUIDE_NUMERO}?modalite=integral")
    check("10-affilie-simulation-integral")

    page.goto("/perception/prelevements/retour")
    check("11-retour")
    with page.expect_navigation():
        page.locator("#fichier").evaluate("(el) => el.form.requestSubmit()")
    expect(page.locator("#fichier-erreur")).to_be_visible()
    check("12-retour-erreur")

    failures = [r for r in reports if r]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_information_and_error_pages_have_no_axe_violations(
    page: Page, live_server, lang, browser_problems
):
    """Aide, the accessibility statement, the conditions, an unknown address, and the
    error line an htmx request gets in the page's alert region."""
    reports: list[str] = []
    page.goto("/connexion")
    choose_language(page, lang)
    for path, state in (
        ("/aide", "aide"),
        ("/accessibilite", "accessibilite"),
        ("/conditions-generales", "conditions-generales"),
        ("/nulle-part", "page-introuvable"),
    ):
        page.goto(path)
        reports.append(axe_report(page, f"{lang}: {state}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Page introuvable" if lang == "fr" else "الصفحة غير موجودة"
    )

    page.goto("/connexion")
    sign_in(page)
    page.goto("/demande/nouvelle")
    # The table's search answers an htmx request: make it fail as a server would.
    page.route("**/demande/nouvelle?*", lambda route: route.fulfill(
        status=500,
        headers={"HX-Retarget": "#erreur-annonce", "HX-Reswap": "innerHTML"},
        body='<p class="notice notice-error"><strong>Erreur technique.</strong> '
        '<a href="">Recharger la page</a></p>',
    ))  # fmt: skip
    page.locator("#q").fill("ATLAS")
    expect(page.locator("#erreur-annonce")).to_contain_text("Erreur technique")
    expect(page.locator("#affilies-table")).to_be_visible()
    reports.append(axe_report(page, f"{lang}: erreur-htmx"))
    assert "".join(reports) == ""
    # The 500 was this test's own doing.
    assert [p for p in browser_problems if " 500 " not in f" {p}"] == []
    browser_problems.clear()
