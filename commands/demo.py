"""The demo data set of ``flask seed-demo`` (idempotent) and the benchmark's largest affilié.

Figures are chosen so the guide's screens can be checked by hand: affilié 4317542 has the
guide's créance table to the centime, 1969 01 to 2023 11, spread over many periods.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, insert, select, update

from common.clock import now
from db.models import (
    Affilie,
    Campaign,
    CampaignTier,
    CompteBancaire,
    LigneCreance,
    Notice,
    Perception,
    User,
)
from domain import lifecycle
from domain.campaign import DECISION_05_2023
from domain.creance import RUBRIQUES
from domain.identifiers import ice_with_check, rib_with_key
from domain.simulation import simulate
from extensions import db
from services import backoffice, demandes, queries, schedules
from services.notices import outbox, planning

DEMO_PASSWORD = "Demo-2023!"  # noqa: S105 (published demo accounts)
# Where the demo accounts' notices go (make run writes them to instance/mail/).
DEMO_EMAILS = {
    "groupe": "tresorerie@atlas-holding.example.ma",
    "entreprise": "contact@atlas-btp.example.ma",
}
PERCEPTIONS = (
    "Perception Casablanca Anfa",
    "Perception Rabat Agdal",
    "Perception Marrakech Guéliz",
)
SITUATION = date(2023, 11, 8)
AGENTS = ("agent.casa", "agent.rabat", "agent.marrakech")

GUIDE_NUMERO = "4317542"  # the guide's créance table (instalments example)
INTEGRAL_NUMERO = "2145873"  # the guide's full-payment example
ASTREINTES_NUMERO = "3021458"
ARRANGEMENT_NUMERO = "5098213"
EN_COURS_NUMERO = "6120934"
LARGE_NUMERO = "9999001"

# (nature, rubrique) -> total, as in the guide's "Créance globale" table.
GUIDE_TABLE = {
    ("principal", "CSS"): "11548.68",
    ("principal", "AMO"): "3714.61",
    ("principal", "TFP"): "930.48",
    ("majorations", "CSS"): "8060.29",
    ("majorations", "AMO"): "2519.02",
    ("majorations", "TFP"): "649.41",
    ("frais", "CSS"): "220.00",
    ("frais", "AMO"): "65.00",
}
INTEGRAL_TABLE = {
    ("principal", "CSS"): "41230.15",
    ("principal", "AMO"): "12621.80",
    ("principal", "TFP"): "3200.00",
    ("majorations", "CSS"): "40512.13",
    ("majorations", "AMO"): "14100.00",
    ("frais", "CSS"): "3000.00",
}
ASTREINTES_TABLE = {
    ("principal", "CSS"): "8400.00",
    ("principal", "AMO"): "2100.00",
    ("majorations", "CSS"): "3150.40",
    ("majorations", "AMO"): "790.10",
    ("frais", "CSS"): "120.00",
    ("majorations", "AST_BDS"): "2400.00",
    ("majorations", "AST_TDTP"): "1300.50",
}


def periods(first: str, last: str, step: int = 1) -> list[str]:
    """YYYYMM periods from first to last inclusive, every ``step`` months (last always in)."""
    y, m = int(first[:4]), int(first[4:])
    out = []
    while f"{y:04d}{m:02d}" <= last:
        out.append(f"{y:04d}{m:02d}")
        m += step
        while m > 12:
            y, m = y + 1, m - 12
    if out[-1] != last:
        out.append(last)
    return out


def split(total: str, parts: int) -> list[Decimal]:
    """Split an amount into ``parts`` amounts of whole centimes that add up exactly."""
    centimes = int(Decimal(total) * 100)
    base, rest = divmod(centimes, parts)
    return [Decimal(base + (1 if i < rest else 0)).scaleb(-2) for i in range(parts)]


def lines_for(table: dict[tuple[str, str], str], spread: list[str]) -> list[dict]:
    rows = []
    for (nature, rubrique), total in table.items():
        # Each cell spreads over a different slice of the periods, ends always included.
        for periode, montant in zip(spread, split(total, len(spread))):
            rows.append(
                {"periode": periode, "rubrique": rubrique, "nature": nature, "montant": montant}
            )
    return rows


def seed_demo() -> bool:
    """Load the demo data set unless it is there already. Returns True when it loaded."""
    if db.session.scalar(select(func.count()).select_from(User).where(User.login == "groupe")):
        return False
    rng = random.Random(2023)
    campaign = _campaign()
    perceptions = [Perception(name=name) for name in PERCEPTIONS]
    db.session.add_all(perceptions)
    db.session.flush()

    affilies = []

    def add(numero, raison, perception, table=None, lines=None, **extra):
        aff = Affilie(
            numero=numero,
            raison_sociale=raison,
            regime=extra.pop("regime", "Régime général"),
            ice=extra.pop("ice", None),
            perception=perception,
            date_situation=SITUATION,
            date_arret_penalites=SITUATION,
            arrangement=extra.pop("arrangement", False),
        )
        db.session.add(aff)
        db.session.flush()
        for bank, code in (("Banque Populaire", "190"), ("Attijariwafa bank", "007"))[
            : extra.pop("ribs", 2)
        ]:
            body = f"{code}780{len(affilies):04d}{numero}{rng.randrange(10**5):05d}"
            db.session.add(CompteBancaire(affilie_id=aff.id, rib=rib_with_key(body), banque=bank))
        rows = lines if lines is not None else lines_for(table or {}, _spread(rng))
        if rows:
            db.session.execute(insert(LigneCreance), [{"affilie_id": aff.id, **r} for r in rows])
        affilies.append(aff)
        return aff

    casa, rabat, marrakech = perceptions
    guide = add(
        GUIDE_NUMERO,
        "ATLAS BÂTIMENT ET TRAVAUX",
        casa,
        lines=lines_for(GUIDE_TABLE, periods("196901", "202311", 7)),
        ice=ice_with_check("0015342870000"),
    )
    add(
        INTEGRAL_NUMERO,
        "IQIQEN DISTRIBUTION",
        casa,
        lines=lines_for(INTEGRAL_TABLE, periods("196901", "202311", 11))
        # Current debt after the campaign's last eligible period: never in the remise.
        + lines_for({("principal", "CSS"): "1500.00"}, ["202501", "202502"]),
        ice=ice_with_check("0021876540000"),
    )
    add(
        ASTREINTES_NUMERO,
        "SOUSS AGRO EXPORT",
        rabat,
        lines=lines_for(ASTREINTES_TABLE, periods("200301", "202406", 5)),
        regime="AMO",
    )
    add(
        ARRANGEMENT_NUMERO,
        "RIF TEXTILES",
        rabat,
        table={("principal", "CSS"): "9800.00", ("majorations", "CSS"): "2450.00"},
        arrangement=True,
    )
    en_cours = add(
        EN_COURS_NUMERO,
        "OASIS TRANSPORT",
        marrakech,
        table={("principal", "CSS"): "12000.00", ("majorations", "CSS"): "3600.00"},
    )
    names = ("NEGOCE", "SERVICES", "INDUSTRIES", "CONSEIL", "LOGISTIQUE", "IMMOBILIER")
    towns = ("ANFA", "AGDAL", "GUELIZ", "SAISS", "TANGER MED", "SOUSS", "ZENATA")
    n = 0
    while len(affilies) < 55:
        n += 1
        numero = f"{7000000 + n * 1373:07d}"
        table = {
            ("principal", "CSS"): f"{rng.randrange(1000, 90000)}.{rng.randrange(100):02d}",
            ("principal", "AMO"): f"{rng.randrange(100, 20000)}.{rng.randrange(100):02d}",
            ("majorations", "CSS"): f"{rng.randrange(100, 40000)}.{rng.randrange(100):02d}",
            ("frais", "CSS"): f"{rng.randrange(0, 500)}.00",
        }
        if n % 7 == 0:
            table[("majorations", "AST_TDTP")] = f"{rng.randrange(100, 3000)}.00"
        add(
            numero,
            f"{names[n % len(names)]} {towns[n % len(towns)]} {n:02d}",
            perceptions[n % 3],
            table=table,
            regime="AMO" if n % 4 == 0 else "Régime général",
            ice=ice_with_check(f"00{n:05d}{rng.randrange(10**6):06d}") if n % 3 else None,
            ribs=1 + n % 2,
        )

    def user(login, name, role, perception=None, links=(), email=None):
        u = User(login=login, display_name=name, role=role, perception=perception, email=email)
        u.set_password(DEMO_PASSWORD)
        u.affilies = list(links)
        db.session.add(u)
        return u

    groupe = user(
        "groupe", "Groupe Atlas Holding", "affilie", links=affilies, email=DEMO_EMAILS["groupe"]
    )
    user(
        "entreprise",
        "Atlas Bâtiment et Travaux",
        "affilie",
        links=[guide],
        email=DEMO_EMAILS["entreprise"],
    )
    for login, perception in zip(AGENTS, perceptions):
        user(login, f"Agent — {perception.name}", "agent", perception=perception)
    db.session.flush()
    _request_in_progress(en_cours, groupe, campaign)
    db.session.commit()
    return True


def seed_back_office_cases() -> None:
    """Requests in every status in each perception (``seed-demo`` adds them to the demo
    set), so an agent's list is never empty. The guide's affiliés keep their figures and
    their one request: the cases are on generated affiliés of the ``groupe`` account."""
    campaign = queries.active_campaign()
    groupe = db.session.scalars(select(User).where(User.login == "groupe")).one()
    reserved = {GUIDE_NUMERO, INTEGRAL_NUMERO, ASTREINTES_NUMERO, ARRANGEMENT_NUMERO}
    reserved.add(EN_COURS_NUMERO)
    for code, login in zip(("CAS", "RAB", "MAR"), AGENTS):
        agent = db.session.scalars(select(User).where(User.login == login)).one()
        pool = sorted(
            (a for a in groupe.affilies if a.perception_id == agent.perception_id),
            key=lambda a: a.numero,
        )
        pool = [a for a in pool if a.numero not in reserved and not a.arrangement]
        _back_office_requests(code, pool, groupe, agent, campaign)
    _demo_notices()


def _demo_notices() -> None:
    """Each demo request has the notices its story caused (queued by the services
    themselves), today's reminders too; those of the demo's past count as sent then,
    today's wait for ``flask notifications send`` (instance/mail/ under make run)."""
    planning.plan()
    db.session.execute(
        update(Notice)
        .where(Notice.created_at < datetime.combine(now().date(), time.min))
        .values(status=outbox.SENT, sent_at=Notice.created_at, attempts=1)
    )
    db.session.commit()


def _spread(rng: random.Random) -> list[str]:
    start = f"{rng.randrange(1995, 2015)}{rng.randrange(1, 13):02d}"
    return periods(start, "202310", rng.randrange(3, 9))


def _campaign() -> Campaign:
    rules = DECISION_05_2023
    campaign = db.session.scalars(select(Campaign).where(Campaign.code == rules.code)).first()
    if campaign:
        return campaign
    campaign = Campaign(
        code=rules.code,
        label=rules.label,
        opens_on=rules.opens_on,
        # The real campaign closed on 15/01/2025; the demo keeps it open.
        closes_on=date(2030, 12, 31),
        last_eligible_period=rules.last_eligible_period,
        integral_penalites=rules.integral.penalites,
        integral_astreintes=rules.integral.astreintes,
        max_echeances=rules.max_echeances,
        plan_surcharge_rate=rules.plan_surcharge_rate,
        guarantee_days=rules.guarantee_days,
        active=True,
        tiers=[
            CampaignTier(
                position=i,
                max_echeances=t.max_echeances,
                taux_penalites=t.rates.penalites,
                taux_astreintes=t.rates.astreintes,
            )
            for i, t in enumerate(rules.tiers)
        ],
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def _request_in_progress(affilie: Affilie, user: User, campaign: Campaign) -> None:
    """A request confirmed through the same service as the portal, waiting for guarantees."""
    consolidation = queries.consolidation_for(affilie, campaign.last_eligible_period)
    sim = simulate(
        consolidation.totals,
        campaign.rules(),
        starts_on=now().date(),
        nombre_echeances=12,
        avance=Decimal("2000.00"),
    )
    demandes.confirm(
        user=user,
        affilie=affilie,
        campaign=campaign,
        compte=affilie.comptes[0],
        consolidation=consolidation,
        sim=sim,
        token="demo-seed-000001",  # noqa: S106 (not a secret)
        conditions_accepted_at=now(),
        reference="RM-DEMO-000001",
    )


# The back office's cases, one request each on an affilié of every perception: how many
# days ago it was confirmed, its plan (instalments, 0 for a full payment), and what
# happened since. Each step goes through the portal's own services, on its own date.
BACK_OFFICE_CASES = (
    ("ATTENTE", 5, 12, "attente"),  # waiting for guarantees, 25 days left
    ("DELAI", 28, 6, "attente"),  # waiting, 2 days before its deadline
    ("EXPIREE", 45, 10, "expiree"),  # no guarantees in 30 days
    ("VALIDEE", 20, 12, "validee"),  # guarantees recorded, first debit to come
    ("PRELEV", 100, 12, "prelevee"),  # being debited: the due one awaits its result
    ("DEFAUT", 130, 18, "defaut"),  # a debit rejected: cancelled, amounts reinstated
    ("SOLDEE", 200, 3, "soldee"),  # every debit paid
    ("INTEGRAL", 2, 0, "attente"),  # full payment accepted, its debit to come
)


@contextmanager
def _on(day: date, hour: int = 10):
    """Run the services as on ``day``: the demo's past happens at its own dates."""
    clock = current_app.config["CLOCK"]
    moment = datetime.combine(day, time(hour))
    current_app.config["CLOCK"] = lambda: moment
    try:
        yield
    finally:
        current_app.config["CLOCK"] = clock


def _back_office_requests(code: str, pool: list, user: User, agent: User, campaign) -> None:
    """Requests in every status for one perception, so each back-office action can be
    tried at once (records guarantees, a debit's result, the reinstatement on default)."""
    today = now().date()
    for (label, days_ago, n, story), affilie in zip(BACK_OFFICE_CASES, pool):
        confirmed = today - timedelta(days=days_ago)
        with _on(confirmed):
            consolidation = queries.consolidation_for(affilie, campaign.last_eligible_period)
            sim = simulate(
                consolidation.totals,
                campaign.rules(),
                starts_on=confirmed,
                nombre_echeances=n or None,
                avance=(consolidation.totals.principal / 10).quantize(Decimal("0.01"))
                if n
                else Decimal(0),
            )
            demande = demandes.confirm(
                user=user,
                affilie=affilie,
                campaign=campaign,
                compte=affilie.comptes[0],
                consolidation=consolidation,
                sim=sim,
                token=f"demo-{code}-{label}".lower(),
                conditions_accepted_at=now(),
                reference=f"RM-DEMO-{code}-{label}",
            )
            db.session.commit()
        if story == "expiree":
            demandes.expire_overdue(affilie_id=affilie.id)
        if story not in ("validee", "prelevee", "defaut", "soldee"):
            continue
        validated = confirmed + timedelta(days=5)
        with _on(validated, 11):
            backoffice.validate_with_guarantees(
                demande,
                actor=agent,
                type_garantie="caution_bancaire",
                type_label="Caution bancaire",
                reference=f"CB-{code}-{label}",
                deposee_le=validated - timedelta(days=1),
            )
        due = [e for e in schedules.definitive_echeances(demande) if e.date_prevue <= today]
        if story == "prelevee":
            due = due[:-1]  # the last one due is left for the agent to record
        for echeance in due:
            rejected = story == "defaut" and echeance.rang == 2
            with _on(echeance.date_prevue + timedelta(days=1), 9):
                backoffice.record_result(
                    demande,
                    echeance.rang,
                    lifecycle.REJETEE if rejected else lifecycle.PAYEE,
                    actor=agent,
                )
            if rejected:
                break


def add_large_affilie(numero: str = LARGE_NUMERO, linked_to: str | None = None) -> Affilie:
    """Every period 196901-202412 in all six rubriques and three natures (~12 000 lines),
    linked to the account ``linked_to`` if given (the benchmarks use "groupe")."""
    aff = db.session.scalars(select(Affilie).where(Affilie.numero == numero)).first()
    if aff is None:
        aff = _large_affilie(numero)
    if linked_to is not None:
        user = db.session.scalars(select(User).where(User.login == linked_to)).one()
        if aff not in user.affilies:
            user.affilies.append(aff)
        db.session.commit()
    return aff


def _large_affilie(numero: str) -> Affilie:
    perception = db.session.scalars(select(Perception).order_by(Perception.id)).first()
    if perception is None:
        perception = Perception(name=PERCEPTIONS[0])
        db.session.add(perception)
    aff = Affilie(
        numero=numero,
        raison_sociale="GRAND COMPTE HISTORIQUE",
        regime="Régime général",
        perception=perception,
        date_situation=SITUATION,
        date_arret_penalites=SITUATION,
        arrangement=False,
    )
    db.session.add(aff)
    db.session.flush()
    db.session.add(
        CompteBancaire(
            affilie_id=aff.id,
            rib=rib_with_key("1907800000" + numero + "00001"),
            banque="Banque Populaire",
        )
    )
    rng = random.Random(numero)
    rows = [
        {
            "affilie_id": aff.id,
            "periode": periode,
            "rubrique": rubrique,
            "nature": nature,
            "montant": Decimal(rng.randrange(1, 500000)).scaleb(-2),
        }
        for periode in periods("196901", "202412")
        for rubrique in RUBRIQUES
        for nature in ("principal", "majorations", "frais")
    ]
    db.session.execute(insert(LigneCreance), rows)
    db.session.commit()
    return aff
