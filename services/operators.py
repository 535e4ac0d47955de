"""The trail of what operators change from the command line: who, when, what.

Accounts (create, disable, enable, password reset, revocation) and campaigns: each change
is a row of ``operator_events``, written in the change's own transaction, and a JSON log
line once committed. A password never goes in, only the fact that it was reset.
"""

from __future__ import annotations

import os
import pwd
from datetime import datetime

from sqlalchemy import select

from common.clock import now
from db.models import OperatorEvent
from extensions import db
from web import observability

# What the trail says of a name only the caller's environment gives.
DECLARED = "(SUDO_USER déclaré, compte {account})"


def operator_name() -> str:
    """Who ran the command, as far as the process can tell.

    The process's own account (its uid, not $USER) is what the system says. Behind sudo
    that is root, and the caller is only *declared*: ``SUDO_USER`` is an environment
    variable any caller may set to anything. It is recorded labelled as declared, its
    control characters escaped (a newline would forge a line of ``audit show``).
    """
    account = printable(_process_account())
    declared = os.environ.get("SUDO_USER")
    if not declared:
        return account[:120]
    return f"{_declared(declared)} {DECLARED.format(account=account)}"[:120]


def _declared(name: str) -> str:
    return printable(name)[:60]


def _process_account() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a container user without a passwd entry
        return f"uid {os.geteuid()}"


def printable(text: str) -> str:
    """``text`` with every control or separator character written as an escape
    (``\\x0a``, ``\\u2028``): one line on a terminal, whatever it holds."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(ord(c)) for c in text)


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


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
    # The filters are words, not patterns: LIKE's % and _ are escaped.
    if action:
        # "user" finds every user.* action; "user.disable" that one.
        query = query.where(
            (OperatorEvent.action == action)
            | OperatorEvent.action.startswith(f"{action}.", autoescape=True)
        )
    if target:
        query = query.where(OperatorEvent.target == target)
    if operator:
        # The name as recorded, or the declared name before its label.
        query = query.where(
            (OperatorEvent.operator == operator)
            | OperatorEvent.operator.startswith(f"{_declared(operator)} (", autoescape=True)
        )
    if since:
        query = query.where(OperatorEvent.at >= since)
    if until:
        query = query.where(OperatorEvent.at < until)
    query = query.order_by(OperatorEvent.at.desc(), OperatorEvent.id.desc()).limit(limit)
    return list(db.session.scalars(query))
