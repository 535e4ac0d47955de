"""The session cookie: Flask's signed cookie, signed again on every answer.

The session is permanent with a sliding expiry (``PERMANENT_SESSION_LIFETIME`` after the
last request): every answer carries the cookie with a new timestamp, and the page's idle
warning (static/js/session.js) counts on it. Flask serializes the whole session again for
that (tagged JSON, zlib, base64) even when nothing in it changed, which is every read: a
slider move, a page, ``/ping``. Here an unchanged session keeps the payload its cookie
brought, and only the timestamp and the signature are new: the same cookie, byte for byte,
as Flask would write, for a fraction of the work.

"Unchanged" is Flask's own ``session.modified``, on GET and HEAD only: the application's
reads assign nothing in the session, and a form may change a nested value without saying
so, which Flask's refresh has always saved.
"""

from __future__ import annotations

from contextvars import ContextVar

from flask import request
from flask.sessions import SecureCookieSessionInterface

# The payload of the session being saved, while it is saved unchanged.
_UNCHANGED: ContextVar[str | None] = ContextVar("unchanged_session_payload", default=None)


class _SignedAgain:
    """The serializer's ``dumps`` for an unchanged session: its payload, signed anew."""

    def __init__(self, serializer, payload: str):
        self._serializer = serializer
        self._payload = payload

    def dumps(self, _session: dict) -> str:
        return self._serializer.make_signer().sign(self._payload).decode("utf-8")


class SlidingSessionInterface(SecureCookieSessionInterface):
    def __init__(self):
        # Flask builds the serializer twice a request (read, then write); it holds only the
        # keys and the settings, so one per set of keys serves every request.
        self._serializers: dict[tuple, object] = {}

    def open_session(self, app, request_):
        session = super().open_session(app, request_)
        if session:
            # Read from a valid cookie: payload.timestamp.signature (itsdangerous).
            cookie = request_.cookies[self.get_cookie_name(app)]
            session.signed_payload = cookie.rsplit(".", 2)[0]
        return session

    def save_session(self, app, session, response) -> None:
        payload = getattr(session, "signed_payload", None)
        if payload is None or session.modified or request.method not in ("GET", "HEAD"):
            super().save_session(app, session, response)
            return
        token = _UNCHANGED.set(payload)
        try:
            super().save_session(app, session, response)
        finally:
            _UNCHANGED.reset(token)

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) > 4:  # keys replaced while running: forget the old ones
                self._serializers.clear()
            self._serializers[keys] = serializer
        payload = _UNCHANGED.get()
        if serializer is None or payload is None:
            return serializer
        return _SignedAgain(serializer, payload)
