"""The demo data set: the guide's créance table to the centime, and one of each case."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from commands.demo import seed_back_office_cases
from db.models import Affilie, Demande, LigneCreance, Notice, Perception, User
from domain import lifecycle
from domain.creance import NATURES, RUBRIQUES, CreanceLine, consolidate
from domain.identifiers import is_valid_affiliation, is_valid_ice, is_valid_rib
from extensions import db
from services import backoffice, queries

LAST_ELIGIBLE = "202412"

# The guide's "Créance globale" table for 4317542; absent cells are 0.00.
GUIDE_CELLS = {
    ("principal", "CSS"): "11548.68",
    ("principal", "AMO"): "3714.61",
    ("principal", "TFP"): "930.48",
    ("majorations", "CSS"): "8060.29",
    ("majorations", "AMO"): "2519.02",
    ("majorations", "TFP"): "649.41",
    ("frais", "CSS"): "220.00",
    ("frais", "AMO"): "65.00",
    ("frais", "TFP"): "0.00",
}
GUIDE_COLUMNS = {
    "CSS": "19828.97",
    "AMO": "6298.63",
    "TFP": "1579.89",
    "AF": "0.00",
    "AST_BDS": "0.00",
    "AST_TDTP": "0.00",
}
GUIDE_ROWS = {"principal": "16193.77", "majorations": "11228.72", "frais": "285.00"}


def affilie(numero: str) -> Affilie:
    found = queries.affilie_by_numero(numero)
    assert found is not None, numero
    return found


def raw_lines(affilie_id: int) -> list[CreanceLine]:
    rows = db.session.execute(
        select(
            LigneCreance.periode, LigneCreance.rubrique, LigneCreance.nature, LigneCreance.montant
        ).where(LigneCreance.affilie_id == affilie_id)
    ).all()
    return [CreanceLine(*row) for row in rows]


def test_groupe_sees_55_affilies_and_entreprise_one(app):
    logins = {u.login: u for u in db.session.scalars(select(User))}
    assert len(logins["groupe"].affilies) == 55
    assert len({a.numero for a in logins["groupe"].affilies}) == 55
    assert [a.numero for a in logins["entreprise"].affilies] == ["4317542"]


def test_guide_table_to_the_centime(app):
    guide = affilie("4317542")
    c = queries.consolidation_for(guide, LAST_ELIGIBLE)

    expected = {
        (n, r): Decimal(GUIDE_CELLS.get((n, r), "0.00")) for n in NATURES for r in RUBRIQUES
    }
    assert dict(c.cells) == expected
    assert c.cell("principal", "AF") == Decimal("0.00")
    assert {r: c.column_total(r) for r in RUBRIQUES} == {
        r: Decimal(v) for r, v in GUIDE_COLUMNS.items()
    }
    assert {n: c.row_total(n) for n in NATURES} == {n: Decimal(v) for n, v in GUIDE_ROWS.items()}
    assert c.total == Decimal("27707.49")
    assert (c.periode_debut, c.periode_fin) == ("196901", "202311")
    totals = c.totals
    assert (totals.principal, totals.penalites_frais, totals.astreintes) == (
        Decimal("16193.77"),
        Decimal("11513.72"),
        Decimal("0.00"),
    )
    # Every amount keeps its two decimals: "0.00", not "0".
    assert all(v.as_tuple().exponent == -2 for v in c.cells.values())


def test_sql_consolidation_equals_python_consolidation_for_every_affilie(app):
    """The GROUP BY of queries.consolidation_for and domain.consolidate agree to the centime."""
    checked = 0
    for aff in db.session.scalars(select(Affilie)):
        lines = raw_lines(aff.id)
        assert queries.consolidation_for(aff, LAST_ELIGIBLE) == consolidate(lines, LAST_ELIGIBLE)
        checked += 1
    assert checked == 55


def test_astreintes_and_later_periods(app):
    astreintes = queries.consolidation_for(affilie("3021458"), LAST_ELIGIBLE)
    assert astreintes.totals.astreintes == Decimal("3700.50")
    assert astreintes.cell("majorations", "AST_BDS") == Decimal("2400.00")
    assert astreintes.cell("majorations", "AST_TDTP") == Decimal("1300.50")
    assert (astreintes.periode_debut, astreintes.periode_fin) == ("200301", "202406")

    integral = affilie("2145873")
    lines = raw_lines(integral.id)
    later = [line for line in lines if line.periode > LAST_ELIGIBLE]
    # The 2025 lines exist in the database and stay out of the remise.
    assert {line.periode for line in later} == {"202501", "202502"}
    assert sum(line.montant for line in later) == Decimal("1500.00")
    c = queries.consolidation_for(integral, LAST_ELIGIBLE)
    assert c == consolidate(lines, LAST_ELIGIBLE)
    assert c.total == Decimal("114664.08")
    assert c.totals.principal == Decimal("57051.95")
    assert c.periode_fin == "202311"


def test_one_arrangement_and_one_request_in_progress(app):
    arrangements = db.session.scalars(select(Affilie.numero).where(Affilie.arrangement)).all()
    assert arrangements == ["5098213"]

    demandes = db.session.scalars(
        select(Demande).where(~Demande.reference.like("RM-DEMO-%-%"))
    ).all()
    assert [(d.affilie.numero, d.status) for d in demandes] == [("6120934", lifecycle.EN_ATTENTE)]
    demande = demandes[0]
    assert demande.status in lifecycle.IN_PROGRESS
    assert demande.user.login == "groupe"
    assert demande.perception_id == demande.affilie.perception_id
    # The snapshot is consistent: the avance (rang 0) and the instalments pay exactly
    # the montant à payer.
    assert [e.rang for e in demande.echeances] == list(range(demande.nombre_echeances + 1))
    assert demande.echeances[0].montant == demande.avance == Decimal("2000.00")
    assert sum(e.montant for e in demande.echeances) == demande.montant_a_payer
    assert demande.creance_totale == (
        queries.consolidation_for(demande.affilie, LAST_ELIGIBLE).total
    )
    assert [e.action for e in demande.events] == ["confirmation"]


def test_one_agent_per_perception(app):
    perceptions = db.session.scalars(select(Perception).order_by(Perception.name)).all()
    assert len(perceptions) == 3
    for perception in perceptions:
        agents = db.session.scalars(
            select(User).where(User.role == "agent", User.perception_id == perception.id)
        ).all()
        assert len(agents) == 1, perception.name
        # Each agent has affiliés to look after.
        assert db.session.scalars(
            select(Affilie).where(Affilie.perception_id == perception.id)
        ).first()


def test_demo_identifiers_are_valid(app):
    """The demo data would pass ``flask import-data``'s own checks."""
    affilies = db.session.scalars(select(Affilie)).all()
    assert all(is_valid_affiliation(a.numero) for a in affilies)
    with_ice = [a for a in affilies if a.ice]
    assert with_ice and all(is_valid_ice(a.ice) for a in with_ice)
    assert all(a.comptes and all(is_valid_rib(c.rib) for c in a.comptes) for a in affilies)


BACK_OFFICE = {
    "ATTENTE": lifecycle.EN_ATTENTE,
    "DELAI": lifecycle.EN_ATTENTE,
    "EXPIREE": lifecycle.EXPIREE,
    "VALIDEE": lifecycle.VALIDEE,
    "PRELEV": lifecycle.VALIDEE,
    "DEFAUT": lifecycle.ANNULEE,
    "SOLDEE": lifecycle.SOLDEE,
    "INTEGRAL": lifecycle.ACCEPTEE,
}


@pytest.mark.parametrize("code", ["CAS", "RAB", "MAR"])
def test_every_perception_has_a_request_in_every_status(app, code):
    """An agent's list is never empty: each back-office action can be tried at once."""
    seed_back_office_cases()
    today = app.config["CLOCK"]().date()
    found = {
        d.reference.rsplit("-", 1)[1]: d
        for d in db.session.scalars(
            select(Demande).where(Demande.reference.like(f"RM-DEMO-{code}-%"))
        )
    }
    assert {k: d.status for k, d in found.items()} == BACK_OFFICE
    perceptions = {d.perception_id for d in found.values()}
    assert len(perceptions) == 1
    # None on the guide's affiliés, whose figures and one request stay as the guide has them.
    assert not {d.numero_affiliation for d in found.values()} & {
        "4317542",
        "2145873",
        "3021458",
        "5098213",
        "6120934",
    }
    assert found["DELAI"].days_left(today) == 2
    assert found["ATTENTE"].days_left(today) == 25

    def results(ref):
        return [
            e.statut for e in sorted(found[ref].echeances, key=lambda e: e.rang) if e.definitive
        ]

    assert set(results("SOLDEE")) == {lifecycle.PAYEE}
    defaut = results("DEFAUT")
    assert defaut[:3] == [lifecycle.PAYEE, lifecycle.PAYEE, lifecycle.REJETEE]
    assert backoffice.reintegration_of(found["DEFAUT"]) is not None
    # Being debited: paid so far, and one debit due now for the agent to record.
    due = [e for e in found["PRELEV"].echeances if e.definitive and e.date_prevue <= today]
    assert due and [e.statut for e in due][-1] == lifecycle.A_PRELEVER
    assert all(e.statut == lifecycle.PAYEE for e in due[:-1])
    assert all(e.date_prevue > today for e in found["VALIDEE"].echeances if e.definitive)
    assert "expiration" in [ev.action for ev in found["EXPIREE"].events]


def test_every_demo_request_has_its_notices(app):
    """Each case's story queued what it would have sent; the past ones count as sent,
    today's (the expiry, the reminders) wait for the sender (make run: instance/mail/)."""
    seed_back_office_cases()
    notices = {}
    for reference, kind, rang, status in db.session.execute(
        select(Demande.reference, Notice.kind, Notice.rang, Notice.status)
        .join(Notice, Notice.demande_id == Demande.id)
        .where(Demande.reference.like("RM-DEMO-CAS-%"))
    ):
        notices.setdefault(reference.rsplit("-", 1)[1], {})[(kind, rang)] = status
    sent, queued = "sent", "queued"
    assert notices == {
        "ATTENTE": {("accuse", -1): sent},
        "DELAI": {("accuse", -1): sent, ("rappel_garanties", 2): queued},
        "EXPIREE": {("accuse", -1): sent, ("expiree", -1): queued},
        "VALIDEE": {("accuse", -1): sent, ("validee", -1): sent},
        "PRELEV": {("accuse", -1): sent, ("validee", -1): sent},
        "DEFAUT": {("accuse", -1): sent, ("validee", -1): sent, ("annulee", -1): sent},
        "SOLDEE": {("accuse", -1): sent, ("validee", -1): sent, ("soldee", -1): sent},
        "INTEGRAL": {("accuse", -1): sent},
    }
