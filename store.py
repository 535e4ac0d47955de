"""Queries shared by the views and the CLI: campaign, consolidated créance, simulation."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import joinedload

from domain.creance import Consolidation, consolidation_from_sums
from domain.simulation import Simulation, simulate
from extensions import db
from models import Affilie, Campaign, LigneCreance


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


def consolidation_for(affilie_id: int, last_eligible_period: str) -> Consolidation:
    """Sum the affilié's eligible lines in SQL: one small query, whatever the line count.

    Every move of the simulation's slider needs this table, and the GROUP BY is most of
    the request's time for a large affilié (~8 ms for 12 000 lines). Where line ids are
    never reused (PostgreSQL sequences), the sums are kept per process, keyed by the
    lines' count and their first and last id: an import deletes and re-inserts the lines
    with new ids, so the key changes and nothing stale can be read. SQLite may hand a
    deleted rowid out again, so there the sums are always recomputed.
    """
    eligible = (LigneCreance.affilie_id == affilie_id) & (
        LigneCreance.periode <= last_eligible_period
    )
    if db.engine.dialect.name != "postgresql":
        debut, fin = db.session.execute(
            select(func.min(LigneCreance.periode), func.max(LigneCreance.periode)).where(eligible)
        ).one()
        return consolidation_from_sums(_sums(eligible), debut, fin)
    count, first_id, last_id, debut, fin = db.session.execute(
        select(
            func.count(),
            func.min(LigneCreance.id),
            func.max(LigneCreance.id),
            func.min(LigneCreance.periode),
            func.max(LigneCreance.periode),
        ).where(eligible)
    ).one()
    key = (
        db.engine.url.render_as_string(hide_password=True),
        affilie_id,
        last_eligible_period,
        count,
        first_id,
        last_id,
    )
    with _SUMS_LOCK:
        sums = _SUMS.get(key)
        if sums is not None:
            _SUMS.move_to_end(key)
    if sums is None:
        sums = MappingProxyType(_sums(eligible))
        with _SUMS_LOCK:
            _SUMS[key] = sums
            while len(_SUMS) > _SUMS_MAX:
                _SUMS.popitem(last=False)
    return consolidation_from_sums(sums, debut, fin)


# (database, affilié, last eligible period, line count, first id, last id) -> sums; the
# least recently used entries go first. Shared by a worker's threads.
_SUMS: OrderedDict[tuple, Mapping[tuple[str, str], Decimal]] = OrderedDict()
_SUMS_MAX = 1024
_SUMS_LOCK = threading.Lock()


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
) -> Simulation:
    """The simulation of the panel and of ``flask simulate`` (raises SimulationError)."""
    rules = campaign.rules()
    if consolidation is None:
        consolidation = consolidation_for(affilie.id, rules.last_eligible_period)
    return simulate(
        consolidation.totals,
        rules,
        date_situation=affilie.date_situation,
        nombre_echeances=nombre_echeances,
        avance=avance,
    )


def situation_date(affilie: Affilie) -> date:
    return affilie.date_situation
