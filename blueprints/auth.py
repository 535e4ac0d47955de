"""Login, logout, the language switch, and the session's expiry."""

import math
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

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
from flask_babel import ngettext
from flask_login import current_user, login_required, login_url, login_user, logout_user
from sqlalchemy import select

from common.formatting import babel_locale
from db.models import User
from extensions import db
from web import observability, security

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


# A same-site path never needs more; a longer ``next`` is dropped, not cut.
NEXT_MAX_LENGTH = 512


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a local path of this site, else None.

    Refused: anything over NEXT_MAX_LENGTH characters, any control character (a TAB or a
    newline is dropped by browsers and Werkzeug, which turns ``/\t/evil`` into ``//evil``;
    CR/LF could not go in a header anyway), a backslash (some browsers read it as ``/``),
    and anything with a scheme or a host once parsed.
    """
    if not target or len(target) > NEXT_MAX_LENGTH:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return None
    return target


def login_redirect():
    """To the login form, coming back to the page asked for: its path and a bounded query
    only (a long address would make a header block the proxy refuses)."""
    target = request.path
    if request.query_string and len(request.query_string) <= NEXT_MAX_LENGTH:
        target += "?" + request.query_string.decode("utf-8", "replace")
    return redirect(login_url("auth.login", next_url=safe_next(target)))


def _typed_login() -> str:
    return request.form.get("utilisateur", "").strip()[:80]


def _too_many_attempts(seconds: int):
    """The login form again, refused for ``seconds``: status 429 and the wait in minutes."""
    minutes = max(1, math.ceil(seconds / 60))
    error = ngettext(
        "Trop de tentatives de connexion. Réessayez dans %(num)d minute.",
        "Trop de tentatives de connexion. Réessayez dans %(num)d minutes.",
        minutes,
    )
    response = make_response(
        render_template("login.html", error=error, login_value=_typed_login()), 429
    )
    response.headers["Retry-After"] = str(max(1, seconds))
    return response


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    """The Damancom login form: Utilisateur, Mot de passe, ACCEPTER."""
    if current_user.is_authenticated:
        return redirect(url_for("demande.home"))
    error = None
    login_value = ""
    if request.method == "POST":
        login_value = _typed_login()
        # The logs name the typed login by its hash only: it may be a password typed in
        # the wrong box.
        key = security.login_key(login_value)[:16]
        if wait := security.address_wait():
            observability.login_outcome("address_limited", login_key=key)
            return _too_many_attempts(wait)
        password = request.form.get("mot_de_passe", "")[:200]
        # A locked account is refused before its password is even looked at.
        if wait := security.lockout_remaining(login_value):
            observability.login_outcome("locked", login_key=key, seconds=wait)
            return _too_many_attempts(wait)
        user = db.session.scalars(select(User).where(User.login == login_value)).first()
        if user is None:
            _dummy_check(password)
        # A disabled account is refused like a wrong password, its password checked all the
        # same: the answer says nothing about the account.
        if user is None or not user.check_password(password) or not user.is_active:
            user_id = user.id if user is not None else None
            if wait := security.record_login_failure(login_value):
                observability.login_outcome("lockout", login_key=key, user_id=user_id, seconds=wait)
                return _too_many_attempts(wait)
            observability.login_outcome("failure", login_key=key, user_id=user_id)
            # One message whichever was wrong: no hint that a login exists.
            error = _("Utilisateur ou mot de passe incorrect.")
        else:
            security.reset_login_failures(login_value)
            db.session.commit()
            observability.login_outcome("success", login_key=key, user_id=user.id)
            lang = session.get("lang") or request.args.get("lang")
            session.clear()  # a fresh session at login
            if lang in current_app.config["LANGUAGES"]:
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
    _end_session()
    return redirect(url_for("auth.login"))


def _end_session() -> None:
    """Revoke every session of the signed-in account (a copied cookie stops working too),
    then forget this one, keeping only the language."""
    if current_user.is_authenticated:
        user = db.session.get(User, current_user.id)
        user.session_token = secrets.token_hex(16)
        db.session.commit()
        logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


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


@bp.post("/session/expiree")
def end_expired_session():
    """The page's timer ran out: revoke the session server-side, as *Déconnexion* does.

    The draft of an unconfirmed request lives in the session: it goes with it. When the
    session is already gone (the CSRF check then fails, see ``app.py``), there is nothing
    left to revoke and the browser is sent to the same page.
    """
    lang = request.form.get("lang") or session.get("lang")
    _end_session()
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return expired_page_redirect(lang)


def expired_page_redirect(lang: str | None):
    lang = lang if lang in current_app.config["LANGUAGES"] else None
    return redirect(url_for("auth.session_expiree", lang=lang), code=303)


@bp.get("/session/expiree")
def session_expiree():
    """Votre session a expiré: what happened, what was kept (nothing), and the way back.

    A read: it changes nothing (the revocation is the POST above)."""
    return render_template("session_expiree.html", duree=session_timing()["duree"])
