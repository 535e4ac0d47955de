"""The session's sliding expiry: Flask's signed cookie, sent again when a second has passed.

The signed-in session is permanent and ends ``PERMANENT_SESSION_LIFETIME`` after the last
request; the page's idle warning (static/js/session.js) counts on it. The cookie slides
by being signed again, and its timestamp (itsdangerous) counts whole seconds: a cookie
signed again within the second is the cookie the browser already holds. Flask's
``SESSION_REFRESH_EACH_REQUEST`` would serialize, compress and sign the whole session on
every answer all the same (a slider drag, a page's parallel requests, ``/ping``); it is
off (config.py), and the renewal is asked of Flask the way it documents, by writing in
the session: the second of the last renewal. A request in another second writes it, so
Flask saves the session and sends the cookie; the expiry is the same, to the second.

A form (any method but GET and HEAD) always saves the session, as the refresh did: a view
may change a value nested in the session without saying so.
"""

from __future__ import annotations

import time

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface

# The second of the cookie's last renewal (epoch seconds, as itsdangerous's timestamp).
RENEWED = "_renouvelee"
_READS = ("GET", "HEAD")
# Answers that are nobody's activity: a static file (the page that asked for it renewed
# the session already) and the monitors' routes. They leave the cookie as it is.
_NOT_ACTIVITY = frozenset({"static", "health.ping", "health.healthz", "health.metrics"})


def init_app(app: Flask) -> None:
    app.session_interface = SignedCookieSessions()
    app.before_request(renew_session)


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, its serializer built once for the keys it signs with.

    Flask builds the serializer anew each time it opens or saves a session, and
    itsdangerous tries each new one with a JSON dump to learn it writes text: ~15 µs of
    every request that sends the cookie (in process). The keys are read on each call
    as Flask reads them: a new SECRET_KEY or fallback builds a new serializer."""

    _built: tuple = (None, None)  # (the keys, their serializer), replaced as one

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built_for, serializer = self._built
        if built_for != keys:
            serializer = super().get_signing_serializer(app)
            self._built = (keys, serializer)
        return serializer


def renew_session() -> None:
    """Have Flask send the signed-in session's cookie again, once a second at most."""
    if request.endpoint in _NOT_ACTIVITY or not session or not session.permanent:
        return  # a visitor's session is saved when it changes, as Flask always did
    second = int(time.time())
    if session.get(RENEWED) != second or request.method not in _READS:
        session[RENEWED] = second
