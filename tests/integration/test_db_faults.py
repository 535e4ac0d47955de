"""Database faults: a dead connection is replaced, a failed confirmation writes nothing."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from commands.demo import DEMO_PASSWORD
from db.models import AuditEvent
from extensions import db
from tests.conftest import IS_POSTGRES, make_app

NUMERO = "4317542"
postgres_only = pytest.mark.skipif(
    not IS_POSTGRES,
    reason="needs DATABASE_URL=postgresql+psycopg://...: SQLite has no server connection to lose",
)


@pytest.fixture
def make(database_url, clock):
    """Apps on the test's database, each request in its own app context (no pushed one,
    so every request checks a connection out of the pool as a server's request would)."""
    apps = []

    def factory(**extra):
        app = make_app(database_url, clock, **extra)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


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


def up_to_confirmation(client) -> str:
    """Instalments, 12 months, conditions accepted: returns the confirmation page's token."""
    page = client.get(f"/demande/{NUMERO}/parametrage").get_data(as_text=True)
    compte = re.search(r'<option value="(\d+)"', page)[1]
    client.post(
        f"/demande/{NUMERO}/parametrage",
        data={"modalite": "acomptes", "compte": compte, "garanties": "1"},
    )
    response = client.post(
        f"/demande/{NUMERO}/simulation",
        data={"action": "valider", "avance": "", "nombre_echeances": "12", "cgu": "1"},
    )
    assert response.status_code == 302
    page = client.get(f"/demande/{NUMERO}/validation").get_data(as_text=True)
    return re.search(r'name="token" value="([^"]+)"', page)[1]


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
