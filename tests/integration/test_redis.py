"""The login limits on the real Redis (127.0.0.1:6379, database TEST_REDIS_DB_LIMITS, 14 by
default, flushed), across two instances, through a Redis that stops and comes back.

A TCP relay stands between the app and Redis, so the test stops "Redis" for the app
without touching the shared server. While it is down: no error and no wait longer than
the 0.5 s time-out, /healthz says degraded, the per-address limit is skipped, and the
per-account lockout still holds (the database has it). Back up: the counts kept in Redis
apply again.

CI sets REDIS_REQUIRED=1: there, no Redis is a failure, not a skip.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time

import pytest
import redis

from commands.demo import DEMO_PASSWORD
from extensions import db
from tests.conftest import REDIS_DB_LIMITS, make_app

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, REDIS_DB_LIMITS
WRONG = "pas-le-bon"


class Relay:
    """A TCP relay to Redis that the test can cut (connections refused) and restore."""

    def __init__(self, target=(REDIS_HOST, REDIS_PORT)):
        self.target = target
        self.port = 0
        self._server: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Relay:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.05)
        self.port = server.getsockname()[1]
        self._server = server
        self._stop.clear()
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(self.target, timeout=1)
            with self._lock:
                self._pairs.append((client, upstream))
            thread = threading.Thread(target=self._pipe, args=(client, upstream), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except OSError:
            return

    def stop(self) -> None:
        """Redis is gone: open connections are cut and new ones refused."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        with self._lock:
            for a, b in self._pairs:
                for sock in (a, b):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()
            self._pairs.clear()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{REDIS_DB}"


@pytest.fixture
def store():
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=0.5)
    try:
        client.flushdb()
    except redis.RedisError:
        if os.environ.get("REDIS_REQUIRED"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def relay():
    relay = Relay().start()
    yield relay
    relay.stop()


@pytest.fixture
def instances(database_url, clock, relay, store):
    """Two app instances on the same database and the same Redis (through the relay)."""
    from web import security

    security._redis_paused_until = 0.0
    config = dict(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=relay.url,
        LOGIN_ADDRESS_LIMIT="4 per minute",
        REDIS_RETRY_SECONDS=0.3,
    )
    apps = [make_app(database_url, clock, **config) for _ in range(2)]
    yield apps
    security._redis_paused_until = 0.0
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def post_login(app, login="groupe", password=DEMO_PASSWORD):
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/connexion", data={"utilisateur": login, "mot_de_passe": password})
    return response, time.monotonic() - started


def health(app) -> tuple[int, dict]:
    response = app.test_client().get("/healthz")
    return response.status_code, response.get_json()


def test_the_limits_hold_across_instances_while_redis_stops_and_comes_back(instances, relay, store):
    first, second = instances
    assert health(first) == (200, {"status": "ok", "database": "ok", "redis": "ok"})

    # Four posts from one address, two on each instance: the fifth is refused by either.
    for app, login in ((first, "a"), (second, "b"), (first, "c"), (second, "d")):
        assert post_login(app, login=login, password=WRONG)[0].status_code == 401
    assert post_login(first)[0].status_code == 429
    assert post_login(second)[0].status_code == 429
    assert store.dbsize() > 0  # the counts are in Redis, database 14

    relay.stop()
    # Redis gone: the login works, quickly, without the per-address limit...
    response, seconds = post_login(first)
    assert response.status_code == 302 and seconds < 1.5
    assert post_login(second)[0].status_code == 302
    # ...healthz says so and keeps the instance in rotation...
    status, body = health(second)
    assert (status, body["status"], body["redis"]) == (200, "degraded", "unavailable")
    # ...and the per-account lockout, in the database, holds on both instances.
    max_failures = first.config["LOGIN_MAX_FAILURES"]
    for n in range(max_failures):
        post_login((first, second)[n % 2], login="entreprise", password=WRONG)
    for app in (first, second):
        assert post_login(app, login="entreprise")[0].status_code == 429

    relay.start()  # same port: Redis is back
    time.sleep(0.4)  # the breaker's pause (REDIS_RETRY_SECONDS) runs out
    assert health(first)[1]["redis"] == "ok"
    # The counts Redis kept apply again: the address is still over its limit.
    assert post_login(second)[0].status_code == 429


def test_a_redis_that_stops_before_the_first_request_never_fails_one(instances, relay):
    first, _second = instances
    relay.stop()
    response, seconds = post_login(first)
    assert response.status_code == 302 and seconds < 1.5
    assert health(first)[1]["redis"] == "unavailable"
