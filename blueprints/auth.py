"""Login, logout, the language switch, and the session's expiry."""

import math
import secrets
import time
from datetime import timedelta

from babel.dates import format_timedelta
from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from db.models import User
from extensions import db
from web import security
from web.formatting import babel_locale

bp = Blueprint("auth", __name__)

# Verified against when the login is unknown, so both failures take the same time.
_DUMMY_HASH = None


def _dummy_check(password: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        probe = User(login="", display_name="", role="affilie")
        probe.set_password(secrets.token_hex(8))
        _DUMMY_HASH = probe
    _DUMMY_HASH.check_password(password)


def safe_next(target: str | None) -> str | None:
    """Only same-site paths; anything else could send the user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _typed_login() -> str:
    return request.form.get("utilisateur", "").strip()[:80]


def _too_many_attempts(seconds: int):
    """The login form again, refused for ``seconds``: status 429 and the wait in minutes."""
    minutes = max(1, math.ceil(seconds / 60))
    error = _(
        "Trop de tentatives de connexion. Réessayez dans %(minutes)d minute(s).",
        minutes=minutes,
    )
    response = make_response(
        render_template("login.html", error=error, login_value=_typed_login()), 429
    )
    response.headers["Retry-After"] = str(max(1, seconds))
    return response


def _address_limit_reached(limit):
    """Flask-Limiter's answer when one address has posted the login form too often."""
    # Not ``reset_at``: it adds a second, which turns "10 minutes" into 11.
    return _too_many_attempts(math.ceil(limit.window.reset_time - time.time()))


@bp.route("/connexion", methods=["GET", "POST"])
@security.limiter.limit(
    security.login_address_limit, methods=["POST"], on_breach=_address_limit_reached
)
def login():
    """The Damancom login form: Utilisateur, Mot de passe, ACCEPTER."""
    if current_user.is_authenticated:
        return redirect(url_for("demande.home"))
    error = None
    login_value = ""
    if request.method == "POST":
        login_value = _typed_login()
        password = request.form.get("mot_de_passe", "")[:200]
        # A locked account is refused before its password is even looked at.
        if wait := security.lockout_remaining(login_value):
            return _too_many_attempts(wait)
        user = db.session.scalars(select(User).where(User.login == login_value)).first()
        if user is None:
            _dummy_check(password)
        if user is None or not user.check_password(password):
            if wait := security.record_login_failure(login_value):
                return _too_many_attempts(wait)
            # One message whichever was wrong: no hint that a login exists.
            error = _("Utilisateur ou mot de passe incorrect.")
        else:
            security.reset_login_failures(login_value)
            lang = session.get("lang")
            session.clear()  # a fresh session at login
            if lang:
                session["lang"] = lang
            session.permanent = True
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("demande.home"))
    status = 401 if error else 200
    # ``errors`` puts "Erreur :" in the page title, as on every form.
    errors = {"utilisateur": error} if error else {}
    return render_template(
        "login.html", error=error, login_value=login_value, errors=errors
    ), status


@bp.post("/deconnexion")
@login_required
def logout():
    """End the session (and every other session of the account)."""
    user = db.session.get(User, current_user.id)
    user.session_token = secrets.token_hex(16)
    db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.post("/langue")
def set_language():
    """Switch between French and Arabic; the choice is kept in the session."""
    lang = request.form.get("lang", "")
    if lang not in ("fr", "ar"):
        abort(400)
    session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("demande.home"))


# ---------------------------------------------------------------- session expiry


def session_timing() -> dict:
    """The session's lifetime and when to warn, for ``<body data-session-*>`` (static/js)."""
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    warning = min(int(current_app.config.get("SESSION_WARNING_SECONDS", 120)), lifetime // 2)
    return {
        "secondes": lifetime,
        "alerte": warning,
        "duree": _duration(timedelta(seconds=lifetime)),
        "duree_alerte": _duration(timedelta(seconds=warning)),
    }


def _duration(value: timedelta) -> str:
    """'20 minutes', '2 minutes', '20 دقيقة': Latin digits in both languages, as amounts."""
    return format_timedelta(value, threshold=1, locale=babel_locale())


@bp.app_context_processor
def inject_session_timing():
    return {"session_timing": session_timing}


@bp.post("/session/prolonger")
def prolonger_session():
    """ "Rester connecté": any request renews the session cookie; this one does only that."""
    if not current_user.is_authenticated:
        return "", 401
    session.modified = True
    return "", 204


@bp.get("/session/expiree")
def session_expiree():
    """Votre session a expiré: what happened, what was kept (nothing), and the way back."""
    lang = request.args.get("lang") or session.get("lang")
    if current_user.is_authenticated:
        # The page's timer ran out first (a clock a second ahead): end it as promised.
        logout_user()
    # The draft of an unconfirmed request lives in the session: it goes with it.
    session.clear()
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return render_template("session_expiree.html", duree=session_timing()["duree"])
