"""The affiliate's requests in the database: eligibility, confirmation, status changes."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Integer, String, cast, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from common.clock import now
from db.models import Affilie, AuditEvent, Campaign, CompteBancaire, Demande, Echeance, User
from domain import lifecycle
from domain.creance import Consolidation, consolidation_from_sums
from domain.simulation import Simulation
from extensions import db
from services import audit, queries
from services.notices import outbox

# Bumped whenever the wording of the conditions générales changes; stored with each request.
CONDITIONS_VERSIONS = {
    lifecycle.INTEGRAL: "integral-2023-10-17",
    lifecycle.ACOMPTES: "acomptes-2023-10-17",
}
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Refusal:
    """Why an affilié cannot file a new request now."""

    code: str  # en_cours | arrangement | campagne_fermee | aucune_creance
    reference: str = ""
    perception: str = ""


def demande_en_cours(affilie: Affilie) -> Demande | None:
    """The affilié's request in progress, if any, as of today; reads only.

    One statement on every slider move. A plan past its guarantee deadline is no longer in
    progress, whether or not its expiry has been written yet (see ``expire_overdue``).
    """
    en_cours = db.session.scalars(
        select(Demande)
        .options(joinedload(Demande.campaign))
        .where(Demande.affilie_id == affilie.id, Demande.status.in_(lifecycle.IN_PROGRESS))
    ).first()
    if en_cours is not None and en_cours.effective_status(now().date()) not in (
        lifecycle.IN_PROGRESS
    ):
        return None
    return en_cours


def refusal_for(affilie, campaign, *, en_cours: bool = True) -> Refusal | None:
    """The guide's rules: arrangements go to the perception; one request at a time; only
    while the campaign is open. Then ``refusal_for_creance`` once the créance is read.

    Over the rows (``Affilie``, ``Campaign``) or the views a slider move keeps of them
    (services/caches.py). ``en_cours=False`` leaves the request in progress out: a slider
    move's, which Paramétrage checked on entry and the unique index holds at *Confirmer*.
    """
    if affilie.arrangement:
        return Refusal("arrangement", perception=affilie.perception_name)
    if en_cours and (in_progress := demande_en_cours(affilie)) is not None:
        return Refusal("en_cours", reference=in_progress.reference)
    if campaign is None or not campaign.rules().is_open(now().date()):
        return Refusal("campagne_fermee")
    return None


def refusal_for_creance(consolidation: Consolidation) -> Refusal | None:
    """Nothing eligible to pay: no request to file."""
    if consolidation.totals.creance_totale <= 0:
        return Refusal("aucune_creance")
    return None


def expire_overdue(affilie_id: int | None = None, actor: User | None = None) -> int:
    """Write the expiry of requests still waiting for guarantees past their deadline.

    The one place an expiry is written: the daily ``expire-requests`` command, and a new
    confirmation whose affilié is still held by such a plan. Screens never write it: they
    read ``Demande.effective_status``, which says the same from the first day past.

    Set-based, whatever the number of requests: one UPDATE and the audit rows by one
    INSERT … SELECT, in one transaction. On PostgreSQL both are one statement, so a
    request validated meanwhile by an agent is neither expired nor given an audit row.
    """
    at = now()
    overdue = queries.overdue(at.date())
    if affilie_id is not None:
        overdue = overdue & (Demande.affilie_id == affilie_id)
    count = transition_all(
        overdue,
        lifecycle.EN_ATTENTE,
        lifecycle.EXPIREE,
        actor=actor,
        action="expiration",
        reason=lambda moved: (
            literal("Aucune garantie déposée dans le délai de ")
            + cast(Campaign.guarantee_days, String)
            + literal(" jours"),
            moved.join(Campaign, Campaign.id == moved.c.campaign_id),
        ),
        at=at,
    )
    outbox.queue_expired(at)
    db.session.commit()
    return count


class ConcurrentChange(Exception):
    """Another request (agent, cron) changed the status first; nothing was written."""


def transition_all(where, from_status: str, to: str, *, actor, action: str, reason, at) -> int:
    """Move every request in ``from_status`` that ``where`` selects to ``to``, each with its
    audit row, set-based: one UPDATE and one INSERT … SELECT, whatever the number.

    ``reason(moved)`` gives the audit reason, an SQL expression over the moved rows
    (``moved.c.id``, ``moved.c.campaign_id``), and what to select it from. On PostgreSQL
    both are one statement, so a request another transaction moves meanwhile is neither
    moved nor given an audit row. The caller commits.
    """
    where = where & (Demande.status == from_status)
    moved = (
        update(Demande)
        .where(where)
        .values(status=to)
        .returning(Demande.id, Demande.campaign_id)
        .cte("moved")
    )
    if db.engine.dialect.name != "postgresql":
        # SQLite has no UPDATE in a WITH, but its writer holds the whole database from
        # the first write to the commit: nothing can move these requests in between.
        moved = select(Demande.id, Demande.campaign_id).where(where).subquery("moved")
    because, source = reason(moved)
    audit_rows = insert(AuditEvent).from_select(
        audit.COLUMNS,
        select(
            moved.c.id,
            literal(at, DateTime()),
            literal(actor.id if actor else None, Integer()),
            literal(actor.display_name if actor else audit.SYSTEM),
            literal(action),
            literal(from_status),
            literal(to),
            because,
        ).select_from(source),
    )
    # One audit row per request moved; psycopg gives no row count for this statement.
    count = sum(1 for _ in db.session.execute(audit_rows.returning(AuditEvent.id)))
    if db.engine.dialect.name != "postgresql":
        db.session.execute(
            update(Demande).where(where).values(status=to),
            execution_options={"synchronize_session": False},
        )
    return count


def transition(
    demande: Demande, to: str, *, actor: User | None, action: str, reason: str = ""
) -> None:
    """Change a request's status and record who, when and why.

    The UPDATE only applies if the status is still the one we read: two agents (or an
    agent and the expiry cron) acting at once cannot both move the same request.
    """
    lifecycle.check_transition(demande.status, to)
    changed = db.session.execute(
        update(Demande)
        .where(Demande.id == demande.id, Demande.status == demande.status)
        .values(status=to)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise ConcurrentChange(demande.reference)
    audit.record(demande, actor, action, reason, from_status=demande.status, to_status=to)
    demande.status = to


def new_reference() -> str:
    """RM-YYYY-XXXXXXXX: random, so no reference can be guessed from another."""
    suffix = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"RM-{now().year}-{suffix}"


class AlreadyInProgress(Exception):
    """Another request in progress exists for the affilié (the database said so)."""


def confirmed_with(token: str, numero: str) -> Demande | None:
    """The request a confirmation screen (its token) already created for the affilié
    ``numero``, if any: what a second click on Confirmer answers with."""
    # Only a token shaped like the ones we issue is looked up (PostgreSQL refuses NUL).
    if not (token and token.isascii() and token.isprintable() and len(token) <= 64):
        return None
    demande = db.session.scalars(select(Demande).where(Demande.confirmation_token == token)).first()
    if demande is None or demande.affilie.numero != numero:
        return None
    return demande


def confirm(
    *,
    user: User,
    affilie: Affilie,
    campaign: Campaign,
    compte: CompteBancaire,
    consolidation: Consolidation,
    sim: Simulation,
    token: str,
    conditions_accepted_at: datetime,
    reference: str | None = None,
    email: str | None = None,
    langue: str = "fr",
) -> Demande:
    """Create the request from the server's own simulation, in one transaction, with
    its accusé de réception queued to ``email`` (the account's address by default).

    Returns the request created by the same confirmation screen if it already exists;
    raises AlreadyInProgress when another request holds the affilié.
    """
    existing = db.session.scalars(
        select(Demande).where(Demande.confirmation_token == token)
    ).first()
    if existing is not None:
        return existing
    confirmed_at = now()
    status = lifecycle.initial_status(sim.modalite)
    demande = Demande(
        reference=reference or new_reference(),
        confirmation_token=token,
        affilie=affilie,
        user=user,
        campaign=campaign,
        perception_id=affilie.perception_id,
        status=status,
        modalite=sim.modalite,
        rib=compte.rib,
        banque=compte.banque,
        confirmed_at=confirmed_at,
        conditions_version=CONDITIONS_VERSIONS[sim.modalite],
        conditions_accepted_at=conditions_accepted_at,
        garanties_acceptees=sim.modalite == lifecycle.ACOMPTES,
        raison_sociale=affilie.raison_sociale,
        numero_affiliation=affilie.numero,
        campaign_label=campaign.label,
        date_situation=affilie.date_situation,
        date_arret_penalites=affilie.date_arret_penalites,
        periode_debut=consolidation.periode_debut or "",
        periode_fin=consolidation.periode_fin or "",
        consolidation_json=snapshot_consolidation(consolidation),
        creance_totale=sim.creance_totale,
        principal=sim.principal,
        penalites_frais=sim.penalites_frais,
        astreintes=sim.astreintes,
        taux_penalites=sim.taux_penalites,
        taux_astreintes=sim.taux_astreintes,
        remise=sim.remise,
        montant_a_payer=sim.montant_a_payer,
        avance=sim.avance,
        nombre_echeances=sim.nombre_echeances,
        mensualite=sim.mensualite,
        majorations_generees=sim.majorations_generees,
        email=email or user.email,
        langue=langue,
    )
    demande.echeances = [
        Echeance(rang=e.rang, date_prevue=e.date, montant=e.montant) for e in sim.echeances
    ]
    audit.record(
        demande,
        user,
        "confirmation",
        "Demande confirmée sur le portail",
        to_status=status,
        at=confirmed_at,
    )
    if _inserted(demande):
        return demande
    # The same screen confirmed twice at once: the other submission won, show its result.
    existing = db.session.scalars(
        select(Demande).where(Demande.confirmation_token == token)
    ).first()
    if existing is not None:
        return existing
    # A plan past its guarantee deadline still holds the affilié's place in the unique
    # index until its expiry is written: write it, then file this request.
    if expire_overdue(affilie_id=affilie.id) and _inserted(demande):
        return demande
    raise AlreadyInProgress()


def _inserted(demande: Demande) -> bool:
    """Commit the new request and its receipt; False (and nothing written) if a unique
    index refused it."""
    db.session.add(demande)
    outbox.queue_receipt(demande)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def snapshot_consolidation(consolidation: Consolidation) -> str:
    return json.dumps(
        {f"{nature}:{rubrique}": str(v) for (nature, rubrique), v in consolidation.cells.items()},
        sort_keys=True,
    )


def consolidation_of(demande: Demande) -> Consolidation:
    """The créance table as it was when the request was confirmed."""
    cells = {
        tuple(key.split(":", 1)): Decimal(value)
        for key, value in json.loads(demande.consolidation_json).items()
    }
    return consolidation_from_sums(cells, demande.periode_debut, demande.periode_fin)


def current_consolidation(affilie: Affilie, campaign: Campaign) -> Consolidation:
    return queries.consolidation_for(affilie, campaign.last_eligible_period)
