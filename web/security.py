"""Throttling of the login form: per account in the database, per address in Redis.

- **Per account** (the source of truth is the database, table ``login_failures``): after
  ``LOGIN_MAX_FAILURES`` wrong passwords the login is refused for ``LOGIN_LOCKOUT_SECONDS``,
  doubled by each further failure up to ``LOGIN_LOCKOUT_MAX_SECONDS``; a successful login
  starts the count again. The failure is counted by one atomic upsert in the same
  transaction that sets the lock, so it holds on every instance whatever Redis does.
  Unknown logins are counted like real ones (the table is keyed by a hash of the typed
  login), so the lockout says nothing about which logins exist.
- **Per address** (Flask-Limiter's storage, Redis when ``REDIS_URL`` is set): at most
  ``LOGIN_ADDRESS_LIMIT`` login posts from one address. Redis can never hold a worker: its
  connect and read time-outs are 0.5 s (config), and after a failure it is not tried again
  for ``REDIS_RETRY_SECONDS`` (a small circuit breaker); meanwhile the per-address limit
  is skipped with a logged warning, never an error.

Times come from the injected clock (``clock.now``), so tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from functools import partial

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from common import clock
from db.models import LoginFailure
from extensions import db

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_app(app) -> None:
    """Flask-Limiter for its storage (Redis or memory, as configured), without its hooks.

    Flask-Limiter checks every request against the limits of its route, before and after
    it. No route has any: the login's per-address limit is counted by hand
    (``address_wait``), through the same storage. The hooks cost every answer, ``/ping``
    included, some 60 µs for nothing; a route given a ``@limiter.limit`` would need them.
    """
    limiter.init_app(app)

    def limiters(hook) -> bool:
        if isinstance(hook, partial):
            return any(arg is limiter for arg in hook.args)
        return getattr(hook, "__self__", None) is limiter

    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        if None in hooks:
            hooks[None] = [hook for hook in hooks[None] if not limiters(hook)]


# Doubling stops long before this; it only keeps 2**n small whatever the failure count.
_MAX_DOUBLINGS = 16


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def login_key(login: str) -> str:
    # Hashed: the database and the logs never hold the typed logins, whatever they contain.
    return hashlib.sha256(login.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- per account (database)


def lockout_remaining(login: str) -> int:
    """Seconds before ``login`` may try again; 0 when its logins are not refused."""
    if not _enabled():
        return 0
    until = db.session.scalar(
        select(LoginFailure.bloque_jusqua).where(LoginFailure.cle == login_key(login))
    )
    if until is None:
        return 0
    remaining = int((until - clock.now()).total_seconds())
    return max(0, min(remaining, current_app.config["LOGIN_LOCKOUT_MAX_SECONDS"]))


def record_login_failure(login: str) -> int:
    """Count a wrong password for ``login`` and commit; returns the lockout it starts (0 if
    none)."""
    if not _enabled():
        return 0
    config = current_app.config
    now = clock.now()
    window_start = now - timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    failures = db.session.scalar(_count_failure(login_key(login), now, window_start))
    delay = 0
    beyond = failures - config["LOGIN_MAX_FAILURES"]
    if beyond >= 0:
        delay = min(
            config["LOGIN_LOCKOUT_SECONDS"] * 2 ** min(beyond, _MAX_DOUBLINGS),
            config["LOGIN_LOCKOUT_MAX_SECONDS"],
        )
        db.session.execute(
            update(LoginFailure)
            .where(LoginFailure.cle == login_key(login))
            .values(bloque_jusqua=now + timedelta(seconds=delay))
        )
    # Counts whose window has passed and whose lock has ended mean nothing any more.
    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.premier_echec < window_start,
            (LoginFailure.bloque_jusqua.is_(None)) | (LoginFailure.bloque_jusqua < now),
        )
    )
    db.session.commit()
    return delay


def _count_failure(key: str, now, window_start):
    """One atomic statement: insert the first failure, or add one to the count (restarted
    when its window has passed); returns the count."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    expired = LoginFailure.premier_echec < window_start
    statement = insert(LoginFailure).values(cle=key, echecs=1, premier_echec=now)
    return statement.on_conflict_do_update(
        index_elements=[LoginFailure.cle],
        set_={
            "echecs": case((expired, 1), else_=LoginFailure.echecs + 1),
            "premier_echec": case((expired, now), else_=LoginFailure.premier_echec),
        },
    ).returning(LoginFailure.echecs)


def reset_login_failures(login: str) -> None:
    """Forget the failures of ``login`` (after a successful login); the caller commits."""
    if _enabled():
        db.session.execute(delete(LoginFailure).where(LoginFailure.cle == login_key(login)))


# ---------------------------------------------------------------- per address (Redis)

# Monotonic time before which Redis is not tried again (per process).
_redis_paused_until = 0.0


def _redis_paused() -> bool:
    return time.monotonic() < _redis_paused_until


def _redis_failed(exc: Exception) -> None:
    global _redis_paused_until
    seconds = current_app.config["REDIS_RETRY_SECONDS"]
    _redis_paused_until = time.monotonic() + seconds
    current_app.logger.warning(
        "rate-limit storage unavailable (%s: %s): per-address login limit skipped for %d s",
        type(exc).__name__,
        exc,
        seconds,
    )


def address_wait() -> int:
    """Count one login post from the client's address; the seconds to wait when the
    address is over ``LOGIN_ADDRESS_LIMIT``, else 0 (and 0 while Redis is unreachable)."""
    if not (_enabled() and limiter.initialized) or _redis_paused():
        return 0
    item = parse(current_app.config["LOGIN_ADDRESS_LIMIT"])
    identifiers = ("login-address", get_remote_address())
    try:
        if limiter.limiter.hit(item, *identifiers):
            return 0
        reset_at, _ = limiter.limiter.get_window_stats(item, *identifiers)
    except Exception as exc:  # the storage's client raises its own connection errors
        _redis_failed(exc)
        return 0
    return max(1, int(reset_at - time.time()))


def redis_status() -> str:
    """For /healthz: "ok", "unavailable" or "not configured" (memory storage)."""
    uri = current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    if not uri.startswith(("redis", "rediss")):
        return "not configured"
    if not limiter.initialized or _redis_paused():
        return "unavailable"
    try:
        if limiter.storage.check():
            return "ok"
        raise ConnectionError("no answer to PING")
    except Exception as exc:
        _redis_failed(exc)
        return "unavailable"
