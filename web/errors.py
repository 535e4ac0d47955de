"""Error pages in the portal's layout and the user's language, one mechanism for all.

A full request gets the site's page (header, footer, lang/dir, a plain message, a way
home) with the right status. An htmx request for a fragment gets a one-line message that
``static/js/app.js`` puts in the page's alert region, never a whole page swapped into a
table or a panel. Screens that answer their own refusals (the login form's 429, the
simulation's 422 fragments, a form's errors) return them directly and never come here.

An error page never asks the database anything: it may be the very thing that failed (an
outage), and a page that queries it again fails in turn, as a bare 500 without its log
line. So every error renders as for a visitor (no name in the header, no session timer):
the signed-in user is neither loaded nor read, whatever the status.
"""

from __future__ import annotations

from flask import g, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from web import observability
from web.htmx import partial_request

# Where an htmx request's error message goes (base.html holds the region).
ALERT_REGION = "#erreur-annonce"

# status -> (title, message). Plain words: what happened, what to do.
PAGES = {
    400: (
        _l("Demande incorrecte"),
        _l(
            "Votre demande n'a pas pu être traitée. Revenez à la page précédente, "
            "rechargez-la puis recommencez."
        ),
    ),
    403: (
        _l("Accès refusé"),
        _l("Cette page n'est pas accessible avec le compte utilisé."),
    ),
    404: (
        _l("Page introuvable"),
        _l(
            "Cette page n'existe pas ou n'est pas accessible avec votre compte. "
            "Si vous avez saisi l'adresse, vérifiez-la."
        ),
    ),
    405: (
        _l("Action impossible"),
        _l("Cette adresse ne s'utilise pas de cette façon. Reprenez depuis l'accueil."),
    ),
    413: (
        _l("Envoi trop volumineux"),
        _l("Le fichier ou le formulaire envoyé dépasse la taille autorisée."),
    ),
    422: (
        _l("Demande non traitable"),
        _l("Les informations envoyées n'ont pas pu être traitées. Vérifiez-les puis recommencez."),
    ),
    429: (
        _l("Trop de demandes"),
        _l("Vous avez fait trop de demandes en peu de temps. Patientez un instant puis réessayez."),
    ),
    500: (
        _l("Erreur technique"),
        _l(
            "Une erreur inattendue s'est produite. Elle a été signalée à nos équipes ; "
            "réessayez dans quelques instants."
        ),
    ),
    503: (
        _l("Service indisponible"),
        _l("Le service est momentanément indisponible. Réessayez dans quelques instants."),
    ),
}
CSRF_MESSAGE = _l(
    "Le formulaire n'est plus valable (il est resté ouvert trop longtemps ou a été envoyé "
    "d'une autre page). Rechargez la page puis recommencez : rien n'a été enregistré."
)


def error_page(status: int, message: str | None = None, headers: dict | None = None):
    """The answer for ``status``: the site's page, or a one-line fragment for htmx."""
    title, default = PAGES.get(status, PAGES[500])
    text = str(message or default)
    _as_a_visitor()
    if partial_request():
        response = make_response(
            render_template("partials/_erreur.html", title=title, message=text), status
        )
        response.headers["HX-Retarget"] = ALERT_REGION
        response.headers["HX-Reswap"] = "innerHTML"
    elif request.accept_mimetypes.best == "application/json":
        response = make_response(text, status)
        response.mimetype = "text/plain"
    else:
        response = make_response(
            render_template("erreur.html", status=status, title=title, message=text), status
        )
    response.headers.update(headers or {})
    return response


def _as_a_visitor() -> None:
    """Templates see an anonymous ``current_user``: Flask-Login's context processor would
    otherwise load the user (a query), and reading a user the failed transaction expired
    would query too. The request's log line keeps the id, read without a query."""
    observability.keep_user_for_the_log()
    g._login_user = AnonymousUserMixin()


def http_error(error: HTTPException):
    """abort(404), a route without that method, a refused CSRF token, a too large body..."""
    if isinstance(error, CSRFError):
        return error_page(400, CSRF_MESSAGE)
    if isinstance(error, SecurityError):
        # A Host outside TRUSTED_HOSTS: no address of this site can be built for it, so no
        # page either; a plain line, which names no host.
        return make_response(f"{PAGES[400][0]} (Host)", 400, {"Content-Type": "text/plain"})
    headers = {}
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    retry = getattr(error, "retry_after", None)
    if error.code == 429 and retry:
        headers["Retry-After"] = str(retry)
    return error_page(error.code if error.code in PAGES else 500, headers=headers)


def server_error(error: InternalServerError):
    """An exception of ours: shown as a plain message, never as a traceback. Flask has
    already logged it with its traceback (``Flask.log_exception``) before calling this."""
    return error_page(500)


def register(app) -> None:
    for status in PAGES:
        if status != 500 and status != 503:
            app.register_error_handler(status, http_error)
    app.register_error_handler(InternalServerError, server_error)
