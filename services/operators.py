"""The trail of what operators change from the command line: who, when, what.

Accounts (create, disable, enable, password reset, revocation) and campaigns: each change
is a row of ``operator_events``, written in the change's own transaction, and a JSON log
line once committed. A password never goes in, only the fact that it was reset.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime

from sqlalchemy import select

from db.models import OperatorEvent
from extensions import db
from web import observability
from web.clock import now


def operator_name() -> str:
    """The system account behind the command: the caller of sudo when there is one."""
    name = os.environ.get("SUDO_USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # a container user without a passwd entry
            name = f"uid {os.getuid()}"
    return name[:120]


def record(action: str, target: str, detail: str = "") -> OperatorEvent:
    """Add the event to the session; the caller commits it with the change itself."""
    entry = OperatorEvent(
        at=now(), operator=operator_name(), action=action, target=target[:120], detail=detail
    )
    db.session.add(entry)
    db.session.info.setdefault("operator_log", []).append(
        {"operator": entry.operator, "action": action, "target": entry.target}
    )
    return entry


def commit() -> None:
    """Commit the change and its event, then log it."""
    db.session.commit()
    for fields in db.session.info.pop("operator_log", []):
        observability.event(f"operator.{fields.pop('action')}", **fields)


def events(
    *,
    action: str | None = None,
    target: str | None = None,
    operator: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[OperatorEvent]:
    """The latest events first, filtered."""
    query = select(OperatorEvent)
    if action:
        # "user" finds every user.* action; "user.disable" that one.
        query = query.where(
            (OperatorEvent.action == action) | OperatorEvent.action.startswith(f"{action}.")
        )
    if target:
        query = query.where(OperatorEvent.target == target)
    if operator:
        query = query.where(OperatorEvent.operator == operator)
    if since:
        query = query.where(OperatorEvent.at >= since)
    if until:
        query = query.where(OperatorEvent.at < until)
    query = query.order_by(OperatorEvent.at.desc(), OperatorEvent.id.desc()).limit(limit)
    return list(db.session.scalars(query))
