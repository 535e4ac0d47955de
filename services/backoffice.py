"""The perception back office: guarantees, definitive schedules, debit results, defaults.

Every status change goes through ``demandes.transition`` so the audit trail says who did
it, when and why. A request's figures are its confirmation snapshot: nothing here
recomputes them, the definitive schedule only moves the snapshot's instalments to the
bank's debit days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import exists, insert, not_, select, update
from sqlalchemy.exc import IntegrityError

from common import echeancier_files, labels
from common.clock import now
from common.formatting import day, plain_mad
from db.models import Affilie, Demande, Echeance, Garantie, Reintegration, User
from domain import lifecycle
from domain.search import fold
from domain.simulation import Echeance as PlannedEcheance
from domain.simulation import definitive_schedule
from extensions import db
from services import audit, demandes, queries
from services.notices import outbox
from services.pagination import COUNT_CAP, Page, paginate

A_PRELEVER, PAYEE, REJETEE = lifecycle.A_PRELEVER, lifecycle.PAYEE, lifecycle.REJETEE
# Requests whose échéances the bank still debits.
EN_PRELEVEMENT = (lifecycle.ACCEPTEE, lifecycle.VALIDEE)
INTEGRAL_BATCH = 5000


class Refused(Exception):
    """An operation the request's state does not allow; ``message`` says why (translated)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- the snapshot's plan


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


# ---------------------------------------------------------------- the requests list


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_demandes(
    perception_id: int,
    *,
    today: date,
    statut: str = "",
    q: str = "",
    du: date | None = None,
    au: date | None = None,
    page: int = 1,
    size: int = 20,
    from_end: int = 0,
    cap: int = COUNT_CAP,
) -> Page:
    """A perception's requests, newest first, filtered on their status as of ``today``:
    page ``page``, or ``from_end`` counted from the end (services.pagination)."""
    query = select(Demande).where(Demande.perception_id == perception_id)
    if q:
        query = query.where(Demande.recherche.like(_like(fold(q)), escape="\\"))
    if du:
        query = query.where(Demande.confirmed_at >= datetime.combine(du, time.min))
    if au:
        query = query.where(
            Demande.confirmed_at < datetime.combine(au + timedelta(days=1), time.min)
        )
    if statut == lifecycle.EXPIREE:
        # Expired as written, and plans past their deadline not yet written so: two ranges
        # of the (perception, status, date) index, read apart and merged in date order.
        query = (
            query.where(Demande.status == lifecycle.EXPIREE),
            query.where(queries.overdue(today)),
        )
    elif statut == lifecycle.EN_ATTENTE:
        query = query.where(Demande.status == lifecycle.EN_ATTENTE, not_(queries.overdue(today)))
    elif statut:
        query = query.where(Demande.status == statut)
    return paginate(
        query,
        page,
        size,
        order=(Demande.confirmed_at.desc(), Demande.id.desc()),
        reverse=(Demande.confirmed_at, Demande.id),
        from_end=from_end,
        cap=cap,
        one_scan=bool(q),
    )


def search_affilies(
    perception_id: int,
    q: str,
    *,
    page: int = 1,
    size: int = 20,
    from_end: int = 0,
    cap: int = COUNT_CAP,
) -> Page:
    """A perception's affiliés by numéro, ICE or a piece of the raison sociale (accents and
    case aside), in numéro order."""
    query = select(Affilie).where(Affilie.perception_id == perception_id)
    if q:
        query = query.where(Affilie.recherche.like(_like(fold(q)), escape="\\"))
    return paginate(
        query,
        page,
        size,
        order=(Affilie.numero,),
        reverse=(Affilie.numero.desc(),),
        from_end=from_end,
        cap=cap,
        one_scan=bool(q),
        q=q,
    )


# ---------------------------------------------------------------- guarantees → validée


def check_can_validate(demande: Demande, today: date) -> None:
    """Guarantees are recorded only for a plan still within its 30 days."""
    if demande.status != lifecycle.EN_ATTENTE:
        raise Refused(
            "statut",
            _(
                "Les garanties ne peuvent être enregistrées que pour une demande en attente "
                "de garanties (cette demande est « %(statut)s »).",
                statut=str(_status_label(demande.effective_status(today))),
            ),
        )
    if demande.effective_status(today) == lifecycle.EXPIREE:
        raise Refused(
            "delai",
            _(
                "Le délai de dépôt des garanties a expiré le %(date)s : la demande est "
                "expirée et ne peut plus être validée.",
                date=day(demande.guarantee_deadline),
            ),
        )


def validate_with_guarantees(
    demande: Demande,
    *,
    actor: User,
    type_garantie: str,
    type_label: str,
    reference: str,
    deposee_le: date,
    commentaire: str = "",
) -> None:
    """Record the guarantees, validate the request, store its definitive schedule.

    The schedule starts on the 10th of the month after validation: the avance first,
    then one instalment a month, with the snapshot's amounts.
    """
    at = now()
    check_can_validate(demande, at.date())
    demande.garanties.append(
        Garantie(
            type=type_garantie,
            reference=reference,
            deposee_le=deposee_le,
            commentaire=commentaire,
            recorded_by_id=actor.id,
            recorded_at=at,
        )
    )
    _transition(
        demande,
        lifecycle.VALIDEE,
        actor=actor,
        action="validation",
        reason=(f"Garanties déposées le {day(deposee_le)} : {type_label}, référence {reference}"),
    )
    demande.validated_at = at
    add_debits(demande, at.date())
    outbox.queue(demande, outbox.VALIDEE)
    try:
        db.session.commit()
    except IntegrityError:
        # Another agent validated it at the same moment: its definitive schedule is
        # already there (unique demande/definitive/rang), so this one changes nothing.
        db.session.rollback()
        raise Refused(
            "concurrent", _("Cette demande vient d'être validée par un autre agent.")
        ) from None


# ---------------------------------------------------------------- debit results


def echeance_label(rang: int) -> str:
    return "avance" if rang == 0 else f"échéance {rang}"


def check_result(demande: Demande, echeance: Echeance | None, rang: int, today: date) -> None:
    """Raise Refused unless the bank's result of this échéance can be recorded now."""
    if demande.status not in EN_PRELEVEMENT:
        raise Refused(
            "statut",
            _(
                "La demande %(reference)s est « %(statut)s » : aucun prélèvement n'est attendu.",
                reference=demande.reference,
                statut=str(_status_label(demande.effective_status(today))),
            ),
        )
    if echeance is None:
        raise Refused(
            "echeance",
            _(
                "La demande %(reference)s n'a pas d'échéance n° %(rang)s dans son échéancier "
                "définitif.",
                reference=demande.reference,
                rang=rang,
            ),
        )
    if echeance.statut != A_PRELEVER:
        raise Refused(
            "deja",
            _(
                "Le résultat de l'échéance n° %(rang)s de la demande %(reference)s est déjà "
                "enregistré (%(statut)s).",
                rang=rang,
                reference=demande.reference,
                statut=str(_echeance_status_label(echeance.statut)),
            ),
        )
    if echeance.date_prevue > today:
        raise Refused(
            "pas_echue",
            _(
                "L'échéance n° %(rang)s de la demande %(reference)s n'est prélevée que le "
                "%(date)s.",
                rang=rang,
                reference=demande.reference,
                date=day(echeance.date_prevue),
            ),
        )


def find_echeance(demande: Demande, rang: int) -> Echeance | None:
    return next((e for e in definitive_echeances(demande) if e.rang == rang), None)


def apply_result(
    demande: Demande, echeance: Echeance, statut: str, actor: User, source: str
) -> None:
    """Write one debit's result and its audit event (the caller commits)."""
    # Only if still to debit, in the UPDATE itself: of two agents recording the same debit
    # at once (or an agent and the return file), the second changes nothing.
    done = db.session.execute(
        update(Echeance)
        .where(Echeance.id == echeance.id, Echeance.statut == A_PRELEVER)
        .values(statut=statut, resultat_at=now())
    )
    if done.rowcount != 1:
        raise concurrent_change()
    audit.record(
        demande,
        actor,
        "prelevement",
        debit_reason(echeance.rang, echeance.date_prevue, echeance.montant, statut, source),
    )


def debit_reason(rang: int, date_prevue: date, montant: Decimal, statut: str, source: str) -> str:
    """The trail's words for a debit's result (an agent's entry, the bank's return file)."""
    word = "payée" if statut == PAYEE else "rejetée"
    return (
        f"Prélèvement de l'{echeance_label(rang)} du {day(date_prevue)} "
        f"({plain_mad(montant)}) : {word} ({source})"
    )


def _transition(demande: Demande, to: str, **kwargs) -> None:
    """demandes.transition, refused with a message when someone else moved it first."""
    try:
        demandes.transition(demande, to, **kwargs)
    except demandes.ConcurrentChange:
        raise concurrent_change() from None


def concurrent_change() -> Refused:
    db.session.rollback()
    return Refused(
        "concurrent",
        _("Cette demande vient d'être modifiée par ailleurs : rechargez la page et recommencez."),
    )


def commit_or_refuse() -> None:
    """Commit, or refuse if a concurrent change won (unique debit rows, one reinstatement)."""
    try:
        db.session.commit()
    except IntegrityError:
        raise concurrent_change() from None


def settle(demande: Demande, actor: User) -> str | None:
    """After debit results: a rejected debit cancels the request, all paid settles it."""
    rows = definitive_echeances(demande)
    rejected = [e for e in rows if e.statut == REJETEE]
    if rejected:
        paid = sum((e.montant for e in rows if e.statut == PAYEE), Decimal("0.00"))
        _transition(
            demande,
            lifecycle.ANNULEE,
            actor=actor,
            action="defaut",
            reason=default_reason(
                rejected[0].rang,
                rejected[0].date_prevue,
                demande.remise,
                demande.majorations_generees,
            ),
        )
        db.session.add(
            Reintegration(
                demande=demande,
                affilie_id=demande.affilie_id,
                montant_remise=demande.remise,
                montant_majorations=demande.majorations_generees,
                montant_paye=paid,
                at=now(),
                by_id=actor.id if actor else None,
                by_label=actor.display_name if actor else audit.SYSTEM,
            )
        )
        return lifecycle.ANNULEE
    if rows and all(e.statut == PAYEE for e in rows):
        _transition(
            demande,
            lifecycle.SOLDEE,
            actor=actor,
            action="solde",
            reason="Toutes les échéances ont été payées",
        )
        return lifecycle.SOLDEE
    return None


def default_reason(rang: int, date_prevue: date, remise: Decimal, majorations: Decimal) -> str:
    """The trail's words for a cancellation: the first debit rejected, what is reinstated."""
    reinstated = lifecycle.reinstated_amounts(remise, majorations)
    return (
        f"Prélèvement rejeté ({echeance_label(rang)} du {day(date_prevue)}) : remise de "
        f"{plain_mad(remise)} et majorations générées de {plain_mad(majorations)} "
        f"réintégrées ({plain_mad(reinstated)})"
    )


@dataclass(frozen=True)
class RejectionPreview:
    """What recording a debit as rejected will do, said before it is done: the request
    cancelled, the debits still to come not made, the remise and the generated
    surcharges reinstated (``settle`` does it, with the same figures)."""

    reference: str
    rang: int
    date_prevue: date
    montant: Decimal
    remise: Decimal
    majorations: Decimal
    reinstated: Decimal
    paid: Decimal
    cancelled: int
    cancelled_amount: Decimal


def rejection_preview(demande: Demande, rang: int) -> RejectionPreview:
    """The consequences of rejecting debit ``rang``; raises Refused as ``record_result``
    would (no such debit, already recorded, not due yet, request not being debited).
    Reads only: a full payment's debit not yet written is the one it will get."""
    rows = schedule_rows(demande)
    echeance = next((e for e in rows if e.rang == rang), None)
    check_result(demande, echeance, rang, now().date())
    remaining = [e for e in rows if e.statut == A_PRELEVER and e.rang != rang]
    return RejectionPreview(
        reference=demande.reference,
        rang=rang,
        date_prevue=echeance.date_prevue,
        montant=echeance.montant,
        remise=demande.remise,
        majorations=demande.majorations_generees,
        reinstated=lifecycle.reinstated_amounts(demande.remise, demande.majorations_generees),
        paid=sum((e.montant for e in rows if e.statut == PAYEE), Decimal("0.00")),
        cancelled=len(remaining),
        cancelled_amount=sum((e.montant for e in remaining), Decimal("0.00")),
    )


def record_result(demande: Demande, rang: int, statut: str, *, actor: User) -> str | None:
    """The agent records one debit's result; returns the request's new status, if any."""
    if statut not in lifecycle.DEBIT_RESULTS:
        raise Refused("resultat", _("Le résultat doit être « payée » ou « rejetée »."))
    ensure_integral_echeance(demande)
    echeance = find_echeance(demande, rang)
    try:
        check_result(demande, echeance, rang, now().date())
    except Refused:
        db.session.rollback()
        raise
    apply_result(demande, echeance, statut, actor, "saisie de l'agent")
    outcome = settle(demande, actor)
    if outcome is not None:
        outbox.queue(demande, outcome)  # the notice kinds are the statuses' names
    commit_or_refuse()
    return outcome


# ---------------------------------------------------------------- reinstated amounts


def reintegration_of(demande: Demande) -> Reintegration | None:
    return db.session.scalars(
        select(Reintegration).where(Reintegration.demande_id == demande.id)
    ).first()


def reintegrations_of(affilie_id: int) -> list[Reintegration]:
    return list(
        db.session.scalars(
            select(Reintegration)
            .where(Reintegration.affilie_id == affilie_id)
            .order_by(Reintegration.at, Reintegration.id)
        )
    )


def _status_label(code: str):
    return labels.STATUS.get(code, code)


def _echeance_status_label(code: str):
    return labels.ECHEANCE.get(code, code)
