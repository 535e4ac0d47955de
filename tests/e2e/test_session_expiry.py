"""The session's end in real Chromium, with an 8-second session instead of 20 minutes.

Warning 4 s before the end (an alertdialog, focus on "Rester connecté"), the session renewed from
the keyboard, then left to run out: the page that says so, the draft gone, nothing created.
"""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import timedelta
from urllib.error import HTTPError

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from commands.demo import DEMO_PASSWORD
from db.models import Demande, User
from extensions import db
from tests.e2e.a11y_support import GUIDE_NUMERO, axe_report, start_request
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

# Long enough for the axe scan of the warning to finish before the end on a loaded machine
# (the suite runs on every core), and for the renewed session's first move to come well
# before its own warning (the first cookie is refused LIFETIME - WARNING seconds earlier);
# short enough for a quick test.
LIFETIME = 12  # seconds
WARNING = 4  # seconds before the end


@pytest.fixture
def short_session(live_server):
    # Read by Flask on every request (the cookie) and by base.html (the page's timers).
    live_server.app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=LIFETIME),
        SESSION_WARNING_SECONDS=WARNING,
    )
    return live_server


def count_demandes(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Demande))


def session_token(app) -> str:
    with app.app_context():
        return db.session.scalar(select(User.session_token).where(User.login == "groupe"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def signed_in_with(base_url: str, cookie: str) -> bool:
    """Whether the server still takes this session cookie (a read: nothing is renewed)."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(f"{base_url}/", headers={"Cookie": f"session={cookie}"})
    try:
        with opener.open(request, timeout=5) as response:
            return response.status == 200
    except HTTPError as refused:  # 302 to the login page
        return refused.code != 302


def wait_until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_the_warning_renews_the_session_and_the_end_is_explained(page: Page, short_session):
    before = count_demandes(short_session.app)
    login(page, short_session.url, "groupe", DEMO_PASSWORD)
    token = session_token(short_session.app)
    start_request(page, GUIDE_NUMERO, "acomptes")
    loaded = time.monotonic()

    warning = page.get_by_role("alertdialog", name="Votre session va bientôt expirer")
    expect(warning).to_be_visible(timeout=(LIFETIME + 1) * 1000)
    assert time.monotonic() - loaded >= LIFETIME - WARNING - 0.5
    expect(warning).to_have_accessible_description(
        # The count down has begun: 4 seconds, or fewer already.
        re.compile(r"^Sans action de votre part, vous serez déconnecté dans [1-4]\ssecondes?\.")
    )
    stay = warning.get_by_role("button", name="Rester connecté")
    expect(stay).to_be_focused()
    assert axe_report(page, "alerte de fin de session") == ""
    shot(page, "1-alerte")

    first_cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "session")
    # Keyboard only: Enter on the focused button.
    with page.expect_response(lambda r: r.url.endswith("/session/prolonger")) as renewed:
        page.keyboard.press("Enter")
    assert renewed.value.status == 204
    renewed_at = time.monotonic()
    expect(warning).to_be_hidden()
    expect(page.locator("#session-annonce")).to_have_text(
        re.compile(rf"^Votre session a été prolongée de {LIFETIME}\ssecondes\.$")
    )
    # Past the first session's end (the server refuses its cookie now): the panel still
    # answers, the server renewed the session.
    wait_until(lambda: not signed_in_with(short_session.url, first_cookie), LIFETIME + 5)
    with page.expect_response(lambda r: "/simulation" in r.url) as panel:
        page.locator('button[name="action"][value="plus"]').click()
    assert panel.value.status == 200
    expect(page.locator("#simulation-annonce")).to_contain_text("7 mois")

    # Now left alone: the warning again, then the page that says the session has ended.
    expect(page).to_have_url(
        re.compile(r"/session/expiree\?lang=fr$"), timeout=(LIFETIME + 3) * 1000
    )
    assert time.monotonic() - renewed_at >= LIFETIME
    # Revoked on the server, as Déconnexion does: a copy of the cookie is worth nothing.
    assert session_token(short_session.app) != token
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre session a expiré")
    expect(page.locator("main")).to_contain_text("n'a pas été enregistré")
    expect(page.get_by_role("link", name="Se reconnecter")).to_be_visible()
    expect(page.get_by_role("banner")).not_to_contain_text("Bienvenue")
    assert axe_report(page, "session expirée") == ""
    shot(page, "2-session-expiree")

    # Signed out for real; the draft went with the session; nothing was created.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion\?next=%2F$"))
    login(page, short_session.url, "groupe", DEMO_PASSWORD)
    page.goto(f"/demande/{GUIDE_NUMERO}/simulation")
    expect(page).to_have_url(re.compile(rf"/demande/{GUIDE_NUMERO}/parametrage$"))
    assert count_demandes(short_session.app) == before


def test_the_warning_counts_down_and_speaks_only_now_and_then(page: Page, live_server):
    """On screen the seconds left change every second; the status line speaks them at 30
    seconds (and at the minutes, and 10 s), not at every tick."""
    live_server.app.config.update(
        # The warning comes at most half-way through the session.
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=66),
        SESSION_WARNING_SECONDS=33,
    )
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    warning = page.get_by_role("alertdialog", name="Votre session va bientôt expirer")
    expect(warning).to_be_visible(timeout=45_000)
    left = page.locator("#session-decompte")
    spoken = page.locator("#session-decompte-annonce")
    first = left.inner_text()
    assert re.fullmatch(r"3[1-3] secondes", first), first
    expect(spoken).to_have_text("")
    expect(left).not_to_have_text(first, timeout=2500)  # a second later, one less
    expect(left).to_have_text("30 secondes", timeout=5000)
    expect(spoken).to_have_text(
        "Sans action de votre part, vous serez déconnecté dans 30 secondes. "
        "Ce que vous n'avez pas encore confirmé sera alors perdu."
    )
    # One second on: the screen moves on, the status line does not speak again.
    expect(left).to_have_text("29 secondes", timeout=2500)
    expect(spoken).to_contain_text("30 secondes")
    shot(page, "decompte")
