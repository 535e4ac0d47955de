"""Error pages: the portal's layout and the user's language, the right status, a way
home; an htmx request gets one line for the alert region, never a page in a panel."""

from __future__ import annotations

import logging

import pytest
from werkzeug.exceptions import TooManyRequests

from tests.conftest import make_app

GUIDE = "4317542"


@pytest.fixture
def make(database_url, clock):
    """Apps with settings of their own on the test's database."""
    return lambda **extra: make_app(database_url, clock, **extra)


def assert_portal_page(response, status: int, title: str, lang: str = "fr") -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in html
    assert f"<h1>{title}</h1>" in html
    assert 'class="site-header"' in html and 'class="site-footer"' in html
    assert 'href="/"' in html  # the way home
    assert "Traceback" not in html and "Werkzeug" not in html
    return html


def test_unknown_address_is_a_404_page_in_french(client):
    html = assert_portal_page(client.get("/nulle-part"), 404, "Page introuvable")
    assert "<title>Page introuvable — Espace Recouvrement</title>" in html


def test_unknown_address_in_arabic(client):
    client.post("/langue", data={"lang": "ar"})
    html = assert_portal_page(client.get("/nulle-part"), 404, "الصفحة غير موجودة", lang="ar")
    assert "Page introuvable" not in html


def test_missing_request_is_a_404_page(client, auth):
    auth.login()
    assert_portal_page(client.get("/demandes/RM-0000-INCONNUE"), 404, "Page introuvable")


def test_agent_on_an_affiliate_screen_is_a_403_page(client, auth):
    auth.login("agent.casa")
    assert_portal_page(client.get("/demande/nouvelle"), 403, "Accès refusé")


def test_wrong_method_is_a_405_page_with_allow(client):
    response = client.delete("/connexion")
    assert_portal_page(response, 405, "Action impossible")
    assert "POST" in response.headers["Allow"]


def test_nul_byte_is_a_400_page(client):
    assert_portal_page(client.get("/connexion?x=%00"), 400, "Demande incorrecte")


def test_form_without_its_csrf_token_is_a_400_page_that_says_so(make):
    client = make(WTF_CSRF_ENABLED=True).test_client()
    html = assert_portal_page(
        client.post("/connexion", data={"utilisateur": "groupe"}), 400, "Demande incorrecte"
    )
    assert "Le formulaire n&#39;est plus valable" in html


def test_too_large_body_is_a_413_page(make):
    client = make(MAX_CONTENT_LENGTH=1000).test_client()
    response = client.post("/connexion", data={"utilisateur": "x" * 5000})
    assert_portal_page(response, 413, "Envoi trop volumineux")


@pytest.fixture
def failing(make):
    app = make(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boum")
    def boum():
        raise RuntimeError("secret detail")

    @app.get("/vite")
    def vite():
        raise TooManyRequests(retry_after=30)

    return app


def test_an_exception_is_a_500_page_logged_with_its_traceback(failing, caplog):
    with caplog.at_level(logging.ERROR):
        response = failing.test_client().get("/boum")
    html = assert_portal_page(response, 500, "Erreur technique")
    assert "secret detail" not in html
    assert "RuntimeError: secret detail" in caplog.text
    assert "Traceback" in caplog.text


@pytest.mark.parametrize(
    ("url", "status"),
    [("/nulle-part", 404), ("/boum", 500)],
)
def test_htmx_gets_one_line_for_the_alert_region(failing, url, status):
    response = failing.test_client().get(url, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.headers["HX-Retarget"] == "#erreur-annonce"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "<html" not in html and "<header" not in html
    assert len(html) < 600


def test_a_boosted_htmx_navigation_gets_the_whole_page(client):
    response = client.get("/nulle-part", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert_portal_page(response, 404, "Page introuvable")


def test_too_many_requests_elsewhere_is_a_429_page(failing):
    response = failing.test_client().get("/vite")
    assert_portal_page(response, 429, "Trop de demandes")
    assert response.headers["Retry-After"] == "30"


def test_every_page_links_help_accessibility_and_conditions(client):
    html = client.get("/connexion").get_data(as_text=True)
    for href in ("/aide", "/accessibilite", "/conditions-generales"):
        assert f'href="{href}"' in html
        assert client.get(href).status_code == 200


def test_favicon_is_served_and_linked(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert len(response.data) < 1024
    assert 'rel="icon"' in client.get("/connexion").get_data(as_text=True)
