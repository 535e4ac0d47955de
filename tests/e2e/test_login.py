"""Login and logout in real Chromium, with and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from commands.demo import DEMO_PASSWORD
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

BOTH = pytest.mark.parametrize("page_fixture", ["page", "js_disabled_page"])


@BOTH
def test_wrong_password_shows_the_message_and_keeps_the_login(request, live_server, page_fixture):
    page = request.getfixturevalue(page_fixture)
    response = login(page, live_server.url, "groupe", "pas-le-bon")

    assert response.status == 401
    expect(page).to_have_url(f"{live_server.url}/connexion")
    expect(page.get_by_role("alert")).to_have_text("Utilisateur ou mot de passe incorrect.")
    expect(page.get_by_label("Utilisateur", exact=True)).to_have_value("groupe")
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_value("")
    expect(page.get_by_role("banner")).not_to_contain_text("Bienvenue")
    shot(page, "erreur")


@BOTH
def test_login_lands_on_the_home_page_and_logout_ends_the_session(
    request, live_server, page_fixture
):
    page = request.getfixturevalue(page_fixture)
    page.goto("/connexion")
    expect(page.get_by_role("heading", level=1)).to_have_text("Authentification")
    shot(page, "1-connexion")

    response = login(page, live_server.url, "groupe", DEMO_PASSWORD)
    assert response.status == 302
    expect(page).to_have_url(f"{live_server.url}/")
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text("Bienvenue")
    expect(banner.get_by_text("Groupe Atlas Holding", exact=True)).to_be_visible()
    shot(page, "2-accueil")

    banner.get_by_role("button", name="Déconnexion").click()
    expect(page).to_have_url(f"{live_server.url}/connexion")
    expect(page.get_by_label("Utilisateur", exact=True)).to_be_visible()
    expect(banner).not_to_contain_text("Groupe Atlas Holding")
    shot(page, "3-deconnexion")

    # The home page asks for a login again.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion\?next=%2F$"))


def test_scripts_load_under_the_content_security_policy(page, live_server):
    """htmx and app.js come from 'self': the CSP lets them run (a violation would be
    reported by the ``page`` fixture)."""
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/")
    assert page.evaluate("typeof window.htmx") == "object"
