"""Configuration: a class of defaults, then the environment, then a test mapping."""

import os
from datetime import timedelta
from pathlib import Path

from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent


# The embedded database of development (make run); production must name its own.
DEV_DATABASE_URI = f"sqlite:///{BASE_DIR / 'instance' / 'recouvrement.db'}"


class Config:
    # development | testing | production. Anything but development/testing is production,
    # where a missing or malformed setting stops the start (app.check_configuration).
    APP_ENV = os.environ.get("APP_ENV", "production")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    # Survive a PostgreSQL restart: a dead pooled connection is replaced before use.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    # Numbers from the environment stay text here: configure() reads them, and refuses to
    # start on one that is not a number rather than failing at import.
    SESSION_MINUTES = os.environ.get("SESSION_MINUTES", "20")
    # The page warns this long before the session ends (static/js/session.js).
    SESSION_WARNING_SECONDS = os.environ.get("SESSION_WARNING_SECONDS", "120")
    # The expiry slides by a renewal written in the session once a second at most, not
    # by serializing and signing the whole session on every answer (web/sessions.py).
    SESSION_REFRESH_EACH_REQUEST = False
    REMEMBER_COOKIE_HTTPONLY = True

    # The largest thing anyone uploads is the bank's return file: refuse bigger bodies
    # before anything (CSRF included) reads them.
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 4 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Africa/Casablanca"
    LANGUAGES = ("fr", "ar")

    REDIS_URL = os.environ.get("REDIS_URL")
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers to trust.
    PROXY_HOPS = os.environ.get("PROXY_HOPS", "0")
    # Strict-Transport-Security in production: browsers keep to HTTPS for a year.
    HSTS_SECONDS = 365 * 24 * 3600
    # /metrics answers only "Authorization: Bearer <METRICS_TOKEN>"; unset, it is a 404.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN")
    # The JSON lines' threshold (web/observability.py): INFO writes one line per request.
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Python serves .js as text/javascript (RFC 9239), older setups as application/javascript.
    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "text/csv",
    ]
    COMPRESS_MIN_SIZE = 300
    SEND_FILE_MAX_AGE_DEFAULT = timedelta(days=365)

    # Redis when REDIS_URL is set. In production without it the app refuses to start, unless
    # RATELIMIT_STORAGE_URI=memory:// says a single instance counts in its own memory.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI")
    # Redis can never hold a worker: half a second to connect or answer, no retry; after a
    # failure it is left alone for REDIS_RETRY_SECONDS (security.py).
    RATELIMIT_STORAGE_OPTIONS = {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "retry": Retry(NoBackoff(), 0),
    }
    REDIS_RETRY_SECONDS = 5
    RATELIMIT_HEADERS_ENABLED = False
    # Login throttling (security.py): per address, and per account with a growing lockout.
    LOGIN_ADDRESS_LIMIT = "30 per 10 minutes"
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCKOUT_SECONDS = 60  # doubled by each failure after LOGIN_MAX_FAILURES
    LOGIN_LOCKOUT_MAX_SECONDS = 3600
    LOGIN_FAILURE_WINDOW_SECONDS = 24 * 3600  # the count restarts this long after its first failure

    # The back office's lists count their rows up to this many, then say "plus de 10 000
    # éléments" (services/pagination.py): an exact count of 300 000 rows costs ~100 ms.
    LIST_COUNT_CAP = 10_000
