"""Espace Recouvrement: the application factory."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import sys
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from babel import Locale
from flask import Flask, abort, current_app, has_request_context, request, session, url_for
from flask_babel import get_locale, get_translations
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined
from sqlalchemy import bindparam, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from blueprints.auth import expired_page_redirect, login_redirect
from blueprints.demande import caching
from blueprints.simulation_form import instalments
from common import formatting, labels
from common.clock import system_now
from config import BASE_DIR, DEV_DATABASE_URI, Config
from extensions import babel, compress, csrf, db, htmx, login_manager, migrate
from web import errors, observability, sessions

DEV_ENVS = ("development", "testing")
# Exit status of a refused start: gunicorn's "App failed to load", on which its master
# stops instead of forking workers that would fail the same way, again and again.
CONFIG_REFUSED = 4


class ConfigurationError(Exception):
    """A setting the app cannot run with; the message names the variable."""


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    without_routing_redirects(app)
    try:
        configure(app, test_config)
    except ConfigurationError as exc:
        # One line an operator reads in the service's log, not a traceback at the first
        # request: the process stops here (flask commands and gunicorn alike).
        print(f"Espace Recouvrement ne démarre pas : {exc}", file=sys.stderr, flush=True)
        raise SystemExit(CONFIG_REFUSED) from None
    observability.init_app(app)  # the request id first: every later line carries it
    sessions.init_app(app)
    app.before_request_funcs.setdefault(None, []).append(refuse_nul_bytes)
    register_extensions(app)
    register_templates(app)
    register_blueprints(app)
    register_security_headers(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def without_routing_redirects(app: Flask) -> None:
    """Werkzeug's router answers a 308 for ``/perception`` (to ``/perception/``), for a
    doubled slash, or for a rule's default values, and copies the whole query into that
    ``Location``: a header block as long as the client wants, which a proxy refuses (502)
    and counts as the instance failing. Here no route redirects: a missing trailing slash
    serves the same page, a doubled slash is a 404. Set before any blueprint's rule is
    added (a rule takes ``strict_slashes`` from the map when it is added)."""
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.url_map.redirect_defaults = False


def refuse_nul_bytes():
    """No form field, query or path has a use for NUL, and PostgreSQL refuses it: 400.

    The form is read only when the request has one (werkzeug's own test, a Content-Type
    sent): a GET's empty form is not parsed for nothing on every read."""
    sources = (request.args, request.form) if request.want_form_data_parsed else (request.args,)
    if "\x00" in request.path or any(
        "\x00" in value for source in sources for values in source.listvalues() for value in values
    ):
        abort(400)


def configure(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(Config)
    app.config["CLOCK"] = system_now
    if test_config:
        app.config.update(test_config)
    check_configuration(app.config, given=test_config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    hops = app.config["PROXY_HOPS"]
    if hops:
        # Behind nginx: the client's address (login rate limits) and scheme come from
        # the proxy's X-Forwarded-* headers, trusted for that many hops only.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def check_configuration(config, given: dict) -> None:
    """Read the environment's settings into the config, or raise ConfigurationError.

    In production (any APP_ENV but development and testing) nothing is guessed: no
    secret, no database or no Redis is a refusal, not a local SQLite file or a memory
    store per worker that would quietly multiply the login limits.
    """
    production = config["APP_ENV"] not in DEV_ENVS
    for name in ("PROXY_HOPS", "SESSION_MINUTES", "SESSION_WARNING_SECONDS"):
        config[name] = _whole_number(name, config[name])
    if "PERMANENT_SESSION_LIFETIME" not in given:
        if config["SESSION_MINUTES"] < 1:
            raise ConfigurationError("SESSION_MINUTES doit valoir au moins 1")
        config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=config["SESSION_MINUTES"])

    if not production:
        config["SESSION_COOKIE_SECURE"] = False
        config["SECRET_KEY"] = config.get("SECRET_KEY") or "dev-only-not-secret"  # noqa: S105
        config["SQLALCHEMY_DATABASE_URI"] = config.get("SQLALCHEMY_DATABASE_URI") or (
            DEV_DATABASE_URI
        )
    elif not config.get("SECRET_KEY"):
        raise ConfigurationError(
            "SECRET_KEY n'est pas définie (APP_ENV=development pour un essai local)"
        )
    elif len(config["SECRET_KEY"]) < 16:
        raise ConfigurationError("SECRET_KEY est trop courte (32 octets aléatoires en hexadécimal)")

    database = config.get("SQLALCHEMY_DATABASE_URI")
    if not database:
        raise ConfigurationError(
            "DATABASE_URL n'est pas définie (postgresql+psycopg://UTILISATEUR@HÔTE/BASE)"
        )
    try:
        url = make_url(database)
    except Exception:  # SQLAlchemy's ArgumentError, or ValueError on a bad port
        raise ConfigurationError("DATABASE_URL n'est pas une URL de base de données") from None
    if url.get_backend_name() == "sqlite":
        # The pool's ping before each request survives a PostgreSQL restart; an SQLite
        # file has no server to lose, and the ping would be one more statement per request.
        options = config["SQLALCHEMY_ENGINE_OPTIONS"]
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "pool_pre_ping": False}

    config["TRUSTED_HOSTS"] = _trusted_hosts(config.get("TRUSTED_HOSTS"))

    if config["APP_ENV"] == "testing" and "LOG_LEVEL" not in given:
        config["LOG_LEVEL"] = "WARNING"  # the suite's output stays readable
    config["LOG_LEVEL"] = str(config["LOG_LEVEL"]).upper()
    if config["LOG_LEVEL"] not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigurationError("LOG_LEVEL vaut DEBUG, INFO, WARNING ou ERROR")

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        raise ConfigurationError(
            f"PROMETHEUS_MULTIPROC_DIR n'est pas un dossier où écrire ({folder})"
        )

    redis_url = config.get("REDIS_URL")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError("REDIS_URL doit commencer par redis://, rediss:// ou unix://")
    if not config.get("RATELIMIT_STORAGE_URI"):
        if not redis_url and production:
            raise ConfigurationError(
                "REDIS_URL n'est pas définie (les instances y partagent les limites de "
                "connexion ; RATELIMIT_STORAGE_URI=memory:// pour une instance seule)"
            )
        config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    check_mail(config, production)


MAIL_BACKENDS = ("smtp", "file", "disabled")
DEV_MAIL_FROM = "ne-pas-repondre@recouvrement.cnss.ma"


def check_mail(config, production: bool) -> None:
    """The notices' settings: in production an explicit choice, never a silent default
    that would leave affiliates without their reminders."""
    backend = config.get("MAIL_BACKEND")
    if not backend:
        if production:
            raise ConfigurationError(
                "MAIL_BACKEND n'est pas définie (smtp avec MAIL_HOST et MAIL_FROM, ou "
                "disabled pour ne pas envoyer d'avis)"
            )
        backend = config["MAIL_BACKEND"] = "file"
    if backend not in MAIL_BACKENDS:
        raise ConfigurationError("MAIL_BACKEND vaut smtp, file ou disabled")
    for name in ("MAIL_PORT", "MAIL_TIMEOUT"):
        config[name] = _whole_number(name, config[name])
    if not 1 <= config["MAIL_TIMEOUT"] <= 10:
        raise ConfigurationError("MAIL_TIMEOUT vaut de 1 à 10 secondes")
    if config["MAIL_SECURITY"] not in ("starttls", "tls", "none"):
        raise ConfigurationError("MAIL_SECURITY vaut starttls, tls ou none")
    if backend == "smtp":
        # Development may send from the demo's address; production says its own.
        for name in ("MAIL_HOST", "MAIL_FROM") if production else ("MAIL_HOST",):
            if not config.get(name):
                raise ConfigurationError(f"{name} n'est pas définie (MAIL_BACKEND=smtp)")
    config["MAIL_FROM"] = config.get("MAIL_FROM") or DEV_MAIL_FROM
    if "@" not in config["MAIL_FROM"]:
        raise ConfigurationError("MAIL_FROM n'est pas une adresse électronique")
    config["MAIL_FILE_DIR"] = config.get("MAIL_FILE_DIR") or str(BASE_DIR / "instance" / "mail")


# A host name or address (a leading dot: every subdomain), or an IPv6 address in brackets.
_HOST = re.compile(r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]")


def _trusted_hosts(value) -> list[str] | None:
    """``TRUSTED_HOSTS``: the names the site answers to, comma-separated (Flask then refuses
    any other ``Host`` with a 400, so it never reaches a page or an address). Unset: any."""
    if value is None or isinstance(value, list | tuple):
        return list(value) if value is not None else None
    hosts = [host.strip() for host in str(value).split(",") if host.strip()]
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ConfigurationError(
                f"TRUSTED_HOSTS : « {host} » n'est pas un nom d'hôte (sans schéma ni port, "
                "séparés par des virgules)"
            )
    return hosts or None


def _whole_number(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} doit être un nombre entier (« {value} »)") from None
    if number < 0:
        raise ConfigurationError(f"{name} ne peut pas être négatif")
    return number


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    # Flask-WTF's own hook checks every request, GETs included, for exempt views before it
    # looks at the method (WTF_CSRF_CHECK_DEFAULT is off in config.py): the check runs on
    # the methods it protects only, as Flask-WTF documents for a hook of one's own.
    app.before_request(check_csrf)
    htmx.init_app(app)
    # The slider's kept panels keep their compressed bodies too (blueprints/demande/caching.py).
    app.config.setdefault("COMPRESS_CACHE_KEY", caching.compressed_key)
    app.config.setdefault("COMPRESS_CACHE_BACKEND", caching.CompressedPanels)
    # Flask-Compress evaluates the request's conditions again on every answer it
    # compresses, for the tag it marks with its encoding: ~30 µs a move. A move answers
    # its own 304s (caching.py) and no other page has a tag; a static file's check runs
    # after Flask-Compress's hook (registered before it), as Flask-Compress would run it.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    app.after_request(revalidate_static_file)
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

    from web import security

    security.init_app(app)


def revalidate_static_file(response):
    """A static file's 304 to the tag Flask-Compress marked with its encoding (``"…:br"``)."""
    if request.endpoint == "static":
        response.make_conditional(request)
    return response


def check_csrf() -> None:
    """Flask-WTF's CSRF check (a 400 without a valid token), on WTF_CSRF_METHODS only."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.method in config["WTF_CSRF_METHODS"]:
        csrf.protect(apply_exemptions=True)


# Parsed once: Flask-Babel takes a Locale as it is, where it would parse a code again on
# every request (Locale.parse).
_LOCALES = {lang: Locale.parse(lang) for lang in Config.LANGUAGES}


def select_locale() -> Locale:
    if not has_request_context():
        return _LOCALES["fr"]  # a command: the operators' language, the files' own
    # ``?lang=`` shows one page in that language without writing the session (the page
    # that says the session has expired, and the login link it gives).
    for lang in (request.args.get("lang"), session.get("lang")):
        if lang in Config.LANGUAGES:
            return _LOCALES[lang]
    return _LOCALES[request.accept_languages.best_match(Config.LANGUAGES) or "fr"]


@login_manager.user_loader
def load_user(user_id: str):
    """The session's user and its revocation token, read on every request, never cached.

    The same statement brings the versions a slider move's per-process caches are kept
    under (services/caches.py, db/versions.py): the campaigns', and that of the affilié the
    address names (``<numero>``), read through the account's link to it. A move costs no
    other round trip.
    """
    ident, _, token = user_id.partition(":")
    if not ident.isdigit() or len(ident) > 18:
        return None
    numero = _addressed_numero()
    row = db.session.execute(_user_statement(), {"ident": int(ident), "numero": numero}).first()
    # A disabled account's sessions end at their next request.
    if row is None or row[0].session_token != token or not row[0].is_active:
        return None
    user, campagnes_jeton, affilie_version = row
    user.campagnes_jeton = campagnes_jeton
    user.affilie_version = (numero, affilie_version)
    return user


def _addressed_numero() -> str | None:
    """The affiliation number in the request's address, when it has the shape of one."""
    numero = (request.view_args or {}).get("numero") if has_request_context() else None
    if isinstance(numero, str) and len(numero) == 7 and numero.isascii() and numero.isdigit():
        return numero
    return None


@lru_cache(maxsize=1)
def _user_statement():
    """Built once: constructing the SELECT costs more than its cached compilation."""
    from db.models import User
    from db.versions import affilie_version_sql, campagnes_jeton_sql

    ident = bindparam("ident")
    return select(
        User, campagnes_jeton_sql(), affilie_version_sql(ident, bindparam("numero"))
    ).where(User.id == ident)


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
    app.add_template_filter(instalments)
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
    from blueprints import aide, auth, demande, health, perception

    for module in (aide, auth, demande, health, perception):
        app.register_blueprint(module.bp)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


# What a page's answer varies with, written once: htmx partials and whole pages (HX-Request),
# then what Flask-Compress adds to every answer (Accept-Encoding) and Flask to every answer
# that read the session (Cookie: Flask-Login's hook reads it on every answer). Each would
# otherwise parse the header and write it again.
PAGE_VARY = "HX-Request, Accept-Encoding, Cookie"


def register_security_headers(app: Flask) -> None:
    # The same on every answer: built once, here. No answer sets its own policy.
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    if app.config["APP_ENV"] not in DEV_ENVS:
        # Browsers then refuse plain HTTP to this host for a year (ignored over HTTP).
        headers["Strict-Transport-Security"] = f"max-age={app.config['HSTS_SECONDS']}"

    @app.after_request
    def security_headers(response):
        response.headers.update(headers)
        if request.endpoint == "static":
            _buffer_static_file(response)
        else:
            # Pages differ between full renders and htmx partials, and hold personal data.
            if "Vary" in response.headers:
                response.vary.add("HX-Request")
            else:
                response.headers["Vary"] = PAGE_VARY
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
        return errors.http_error(error)

    errors.register(app)

    for error_class in UNAVAILABLE:
        app.register_error_handler(error_class, database_unavailable)


def database_unavailable(error):
    """A database outage (restart, failover, pool exhausted): 503 with Retry-After, logged
    once per outage rather than once per request."""
    try:
        db.session.rollback()
    except UNAVAILABLE:
        pass  # the connection is gone with its transaction: nothing left to undo
    now = time.monotonic()
    if now - _outage_logged_at[0] > _OUTAGE_LOG_EVERY:
        _outage_logged_at[0] = now
        current_app.logger.error(
            "database unavailable: %s: %s", type(error).__name__, str(error).splitlines()[0]
        )
    return errors.error_page(503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def register_commands(app: Flask) -> None:
    from commands import cli

    cli.register(app)
