"""Fifty simultaneous Confirmer on two app instances sharing one PostgreSQL database.

Two gunicorn masters (two workers each) serve the same cloned database, as two instances
behind nginx would. Five sessions reach the confirmation page of the same affilié, each
with its own confirmation token; then fifty POST /confirmer leave at once, every token
posted ten times and alternately to each server. The partial unique index
``uq_demandes_affilie_en_cours`` must leave exactly one request in progress, and every
loser must get a redirect with a message, never a 500.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from db.models import IN_PROGRESS_SQL
from tests.conftest import IS_POSTGRES
from tests.integration.live_server import Browser, Gunicorn

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not IS_POSTGRES,
        reason="needs DATABASE_URL=postgresql+psycopg://...: SQLite serialises every "
        "writer, so it cannot show a race between two app instances",
    ),
]

NUMERO = "4317542"
SESSIONS = 5
POSTS = 50
ALREADY = "Une demande de remise est déjà en cours pour cet affilié"


@pytest.fixture
def servers(database_url, tmp_path):
    """Two gunicorn instances on free ports, stopped (and their logs read) at teardown."""
    instances = [Gunicorn(database_url, log_path=tmp_path / f"gunicorn-{i}.log") for i in (1, 2)]
    try:
        for server in instances:
            server.start()
        # Generous for a loaded CI machine; a normal start takes one or two seconds.
        deadline = time.monotonic() + 45
        for server in instances:
            server.wait_ready(deadline)
        yield instances
    finally:
        for server in instances:
            server.stop()


def in_progress_for(engine, numero: str) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT d.id, d.reference, d.confirmation_token FROM demandes d "
                "JOIN affilies a ON a.id = d.affilie_id "
                f"WHERE a.numero = :numero AND d.{IN_PROGRESS_SQL}"
            ),
            {"numero": numero},
        ).all()


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for table in ("demandes", "echeances", "audit_events")
        }


def test_fifty_simultaneous_confirmations_create_exactly_one_request(
    servers, database_url, tmp_path
):
    started = time.monotonic()
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    before = counts(engine)
    ports = [server.port for server in servers]

    browsers = []
    for i in range(SESSIONS):
        # Each session logs in on one instance and walks the journey on the other: the
        # signed session cookie is all the state there is.
        browser = Browser(ports[i % 2])
        browser.login()
        browser.port = ports[(i + 1) % 2]
        browser.token = browser.up_to_confirmation(NUMERO, n=6 + i)
        browsers.append(browser)
    assert len({b.token for b in browsers}) == SESSIONS

    barrier = threading.Barrier(POSTS, timeout=20)

    def confirm(k: int):
        browser = browsers[k % SESSIONS]
        cookies = dict(browser.cookies)
        replay = Browser(ports[k % 2])
        replay.cookies, replay.csrf = cookies, browser.csrf
        barrier.wait()
        return browser, replay.post(f"/demande/{NUMERO}/confirmer", {"token": browser.token})

    with ThreadPoolExecutor(max_workers=POSTS) as pool:
        results = list(pool.map(confirm, range(POSTS)))

    statuses = sorted(response.status for _, response in results)
    assert all(300 <= s < 400 for s in statuses), statuses

    winners = in_progress_for(engine, NUMERO)
    assert len(winners) == 1, winners
    winner = winners[0]
    assert winner.confirmation_token in {b.token for b in browsers}
    n = 6 + next(i for i, b in enumerate(browsers) if b.token == winner.confirmation_token)
    after = counts(engine)
    assert after == {
        "demandes": before["demandes"] + 1,
        "echeances": before["echeances"] + n,
        "audit_events": before["audit_events"] + 1,
    }

    recap = f"/demandes/{winner.reference}"

    def landing(item):
        """Follow the redirect with the cookie it came with: the page and its message."""
        browser, response = item
        follower = Browser(browser.port)
        follower.cookies = dict(response.cookies)
        return browser, response, follower.get(response.location)

    with ThreadPoolExecutor(max_workers=10) as pool:
        landings = list(pool.map(landing, results))
    for browser, response, page in landings:
        assert page.status == 200, (response.location, page.status)
        if browser.token == winner.confirmation_token:
            # The winning screen, posted again, shows the request it created.
            assert response.location == recap
            assert ALREADY not in page.text
        else:
            assert response.location in ("/", "/demande/nouvelle"), response.location
            assert ALREADY in page.text

    for i in (1, 2):
        log = (tmp_path / f"gunicorn-{i}.log").read_text()
        assert "Traceback" not in log, log[-3000:]
    engine.dispose()
    assert time.monotonic() - started < 30
