"""Fixtures: a migrated, demo-seeded database cloned fresh for each test.

``DATABASE_URL`` picks the server: unset, every test gets a copy of a seeded SQLite file;
a PostgreSQL URL, every test gets ``CREATE DATABASE ... TEMPLATE`` of a seeded database.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import settings

from app import create_app
from commands.demo import DEMO_PASSWORD, seed_demo
from extensions import db

# The same examples on every run: a property that fails in CI fails on a laptop too.
# HYPOTHESIS_PROFILE=explore draws new examples for a local bug hunt.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BASE_URL = os.environ.get("DATABASE_URL", "")
# The Redis databases (on 127.0.0.1:6379) that tests flush: one per file that uses Redis, so
# two files never flush each other's counts. Change them when those numbers are taken.
REDIS_DB_HARDENING = int(os.environ.get("TEST_REDIS_DB_HARDENING", "13"))
REDIS_DB_LIMITS = int(os.environ.get("TEST_REDIS_DB_LIMITS", "14"))
REDIS_DB_DEPLOY = int(os.environ.get("TEST_REDIS_DB_DEPLOY", "15"))
IS_POSTGRES = BASE_URL.startswith("postgresql")
FROZEN_NOW = datetime(2023, 11, 20, 10, 30)


class Clock:
    """The injected clock: tests move time with ``clock.set(...)``, never by sleeping."""

    def __init__(self, now: datetime = FROZEN_NOW):
        self.value = now

    def __call__(self) -> datetime:
        return self.value

    def set(self, value: datetime) -> None:
        self.value = value


def _pg_admin_engine():
    return sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(name: str) -> str:
    return re.sub(r"/[^/?]+(\?|$)", f"/{name}\\1", BASE_URL, count=1)


class RequestClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as behind
    gunicorn: a fresh ``g`` and database session, even while the test holds a context
    to look at the database. Afterwards the test's session reads again what the request
    wrote."""

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response


def make_app(database_url: str, clock: Clock | None = None, **extra):
    config = {
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-of-the-suite",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        # The test client's host and the live servers' address, pinned as production pins
        # its own name.
        "TRUSTED_HOSTS": ["localhost", "127.0.0.1"],
        "CLOCK": clock or Clock(),
        # Said explicitly, so that the tests that start a production app start.
        "MAIL_BACKEND": "file",
    }
    config.update(extra)
    app = create_app(config)
    app.test_client_class = RequestClient
    return app


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate an empty database and load the demo data once per run."""
    if IS_POSTGRES:
        name = f"tpl_{uuid.uuid4().hex[:10]}"
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = _pg_url(name)
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        url = f"sqlite:///{path}"
    app = make_app(url)
    with app.app_context():
        upgrade()
        seed_demo()
        db.engine.dispose()
    yield url
    if IS_POSTGRES:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(template_db, tmp_path):
    """A private copy of the seeded database for one test."""
    if IS_POSTGRES:
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(
                sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db.rsplit("/", 1)[1]}"')
            )
        yield _pg_url(name)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        source = Path(template_db.removeprefix("sqlite:///"))
        target = tmp_path / "test.db"
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(database_url, clock):
    """The app, and a context for the test's own database reads and set-ups; the client's
    requests do not run in it (see RequestClient)."""
    app = make_app(database_url, clock)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make(database_url, clock):
    """Build apps on the test's database copy, each request in its own app context (as a
    server's); their engines are disposed at teardown."""
    apps = []

    def factory(**extra):
        app = make_app(database_url, clock, **extra)
        apps.append(app)
        return app

    yield factory
    from extensions import db

    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, login="groupe", password=None):
        return self._client.post(
            "/connexion",
            data={"utilisateur": login, "mot_de_passe": password or DEMO_PASSWORD},
        )

    def logout(self):
        return self._client.post("/deconnexion")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
