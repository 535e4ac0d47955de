"""SQL statements per request along the journey: a small constant, whatever the data size.

Each step's bound is the count it needs today plus a little room; a new lazy load in a
loop (an N+1) breaks it. The largest affilié (~12 000 créance lines) must cost exactly
what the guide's small one costs, and the slider's position must not change the count:
the créance is summed by one GROUP BY, never loaded line by line.

Each request runs in its own app context, as in production (see test_journey.py): a
context kept across requests would carry the session's identity map and hide queries.
"""

from __future__ import annotations

import html
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from db.models import Affilie, CompteBancaire
from extensions import db
from services import caches
from tests.conftest import IS_POSTGRES, make_app

GUIDE = "4317542"
LARGE = "9999001"  # demo.add_large_affilie(): every period 1969-2024, ~12 000 lines

# Statements per request, by step: what each needs today (in the comment) plus one.
# A move of the slider is the exception: exactly one statement, the session's user read
# with the campaigns' version and the version of the affilié it moves on (app.py
# load_user); the affilié with its accounts, the campaign and the consolidated créance
# come from per-process caches kept under versions every write replaces
# (services/caches.py, queries.consolidation_for). Each walk starts
# with those caches empty: the Simulation page fills them.
BOUNDS = {
    "home": 5,  # 4: user, affiliés, requests, their campaign
    "nouvelle": 4,  # 3: user, affiliés, which of the shown ones have a request in progress
    "parametrage": 9,  # 8: user, affilié with its accounts, campaign, request in progress,
    #                    the créance's 2, the perception, the account's affiliés (Retour)
    # 6 cold: user, the affilié and its accounts, the campaign, the request in
    # progress (a whole page says it at once), the account list for the "nouvelle" link
    "simulation": 7,
    "simulation_partial": 1,  # exactly the user's
    "echeances": 1,  # the same reads as a move
    # 4: user, affilié with its accounts (the one chosen is shown), campaign, request in
    # progress
    "validation": 5,
    # 7: user, request, affiliés, schedule, reintegration, campaign, perception
    "recapitulatif": 8,
}
MOVE = {"HX-Request": "true"}


@pytest.fixture
def app(database_url, clock):
    """The app without a pushed context: every request gets its own, as in production."""
    app = make_app(database_url, clock)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def counting(app):
    """Collect the SQL statements sent to the database while the block runs."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def link_large_affilie(app) -> None:
    from commands import demo

    with app.app_context():
        demo.add_large_affilie(linked_to="groupe")
        db.session.remove()


def compte_of(app, numero: str) -> str:
    with app.app_context():
        compte = db.session.scalars(
            select(CompteBancaire.id).join(Affilie).where(Affilie.numero == numero)
        ).first()
        db.session.remove()
        return str(compte)


def measure(app, request) -> tuple[object, list[str]]:
    with counting(app) as statements:
        response = request()
    return response, list(statements)


def explain(statements: list[str]) -> str:
    return "\n".join(" ".join(s.split())[:160] for s in statements)


def walk(app, client, auth, numero: str) -> dict[str, int]:
    """Every step of the journey for ``numero``: {step: statement count}."""
    counts: dict[str, int] = {}
    caches.clear()

    def step(name, request, status=200):
        response, statements = measure(app, request)
        assert response.status_code == status, (name, response.status_code)
        counts[name] = len(statements)
        assert len(statements) <= BOUNDS[name], (
            f"{name}: {len(statements)} statements, bound {BOUNDS[name]}:\n" + explain(statements)
        )
        return response

    auth.login("groupe")
    step("home", lambda: client.get("/"))
    step("nouvelle", lambda: client.get("/demande/nouvelle?q=NEGOCE"))
    step("parametrage", lambda: client.get(f"/demande/{numero}/parametrage"))
    response = client.post(
        f"/demande/{numero}/parametrage",
        data={"modalite": "acomptes", "compte": compte_of(app, numero), "garanties": "1"},
    )
    assert response.status_code == 302
    step("simulation", lambda: client.get(f"/demande/{numero}/simulation"))
    panel = step(
        "simulation_partial",
        lambda: client.get(f"/demande/{numero}/simulation?n=24", headers=MOVE),
    )
    rows = re.search(r'<details[^>]*data-hx-get="([^"]+)"', panel.get_data(as_text=True)).group(1)
    step("echeances", lambda: client.get(html.unescape(rows), headers={"HX-Request": "true"}))
    response = client.post(
        f"/demande/{numero}/simulation",
        data={"action": "valider", "avance": "", "n": "24", "cgu": "1"},
    )
    assert response.status_code == 302
    page = step("validation", lambda: client.get(f"/demande/{numero}/validation"))
    token = re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(f"/demande/{numero}/confirmer", data={"token": token})
    assert response.status_code in (302, 303)
    step("recapitulatif", lambda: client.get(response.headers["Location"]))
    return counts


def test_each_step_stays_within_its_bound(app, client, auth):
    walk(app, client, auth, GUIDE)


def test_the_largest_affilie_costs_the_same_statements_as_a_small_one(app, client, auth):
    small = walk(app, client, auth, GUIDE)
    link_large_affilie(app)
    auth.logout()
    large = walk(app, client, auth, LARGE)
    assert large == small


@pytest.mark.parametrize("n", ["1", "24", "25", "60"])
def test_a_move_is_one_statement_the_users(app, client, auth, n):
    """Wherever the slider goes, with an avance or not: the session's user, nothing else."""
    auth.login("groupe")
    client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": compte_of(app, GUIDE), "garanties": "1"},
    )
    client.get(f"/demande/{GUIDE}/simulation")  # the page: the caches are filled
    for query in (f"n={n}", f"n={n}&avance=1+000,50"):
        response, statements = measure(
            app, lambda q=query: client.get(f"/demande/{GUIDE}/simulation?{q}", headers=MOVE)
        )
        assert response.status_code == 200
        assert 'id="simulation-panel"' in response.get_data(as_text=True)
        assert len(statements) == 1, explain(statements)
        assert "FROM users" in statements[0] and "cache_versions" in statements[0]
        assert "user_affilies" in statements[0]  # the affilié's version, through the link


def test_a_refused_move_is_one_statement_too(app, client, auth):
    auth.login("groupe")
    client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": compte_of(app, GUIDE), "garanties": "1"},
    )
    client.get(f"/demande/{GUIDE}/simulation")
    response, statements = measure(
        app, lambda: client.get(f"/demande/{GUIDE}/simulation?n=999&avance=abc", headers=MOVE)
    )
    assert response.status_code == 422
    assert len(statements) == 1, explain(statements)


def test_ping_answers_without_touching_the_database(app, client):
    """bench/http.py's floor: the web stack alone, no session, no query."""
    response, statements = measure(app, lambda: client.get("/ping"))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"
    assert statements == []


@contextmanager
def transaction_modes(app):
    """For each statement sent while the block runs: (its first words, autocommit?)."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((" ".join(statement.split()[:2]), conn.connection.dbapi_connection.autocommit))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.skipif(not IS_POSTGRES, reason="autocommit saves PostgreSQL's round trips")
def test_a_move_reads_in_autocommit_and_every_other_request_in_a_transaction(app, client, auth):
    """A move's SELECT is sent without BEGIN (and so without ROLLBACK); its connection goes
    back to the pool as it came, and the next request's writes are in a transaction."""
    auth.login("groupe")
    client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": compte_of(app, GUIDE), "garanties": "1"},
    )
    with transaction_modes(app) as page:
        assert client.get(f"/demande/{GUIDE}/simulation").status_code == 200
    assert page and not any(autocommit for _s, autocommit in page)
    with transaction_modes(app) as move:
        response = client.get(f"/demande/{GUIDE}/simulation?n=12", headers=MOVE)
    assert response.status_code == 200
    assert move == [("SELECT users.id,", True)]
    with transaction_modes(app) as refused:
        assert client.get(f"/demande/{GUIDE}/simulation?n=999", headers=MOVE).status_code == 422
    assert refused == [("SELECT users.id,", True)]
    with transaction_modes(app) as valider:
        response = client.post(
            f"/demande/{GUIDE}/simulation",
            data={"action": "valider", "avance": "", "n": "12", "cgu": "1"},
        )
    assert response.status_code == 302
    assert valider and not any(autocommit for _s, autocommit in valider)
