"""The outbox: one row per notice, written in the transaction of the event causing it.

(request, kind, rang) is unique and every insert is ``ON CONFLICT DO NOTHING``: an event
replayed, a plan run twice, two agents at once never queue the same notice twice. A
request without an address (``demandes.email``) gets no notice.
"""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import Integer, String, case, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from common import labels
from common.clock import now
from db.models import AuditEvent, Demande, Notice
from domain import lifecycle
from domain.identifiers import mask_email
from extensions import db
from services import audit

ACCUSE = "accuse"
RAPPEL_GARANTIES = "rappel_garanties"
PRELEVEMENT = "prelevement"
# The kinds a status change causes are named after the status.
VALIDEE, ANNULEE, EXPIREE, SOLDEE = (
    lifecycle.VALIDEE,
    lifecycle.ANNULEE,
    lifecycle.EXPIREE,
    lifecycle.SOLDEE,
)
KINDS = (ACCUSE, RAPPEL_GARANTIES, VALIDEE, PRELEVEMENT, ANNULEE, EXPIREE, SOLDEE)

QUEUED, SENT, FAILED = "queued", "sent", "failed"
STATUSES = (QUEUED, SENT, FAILED)
# The rang of a kind that has no instalment.
NO_RANG = -1
_COLUMNS = (
    "demande_id",
    "kind",
    "rang",
    "email",
    "langue",
    "status",
    "created_at",
    "next_attempt_at",
    "attempts",
    "last_error",
)


def queue_receipt(demande: Demande) -> None:
    """The accusé de réception of a request being confirmed (not yet flushed)."""
    if not demande.email:
        return
    at = now()
    db.session.add(
        Notice(
            demande=demande,
            kind=ACCUSE,
            rang=NO_RANG,
            email=demande.email,
            langue=demande.langue,
            status=QUEUED,
            created_at=at,
            next_attempt_at=at,
            attempts=0,
            last_error="",
        )
    )


def queue(demande: Demande, kind: str, rang: int = NO_RANG) -> int:
    """One request's notice, in the caller's transaction."""
    return queue_where(Demande.id == demande.id, kind, rang)


def queue_where(where, kind, rang=NO_RANG, source=None) -> int:
    """Queue ``kind`` for every request ``where`` selects, by one INSERT … SELECT …
    ON CONFLICT DO NOTHING; returns how many were new. ``kind`` and ``rang`` may be SQL
    expressions over the selected rows, ``source`` what to select them from."""
    at = now()
    rows = select(
        Demande.id,
        kind if not isinstance(kind, str) else literal(kind, String()),
        rang if not isinstance(rang, int) else literal(rang, Integer()),
        Demande.email,
        Demande.langue,
        literal(QUEUED),
        literal(at),
        literal(at),
        literal(0),
        literal(""),
    )
    if source is not None:
        rows = rows.select_from(source)
    # SQLite needs a WHERE before an upsert's ON CONFLICT (never an empty one here).
    rows = rows.where(where, Demande.email.is_not(None))
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Notice)
        .from_select(_COLUMNS, rows)
        .on_conflict_do_nothing(index_elements=["demande_id", "kind", "rang"])
        .returning(Notice.id)
    )
    return sum(1 for _ in db.session.execute(statement))


def queue_after_return_file(demande_ids) -> int:
    """The notices of the requests a bank return file settled or cancelled: one
    INSERT … SELECT over ``demande_ids`` (a SELECT of the file's request ids), run after
    the file's statuses are written and in its transaction. A request now soldée gets
    its "soldée" notice, one now annulée its "annulée"; the others nothing."""
    finished = (lifecycle.SOLDEE, lifecycle.ANNULEE)
    kind = case((Demande.status == lifecycle.SOLDEE, literal(SOLDEE)), else_=literal(ANNULEE))
    return queue_where(Demande.id.in_(demande_ids) & Demande.status.in_(finished), kind)


def queue_expired(at) -> int:
    """The "expirée" notices of the requests whose expiry was written at ``at``."""
    expired_now = select(AuditEvent.demande_id).where(
        AuditEvent.action == "expiration", AuditEvent.at == at
    )
    return queue_where(Demande.id.in_(expired_now) & (Demande.status == lifecycle.EXPIREE), EXPIREE)


def notices_of(demande: Demande) -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice).where(Notice.demande_id == demande.id).order_by(Notice.id)
        )
    )


def resend(demande: Demande, notice_id: int, actor) -> Notice | None:
    """An agent sends one of the request's notices again: queued anew now, recorded in
    the request's trail, committed. None if the request has no such notice."""
    notice = db.session.scalars(
        select(Notice).where(Notice.id == notice_id, Notice.demande_id == demande.id)
    ).first()
    if notice is None:
        return None
    _queue_again(notice)
    with force_locale("fr"):  # the trail is written in French, as every reason
        kind = str(labels.NOTICE_KIND[notice.kind])
    audit.record(
        demande, actor, "avis_renvoi", f"Avis « {kind} » renvoyé à {mask_email(notice.email)}"
    )
    db.session.commit()
    return notice


def _queue_again(notice: Notice) -> None:
    at = now()
    notice.status = QUEUED
    notice.attempts = 0
    notice.next_attempt_at = at
    notice.claimed_until = None
    notice.claim = None
    notice.last_error = ""
