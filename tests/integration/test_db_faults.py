"""Database faults: a dead connection is replaced, a failed confirmation writes nothing, an
outage is a 503 for every kind of request (htmx included), logged and counted."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from commands.demo import DEMO_PASSWORD
from db.models import AuditEvent
from extensions import db
from tests.conftest import IS_POSTGRES
from tests.integration.confirmation import (
    NUMERO,
    up_to_confirmation,
)

postgres_only = pytest.mark.skipif(
    not IS_POSTGRES,
    reason="needs DATABASE_URL=postgresql+psycopg://...: SQLite has no server connection to lose",
)


@pytest.fixture
def admin(database_url):
    """A connection of its own to the same database, outside the app's pool."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def login(client) -> None:
    response = client.post(
        "/connexion", data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD}
    )
    assert response.status_code == 302


def kill_app_connections(admin) -> int:
    """What a PostgreSQL restart or a failover does to the app's pooled connections."""
    with admin.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    return len(killed)


@postgres_only
@pytest.mark.postgres
def test_the_next_request_succeeds_after_the_connections_were_killed(make, admin):
    client = make().test_client()
    login(client)
    assert client.get("/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert kill_app_connections(admin) >= 1
    # pool_pre_ping finds the dead connection at checkout and opens a new one.
    home = client.get("/")
    assert home.status_code == 200
    assert "Groupe Atlas Holding" in home.get_data(as_text=True)
    assert kill_app_connections(admin) >= 1
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",
    }


@postgres_only
@pytest.mark.postgres
def test_without_pre_ping_the_dead_connection_would_reach_a_request(make, admin):
    """The control: it is pool_pre_ping, not luck, that saves the request above."""
    client = make(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False}).test_client()
    login(client)
    assert client.get("/").status_code == 200
    kill_app_connections(admin)
    # The dead connection reaches the request: the user gets "Service indisponible".
    assert client.get("/").status_code == 503


# --- a confirmation that fails half-way ---------------------------------------------


def rows_of(admin, token: str) -> dict[str, int]:
    """What another connection sees of the request created with ``token``."""
    with admin.connect() as conn:
        count = {
            "demandes": conn.scalar(
                sa.text("SELECT count(*) FROM demandes WHERE confirmation_token = :t"),
                {"t": token},
            )
        }
        for table in ("echeances", "audit_events"):
            count[table] = conn.scalar(
                sa.text(
                    f"SELECT count(*) FROM {table} JOIN demandes ON demandes.id = demande_id "
                    "WHERE demandes.confirmation_token = :t"
                ),
                {"t": token},
            )
    return count


def commit_fails_after_the_inserts(monkeypatch):
    """The rows reach the server, then the commit is lost (the connection dropped)."""

    def commit():
        db.session.flush()
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", commit)
    return monkeypatch.undo


def audit_event_insert_fails(monkeypatch):
    """The request and its schedule are inserted, then its audit event is refused."""

    def refuse(mapper, connection, target):
        raise OperationalError("INSERT INTO audit_events", {}, Exception("disk full"))

    # A mapper event is global to the process: the caller removes it straight after.
    sa.event.listen(AuditEvent, "before_insert", refuse)
    return lambda: sa.event.remove(AuditEvent, "before_insert", refuse)


@pytest.mark.parametrize("fault", [commit_fails_after_the_inserts, audit_event_insert_fails])
def test_a_failed_confirmation_leaves_nothing_half_written(make, admin, monkeypatch, fault):
    # Without propagation the client sees what a user would: the database is unavailable,
    # so the "Service indisponible" page with a 503 and Retry-After.
    client = make(PROPAGATE_EXCEPTIONS=False).test_client()
    login(client)
    token = up_to_confirmation(client)
    undo = fault(monkeypatch)
    try:
        response = client.post(f"/demande/{NUMERO}/confirmer", data={"token": token})
    finally:
        undo()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert rows_of(admin, token) == {"demandes": 0, "echeances": 0, "audit_events": 0}

    # Nothing is left locked or half-done: the same screen confirms once the fault is gone.
    response = client.post(f"/demande/{NUMERO}/confirmer", data={"token": token})
    assert response.status_code == 303
    assert rows_of(admin, token) == {"demandes": 1, "echeances": 12, "audit_events": 1}


# --- an outage seen by signed-in users, htmx included --------------------------------------

UNREACHABLE = (
    "postgresql+psycopg://nobody@127.0.0.1:1/recouvrement?connect_timeout=2"
    if IS_POSTGRES
    else "sqlite:////nonexistent-folder/recouvrement.db"
)


def signed_in_during_an_outage(make, who: str, numero: str | None = None):
    """A client signed in (and past Paramétrage when ``numero``) on a working instance,
    whose next requests reach an instance that cannot reach the database."""
    live = make().test_client()
    response = live.post("/connexion", data={"utilisateur": who, "mot_de_passe": DEMO_PASSWORD})
    assert response.status_code == 302
    if numero:
        page = live.get(f"/demande/{numero}/parametrage").get_data(as_text=True)
        compte = re.search(r'<option value="(\d+)"', page)[1]
        response = live.post(
            f"/demande/{numero}/parametrage",
            data={"modalite": "acomptes", "compte": compte, "garanties": "1"},
        )
        assert response.status_code == 302
        assert live.get(f"/demande/{numero}/simulation?n=6", headers=HTMX).status_code == 200
    down = make(SQLALCHEMY_DATABASE_URI=UNREACHABLE, PROPAGATE_EXCEPTIONS=False).test_client()
    down.set_cookie("session", live.get_cookie("session").value)
    return down


HTMX = {"HX-Request": "true"}
# who, the affilié to reach Simulation with, the request, its headers, its endpoint.
OUTAGE_REQUESTS = {
    "move": ("groupe", NUMERO, f"/demande/{NUMERO}/simulation?n=7", HTMX, "demande.simulation"),
    "schedule rows": (
        "groupe",
        NUMERO,
        f"/demande/{NUMERO}/simulation/echeances?n=7",
        HTMX,
        "demande.echeances",
    ),
    "back-office list": (
        "agent.casa",
        None,
        "/perception/demandes?q=atlas",
        HTMX,
        "perception.demandes",
    ),
    "back-office page": ("agent.casa", None, "/perception/demandes", {}, "perception.demandes"),
    "simulation page": (
        "groupe",
        NUMERO,
        f"/demande/{NUMERO}/simulation?n=7",
        {},
        "demande.simulation",
    ),
}


def answered(endpoint: str, status: str) -> float:
    from web.observability import HTTP_REQUESTS

    return HTTP_REQUESTS.labels(endpoint, "GET", status)._value.get()


@pytest.mark.parametrize("case", OUTAGE_REQUESTS)
def test_an_outage_is_a_503_for_every_kind_of_request_logged_and_counted(make, case, caplog):
    who, numero, url, headers, endpoint = OUTAGE_REQUESTS[case]
    client = signed_in_during_an_outage(make, who, numero)
    counted_before = answered(endpoint, "503")
    caplog.clear()

    with caplog.at_level("INFO", logger="recouvrement"):
        responses = [client.get(url, headers=headers) for _ in range(3)]

    for response in responses:
        assert response.status_code == 503, response.get_data(as_text=True)[:300]
        assert response.headers["Retry-After"] == "5"
        text = response.get_data(as_text=True)
        assert "Le service est momentanément indisponible." in text
        if headers:
            # One line for the page's alert region, never a page swapped into a panel.
            assert response.headers["HX-Retarget"] == "#erreur-annonce"
            assert "<html" not in text
        else:
            assert "<h1>Service indisponible</h1>" in text
    lines = [
        record.fields
        for record in caplog.records
        if getattr(record, "fields", {}).get("event") == "request"
    ]
    assert [(line["path"] != "<unmatched>", line["status"]) for line in lines] == [(True, 503)] * 3
    assert answered(endpoint, "503") == counted_before + 3


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "page"])
def test_an_error_page_asks_the_database_nothing(make, headers):
    """A 404 needs no database: during an outage it is still the 404, not a 500."""
    client = signed_in_during_an_outage(make, "groupe")

    response = client.get("/nulle-part", headers=headers)

    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)
