"""Health endpoint for the reverse proxy: answers 200 only when the database does."""

from flask import Blueprint
from sqlalchemy import text

from extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Check the database with a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not ready"
        db.session.rollback()
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok"}


@bp.get("/ping")
def ping():
    """A constant answer with no database work: the web stack's floor, for bench/http.py."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
