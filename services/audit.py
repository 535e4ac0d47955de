"""The audit trail: every event of a request says who, when, what and why."""

from __future__ import annotations

from datetime import datetime

from common.clock import now
from db.models import AuditEvent, Demande, User

SYSTEM = "Système"
# An event's columns, for the statements that write many at once.
COLUMNS = (
    "demande_id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "from_status",
    "to_status",
    "reason",
)


def record(
    demande: Demande,
    actor: User | None,
    action: str,
    reason: str = "",
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append an event to the request's trail (written with the request's transaction).

    Without an actor the event is the system's own (the expiry command, the bank file).
    """
    demande.events.append(
        AuditEvent(
            at=at or now(),
            actor=actor,
            actor_label=actor.display_name if actor else SYSTEM,
            action=action,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
        )
    )


def row(demande_id: int, actor: User | None, action: str, reason: str, *, at: datetime) -> tuple:
    """An event as a row of COLUMNS, for writing many at once (``record`` writes one)."""
    label = actor.display_name if actor else SYSTEM
    return (demande_id, at, actor.id if actor else None, label, action, None, None, reason)
