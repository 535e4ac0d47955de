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
from sqlalchemy import not_, select, update
from sqlalchemy.exc import IntegrityError

from common import labels
from common.clock import now
from common.formatting import day, plain_mad
from db.models import Affilie, Demande, Echeance, Garantie, Reintegration, User
from domain import lifecycle
from domain.search import fold
from extensions import db
from services import audit, demandes, queries
from services.notices import outbox
from services.pagination import COUNT_CAP, Page, paginate
from services.schedules import (
    add_debits,
    definitive_echeances,
    ensure_integral_echeance,
    schedule_rows,
)

A_PRELEVER, PAYEE, REJETEE = lifecycle.A_PRELEVER, lifecycle.PAYEE, lifecycle.REJETEE
# Requests whose échéances the bank still debits.
EN_PRELEVEMENT = (lifecycle.ACCEPTEE, lifecycle.VALIDEE)


class Refused(Exception):
    """An operation the request's state does not allow; ``message`` says why (translated)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
