"""Rate limiting of the login form (Redis-backed when REDIS_URL is set).

Two defences, both kept in the limiter's storage so that every app instance sharing one
Redis sees the same counts:

- per address, Flask-Limiter refuses POSTs to the login form beyond ``LOGIN_ADDRESS_LIMIT``;
- per account, after ``LOGIN_MAX_FAILURES`` wrong passwords the account's logins are refused
  for ``LOGIN_LOCKOUT_SECONDS``, doubled by each further failure up to
  ``LOGIN_LOCKOUT_MAX_SECONDS``; a successful login starts the count again.

Unknown logins are counted like real ones, so the lockout says nothing about which logins
exist. The end of a lockout is computed with the injected clock (``clock.now``), so tests
move time instead of sleeping; the storage's own expiries only collect old keys.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from web import clock

limiter = Limiter(key_func=get_remote_address, default_limits=[])

# Doubling stops long before this; it only keeps 2**n small whatever the failure count.
_MAX_DOUBLINGS = 16


def login_address_limit() -> str:
    """The per-address limit on login attempts, read from the app's config per request."""
    return current_app.config["LOGIN_ADDRESS_LIMIT"]


def _enabled() -> bool:
    # The limiter is one object shared by every app of the process: the app's own setting
    # decides, and the limiter must have been set up (it skips that when disabled).
    app_enabled = current_app.config.get("RATELIMIT_ENABLED", True)
    return bool(app_enabled and limiter.enabled and limiter.initialized)


def _keys(login: str) -> tuple[str, str]:
    # Hashed: the storage never holds the typed logins, whatever characters they contain.
    digest = hashlib.sha256(login.encode("utf-8")).hexdigest()
    return f"login-failures/{digest}", f"login-locked-until/{digest}"


def _timestamp() -> int:
    return int(clock.now().timestamp())


def _storage_down(exc: Exception) -> None:
    # A Redis outage must not lock everyone out of the portal: logins go on with the
    # per-account lockout paused (passwords are still checked), and the logs say why.
    current_app.logger.warning("login rate-limit storage unavailable: %s", exc)


def lockout_remaining(login: str) -> int:
    """Seconds before ``login`` may try again; 0 when its logins are not refused."""
    if not _enabled():
        return 0
    _, lock_key = _keys(login)
    try:
        until = limiter.storage.get(lock_key)
    except Exception as exc:  # the storage's client raises its own connection errors
        _storage_down(exc)
        return 0
    if not until:
        return 0
    # Writing the lock is not atomic (clear, then incr): two failures at the same instant
    # could add up their timestamps. Never refuse for longer than the cap because of it.
    return max(0, min(until - _timestamp(), current_app.config["LOGIN_LOCKOUT_MAX_SECONDS"]))


def record_login_failure(login: str) -> int:
    """Count a wrong password for ``login``; returns the lockout it starts (0 if none)."""
    if not _enabled():
        return 0
    config = current_app.config
    failures_key, lock_key = _keys(login)
    storage = limiter.storage
    try:
        failures = storage.incr(failures_key, config["LOGIN_FAILURE_WINDOW_SECONDS"])
    except Exception as exc:
        _storage_down(exc)
        return 0
    beyond = failures - config["LOGIN_MAX_FAILURES"]
    if beyond < 0:
        return 0
    delay = min(
        config["LOGIN_LOCKOUT_SECONDS"] * 2 ** min(beyond, _MAX_DOUBLINGS),
        config["LOGIN_LOCKOUT_MAX_SECONDS"],
    )
    # The storage only stores counters: the lock's end is written as a counter's value.
    try:
        storage.clear(lock_key)
        storage.incr(lock_key, delay, amount=_timestamp() + delay)
    except Exception as exc:
        _storage_down(exc)
        return 0
    return delay


def reset_login_failures(login: str) -> None:
    """Forget the failures of ``login`` (after a successful login)."""
    if not _enabled():
        return
    try:
        for key in _keys(login):
            limiter.storage.clear(key)
    except Exception as exc:
        _storage_down(exc)
