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
    # The check runs from app.check_csrf, on the methods it protects only.
    WTF_CSRF_CHECK_DEFAULT = False
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Africa/Casablanca"
    LANGUAGES = ("fr", "ar")

    # The names the site answers to, comma-separated (the public name, and each instance's
    # own address where Prometheus or a health check reaches it): any other Host is a 400.
    TRUSTED_HOSTS = os.environ.get("TRUSTED_HOSTS")

    # The accessibility statement's contact and the CNSS's complaints page: configurable,
    # both optional (unset, the statement names the perception and the channels in words).
    ACCESSIBILITE_CONTACT = os.environ.get("ACCESSIBILITE_CONTACT", "")
    RECLAMATION_URL = os.environ.get("RECLAMATION_URL", "")

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

    # E-mail notices (services/notices/): "smtp", "file" (each message an .eml file in
    # MAIL_FILE_DIR, instance/mail/ by default: development's choice) or "disabled".
    # Production names its choice: smtp needs MAIL_HOST and MAIL_FROM (app.check_configuration).
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND")
    MAIL_HOST = os.environ.get("MAIL_HOST")
    MAIL_PORT = os.environ.get("MAIL_PORT", "587")
    # starttls (port 587), tls (implicit, port 465) or none (a relay on the host itself).
    MAIL_SECURITY = os.environ.get("MAIL_SECURITY", "starttls")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    # Seconds for every SMTP operation (connect, each command); 10 at most, so a stuck
    # server never holds a sender past its claim's lease.
    MAIL_TIMEOUT = os.environ.get("MAIL_TIMEOUT", "10")
    MAIL_FROM = os.environ.get("MAIL_FROM")
    MAIL_FROM_NAME = os.environ.get("MAIL_FROM_NAME", "CNSS — Espace Recouvrement")
    MAIL_FILE_DIR = os.environ.get("MAIL_FILE_DIR")
    MAIL_MAX_ATTEMPTS = 8
    # How long a sender holds the notices it claimed; past it another sender takes them.
    MAIL_LEASE_SECONDS = 300

    # The back office's lists count their rows up to this many, then say "plus de 10 000
    # éléments" (services/pagination.py): an exact count of 300 000 rows costs ~100 ms.
    LIST_COUNT_CAP = 10_000
