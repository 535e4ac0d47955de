"""Hypothesis properties of the remise and the instalment schedule."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.campaign import DECISION_05_2023
from domain.creance import Totals
from domain.money import CENT
from domain.simulation import SimulationError, definitive_schedule, simulate

# Small amounts are where rounding remainders bite, so draw them often.
cents = st.one_of(st.integers(0, 500), st.integers(0, 10**11)).map(lambda c: Decimal(c) * CENT)
days = st.dates(min_value=date(2023, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def plans(draw):
    totals = Totals(draw(cents), draw(cents), draw(cents))
    n = draw(st.integers(min_value=1, max_value=DECISION_05_2023.max_echeances))
    situation = draw(days)
    try:
        # Without avance first, to learn the montant à payer that bounds it.
        probe = simulate(totals, DECISION_05_2023, starts_on=situation, nombre_echeances=n)
    except SimulationError as exc:
        assert exc.code == "nothing_to_pay"
        assume(False)
    max_avance_cents = int(probe.montant_a_payer / CENT) - 1
    avance = Decimal(draw(st.integers(0, max_avance_cents))) * CENT
    return simulate(
        totals,
        DECISION_05_2023,
        starts_on=situation,
        nombre_echeances=n,
        avance=avance,
    )


@settings(max_examples=200, deadline=None)
@given(plans())
def test_avance_and_instalments_sum_to_montant_a_payer(sim):
    assert sum((e.montant for e in sim.echeances), Decimal(0)) == sim.montant_a_payer
    assert (
        sim.avance + sim.mensualite * (sim.nombre_echeances - 1) + (sim.derniere_mensualite)
        == sim.montant_a_payer
    )


@settings(max_examples=200, deadline=None)
@given(cents, cents, cents, st.one_of(st.none(), st.integers(1, 60)))
def test_remise_stays_within_penalties_and_astreintes(p, m, a, n):
    totals = Totals(p, m, a)
    # With no principal, a centime of penalties can be remitted entirely.
    assume(p > 0)
    sim = simulate(totals, DECISION_05_2023, starts_on=date(2024, 1, 1), nombre_echeances=n)
    assert 0 <= sim.remise <= m + a
    assert sim.montant_a_payer == p + m + a - sim.remise


@settings(max_examples=200, deadline=None)
@given(plans(), days)
def test_due_dates_strictly_increase(sim, validated_on):
    dates = [e.date for e in sim.echeances]
    assert all(a < b for a, b in itertools.pairwise(dates))
    # Monthly, so consecutive instalments are 28 to 31 days apart.
    instalments = [e.date for e in sim.instalments]
    assert all(timedelta(28) <= b - a <= timedelta(31) for a, b in itertools.pairwise(instalments))
    final = [e.date for e in definitive_schedule(sim, validated_on)]
    assert all(a < b for a, b in itertools.pairwise(final))
    assert all(d.day == 10 and d > validated_on for d in final)


@settings(max_examples=200, deadline=None)
@given(plans())
def test_amounts_are_quantized_to_the_centime(sim):
    for amount in (
        sim.mensualite,
        sim.derniere_mensualite,
        sim.remise,
        sim.majorations_generees,
    ):
        assert amount == amount.quantize(CENT)
        assert amount.as_tuple().exponent == -2
    assert sim.majorations_generees >= 0
