"""A production start refuses bad configuration in one line; HSTS; Casablanca's clock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app import CONFIG_REFUSED, create_app
from common import clock

ROOT = Path(__file__).resolve().parents[2]
SECRET = "0123456789abcdef0123456789abcdef"
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": SECRET,
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@db.internal/recouvrement",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "RATELIMIT_STORAGE_URI": None,
    "MAIL_BACKEND": "smtp",
    "MAIL_HOST": "smtp.internal",
    "MAIL_FROM": "ne-pas-repondre@cnss.ma",
}


def refusal(capsys, **changes) -> str:
    with pytest.raises(SystemExit) as exit_info:
        create_app({**PRODUCTION, **changes})
    assert exit_info.value.code == CONFIG_REFUSED
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "court"}, "SECRET_KEY"),
        ({"SQLALCHEMY_DATABASE_URI": None}, "DATABASE_URL"),
        ({"SQLALCHEMY_DATABASE_URI": "pas une url"}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"PROXY_HOPS": "un"}, "PROXY_HOPS"),
        ({"SESSION_MINUTES": "-5"}, "SESSION_MINUTES"),
        ({"LOG_LEVEL": "bavard"}, "LOG_LEVEL"),
        ({"TRUSTED_HOSTS": "recouvrement.example.ma:443"}, "TRUSTED_HOSTS"),
        ({"TRUSTED_HOSTS": "https://recouvrement.example.ma"}, "TRUSTED_HOSTS"),
        ({"MAIL_BACKEND": None}, "MAIL_BACKEND"),
        ({"MAIL_BACKEND": "pigeon"}, "MAIL_BACKEND"),
        ({"MAIL_HOST": None}, "MAIL_HOST"),
        ({"MAIL_FROM": None}, "MAIL_FROM"),
        ({"MAIL_TIMEOUT": "30"}, "MAIL_TIMEOUT"),
        ({"MAIL_SECURITY": "ssl3"}, "MAIL_SECURITY"),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(capsys, changes, variable):
    assert variable in refusal(capsys, **changes)


def test_trusted_hosts_are_read_from_a_comma_separated_list():
    app = create_app({**PRODUCTION, "TRUSTED_HOSTS": " recouvrement.example.ma, 10.0.0.11 ,"})
    assert app.config["TRUSTED_HOSTS"] == ["recouvrement.example.ma", "10.0.0.11"]
    client = app.test_client()
    assert client.get("/ping", headers={"Host": "10.0.0.11:8000"}).status_code == 200
    assert client.get("/ping", headers={"Host": "evil.example"}).status_code == 400


def test_a_single_instance_may_choose_the_memory_store():
    app = create_app({**PRODUCTION, "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"})
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_production_may_disable_the_notices_explicitly():
    app = create_app({**PRODUCTION, "MAIL_BACKEND": "disabled", "MAIL_HOST": None})
    assert app.config["MAIL_BACKEND"] == "disabled"


def test_development_writes_the_notices_to_files():
    app = create_app({"APP_ENV": "development", "MAIL_BACKEND": None})
    assert app.config["MAIL_BACKEND"] == "file"
    assert app.config["MAIL_FILE_DIR"].endswith(os.path.join("instance", "mail"))


def test_production_uses_redis_for_the_limits():
    app = create_app(PRODUCTION)
    assert app.config["RATELIMIT_STORAGE_URI"] == PRODUCTION["REDIS_URL"]


@pytest.mark.parametrize(
    ("database", "pinged"),
    [(PRODUCTION["SQLALCHEMY_DATABASE_URI"], True), ("sqlite:///instance/x.db", False)],
)
def test_the_pool_pings_a_database_server_not_an_sqlite_file(database, pinged):
    app = create_app({**PRODUCTION, "SQLALCHEMY_DATABASE_URI": database})
    # A server may restart under the pool; a file has nothing to ping, and every request
    # would pay the ping's statement.
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is pinged


def test_development_falls_back_to_the_embedded_database():
    app = create_app({"APP_ENV": "development", "SQLALCHEMY_DATABASE_URI": None})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["RATELIMIT_STORAGE_URI"] in ("memory://", os.environ.get("REDIS_URL"))


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        (["-m", "flask", "--app", "app", "routes"], "DATABASE_URL"),
        (["-m", "gunicorn", "--preload", "-b", "127.0.0.1:0", "app:create_app()"], "REDIS_URL"),
        (["-m", "flask", "--app", "app", "notifications", "send"], "MAIL_BACKEND"),
    ],
)
def test_a_refused_start_exits_with_one_line_and_no_traceback(command, missing):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "APP_ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": "postgresql+psycopg://app@db.internal/recouvrement",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "MAIL_BACKEND": "disabled",
    }
    del env[missing]
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if "ne démarre pas" in line]
    assert len(ours) == 1 and missing in ours[0], done.stderr


# ---------------------------------------------------------------- HSTS


def test_production_sends_hsts_for_a_year(database_url):
    app = create_app({**PRODUCTION, "SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    response = app.test_client().get("/ping")
    value = response.headers["Strict-Transport-Security"]
    assert int(value.split("max-age=")[1].split(";")[0]) >= 31536000


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/ping").headers


# ---------------------------------------------------------------- the clock


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        # Winter (UTC+1): 23:30 UTC is already the next day in Casablanca.
        (datetime(2023, 11, 19, 23, 30, tzinfo=UTC), date(2023, 11, 20)),
        (datetime(2023, 11, 19, 22, 59, tzinfo=UTC), date(2023, 11, 19)),
        # Ramadan 2024 (UTC+0): the day changes at midnight UTC.
        (datetime(2024, 3, 20, 23, 30, tzinfo=UTC), date(2024, 3, 20)),
        (datetime(2024, 3, 21, 0, 0, tzinfo=UTC), date(2024, 3, 21)),
    ],
)
def test_the_day_is_casablancas_at_the_boundary(utc, day):
    assert clock.casablanca(utc).date() == day


@pytest.fixture
def server_tz():
    before = os.environ.get("TZ")

    def set_tz(value: str) -> None:
        os.environ["TZ"] = value
        time.tzset()

    yield set_tz
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_the_clock_ignores_the_servers_tz(server_tz, tz):
    server_tz(tz)
    expected = datetime.now(UTC).astimezone(clock.CASABLANCA).replace(tzinfo=None)
    assert abs((clock.system_now() - expected).total_seconds()) < 2
