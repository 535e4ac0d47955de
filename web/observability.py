"""What an operator sees of the running portal: a request id, JSON logs, Prometheus metrics.

- **Request id**: nginx sends ``X-Request-ID``; a well-formed one is kept, anything else
  is replaced by a fresh id. It is echoed in the response and written on every log line of
  the request, so one id ties the proxy's access log to the app's lines.
- **Logs**: one JSON object per line on standard error (gunicorn hands it to journald):
  one line per request (time, request id, method, path template, status, duration, user id
  or ``anonymous``, client address) and one per business event through ``event()``. What
  a user typed (passwords, RIB, amounts, logins that may be a password) never goes in.
- **Metrics** (``/metrics``): request counts and latency per endpoint (labels from closed
  sets only: endpoint, standard method or ``other``, status), logins by outcome
  (lockouts included), requests confirmed per modalité, and requests by status read from
  the database at each scrape. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` makes every
  worker write its counts to that folder and the scrape add them up
  (deploy/gunicorn.conf.py empties it at start).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

logger = logging.getLogger("recouvrement")

# What a proxy may hand us as a request id: nginx's $request_id is 32 hex digits; a UUID
# or a tracing id fits too. Anything else (too long, spaces, quotes) is not trusted.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

# Every label comes from a closed set, so the series are bounded whatever clients send:
# endpoints are the app's, statuses the app's answers, and a method outside HTTP's own is
# "other" (nginx forwards any token as a method; each new one would be a series forever).
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)

# Every metric has labels: a labelled metric writes nothing until a value is recorded, so
# importing this module never touches PROMETHEUS_MULTIPROC_DIR.
HTTP_REQUESTS = Counter(
    "recouvrement_http_requests_total",
    "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "recouvrement_http_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LOGINS = Counter(
    "recouvrement_logins_total",
    "Login attempts by outcome: success, failure, lockout (a lock starts), locked "
    "(refused while locked), address_limited.",
    ["outcome"],
)
CONFIRMED = Counter(
    "recouvrement_demandes_confirmees_total",
    "Remise requests confirmed by affiliés, by modalité.",
    ["modalite"],
)


# ---------------------------------------------------------------- logs


# Built once: json.dumps with options builds an encoder for every line.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: the event's fields, or the message of a plain record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if "request_id" not in entry and has_request_context():
            entry["request_id"] = g.get("request_id")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


def _stderr_handler() -> logging.Handler:
    # The process's own standard error, not whatever replaced sys.stderr for a while (a
    # CLI runner, a test's capture): the lines never mix into a command's output.
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(JsonFormatter())
    return handler


_handler = _stderr_handler()


def _install_handler(target: logging.Logger, level: str) -> None:
    target.removeHandler(default_handler)
    if _handler not in target.handlers:
        target.addHandler(_handler)
    target.setLevel(level)


def event(name: str, **fields) -> None:
    """Log a business event as one JSON line: ``event("login.success", user_id=3)``.

    Only identifiers and counts go in fields, never what a user typed.
    """
    entry = {"event": name}
    if has_request_context():
        entry["request_id"] = g.get("request_id")
    entry.update(fields)
    logger.info(name, extra={"fields": entry})


def login_outcome(outcome: str, **fields) -> None:
    """A login's outcome: logged and counted."""
    LOGINS.labels(outcome).inc()
    event(f"login.{outcome}", **fields)


# ---------------------------------------------------------------- requests


def init_app(app: Flask) -> None:
    # No line says which file and line logged it (the JSON lines, gunicorn's): logging
    # need not walk the stack for them on every record, ~10 µs of every request here.
    # The logging HOWTO's own switch ("Optimization"), process-wide.
    logging._srcfile = None
    _install_handler(logger, app.config["LOG_LEVEL"])
    _install_handler(app.logger, app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
    _watch_audit_trail()


def _start_request() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else _fresh_id()


def _fresh_id() -> str:
    """32 hex digits, as nginx's $request_id: an id to find lines by, not a secret, so from
    ``random`` (reseeded in each forked worker) rather than uuid4's os.urandom, a system
    call that also hands the GIL to the worker's other thread on every request."""
    return f"{random.getrandbits(128):032x}"


def _finish_request(response):
    request_id = g.get("request_id") or _fresh_id()
    response.headers["X-Request-ID"] = request_id
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.endpoint or "none"
    method = request.method if request.method in METHODS else "other"
    HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    HTTP_LATENCY.labels(endpoint).observe(seconds)
    logger.info(
        "request",
        extra={
            "fields": {
                "event": "request",
                "request_id": request_id,
                "method": method,
                "path": request.url_rule.rule if request.url_rule else "<unmatched>",
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "user": g.get("log_user") or _loaded_user_id() or "anonymous",
                "remote_addr": request.remote_addr,
            }
        },
    )
    return response


def _loaded_user_id() -> int | None:
    """The id of the user this request loaded, if any, read from the session's identity map
    without touching the row: no query for the log, not even to refresh a row that a
    rolled-back transaction expired."""
    state = sa_inspect(g.get("_login_user"), raiseerr=False)
    identity = state.identity if state is not None else None
    return identity[0] if identity else None


def keep_user_for_the_log() -> None:
    """Before an error page replaces the signed-in user by a visitor: the log keeps who."""
    if "log_user" not in g:
        g.log_user = _loaded_user_id()


# ---------------------------------------------------------------- the audit trail


def _watch_audit_trail() -> None:
    """Log every event of a request's audit trail (confirmation, back-office transitions,
    debit results) once its transaction is committed; count the confirmations.

    Listening to the session catches every writer of the trail, whichever service it is.
    """
    if orm_event.contains(Session, "after_flush", _collect_audit_events):
        return
    orm_event.listen(Session, "after_flush", _collect_audit_events)
    orm_event.listen(Session, "after_commit", _emit_audit_events)
    orm_event.listen(Session, "after_soft_rollback", _forget_audit_events)


def _collect_audit_events(session, _flush_context) -> None:
    from db.models import AuditEvent

    for obj in session.new:
        if isinstance(obj, AuditEvent):
            demande = obj.demande
            session.info.setdefault("audit_log", []).append(
                {
                    "event": f"demande.{obj.action}",
                    "demande": demande.reference if demande is not None else obj.demande_id,
                    "modalite": demande.modalite if demande is not None else None,
                    "from_status": obj.from_status,
                    "to_status": obj.to_status,
                    "actor": obj.actor_id if obj.actor_id is not None else "system",
                }
            )


def _emit_audit_events(session) -> None:
    for fields in session.info.pop("audit_log", []):
        if fields["event"] == "demande.confirmation" and fields["modalite"]:
            CONFIRMED.labels(fields["modalite"]).inc()
        event(fields.pop("event"), **fields)


def _forget_audit_events(session, _previous_transaction) -> None:
    session.info.pop("audit_log", None)


# ---------------------------------------------------------------- metrics


class _DemandesByStatus:
    """Requests by stored status: one GROUP BY at each scrape."""

    def collect(self):
        from db.models import Demande
        from extensions import db

        family = GaugeMetricFamily(
            "recouvrement_demandes", "Remise requests by stored status.", labels=["statut"]
        )
        rows = db.session.execute(
            select(Demande.status, func.count()).group_by(Demande.status).order_by(Demande.status)
        )
        for status, count in rows:
            family.add_metric([status], count)
        yield family


class _Notices:
    """The e-mail notices: how many by status (always the same three labels), and how
    long the oldest one still queued has waited — a sender that stopped shows here."""

    STATUSES = ("queued", "sent", "failed")

    def collect(self):
        from common.clock import now
        from db.models import Notice
        from extensions import db

        family = GaugeMetricFamily(
            "recouvrement_notices", "E-mail notices by status.", labels=["statut"]
        )
        counts = dict(
            db.session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all()
        )
        for status in self.STATUSES:
            family.add_metric([status], counts.get(status, 0))
        yield family
        oldest = db.session.scalar(
            select(func.min(Notice.created_at)).where(Notice.status == "queued")
        )
        age = GaugeMetricFamily(
            "recouvrement_notices_oldest_queued_seconds",
            "Age of the oldest notice waiting to be sent (0: none waits).",
        )
        age.add_metric([], max(0.0, (now() - oldest).total_seconds()) if oldest else 0.0)
        yield age


class _ThisProcess:
    """The process's own registry, when there is no multi-process folder."""

    def collect(self):
        return REGISTRY.collect()


def metrics_text() -> tuple[bytes, str]:
    """The Prometheus text exposition of the counters (every worker's under gunicorn) and of
    the requests by status."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_DemandesByStatus())
    registry.register(_Notices())
    return generate_latest(registry), CONTENT_TYPE_LATEST
