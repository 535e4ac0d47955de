"""Simulation figures: docs/DOMAIN.md's worked examples to the centime."""

from datetime import date
from decimal import Decimal

import pytest

from domain.campaign import DECISION_05_2023
from domain.creance import Totals
from domain.simulation import (
    Echeance,
    SimulationError,
    add_months,
    check_open,
    definitive_schedule,
    next_debit_date,
    simulate,
)

D = Decimal
SITUATION = date(2023, 11, 8)  # the guide's situation date; here, the day simulated
FULL = Totals(D("57051.95"), D("57612.13"), D("0"))
PLAN = Totals(D("16193.77"), D("11513.72"), D("0"))
AVANCE = D("5000.00")


def plan(n=2, avance=AVANCE, totals=PLAN):
    return simulate(
        totals,
        DECISION_05_2023,
        starts_on=SITUATION,
        nombre_echeances=n,
        avance=avance,
    )


def test_full_payment_worked_example():
    sim = simulate(FULL, DECISION_05_2023, starts_on=SITUATION)
    assert sim.modalite == "integral"
    assert sim.creance_totale == D("114664.08")
    assert (sim.taux_penalites, sim.taux_astreintes) == (D("60.00"), D("90.00"))
    assert sim.remise == D("34567.28")
    assert sim.montant_a_payer == D("80096.80")
    assert sim.echeances == ()
    assert sim.date_premiere_echeance is None
    assert sim.date_derniere_echeance is None


def test_instalments_worked_example():
    sim = plan()
    assert sim.modalite == "acomptes"
    assert sim.creance_totale == D("27707.49")
    assert (sim.taux_penalites, sim.taux_astreintes) == (D("50.00"), D("80.00"))
    assert sim.remise == D("5756.86")
    assert sim.montant_a_payer == D("21950.63")
    assert sim.mensualite == D("8475.32")
    assert sim.derniere_mensualite == D("8475.31")
    assert sim.majorations_generees == D("139.12")
    # Dated by the debits' rule as if validated that day: the avance on the next 10th.
    assert sim.echeances == (
        Echeance(0, date(2023, 12, 10), D("5000.00")),
        Echeance(1, date(2024, 1, 10), D("8475.32")),
        Echeance(2, date(2024, 2, 10), D("8475.31")),
    )
    assert sim.date_premiere_echeance == date(2024, 1, 10)
    assert sim.date_derniere_echeance == date(2024, 2, 10)


def test_as_dict_shape():
    data = plan().as_dict()
    assert data == {
        "modalite": "acomptes",
        "creance_totale": "27707.49",
        "principal": "16193.77",
        "penalites_frais": "11513.72",
        "astreintes": "0.00",
        "taux_penalites": "50.00",
        "taux_astreintes": "80.00",
        "remise": "5756.86",
        "montant_a_payer": "21950.63",
        "avance": "5000.00",
        "nombre_echeances": 2,
        "mensualite": "8475.32",
        "majorations_generees": "139.12",
        "echeances": [
            {"rang": 0, "date": "2023-12-10", "montant": "5000.00"},
            {"rang": 1, "date": "2024-01-10", "montant": "8475.32"},
            {"rang": 2, "date": "2024-02-10", "montant": "8475.31"},
        ],
    }


def test_as_dict_integral():
    data = simulate(FULL, DECISION_05_2023, starts_on=SITUATION).as_dict()
    assert data["nombre_echeances"] == 0
    assert data["avance"] == data["mensualite"] == data["majorations_generees"] == "0.00"
    assert data["echeances"] == []
    assert data["remise"] == "34567.28"


def test_astreintes_get_their_own_rate():
    totals = Totals(D("1000.00"), D("100.00"), D("10.05"))
    sim = simulate(totals, DECISION_05_2023, starts_on=SITUATION)
    # 60 % of 100.00 + 90 % of 10.05 = 60.00 + 9.045 → 9.05 (half up)
    assert sim.remise_penalites == D("60.00")
    assert sim.remise_astreintes == D("9.05")
    assert sim.remise == D("69.05")
    assert sim.montant_a_payer == D("1041.00")


def test_no_avance_means_no_rang_zero():
    sim = plan(n=3, avance=D("0"))
    assert [e.rang for e in sim.echeances] == [1, 2, 3]
    assert sim.avance == D("0.00")


def test_rates_change_when_crossing_24():
    assert plan(n=24).taux_penalites == D("50.00")
    assert plan(n=25).taux_penalites == D("40.00")
    assert plan(n=25).taux_astreintes == D("70.00")


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"n": 0}, "echeances_range", "nombre_echeances"),
        ({"n": 61}, "echeances_range", "nombre_echeances"),
        ({"n": -1}, "echeances_range", "nombre_echeances"),
        ({"avance": D("-0.01")}, "avance_negative", "avance"),
        ({"avance": D("21950.63")}, "avance_too_large", "avance"),
        ({"avance": D("30000")}, "avance_too_large", "avance"),
        ({"avance": D("10.001")}, "avance_decimals", "avance"),
        ({"avance": D("NaN")}, "avance_decimals", "avance"),
    ],
)
def test_simulation_errors(kwargs, code, field):
    with pytest.raises(SimulationError) as excinfo:
        plan(**kwargs)
    assert (excinfo.value.code, excinfo.value.field) == (code, field)


def test_largest_avance_leaves_one_centime():
    sim = plan(n=1, avance=D("21950.62"))
    assert sim.echeances[-1].montant == D("0.01")


def test_nothing_to_pay():
    with pytest.raises(SimulationError) as excinfo:
        simulate(Totals(D("0"), D("0"), D("0")), DECISION_05_2023, starts_on=SITUATION)
    assert excinfo.value.code == "nothing_to_pay"


def test_check_open():
    check_open(DECISION_05_2023, date(2025, 1, 15))
    with pytest.raises(SimulationError) as excinfo:
        check_open(DECISION_05_2023, date(2025, 1, 16))
    assert (excinfo.value.code, excinfo.value.field) == ("campaign_closed", "")


@pytest.mark.parametrize(
    ("start", "k", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2023, 1, 31), 2, date(2023, 3, 31)),
        (date(2023, 11, 8), 1, date(2023, 12, 8)),
        (date(2023, 11, 8), 2, date(2024, 1, 8)),
        (date(2023, 12, 31), 60, date(2028, 12, 31)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
    ],
)
def test_add_months(start, k, expected):
    assert add_months(start, k) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 11, 8), date(2023, 12, 10)),
        (date(2023, 12, 20), date(2024, 1, 10)),
        (date(2024, 1, 31), date(2024, 2, 10)),
        (date(2024, 1, 10), date(2024, 2, 10)),
    ],
)
def test_next_debit_date(day, expected):
    assert next_debit_date(day) == expected


def test_definitive_schedule_with_avance():
    schedule = definitive_schedule(plan(), date(2023, 12, 20))
    assert schedule == (
        Echeance(0, date(2024, 1, 10), D("5000.00")),
        Echeance(1, date(2024, 2, 10), D("8475.32")),
        Echeance(2, date(2024, 3, 10), D("8475.31")),
    )


def test_definitive_schedule_without_avance():
    sim = plan(n=3, avance=D("0"))
    schedule = definitive_schedule(sim, date(2023, 11, 30))
    assert [e.date for e in schedule] == [
        date(2023, 12, 10),
        date(2024, 1, 10),
        date(2024, 2, 10),
    ]
    assert [e.montant for e in schedule] == [e.montant for e in sim.echeances]


@pytest.mark.parametrize("day", [date(2023, 11, 8), date(2023, 11, 30), date(2024, 1, 31)])
@pytest.mark.parametrize(("n", "avance"), [(1, D("0")), (3, D("0")), (2, AVANCE), (24, AVANCE)])
def test_simulated_dates_are_the_debits_if_validated_that_day(day, n, avance):
    """One rule: a simulation run on ``day`` shows the dates the bank would debit if the
    request were validated that day, the avance included."""
    sim = plan(n=n, avance=avance)
    simulated = simulate(PLAN, DECISION_05_2023, starts_on=day, nombre_echeances=n, avance=avance)
    assert simulated.echeances == definitive_schedule(sim, day)
    assert {e.date.day for e in simulated.echeances} == {10}
    assert simulated.echeances[0].date == next_debit_date(day)


def test_definitive_schedule_integral():
    sim = simulate(FULL, DECISION_05_2023, starts_on=SITUATION)
    assert definitive_schedule(sim, date(2023, 11, 8)) == (
        Echeance(1, date(2023, 12, 10), D("80096.80")),
    )


def test_tiny_plan_keeps_the_sum_exact():
    # 0.05 over 10 months: the rule gives 0.01 a month and leaves the last
    # instalment negative; the sum is still exactly the montant à payer.
    sim = plan(n=10, avance=D("0"), totals=Totals(D("0.05"), D("0"), D("0")))
    assert sim.mensualite == D("0.01")
    assert sim.derniere_mensualite == D("-0.04")
    assert sum(e.montant for e in sim.echeances) == sim.montant_a_payer
