"""Espace Recouvrement: the application factory."""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from functools import lru_cache
from pathlib import Path

from flask import Flask, abort, current_app, g, render_template, request, session, url_for
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined
from sqlalchemy import bindparam, select
from sqlalchemy import exc as sa_exc
from werkzeug.middleware.proxy_fix import ProxyFix

from blueprints.auth import expired_page_redirect, login_redirect
from config import BASE_DIR, Config
from extensions import babel, compress, csrf, db, htmx, login_manager, migrate
from web import formatting, labels
from web.clock import system_now

DEV_ENVS = ("development", "testing")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    configure(app, test_config)
    app.before_request_funcs.setdefault(None, []).append(refuse_nul_bytes)
    register_extensions(app)
    register_templates(app)
    register_blueprints(app)
    register_security_headers(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def refuse_nul_bytes():
    """No form field, query or path has a use for NUL, and PostgreSQL refuses it: 400."""
    if "\x00" in request.path or any(
        "\x00" in value
        for source in (request.args, request.form)
        for values in source.listvalues()
        for value in values
    ):
        abort(400)


def configure(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(Config)
    app.config["CLOCK"] = system_now
    if test_config:
        app.config.update(test_config)
    env = app.config["APP_ENV"]
    if env in DEV_ENVS:
        app.config["SESSION_COOKIE_SECURE"] = False
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = "dev-only-not-secret"  # noqa: S105 (development only)
    elif not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY must be set in the environment outside development "
            "(or set APP_ENV=development for a local run)."
        )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        # Behind nginx: the client's address (login rate limits) and scheme come from
        # the proxy's X-Forwarded-* headers, trusted for that many hops only.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    compress.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    # No binding of the session to the client's address or browser: mobile networks change
    # the address mid-session, and Flask-Login's "strong" mode never applied to permanent
    # sessions anyway. A session ends by Déconnexion or expiry, which revoke it server-side.
    login_manager.session_protection = None
    login_manager.unauthorized_handler(login_redirect)

    from web.security import limiter

    limiter.init_app(app)


def select_locale() -> str:
    # ``?lang=`` shows one page in that language without writing the session (the page
    # that says the session has expired, and the login link it gives).
    for lang in (request.args.get("lang"), session.get("lang")):
        if lang in Config.LANGUAGES:
            return lang
    return request.accept_languages.best_match(Config.LANGUAGES) or "fr"


@login_manager.user_loader
def load_user(user_id: str):
    """The session's user and its revocation token, read on every request, never cached.

    The campaigns' version comes in the same statement: a slider move reads the campaign
    from a per-process cache kept under it (services/caches.py), at no extra round trip.
    """
    ident, _, token = user_id.partition(":")
    if not ident.isdigit() or len(ident) > 18:
        return None
    row = db.session.execute(_user_statement(), {"ident": int(ident)}).first()
    if row is None or row[0].session_token != token:
        return None
    user, campagnes_jeton = row
    user.campagnes_jeton = campagnes_jeton
    return user


@lru_cache(maxsize=1)
def _user_statement():
    """Built once: constructing the SELECT costs more than its cached compilation."""
    from db.models import User, campagnes_jeton_sql

    return select(User, campagnes_jeton_sql()).where(User.id == bindparam("ident"))


def register_templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(BASE_DIR / "templates")),
            PrefixLoader({"partials": FileSystemLoader(str(BASE_DIR / "partials"))}),
        ]
    )
    if app.config["APP_ENV"] == "testing":
        app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    formatting.register(app)
    labels.register(app)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _catalogue().ugettext(s),
        ngettext=lambda s, p, n: _catalogue().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalogue().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.globals["current_lang"] = lambda: str(get_locale() or "fr")


def _catalogue():
    """The request's translations, looked up once: Flask-Babel's own template callables
    look them up again for each string (some 8 µs), and a simulation panel has forty."""
    return formatting.once_per_request("_catalogue", get_translations)


@lru_cache(maxsize=64)
def _fingerprint(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def static_url(filename: str) -> str:
    """URL of a static file with a content hash, so it can be cached for a year."""
    path = os.path.join(BASE_DIR, "static", filename)
    return url_for("static", filename=filename, v=_fingerprint(path))


def register_blueprints(app: Flask) -> None:
    from blueprints import auth, demande, health, perception

    for module in (auth, demande, health, perception):
        app.register_blueprint(module.bp)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.endpoint == "static":
            _buffer_static_file(response)
        else:
            # Pages differ between full renders and htmx partials, and hold personal data.
            response.vary.add("HX-Request")
            response.headers.setdefault("Cache-Control", "no-store")
            _compress_refusal(response)
        return response


def _compress_refusal(response) -> None:
    """Gzip a refused form's page (401, 422...), which Flask-Compress leaves alone.

    A form with errors is a whole page, sent again at each correction: uncompressed it
    weighs three times as much (8.5 KB instead of 2.6 for Paramétrage) on a slow line.
    """
    if (
        not 400 <= response.status_code < 500
        or response.mimetype != "text/html"
        or response.direct_passthrough
        or "Content-Encoding" in response.headers
        or not request.accept_encodings["gzip"]
    ):
        return
    data = response.get_data()
    if len(data) < current_app.config["COMPRESS_MIN_SIZE"]:
        return
    response.set_data(gzip.compress(data, compresslevel=current_app.config["COMPRESS_LEVEL"]))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")


def _buffer_static_file(response) -> None:
    """Read a static file whole, so Flask-Compress treats it like a page.

    Flask-Compress streams a file response: only with zstd, br or deflate (a gzip-only
    client got htmx uncompressed, 52 KB instead of 17), and without ever closing the
    file. Our static files are a few dozen KB: reading them costs nothing.
    """
    if response.status_code != 200 or not response.direct_passthrough:
        return
    body = response.response
    try:
        data = b"".join(response.iter_encoded())
    finally:
        if hasattr(body, "close"):
            body.close()
    response.direct_passthrough = False
    response.set_data(data)
    if "v" not in request.args:
        # Only a fingerprinted URL (static_url) may be kept for a year.
        response.cache_control.max_age = 300
    else:
        response.cache_control.immutable = True


# Database errors that mean "the database is not there right now", not a bug of ours.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
RETRY_AFTER_SECONDS = 5
# Seconds between two log lines about the same outage (a restart fails every request).
_OUTAGE_LOG_EVERY = 10.0
_outage_logged_at = [float("-inf")]


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_refused(error):
        if request.endpoint == "auth.end_expired_session":
            # The session is gone already: nothing left to revoke; show the page.
            return expired_page_redirect(request.form.get("lang"))
        return error

    for error_class in UNAVAILABLE:
        app.register_error_handler(error_class, database_unavailable)


def database_unavailable(error):
    """A database outage (restart, failover, pool exhausted): 503 with Retry-After, logged
    once per outage rather than once per request."""
    db.session.rollback()
    now = time.monotonic()
    if now - _outage_logged_at[0] > _OUTAGE_LOG_EVERY:
        _outage_logged_at[0] = now
        current_app.logger.error(
            "database unavailable: %s: %s", type(error).__name__, str(error).splitlines()[0]
        )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    message = _("Le service est momentanément indisponible. Réessayez dans quelques instants.")
    if request.headers.get("HX-Request") or request.accept_mimetypes.best == "application/json":
        return message, 503, {**headers, "Content-Type": "text/plain; charset=utf-8"}
    # The page must not ask the database anything: no signed-in user to look up.
    g._login_user = AnonymousUserMixin()
    return render_template("indisponible.html", message=message), 503, headers


def register_commands(app: Flask) -> None:
    from commands import cli

    cli.register(app)
