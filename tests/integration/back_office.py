"""The perception's back office as the integration tests set it up and read it: the seeded
numéros and agents, amounts as the pages write them, requests made through the portal's own
services, a request's figures to compare before and after, and the bank's return file
uploaded.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from db.models import Demande, User
from extensions import db
from services import demandes, queries
from tests.integration.pages import BackOfficePage as Page

NBSP, NNBSP = "\u00a0", "\u202f"
GUIDE = "4317542"  # Perception Casablanca Anfa: the guide's instalments example
INTEGRAL = "2145873"  # Perception Casablanca Anfa: the guide's full-payment example
RABAT = "3021458"  # Perception Rabat Agdal
DEMO_REFERENCE = "RM-DEMO-000001"  # Perception Marrakech Guéliz, en attente de garanties
AGENT_CASA, AGENT_RABAT, AGENT_MARRAKECH = "agent.casa", "agent.rabat", "agent.marrakech"


def mad(text: str) -> str:
    """'5 756,86' -> '5\u202f756,86\u00a0MAD', as the pages write amounts."""
    return text.replace(" ", NNBSP) + NBSP + "MAD"


def get(client, url: str, **kwargs) -> Page:
    return Page(client.get(url, **kwargs))


def post(client, url: str, data=None, **kwargs) -> Page:
    return Page(client.post(url, data=data or {}, **kwargs))


HTMX = {"HX-Request": "true"}


def make_demande(
    numero: str,
    *,
    modalite: str = "acomptes",
    n: int = 2,
    avance: str = "5000",
    status: str | None = None,
    login: str = "groupe",
) -> Demande:
    """A request confirmed through the portal's own service, at the clock's time."""
    affilie = queries.affilie_by_numero(numero)
    campaign = queries.active_campaign()
    consolidation = demandes.current_consolidation(affilie, campaign)
    sim = queries.simulation_for(
        affilie,
        campaign,
        nombre_echeances=n if modalite == "acomptes" else None,
        avance=Decimal(avance) if modalite == "acomptes" else Decimal(0),
        consolidation=consolidation,
    )
    user = db.session.scalars(select(User).where(User.login == login)).one()
    from common.clock import now

    demande = demandes.confirm(
        user=user,
        affilie=affilie,
        campaign=campaign,
        compte=affilie.comptes[0],
        consolidation=consolidation,
        sim=sim,
        token=f"test-{numero}-{now().isoformat()}-{status}",
        conditions_accepted_at=now(),
    )
    if status is not None:
        # Setting up history directly: the transitions themselves are tested elsewhere.
        demande.status = status
        db.session.commit()
    return demande


def snapshot(demande: Demande) -> dict:
    """Every figure of a confirmed request, which nothing may change."""
    db.session.refresh(demande)
    columns = [c.name for c in Demande.__table__.columns]
    skip = {"status", "validated_at"}
    figures = {name: getattr(demande, name) for name in columns if name not in skip}
    figures["simulated"] = [
        (e.rang, e.date_prevue, e.montant) for e in demande.echeances if not e.definitive
    ]
    return figures


def definitive(demande: Demande) -> list[tuple]:
    db.session.refresh(demande)
    return [
        (e.rang, e.date_prevue, e.montant, e.statut)
        for e in sorted(demande.echeances, key=lambda e: e.rang)
        if e.definitive
    ]


GARANTIE = {
    "garantie_type": "caution_bancaire",
    "garantie_reference": "CB-2023-0042",
    "deposee_le": "2023-11-20",
    "commentaire": "Caution de la Banque Populaire",
}


def references(page: Page) -> list[str]:
    return [row[0] for row in page.rows_after("demandes-table")[1:] if len(row) > 1]


def upload(client, content: str | bytes, name: str = "retour.csv") -> Page:
    import io

    data = content.encode() if isinstance(content, str) else content
    return post(
        client,
        "/perception/prelevements/retour",
        {"fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
