"""What an outside probe broke, each pinned by a test: the login redirect's size, a hung or
absent Redis, the database-held lockout, open redirects, CR/LF in ``next``, a database
outage, and the revocation of an expired session."""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager

import pytest
import redis
from sqlalchemy import func, select

from commands.demo import DEMO_PASSWORD
from db.models import LoginFailure, User
from extensions import db
from tests.conftest import REDIS_DB_HARDENING

WRONG = "pas-le-bon"
REAL_REDIS = f"redis://127.0.0.1:6379/{REDIS_DB_HARDENING}"


def post_login(client, login="groupe", password=DEMO_PASSWORD, query=""):
    return client.post(f"/connexion{query}", data={"utilisateur": login, "mot_de_passe": password})


@contextmanager
def hung_redis():
    """A server that accepts connections and never answers: the worst Redis there is."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0", held
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def real_redis_or_skip():
    try:
        client = redis.Redis.from_url(REAL_REDIS, socket_timeout=0.5)
        client.flushdb()
    except redis.RedisError:
        if os.environ.get("REDIS_REQUIRED"):  # CI: Redis must be there
            raise
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


@pytest.fixture(autouse=True)
def _breaker_closed():
    """Each test starts with Redis presumed up (the breaker is per process)."""
    from web import security

    security._redis_paused_until = 0.0
    yield
    security._redis_paused_until = 0.0


# --- 1. the login redirect stays small --------------------------------------------------


def test_a_huge_address_gives_a_small_login_redirect(client):
    response = client.get("/demande/nouvelle?q=" + "/" * 1300)

    assert response.status_code == 302
    assert response.location == "/connexion?next=%2Fdemande%2Fnouvelle"
    header_block = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    assert header_block < 1024


def test_a_short_query_is_kept_in_next(client):
    response = client.get("/demande/nouvelle?q=atlas")

    assert response.location == "/connexion?next=%2Fdemande%2Fnouvelle%3Fq%3Datlas"


# --- 2. and 3. Redis hung or absent --------------------------------------------------------


def test_a_hung_redis_never_holds_a_worker(make):
    with hung_redis() as (url, connections):
        app = make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=url, REDIS_RETRY_SECONDS=30)
        client = app.test_client()

        started = time.monotonic()
        first = post_login(client, password=WRONG)
        first_took = time.monotonic() - started
        for _ in range(3):
            assert post_login(client, password=WRONG).status_code == 401
        health = client.get("/healthz")
        tried = len(connections)

    assert first.status_code == 401
    # One 0.5 s time-out and no retry (the password check takes the rest), not 3 × 5 s.
    assert first_took < 3
    # The breaker is open: neither the next logins nor /healthz ask Redis again.
    assert tried == 1
    assert health.status_code == 200
    assert health.get_json() == {"status": "degraded", "database": "ok", "redis": "unavailable"}


def test_healthz_reports_a_hung_redis_within_a_second(make):
    with hung_redis() as (url, _):
        client = make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=url).test_client()
        started = time.monotonic()
        health = client.get("/healthz")
        took = time.monotonic() - started

    assert took < 1.5
    assert health.get_json()["redis"] == "unavailable"


def test_the_lockout_holds_with_redis_unreachable(make, caplog):
    app = make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    client = app.test_client()
    statuses = [post_login(client, password=WRONG).status_code for _ in range(8)]

    assert statuses == [401] * 4 + [429] * 4
    right = post_login(client)
    assert right.status_code == 429
    assert "Trop de tentatives de connexion. Réessayez dans 1 minute." in right.text
    assert "per-address login limit skipped" in caplog.text
    with app.app_context():
        row = db.session.scalars(select(LoginFailure)).one()
        assert row.echecs == 5  # refused attempts are not counted


def test_the_lockout_is_shared_by_two_instances(make):
    """Two app instances on one database: the fifth failure on the second locks both."""
    first, second = (make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://") for _ in "ab")
    for _ in range(2):
        assert post_login(first.test_client(), password=WRONG).status_code == 401
    for _ in range(2):
        assert post_login(second.test_client(), password=WRONG).status_code == 401
    assert post_login(first.test_client(), password=WRONG).status_code == 429
    assert post_login(second.test_client()).status_code == 429


def test_the_failure_count_is_kept_under_a_hash_of_the_login(make):
    app = make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    post_login(app.test_client(), login="quelqu'un", password=WRONG)
    with app.app_context():
        (key,) = db.session.execute(select(LoginFailure.cle)).one()
    assert len(key) == 64 and "quelqu" not in key


def test_a_successful_login_clears_the_count(make):
    app = make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    post_login(app.test_client(), password=WRONG)
    assert post_login(app.test_client()).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_the_address_limit_on_a_real_redis_is_shared_by_two_instances(make):
    store = real_redis_or_skip()
    config = dict(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REAL_REDIS, LOGIN_ADDRESS_LIMIT="3 per minute"
    )
    first, second = make(**config), make(**config)
    try:
        assert post_login(first.test_client(), login="a", password=WRONG).status_code == 401
        assert post_login(second.test_client(), login="b", password=WRONG).status_code == 401
        assert post_login(first.test_client(), login="c", password=WRONG).status_code == 401
        refused = post_login(second.test_client())
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert second.test_client().get("/healthz").get_json()["redis"] == "ok"
    finally:
        store.flushdb()


# --- 4. and 5. next is a local path or nothing ----------------------------------------------


HOSTILE_NEXT = [
    "/%09/evil.example/login",
    "/%0A/evil.example/login",
    "/%0D%0ASet-Cookie:%20x=1",
    "//evil.example/",
    "/\\evil.example/",
    "https://evil.example/",
    "/%7F/evil.example",
    "/" + "a" * 600,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_site(client, target):
    response = post_login(client, query=f"?next={target}")

    assert response.status_code == 302
    assert response.location == "/"


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_language_switch_never_redirects_off_site(client, target):
    from urllib.parse import unquote

    response = client.post("/langue", data={"lang": "ar", "next": unquote(target)})

    assert response.status_code == 302
    assert response.location == "/"


def test_a_local_next_is_followed(client):
    response = post_login(client, query="?next=%2Fdemande%2Fnouvelle%3Fq%3Datlas")

    assert response.location == "/demande/nouvelle?q=atlas"


# --- 6. a database outage is a 503 ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def down(request, make, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'absent' / 'recouvrement.db'}"
    else:
        url = "postgresql+psycopg://nobody@127.0.0.1:1/recouvrement?connect_timeout=2"
    return make(SQLALCHEMY_DATABASE_URI=url).test_client()


def test_a_database_outage_answers_503_with_the_portal_page(down, caplog):
    responses = [post_login(down) for _ in range(3)]

    for response in responses:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "<h1>Service indisponible</h1>" in response.text
        assert "Réessayez dans quelques instants." in response.text
    assert caplog.text.count("database unavailable") <= 1


def test_a_database_outage_answers_htmx_with_one_line_for_the_alert_region(down):
    response = down.post(
        "/connexion",
        data={"utilisateur": "groupe", "mot_de_passe": "x"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 503
    assert response.headers["HX-Retarget"] == "#erreur-annonce"
    assert "<html" not in response.text
    assert "Le service est momentanément indisponible. Réessayez dans quelques instants." in (
        response.text
    )


# --- 7. sessions --------------------------------------------------------------------------


def test_the_expired_session_is_revoked_server_side(make):
    app = make()
    client, thief = app.test_client(), app.test_client()
    post_login(client)
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/").status_code == 200

    response = client.post("/session/expiree", data={"lang": "ar"})

    assert response.status_code == 303
    assert response.location == "/session/expiree?lang=ar"
    assert client.get("/").status_code == 302
    assert thief.get("/").status_code == 302  # the copied cookie no longer works
    page = client.get(response.location)
    assert '<html lang="ar" dir="rtl">' in page.text


def test_the_expiry_page_alone_changes_nothing(make):
    app = make()
    client = app.test_client()
    post_login(client)
    with app.app_context():
        token = db.session.scalar(select(User.session_token).where(User.login == "groupe"))

    page = client.get("/session/expiree?lang=fr")

    assert page.status_code == 200
    assert client.get("/").status_code == 200  # still signed in: only a POST revokes
    with app.app_context():
        assert db.session.scalar(select(User.session_token).where(User.login == "groupe")) == token


def test_an_expiry_post_without_a_session_shows_the_page(make):
    client = make(WTF_CSRF_ENABLED=True).test_client()

    response = client.post("/session/expiree", data={"lang": "fr"})

    assert response.status_code == 303
    assert response.location == "/session/expiree?lang=fr"


def test_a_session_is_not_bound_to_the_client_address(make):
    """Mobile networks change the address mid-session: the cookie is what counts."""
    app = make()
    client = app.test_client()
    post_login(client)

    response = client.get("/", environ_base={"REMOTE_ADDR": "198.51.100.9"})

    assert response.status_code == 200
