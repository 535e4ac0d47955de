"""A request's schedule: the confirmation snapshot's plan, its definitive debits on the bank's
days (added at validation, or for a full payment when its debit file is written), and the
rows the detail pages, the notices and the schedule files show. Nothing here recomputes a
request's figures: the definitive schedule only moves the snapshot's instalments to the
bank's debit days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import exists, insert, select

from common import echeancier_files
from common.clock import now
from db.models import Demande, Echeance
from domain import lifecycle
from domain.simulation import Echeance as PlannedEcheance
from domain.simulation import definitive_schedule
from extensions import db

A_PRELEVER = lifecycle.A_PRELEVER
INTEGRAL_BATCH = 5000


@dataclass(frozen=True)
class SnapshotPlan:
    """The simulation-like view of a confirmed request that ``definitive_schedule`` reads."""

    modalite: str
    montant_a_payer: Decimal
    avance: Decimal
    instalments: tuple[PlannedEcheance, ...]


def plan_of(demande: Demande) -> SnapshotPlan:
    """The request's plan as confirmed: its snapshot amounts, never recomputed."""
    instalments = tuple(
        PlannedEcheance(e.rang, e.date_prevue, e.montant)
        for e in sorted(demande.echeances, key=lambda e: e.rang)
        if not e.definitive and e.rang >= 1
    )
    return SnapshotPlan(demande.modalite, demande.montant_a_payer, demande.avance, instalments)


def definitive_echeances(demande: Demande) -> list[Echeance]:
    return sorted((e for e in demande.echeances if e.definitive), key=lambda e: e.rang)


def add_debits(demande: Demande, start: date) -> None:
    """Give the request its definitive schedule, the bank's debits, from ``start``'s month.

    The one place debit rows are created: at validation for a plan, lazily for an accepted
    full payment (``ensure_integral_echeance``).
    """
    demande.echeances.extend(
        Echeance(definitive=True, rang=e.rang, date_prevue=e.date, montant=e.montant)
        for e in definitive_schedule(plan_of(demande), start)
    )


def ensure_integral_echeance(demande: Demande) -> None:
    """Give an accepted full-payment request its one debit, if it has none yet.

    Full payment is accepted at confirmation, so its debit is the 10th of the month after
    the confirmation day — the date the affiliate was shown. The row is created the first
    time the back office needs it (debit file, bank return, a result recorded), which
    keeps the affiliate's confirmation free of back-office concerns.
    """
    if demande.modalite != lifecycle.INTEGRAL or demande.status != lifecycle.ACCEPTEE:
        return
    if any(e.definitive for e in demande.echeances):
        return
    add_debits(demande, demande.confirmed_at.date())


def ensure_integral_echeances(perception_id: int | None = None) -> int:
    """`ensure_integral_echeance` for every accepted full-payment request lacking one.

    A month of full payments is tens of thousands of requests, all given their debit by
    the month's debit file: read as plain rows a batch at a time, their debits computed by
    the same ``definitive_schedule`` and inserted together; no request object is held.
    """
    has_definitive = exists().where(
        Echeance.demande_id == Demande.id, Echeance.definitive.is_(True)
    )
    query = select(Demande.id, Demande.montant_a_payer, Demande.avance, Demande.confirmed_at).where(
        Demande.status == lifecycle.ACCEPTEE,
        Demande.modalite == lifecycle.INTEGRAL,
        ~has_definitive,
    )
    if perception_id is not None:
        query = query.where(Demande.perception_id == perception_id)
    count, last = 0, 0
    while rows := db.session.execute(
        query.where(Demande.id > last).order_by(Demande.id).limit(INTEGRAL_BATCH)
    ).all():
        debits = [
            {
                "demande_id": row.id,
                "definitive": True,
                "rang": debit.rang,
                "date_prevue": debit.date,
                "montant": debit.montant,
                "statut": A_PRELEVER,
            }
            for row in rows
            for debit in definitive_schedule(
                SnapshotPlan(lifecycle.INTEGRAL, row.montant_a_payer, row.avance, ()),
                row.confirmed_at.date(),
            )
        ]
        db.session.execute(insert(Echeance), debits)
        count += len(rows)
        last = rows[-1].id
    return count


@dataclass(frozen=True)
class ScheduleRow:
    """One definitive échéance as the detail page shows it."""

    rang: int
    date_prevue: date
    montant: Decimal
    statut: str
    resultat_at: datetime | None


def schedule_rows(demande: Demande, *, planned: bool = True) -> list[ScheduleRow]:
    """The definitive schedule as every page shows it: each status by
    ``lifecycle.echeance_status`` (a cancelled request's debits to come are cancelled).

    ``planned``: for an accepted full payment not yet materialised, the debit it will get
    (computed the same way, without writing on a read).
    """
    rows = definitive_echeances(demande)
    if (
        planned
        and not rows
        and demande.modalite == lifecycle.INTEGRAL
        and demande.status == lifecycle.ACCEPTEE
    ):
        return [
            ScheduleRow(e.rang, e.date, e.montant, A_PRELEVER, None)
            for e in definitive_schedule(plan_of(demande), demande.confirmed_at.date())
        ]
    status = demande.effective_status(now().date())
    return [
        ScheduleRow(
            e.rang,
            e.date_prevue,
            e.montant,
            lifecycle.echeance_status(e.statut, status),
            e.resultat_at,
        )
        for e in rows
    ]


@dataclass(frozen=True)
class RequestSchedule:
    """A request's schedule as its pages and files show it (``request_schedule``)."""

    indicative: bool
    rows: list[ScheduleRow]

    @property
    def dated(self) -> list[tuple]:
        """(rang, date, montant) rows, the shape the récapitulatif partial reads."""
        return [(r.rang, r.date_prevue, r.montant) for r in self.rows]

    @property
    def first_debit(self) -> date:
        return self.rows[0].date_prevue

    @property
    def file_rows(self) -> list[echeancier_files.Row]:
        """The rows its CSV and .ics carry, statuses included."""
        return [echeancier_files.Row(r.rang, r.date_prevue, r.montant, r.statut) for r in self.rows]


def request_schedule(demande: Demande) -> RequestSchedule:
    """The one schedule of a request, for the affiliate's and the agent's pages and files.

    Once validated (or a full payment): the definitive debits, each with its status
    (``schedule_rows``). Before: the snapshot's amounts dated by the same rule as if the
    perception validated the request today — indicative dates, the earliest possible
    ones; an expired plan keeps those of its confirmation day, every one cancelled.
    """
    today = now().date()
    status = demande.effective_status(today)
    if demande.modalite != lifecycle.ACOMPTES or definitive_echeances(demande):
        return RequestSchedule(False, schedule_rows(demande))
    confirmed_on = demande.confirmed_at.date()
    start = max(today, confirmed_on) if status == lifecycle.EN_ATTENTE else confirmed_on
    shown = lifecycle.echeance_status(A_PRELEVER, status)
    return RequestSchedule(
        True,
        [
            ScheduleRow(e.rang, e.date, e.montant, shown, None)
            for e in definitive_schedule(plan_of(demande), start)
        ],
    )
