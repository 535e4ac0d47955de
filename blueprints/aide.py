"""The pages every screen links to from its footer: help, the accessibility statement,
the conditions générales; and the favicon browsers ask for at the site's root."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template
from flask_login import current_user

bp = Blueprint("aide", __name__)


@bp.get("/aide")
def aide():
    """Aide: the journey in four steps, what happens after it, who to ask."""
    perceptions = []
    if current_user.is_authenticated and not current_user.is_agent:
        perceptions = sorted({a.perception.name for a in current_user.affilies if a.perception})
    return render_template("aide.html", perceptions=perceptions)


@bp.get("/accessibilite")
def accessibilite():
    """Déclaration d'accessibilité."""
    return render_template(
        "accessibilite.html",
        contact=current_app.config.get("ACCESSIBILITE_CONTACT") or None,
        reclamation_url=current_app.config.get("RECLAMATION_URL") or None,
    )


@bp.get("/conditions-generales")
def conditions_generales():
    """The conditions générales of both modalités, to read before starting a request."""
    return render_template("conditions_generales.html")


FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"


@lru_cache(maxsize=1)
def _favicon_bytes() -> bytes:
    return FAVICON.read_bytes()


@bp.app_template_global()
def favicon_uri() -> str:
    """The icon inline in each page (134 bytes): no request of its own on a slow line."""
    return "data:image/x-icon;base64," + base64.b64encode(_favicon_bytes()).decode()


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools ask for /favicon.ico whatever the page links: answer, not 404."""
    response = Response(_favicon_bytes(), mimetype="image/vnd.microsoft.icon")
    response.cache_control.max_age = 86400
    return response
