"""The day's reminders (``flask notifications plan``, daily): set-based and idempotent.

"The day" is Casablanca's (common.clock). Each reminder has a window, not a single day, so a
day the command did not run is caught up the next; the outbox's unique key makes a second
run the same day (or a caught-up day) queue nothing new:

- guarantees: 7 days before the deadline (while 3 to 7 days are left) and 2 days before
  (2 to 0 days left), for a plan still waiting for its guarantees;
- debits: 5 days before each debit still to be made (0 to 5 days ahead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from common.clock import today
from db.models import Campaign, Demande, Echeance
from domain import lifecycle
from extensions import db
from services import backoffice, schedules
from services.notices import outbox

# Days before the guarantee deadline, latest first: each reminder's window ends where the
# next one's begins.
GUARANTEE_REMINDERS = (7, 2)
DEBIT_REMINDER_DAYS = 5


@dataclass(frozen=True)
class Planned:
    garanties: int
    prelevements: int


def plan(on: date | None = None) -> Planned:
    """Queue the reminders due on ``on`` (today in Casablanca) and commit."""
    on = on or today()
    garanties = sum(
        outbox.queue_where(where, outbox.RAPPEL_GARANTIES, days)
        for days, where in _guarantee_windows(on)
    )
    schedules.ensure_integral_echeances()  # a full payment's debit, as the debit file does
    prelevements = _queue_debits(on)
    db.session.commit()
    return Planned(garanties, prelevements)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _guarantee_windows(on: date):
    """(days, the requests to remind ``days`` before their deadline), per reminder.

    deadline = confirmed day + the campaign's delay; with ``left`` days from ``on`` to the
    deadline, a reminder of ``days`` is due while ``after < left <= days``.
    """
    delays = db.session.execute(select(Campaign.id, Campaign.guarantee_days)).all()
    later = (*GUARANTEE_REMINDERS[1:], -1)
    for days, after in zip(GUARANTEE_REMINDERS, later):
        clauses = [
            (Demande.campaign_id == campaign_id)
            # left <= days  ⇔  confirmed day <= on + days − delay
            & (Demande.confirmed_at < _midnight(on + timedelta(days=days - delay + 1)))
            # left > after  ⇔  confirmed day >= on + after + 1 − delay
            & (Demande.confirmed_at >= _midnight(on + timedelta(days=after + 1 - delay)))
            for campaign_id, delay in delays
        ]
        if clauses:
            yield days, (Demande.status == lifecycle.EN_ATTENTE) & or_(*clauses)


def _queue_debits(on: date) -> int:
    due = (
        select(Echeance.demande_id.label("demande_id"), Echeance.rang.label("rang"))
        .join(Demande, Demande.id == Echeance.demande_id)
        .where(
            Echeance.definitive.is_(True),
            Echeance.statut == lifecycle.A_PRELEVER,
            Echeance.date_prevue >= on,
            Echeance.date_prevue <= on + timedelta(days=DEBIT_REMINDER_DAYS),
            Demande.status.in_(backoffice.EN_PRELEVEMENT),
        )
        .subquery("due")
    )
    return outbox.queue_where(
        Demande.id == due.c.demande_id,
        outbox.PRELEVEMENT,
        due.c.rang,
        source=Demande.__table__.join(due, Demande.id == due.c.demande_id),
    )
