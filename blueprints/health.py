"""Health endpoints for the reverse proxy and monitoring."""

from flask import Blueprint
from sqlalchemy import text

from extensions import db
from web import security

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The database and Redis, each reported on its own.

    503 only when the database does not answer: without Redis the portal still works (the
    per-address login limit is skipped, the per-account lockout is in the database), so
    the instance stays in the proxy's rotation and the body says it is degraded.
    """
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any database failure means "not ready"
        db.session.rollback()
        database = "unreachable"
    redis = security.redis_status()
    if database != "ok":
        status, code = "error", 503
    elif redis == "unavailable":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return {"status": status, "database": database, "redis": redis}, code


@bp.get("/ping")
def ping():
    """A constant answer with no database work: the web stack's floor, for bench/http.py."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
