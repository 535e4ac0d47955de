"""Reads shared by the views and the CLI: campaign, créance, simulation, requests in progress."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Integer, and_, cast, false, func, or_, select
from sqlalchemy.orm import joinedload

from common.clock import now
from db.models import Affilie, Campaign, Demande, LigneCreance
from domain import lifecycle
from domain.creance import Consolidation, consolidation_from_sums
from domain.simulation import Simulation, simulate
from extensions import db


def active_campaign() -> Campaign | None:
    """The campaign new simulations use: the most recent active one.

    Its rate tiers come in the same statement: every step that shows a simulation reads
    them (``Campaign.rules()``), and a lazy load would cost a second round trip.
    """
    # .all(), not .first(): a joined collection needs all of its rows; active campaigns
    # are a handful.
    campaigns = (
        db.session.scalars(
            select(Campaign)
            .options(joinedload(Campaign.tiers))
            .where(Campaign.active.is_(True))
            .order_by(Campaign.opens_on.desc())
        )
        .unique()
        .all()
    )
    return campaigns[0] if campaigns else None


def affilie_by_numero(numero: str) -> Affilie | None:
    return db.session.scalars(select(Affilie).where(Affilie.numero == numero)).first()


def consolidation_for(affilie: Affilie, last_eligible_period: str) -> Consolidation:
    """The affilié's eligible lines, summed in SQL, and kept per process.

    Every move of the simulation's slider needs this table, and the GROUP BY is most of
    the request's time for a large affilié (~8 ms for 12 000 lines). The sums are kept
    under the affilié's ``lignes_jeton``, which every write to its lines replaces (see
    db/versions.py): after an import the key changes, and nothing stale can be read.
    """
    with _TABLES_LOCK:
        table = _TABLES.get(_table_key(affilie, last_eligible_period))
    if table is None:
        table = _consolidate(affilie.id, last_eligible_period)
        # The version as this transaction sees it now: the query flushed pending writes.
        if affilie.lignes_jeton is not None:
            with _TABLES_LOCK:
                _TABLES[_table_key(affilie, last_eligible_period)] = table
                while len(_TABLES) > _TABLES_MAX:
                    _TABLES.popitem(last=False)
    return table


def _table_key(affilie: Affilie, last_eligible_period: str) -> tuple:
    url = db.engine.url.render_as_string(hide_password=True)
    return (url, affilie.id, affilie.lignes_jeton, last_eligible_period)


# (database, affilié, lines' version, last eligible period) -> consolidation; the oldest
# entries go first. Shared by a worker's threads.
_TABLES: OrderedDict[tuple, Consolidation] = OrderedDict()
_TABLES_MAX = 1024
_TABLES_LOCK = threading.Lock()


def _consolidate(affilie_id: int, last_eligible_period: str) -> Consolidation:
    eligible = (LigneCreance.affilie_id == affilie_id) & (
        LigneCreance.periode <= last_eligible_period
    )
    debut, fin = db.session.execute(
        select(func.min(LigneCreance.periode), func.max(LigneCreance.periode)).where(eligible)
    ).one()
    return consolidation_from_sums(_sums(eligible), debut, fin)


def _sums(eligible) -> dict[tuple[str, str], Decimal]:
    """{(nature, rubrique): amount} of the eligible lines, by one GROUP BY."""
    rows = db.session.execute(
        select(LigneCreance.nature, LigneCreance.rubrique, _sum_in_centimes())
        .where(eligible)
        .group_by(LigneCreance.nature, LigneCreance.rubrique)
    ).all()
    return {
        (nature, rubrique): Decimal(int(centimes)).scaleb(-2) for nature, rubrique, centimes in rows
    }


def _sum_in_centimes():
    """SUM of the amounts as a whole number of centimes, exact on both databases.

    PostgreSQL sums NUMERIC exactly. SQLite keeps REALs, whose sum drifts by fractions of
    a centime over thousands of lines; rounding each line to centimes first keeps it exact.
    """
    if db.engine.dialect.name == "sqlite":
        return func.sum(cast(func.round(LigneCreance.montant * 100), Integer))
    return func.sum(LigneCreance.montant * 100)


def simulation_for(
    affilie: Affilie,
    campaign: Campaign,
    *,
    nombre_echeances: int | None = None,
    avance: Decimal = Decimal("0"),
    consolidation: Consolidation | None = None,
    today: date | None = None,
) -> Simulation:
    """The simulation of the panel and of ``flask simulate`` (raises SimulationError).

    Its dates are indicative: the debits' rule applied as if the request were validated
    ``today`` (the application's clock unless given)."""
    rules = campaign.rules()
    if consolidation is None:
        consolidation = consolidation_for(affilie, rules.last_eligible_period)
    return simulate(
        consolidation.totals,
        rules,
        starts_on=today or now().date(),
        nombre_echeances=nombre_echeances,
        avance=avance,
    )


def demandes_of(affilie_ids: list[int]) -> list[Demande]:
    """The requests of these affiliés, newest first."""
    return list(
        db.session.scalars(
            select(Demande)
            .where(Demande.affilie_id.in_(affilie_ids))
            .order_by(Demande.confirmed_at.desc())
        )
    )


def en_cours_among(affilie_ids: list[int], today: date) -> set[int]:
    """Which of these affiliés have a request in progress as of ``today``."""
    demandes = db.session.scalars(
        select(Demande)
        .options(joinedload(Demande.campaign))
        .where(Demande.affilie_id.in_(affilie_ids), Demande.status.in_(lifecycle.IN_PROGRESS))
    )
    return {d.affilie_id for d in demandes if d.effective_status(today) in lifecycle.IN_PROGRESS}


def overdue(today: date):
    """SQL for ``Demande.effective_status(today) == EXPIREE`` on a plan still written as
    waiting for guarantees, so a list can filter on the status as of today.

    confirmed_on + days < today  ⇔  confirmed_at < midnight of (today − days). Each campaign
    has its own delay; there are only a few campaigns. The latest of those midnights, which
    the campaigns' conditions imply, is said once more on its own: an index on (status,
    confirmed_at) then reads only the plans confirmed before it, not every plan waiting.
    """
    limits = {
        campaign_id: datetime.combine(today - timedelta(days=days), time.min)
        for campaign_id, days in db.session.execute(select(Campaign.id, Campaign.guarantee_days))
    }
    clauses = [
        and_(Demande.campaign_id == campaign_id, Demande.confirmed_at < limit)
        for campaign_id, limit in limits.items()
    ]
    before = [Demande.confirmed_at < max(limits.values())] if limits else []
    return and_(Demande.status == lifecycle.EN_ATTENTE, *before, or_(false(), *clauses))
