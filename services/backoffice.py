"""The perception back office: guarantees, definitive schedules, bank debits, defaults.

Every status change goes through ``demandes.transition`` so the audit trail says who did
it, when and why. A request's figures are its confirmation snapshot: nothing here
recomputes them, the definitive schedule only moves the snapshot's instalments to the
bank's debit days.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import exists, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError

from db.models import AuditEvent, Demande, Echeance, Garantie, Reintegration, User
from domain import lifecycle
from domain.money import money_str
from domain.simulation import Echeance as PlannedEcheance
from domain.simulation import definitive_schedule
from extensions import db
from services import demandes, queries
from services.pagination import Page, paginate
from web import labels, observability
from web.clock import now

A_PRELEVER, PAYEE, REJETEE = "a_prelever", "payee", "rejetee"
RESULTATS = (PAYEE, REJETEE)
# Requests whose échéances the bank still debits.
EN_PRELEVEMENT = (lifecycle.ACCEPTEE, lifecycle.VALIDEE)
DEBIT_HEADER = ("reference", "affiliation", "rib", "montant", "echeance")
RETURN_HEADER = ("reference", "echeance", "statut")
MAX_RETURN_ROWS = 20_000


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


def _definitive_rows(demande: Demande, start: date) -> list[Echeance]:
    return [
        Echeance(definitive=True, rang=e.rang, date_prevue=e.date, montant=e.montant)
        for e in definitive_schedule(plan_of(demande), start)
    ]


def ensure_integral_echeance(demande: Demande) -> None:
    """Give an accepted full-payment request its one debit, if it has none yet.

    Full payment is accepted at confirmation, so its debit is the 10th of the month after
    the confirmation day — the date the affiliate was shown. The row is created the first
    time the back office needs it (debit file, bank return, a result recorded), which
    keeps the affiliate's confirmation free of back-office concerns.
    """
    if demande.modalite != "integral" or demande.status != lifecycle.ACCEPTEE:
        return
    if any(e.definitive for e in demande.echeances):
        return
    demande.echeances.extend(_definitive_rows(demande, demande.confirmed_at.date()))


def ensure_integral_echeances(perception_id: int | None = None) -> int:
    """`ensure_integral_echeance` for every accepted full-payment request lacking one."""
    has_definitive = exists().where(
        Echeance.demande_id == Demande.id, Echeance.definitive.is_(True)
    )
    query = select(Demande).where(
        Demande.status == lifecycle.ACCEPTEE, Demande.modalite == "integral", ~has_definitive
    )
    if perception_id is not None:
        query = query.where(Demande.perception_id == perception_id)
    demandes = db.session.scalars(query).all()
    for demande in demandes:
        ensure_integral_echeance(demande)
    db.session.flush()
    return len(demandes)


@dataclass(frozen=True)
class ScheduleRow:
    """One definitive échéance as the detail page shows it."""

    rang: int
    date_prevue: date
    montant: Decimal
    statut: str
    resultat_at: datetime | None


def schedule_rows(demande: Demande) -> list[ScheduleRow]:
    """The definitive schedule; for an accepted full payment not yet materialised, the
    debit it will get (computed the same way, without writing on a read)."""
    rows = definitive_echeances(demande)
    if not rows and demande.modalite == "integral" and demande.status == lifecycle.ACCEPTEE:
        return [
            ScheduleRow(e.rang, e.date, e.montant, A_PRELEVER, None)
            for e in definitive_schedule(plan_of(demande), demande.confirmed_at.date())
        ]
    return [ScheduleRow(e.rang, e.date_prevue, e.montant, e.statut, e.resultat_at) for e in rows]


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
) -> Page:
    """A perception's requests, newest first, filtered on their status as of ``today``."""
    query = select(Demande).where(Demande.perception_id == perception_id)
    if statut == lifecycle.EXPIREE:
        query = query.where(or_(Demande.status == lifecycle.EXPIREE, queries.overdue(today)))
    elif statut == lifecycle.EN_ATTENTE:
        query = query.where(Demande.status == lifecycle.EN_ATTENTE, not_(queries.overdue(today)))
    elif statut:
        query = query.where(Demande.status == statut)
    if q:
        # SQLite's lower()/upper() only fold ASCII: compare both ways, so "atlas bâtiment"
        # finds "ATLAS BÂTIMENT" there as on PostgreSQL.
        lower, upper = _like(q.casefold()), _like(q.upper())
        query = query.where(
            or_(
                Demande.numero_affiliation.like(lower, escape="\\"),
                func.lower(Demande.raison_sociale).like(lower, escape="\\"),
                func.upper(Demande.raison_sociale).like(upper, escape="\\"),
                func.upper(Demande.reference).like(upper, escape="\\"),
            )
        )
    if du:
        query = query.where(Demande.confirmed_at >= datetime.combine(du, time.min))
    if au:
        query = query.where(
            Demande.confirmed_at < datetime.combine(au + timedelta(days=1), time.min)
        )
    return paginate(query.order_by(Demande.confirmed_at.desc(), Demande.id.desc()), page, size)


# ---------------------------------------------------------------- guarantees → validée


def _audit(demande: Demande, actor: User | None, action: str, reason: str) -> None:
    """An event that does not change the request's status (a debit result)."""
    demande.events.append(
        AuditEvent(
            at=now(),
            actor=actor,
            actor_label=actor.display_name if actor else "Système",
            action=action,
            from_status=None,
            to_status=None,
            reason=reason,
        )
    )


def _fr_day(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _fr_amount(value: Decimal) -> str:
    """ "5 756,86 MAD": the audit trail stores plain French text, whatever the UI language."""
    return f"{Decimal(money_str(value)):,.2f}".replace(",", " ").replace(".", ",") + " MAD"


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
                date=_fr_day(demande.guarantee_deadline),
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
        reason=(
            f"Garanties déposées le {_fr_day(deposee_le)} : {type_label}, référence {reference}"
        ),
    )
    demande.validated_at = at
    demande.echeances.extend(_definitive_rows(demande, at.date()))
    try:
        db.session.commit()
    except IntegrityError:
        # Another agent validated it at the same moment: its definitive schedule is
        # already there (unique demande/definitive/rang), so this one changes nothing.
        db.session.rollback()
        raise Refused(
            "concurrent", _("Cette demande vient d'être validée par un autre agent.")
        ) from None


# ---------------------------------------------------------------- debits


@dataclass(frozen=True)
class DebitLine:
    reference: str
    affiliation: str
    rib: str
    montant: Decimal
    echeance: int


def debit_lines(on: date) -> list[DebitLine]:
    """The debits due on ``on``: échéances still to debit of requests being paid."""
    ensure_integral_echeances()
    rows = db.session.execute(
        select(Demande, Echeance)
        .join(Echeance, Echeance.demande_id == Demande.id)
        .where(
            Demande.status.in_(EN_PRELEVEMENT),
            Echeance.definitive.is_(True),
            Echeance.statut == A_PRELEVER,
            Echeance.date_prevue == on,
        )
        .order_by(Demande.reference, Echeance.rang)
    ).all()
    return [DebitLine(d.reference, d.numero_affiliation, d.rib, e.montant, e.rang) for d, e in rows]


def write_debit_csv(lines: list[DebitLine], stream) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(DEBIT_HEADER)
    for line in lines:
        writer.writerow(
            (line.reference, line.affiliation, line.rib, money_str(line.montant), line.echeance)
        )


def _echeance_label(rang: int) -> str:
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
                date=_fr_day(echeance.date_prevue),
            ),
        )


def _find_echeance(demande: Demande, rang: int) -> Echeance | None:
    return next((e for e in definitive_echeances(demande) if e.rang == rang), None)


def _apply_result(
    demande: Demande, echeance: Echeance, statut: str, actor: User, source: str
) -> None:
    # Only if still to debit, in the UPDATE itself: of two agents recording the same debit
    # at once (or an agent and the return file), the second changes nothing.
    done = db.session.execute(
        update(Echeance)
        .where(Echeance.id == echeance.id, Echeance.statut == A_PRELEVER)
        .values(statut=statut, resultat_at=now())
    )
    if done.rowcount != 1:
        raise _concurrent()
    word = "payée" if statut == PAYEE else "rejetée"
    _audit(
        demande,
        actor,
        "prelevement",
        f"Prélèvement de l'{_echeance_label(echeance.rang)} du {_fr_day(echeance.date_prevue)} "
        f"({_fr_amount(echeance.montant)}) : {word} ({source})",
    )


def _transition(demande: Demande, to: str, **kwargs) -> None:
    """demandes.transition, refused with a message when someone else moved it first."""
    try:
        demandes.transition(demande, to, **kwargs)
    except demandes.ConcurrentChange:
        raise _concurrent() from None


def _concurrent() -> Refused:
    db.session.rollback()
    return Refused(
        "concurrent",
        _("Cette demande vient d'être modifiée par ailleurs : rechargez la page et recommencez."),
    )


def _commit() -> None:
    """Commit, or refuse if a concurrent change won (unique debit rows, one reinstatement)."""
    try:
        db.session.commit()
    except IntegrityError:
        raise _concurrent() from None


def settle(demande: Demande, actor: User) -> str | None:
    """After debit results: a rejected debit cancels the request, all paid settles it."""
    rows = definitive_echeances(demande)
    rejected = [e for e in rows if e.statut == REJETEE]
    if rejected:
        paid = sum((e.montant for e in rows if e.statut == PAYEE), Decimal("0.00"))
        reinstated = lifecycle.reinstated_amounts(demande.remise, demande.majorations_generees)
        _transition(
            demande,
            lifecycle.ANNULEE,
            actor=actor,
            action="defaut",
            reason=(
                f"Prélèvement rejeté ({_echeance_label(rejected[0].rang)} du "
                f"{_fr_day(rejected[0].date_prevue)}) : remise de "
                f"{_fr_amount(demande.remise)} et majorations générées de "
                f"{_fr_amount(demande.majorations_generees)} réintégrées "
                f"({_fr_amount(reinstated)})"
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
                by_label=actor.display_name if actor else "Système",
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


def record_result(demande: Demande, rang: int, statut: str, *, actor: User) -> str | None:
    """The agent records one debit's result; returns the request's new status, if any."""
    if statut not in RESULTATS:
        raise Refused("resultat", _("Le résultat doit être « payée » ou « rejetée »."))
    ensure_integral_echeance(demande)
    echeance = _find_echeance(demande, rang)
    try:
        check_result(demande, echeance, rang, now().date())
    except Refused:
        db.session.rollback()
        raise
    _apply_result(demande, echeance, statut, actor, "saisie de l'agent")
    outcome = settle(demande, actor)
    _commit()
    return outcome


# ---------------------------------------------------------------- the bank's return file


class ReturnFileError(Exception):
    """The return file has bad lines; nothing was recorded."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ReturnSummary:
    payees: int
    rejetees: int
    soldees: list[str]
    annulees: list[str]


def import_return(data: bytes, *, actor: User, perception_id: int) -> ReturnSummary:
    """Record every result of the bank's return file in one transaction, or none.

    ``reference,echeance,statut`` with statut payee|rejetee. Every line is checked
    before anything is written; a request of another perception is "unknown".
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReturnFileError([_("Le fichier doit être un fichier CSV encodé en UTF-8.")]) from None
    lines = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if row]
    if not lines:
        raise ReturnFileError([_("Le fichier est vide.")])
    header_line, header = lines[0]
    if tuple(h.strip().lower() for h in header) != RETURN_HEADER:
        raise ReturnFileError(
            [
                _(
                    "Ligne %(ligne)s : en-tête attendu « %(attendu)s ».",
                    ligne=header_line,
                    attendu=",".join(RETURN_HEADER),
                )
            ]
        )
    rows = lines[1:]
    if not rows:
        raise ReturnFileError([_("Le fichier ne contient aucun résultat de prélèvement.")])
    if len(rows) > MAX_RETURN_ROWS:
        raise ReturnFileError(
            [_("Le fichier dépasse %(max)s lignes : découpez-le.", max=MAX_RETURN_ROWS)]
        )

    ensure_integral_echeances(perception_id)
    today = now().date()
    references = {row[0].strip() for _n, row in rows if row and row[0].strip()}
    demandes = {
        d.reference: d
        for d in db.session.scalars(
            select(Demande).where(
                Demande.reference.in_(references), Demande.perception_id == perception_id
            )
        )
    }
    errors: list[str] = []
    accepted: list[tuple[Demande, Echeance, str]] = []
    seen: dict[tuple[str, int], int] = {}
    for number, row in rows:
        if len(row) != len(RETURN_HEADER):
            errors.append(
                _(
                    "Ligne %(ligne)s : %(attendu)s colonnes attendues (%(entete)s), "
                    "%(trouve)s trouvée(s).",
                    ligne=number,
                    attendu=len(RETURN_HEADER),
                    entete=",".join(RETURN_HEADER),
                    trouve=len(row),
                )
            )
            continue
        reference, rang_text, statut = (cell.strip() for cell in row)
        statut = statut.lower()
        line_errors = []
        demande = demandes.get(reference)
        if not reference:
            line_errors.append(
                _("Ligne %(ligne)s, champ reference : valeur manquante.", ligne=number)
            )
        elif demande is None:
            line_errors.append(
                _(
                    "Ligne %(ligne)s, champ reference : demande « %(valeur)s » inconnue dans "
                    "votre perception.",
                    ligne=number,
                    valeur=reference[:40],
                )
            )
        rang = None
        if not (rang_text.isascii() and rang_text.isdigit() and len(rang_text) <= 4):
            line_errors.append(
                _(
                    "Ligne %(ligne)s, champ echeance : « %(valeur)s » n'est pas un numéro "
                    "d'échéance (0 pour l'avance, puis 1, 2, 3…).",
                    ligne=number,
                    valeur=rang_text[:20],
                )
            )
        else:
            rang = int(rang_text)
        if statut not in RESULTATS:
            line_errors.append(
                _(
                    "Ligne %(ligne)s, champ statut : « %(valeur)s » n'est pas un résultat "
                    "reconnu (payee ou rejetee).",
                    ligne=number,
                    valeur=statut[:20],
                )
            )
        if demande is not None and rang is not None:
            earlier = seen.get((reference, rang))
            if earlier is not None:
                line_errors.append(
                    _(
                        "Ligne %(ligne)s, champ echeance : l'échéance n° %(rang)s de la "
                        "demande %(reference)s figure déjà à la ligne %(autre)s.",
                        ligne=number,
                        rang=rang,
                        reference=reference,
                        autre=earlier,
                    )
                )
            else:
                seen[(reference, rang)] = number
                echeance = _find_echeance(demande, rang)
                try:
                    check_result(demande, echeance, rang, today)
                except Refused as exc:
                    field = "reference" if exc.code == "statut" else "echeance"
                    line_errors.append(
                        _(
                            "Ligne %(ligne)s, champ %(champ)s : %(message)s",
                            ligne=number,
                            champ=field,
                            message=exc.message,
                        )
                    )
                else:
                    if not line_errors:
                        accepted.append((demande, echeance, statut))
        errors.extend(line_errors)
    if errors:
        db.session.rollback()
        raise ReturnFileError(errors)

    for demande, echeance, statut in accepted:
        _apply_result(demande, echeance, statut, actor, "fichier retour de la banque")
    soldees, annulees = [], []
    for demande in dict.fromkeys(d for d, _e, _s in accepted):
        outcome = settle(demande, actor)
        if outcome == lifecycle.SOLDEE:
            soldees.append(demande.reference)
        elif outcome == lifecycle.ANNULEE:
            annulees.append(demande.reference)
    _commit()
    observability.event("import.retour_banque", lignes=len(accepted), perception=perception_id)
    return ReturnSummary(
        payees=sum(1 for _d, _e, s in accepted if s == PAYEE),
        rejetees=sum(1 for _d, _e, s in accepted if s == REJETEE),
        soldees=soldees,
        annulees=annulees,
    )


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
