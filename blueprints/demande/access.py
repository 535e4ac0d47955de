"""Who may reach the affiliate's screens: affiliate accounts only, their own affiliés, their
own requests. Each helper answers with the object or aborts with the right status (403,
404).
"""

from __future__ import annotations

from functools import wraps

from flask import (
    abort,
)
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from db.models import Affilie, Demande, user_affilies
from extensions import db


def affiliate_only(view):
    """Logged-in affiliate users only: agents work from the back office."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.is_agent:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def own_affilie(numero: str, *, comptes: bool = False) -> Affilie:
    """An affilié linked to the current account, or 404 (never reveal other accounts').

    One indexed lookup: a group account has dozens of affiliés, and every slider move
    checks this. ``comptes``: its bank accounts come in the same statement (the steps
    that show or use the account chosen).
    """
    query = (
        select(Affilie)
        .join(user_affilies, user_affilies.c.affilie_id == Affilie.id)
        .where(user_affilies.c.user_id == current_user.id, Affilie.numero == numero)
    )
    if comptes:
        # A joined collection: every row must be read (one_or_none), not just the first.
        query = query.options(joinedload(Affilie.comptes))
    affilie = db.session.scalars(query).unique().one_or_none()
    if affilie is None:
        abort(404)
    return affilie


def own_demande(reference: str) -> Demande:
    # Our references are short and printable ASCII; PostgreSQL would refuse a NUL (a 500).
    if not (reference.isascii() and reference.isprintable()) or len(reference) > 40:
        abort(404)
    demande = db.session.scalars(select(Demande).where(Demande.reference == reference)).first()
    if demande is None or current_user.is_agent:
        abort(404)
    if demande.affilie_id not in {a.id for a in current_user.affilies}:
        abort(404)
    return demande
