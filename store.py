"""Queries shared by the views and the CLI: campaign, consolidated créance, simulation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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
    """Sum the affilié's eligible lines in SQL: one small query, whatever the line count."""
    eligible = (LigneCreance.affilie_id == affilie_id) & (
        LigneCreance.periode <= last_eligible_period
    )
    rows = db.session.execute(
        select(LigneCreance.nature, LigneCreance.rubrique, _sum_in_centimes())
        .where(eligible)
        .group_by(LigneCreance.nature, LigneCreance.rubrique)
    ).all()
    debut, fin = db.session.execute(
        select(func.min(LigneCreance.periode), func.max(LigneCreance.periode)).where(eligible)
    ).one()
    sums = {
        (nature, rubrique): Decimal(int(centimes)).scaleb(-2) for nature, rubrique, centimes in rows
    }
    return consolidation_from_sums(sums, debut, fin)


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
