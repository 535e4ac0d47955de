"""Quick clicks on − / + all count, and the panel ends on the last count."""

import pytest
from playwright.sync_api import expect

from tests.e2e.a11y_support import sign_in, start_request, wait_for_swap

pytestmark = pytest.mark.e2e


def test_four_quick_clicks_on_plus_move_four_instalments(page):
    page.goto("/connexion")
    sign_in(page)
    start_request(page, "4317542", "acomptes")
    # A slow link (400 ms each way): the clicks overlap the answers in flight.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 400, "downloadThroughput": 50000, "uploadThroughput": 50000},
    )
    plus = page.locator('button[name="action"][value="plus"]')
    for _ in range(4):
        plus.click()  # no wait for the answer: a user tapping fast
    panel = page.locator("#simulation-panel")
    expect(panel).to_have_attribute("data-n", "10")
    expect(page.locator("#nombre_echeances")).to_have_value("10")
    expect(page.locator("#curseur")).to_have_value("10")
    # 21 950,63 MAD over 10 months, no avance: 2 195,06 a month.
    expect(panel).to_contain_text("2\u202f195,06\u00a0MAD")
    expect(page.locator("#nombre-mois")).to_have_text("10 mois")


def test_minus_stops_at_one(page):
    page.goto("/connexion")
    sign_in(page)
    start_request(page, "4317542", "acomptes")
    minus = page.locator('button[name="action"][value="moins"]')
    for _ in range(8):
        minus.click()
    expect(page.locator("#simulation-panel")).to_have_attribute("data-n", "1")
    expect(page.locator("#nombre_echeances")).to_have_value("1")


def test_a_swap_keeps_the_focus_and_the_open_details_inside_the_panel(page):
    """Leaving the number field (Tab) re-simulates: whoever had the focus in the panel
    keeps it, and an open "Détail des échéances" stays open."""
    page.goto("/connexion")
    sign_in(page)
    start_request(page, "4317542", "acomptes")
    page.locator("#simulation-panel summary").click()  # opens the détail, focuses it
    expect(page.locator("#simulation-panel details")).to_have_attribute("open", "")
    expect(page.locator("#simulation-panel details tbody tr")).to_have_count(6)
    page.evaluate(
        """() => { window.__swapped = false;
                   document.body.addEventListener('htmx:afterSettle',
                     () => { window.__swapped = true; }, {once: true});
                   const field = document.getElementById('nombre_echeances');
                   field.value = '12';
                   field.dispatchEvent(new Event('change', {bubbles: true})); }"""
    )
    page.wait_for_function("() => window.__swapped === true")
    expect(page.locator("#simulation-panel")).to_have_attribute("data-n", "12")
    assert page.evaluate(
        "() => document.activeElement === document.querySelector('#simulation-panel summary')"
    )
    expect(page.locator("#simulation-panel details")).to_have_attribute("open", "")
    expect(page.locator("#simulation-panel details tbody tr")).to_have_count(12)


def test_an_answer_swapped_while_the_panel_settles_does_not_close_the_detail(page):
    """A move's answer replaces the panel; the détail's rows, answering meanwhile into the
    old one, are swapped before the new panel settles (a loaded machine): the open
    détail is still reopened in the new panel."""
    page.goto("/connexion")
    sign_in(page)
    start_request(page, "4317542", "acomptes")
    page.locator("#simulation-panel summary").click()
    expect(page.locator("#simulation-panel details tbody tr")).to_have_count(6)

    reopened = page.evaluate(
        """() => {
            const panel = document.getElementById('simulation-panel');
            const fire = (el, name) => el.dispatchEvent(
                new CustomEvent(name, {bubbles: true, detail: {target: el, elt: el}}));
            fire(panel, 'htmx:beforeSwap');  // the move's answer: the open détail noted
            fire(panel.querySelector('details tbody'), 'htmx:beforeSwap');  // the rows
            panel.querySelector('details').open = false;  // the new panel's, closed
            fire(panel, 'htmx:afterSettle');
            return panel.querySelector('details').open;
        }"""
    )

    assert reopened


def test_leaving_the_count_after_its_move_asks_nothing_and_the_detail_opens(page):
    """A count typed moves the panel after its pause; a click on "Détail des échéances"
    then leaves the field, whose change would ask for the same panel again and swap it
    under the click (on a loaded machine, between the press and the release: the summary
    never got the click). Nothing is asked; the détail opens with its rows."""
    page.goto("/connexion")
    sign_in(page)
    start_request(page, "4317542", "acomptes")
    wait_for_swap(page, lambda: page.locator("#nombre_echeances").fill("60"))
    expect(page.locator("#simulation-panel")).to_have_attribute("data-n", "60")
    moves = []
    page.on("request", lambda r: moves.append(r.url) if "/simulation?" in r.url else None)
    page.locator("#simulation-panel summary").click()
    expect(page.locator("#simulation-panel details tbody tr")).to_have_count(60)
    assert moves == []
    # A count that differs from the panel's is still asked for when the field is left.
    page.locator("#nombre_echeances").fill("12")
    page.locator("#avance").focus()
    expect(page.locator("#simulation-panel")).to_have_attribute("data-n", "12")
    assert any("n=12" in url for url in moves), moves


def test_a_detail_that_cannot_be_fetched_says_so_and_links_the_whole_page(page, browser_problems):
    page.goto("/connexion")
    sign_in(page)
    start_request(page, "4317542", "acomptes")
    wait_for_swap(page, lambda: page.locator("#nombre_echeances").fill("12"))  # htmx panel
    page.route("**/simulation/echeances*", lambda route: route.abort("internetdisconnected"))
    page.locator("#simulation-panel summary").click()
    failed = page.locator("#simulation-panel [data-rows-failed]")
    expect(failed).to_be_visible()
    expect(page.locator("#simulation-panel [data-rows-loading]")).to_be_hidden()
    expect(failed).to_contain_text("Le détail des échéances n'a pas pu être chargé.")
    page.unroute("**/simulation/echeances*")
    # htmx logs the failed request as an error: expected here, and only that.
    assert browser_problems and all("htmx:" in p for p in browser_problems), browser_problems
    browser_problems.clear()
    with page.expect_navigation():
        failed.get_by_role("link", name="Afficher la page de simulation").click()
    # The whole page has the rows inline: the draft's 12 instalments.
    expect(page.locator("#simulation-panel details.echeances tbody tr")).to_have_count(12)
