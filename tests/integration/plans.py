"""A plan made through the portal's own services, for the tests of its dates and debits:
docs/DOMAIN.md's worked example (4317542, avance 5 000, 2 instalments), confirmed at the
clock's time and validated by Perception Casablanca Anfa's agent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from db.models import Demande, User
from extensions import db
from services import backoffice, demandes, queries

GUIDE = "4317542"


def user(login: str) -> User:
    return db.session.scalars(select(User).where(User.login == login)).one()


def confirmed_plan() -> Demande:
    affilie = queries.affilie_by_numero(GUIDE)
    campaign = queries.active_campaign()
    consolidation = demandes.current_consolidation(affilie, campaign)
    sim = queries.simulation_for(
        affilie, campaign, nombre_echeances=2, avance=Decimal("5000"), consolidation=consolidation
    )
    return demandes.confirm(
        user=user("groupe"),
        affilie=affilie,
        campaign=campaign,
        compte=affilie.comptes[0],
        consolidation=consolidation,
        sim=sim,
        token="test-plan",
        conditions_accepted_at=datetime(2023, 11, 20, 10, 0),
    )


def validate(demande: Demande) -> None:
    backoffice.validate_with_guarantees(
        demande,
        actor=user("agent.casa"),
        type_garantie="caution_bancaire",
        type_label="Caution bancaire",
        reference="CB-1",
        deposee_le=date(2023, 12, 1),
    )
