"""The session's expiry, server side: the timings handed to the page, "Rester connecté",
and the page that says the session has ended (the browser side is tests/e2e)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface

from commands.demo import DEMO_PASSWORD, GUIDE_NUMERO
from extensions import db
from tests.conftest import make_app
from web.sessions import RENEWED


def body_data(html: str) -> dict[str, str]:
    body = re.search(r"<body\b[^>]*>", html).group(0)
    return dict(re.findall(r'data-session-([a-z]+)="([^"]*)"', body))


def start_draft(client) -> None:
    page = client.get(f"/demande/{GUIDE_NUMERO}/parametrage").get_data(as_text=True)
    compte = re.search(r'<option value="(\d+)"', page).group(1)
    response = client.post(
        f"/demande/{GUIDE_NUMERO}/parametrage",
        data={"modalite": "acomptes", "compte": compte, "garanties": "1"},
    )
    assert response.status_code == 302


def test_a_signed_in_page_carries_the_timings_and_the_warning(client, auth):
    auth.login()
    html = client.get("/").get_data(as_text=True)

    assert body_data(html) == {
        "secondes": "1200",
        "alerte": "120",
        "prolonger": "/session/prolonger",
        "expiree": "/session/expiree?lang=fr",
    }
    assert 'role="alertdialog"' in html
    assert "Votre session va bientôt expirer" in html
    assert 'vous serez déconnecté dans <span id="session-decompte"' in html
    assert ">2 minutes</span>. Ce que vous" in html
    assert 'id="session-annonce"' in html and 'role="status"' in html
    assert re.search(r'<script src="/static/js/session\.js\?v=\w+" defer></script>', html)
    # No inline script: the CSP (script-src 'self') would block it.
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html)


def test_a_signed_out_page_has_no_timer(client):
    html = client.get("/connexion").get_data(as_text=True)

    assert body_data(html) == {}
    assert "session-alerte" not in html and "session.js" not in html


@pytest.mark.parametrize(
    "minutes, warning, expected",
    [("20", "120", ("1200", "120")), ("5", "120", ("300", "120")), ("1", "120", ("60", "30"))],
)
def test_the_timings_follow_the_configuration(database_url, minutes, warning, expected):
    app = make_app(
        database_url,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=int(minutes)),
        SESSION_WARNING_SECONDS=int(warning),
    )
    client = app.test_client()
    client.post("/connexion", data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD})
    data = body_data(client.get("/").get_data(as_text=True))
    with app.app_context():
        db.engine.dispose()

    # The warning never comes before half the session has run.
    assert (data["secondes"], data["alerte"]) == expected


def test_rester_connecte_renews_the_session_cookie(client, auth):
    auth.login()
    response = client.post("/session/prolonger")

    assert response.status_code == 204
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "Expires=" in cookie


def test_static_files_and_the_monitors_routes_leave_the_session_as_it_is(client, auth, monkeypatch):
    """Nobody's activity: in a new second they send no cookie, and the expiry does not
    slide for them (a page would have renewed it)."""
    clock = [float(int(time.time()))]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    auth.login()
    signed = client.get_cookie("session").value
    for path in ("/ping", "/static/js/app.js", "/healthz"):
        clock[0] += 60
        response = client.get(path)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers, path
    assert client.get_cookie("session").value == signed
    clock[0] += 60
    assert "Set-Cookie" in client.get("/").headers


def test_every_read_slides_the_expiry_by_flasks_own_cookie_once_a_second(
    client, auth, app, monkeypatch
):
    # The cookie's clock: itsdangerous signs and checks it with time.time(), whole seconds.
    clock = [float(int(time.time()))]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    auth.login()
    start_draft(client)
    signed = client.get_cookie("session").value
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    session = stock.loads(signed)

    # Signed again within its second it would be the cookie the browser holds: not sent.
    move = client.get(f"/demande/{GUIDE_NUMERO}/simulation?n=12", headers={"HX-Request": "true"})
    assert move.status_code == 200 and "Set-Cookie" not in move.headers

    clock[0] += 15 * 60
    move = client.get(f"/demande/{GUIDE_NUMERO}/simulation?n=12", headers={"HX-Request": "true"})
    assert move.status_code == 200 and "Set-Cookie" in move.headers
    again = client.get_cookie("session").value
    assert again != signed
    # Flask's own cookie: the same session, with the second of its renewal.
    assert stock.loads(again) == {**session, RENEWED: int(clock[0])}
    assert again == stock.dumps(stock.loads(again))
    # 30 minutes after the login, 15 after the move: still signed in.
    clock[0] += 15 * 60
    assert client.get("/").status_code == 200
    # 21 minutes without a request: the session has ended.
    clock[0] += 21 * 60
    assert client.get("/").status_code == 302


def test_a_form_always_saves_the_session(client, auth, monkeypatch):
    """A view may change a value nested in the session without saying so: a form's
    answer saves it whatever the second."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    auth.login()
    start_draft(client)
    assert "Set-Cookie" not in client.get("/").headers
    refused = client.post(f"/demande/{GUIDE_NUMERO}/parametrage", data={})
    assert refused.status_code == 422 and "Set-Cookie" in refused.headers


def test_rester_connecte_after_the_end_says_so(client):
    assert client.post("/session/prolonger").status_code == 401


def test_the_expiry_page_explains_and_keeps_nothing_half_done(client, auth):
    auth.login()
    start_draft(client)
    ended = client.post("/session/expiree", data={"lang": "fr"})
    assert ended.status_code == 303
    response = client.get(ended.location)
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "<h1>Votre session a expiré</h1>" in html
    assert "après 20 minutes sans activité" in html
    assert "n'a pas été enregistré" in html and "aucune demande n'a été créée" in html
    assert 'href="/connexion?lang=fr"' in html
    assert response.headers["Cache-Control"] == "no-store"
    # Signed out, and the unconfirmed draft is gone with the session.
    assert client.get("/").status_code == 302
    auth.login()
    response = client.get(f"/demande/{GUIDE_NUMERO}/simulation")
    assert response.headers["Location"].endswith(f"/demande/{GUIDE_NUMERO}/parametrage")


def test_the_expiry_page_keeps_the_language_of_the_page_that_timed_out(client, auth):
    auth.login()
    ended = client.post("/session/expiree", data={"lang": "ar"})
    html = client.get(ended.location).get_data(as_text=True)

    assert '<html lang="ar" dir="rtl">' in html
    # ... and the login page after it too.
    assert '<html lang="ar" dir="rtl">' in client.get("/connexion").get_data(as_text=True)


def test_the_expiry_page_alone_shows_its_language_and_links_the_login_in_it(client):
    html = client.get("/session/expiree?lang=ar").get_data(as_text=True)

    assert '<html lang="ar" dir="rtl">' in html
    assert 'href="/connexion?lang=ar"' in html
    assert '<html lang="ar" dir="rtl">' in client.get("/connexion?lang=ar").get_data(as_text=True)


def test_a_refused_login_says_erreur_in_the_title(client, auth):
    response = auth.login(password="pas-le-bon")

    title = re.search(r"<title>(.*?)</title>", response.get_data(as_text=True)).group(1)
    assert title.startswith("Erreur : Authentification")
