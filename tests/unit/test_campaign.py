"""Campaign rates and tiers."""

from datetime import date
from decimal import Decimal

import pytest

from domain.campaign import DECISION_05_2023, Campaign, Rates, RateTier

D = Decimal


@pytest.mark.parametrize(
    ("n", "penalites", "astreintes"),
    [
        (None, "60.00", "90.00"),
        (0, "60.00", "90.00"),
        (1, "50.00", "80.00"),
        (24, "50.00", "80.00"),
        (25, "40.00", "70.00"),
        (60, "40.00", "70.00"),
    ],
)
def test_rates_switch_between_24_and_25_instalments(n, penalites, astreintes):
    assert DECISION_05_2023.rates_for(n) == Rates(D(penalites), D(astreintes))


def test_tier_index():
    assert DECISION_05_2023.tier_index(None) is None
    assert DECISION_05_2023.tier_index(24) == 0
    assert DECISION_05_2023.tier_index(25) == 1


@pytest.mark.parametrize(
    ("on", "is_open"),
    [
        (date(2023, 11, 6), False),
        (date(2023, 11, 7), True),
        (date(2025, 1, 15), True),
        (date(2025, 1, 16), False),
    ],
)
def test_is_open(on, is_open):
    assert DECISION_05_2023.is_open(on) is is_open


def test_decision_05_2023_terms():
    c = DECISION_05_2023
    assert c.last_eligible_period == "202412"
    assert c.max_echeances == 60
    assert c.plan_surcharge_rate == D("1.00")
    assert c.guarantee_days == 30


def _campaign(**changes):
    terms = {
        "code": "T",
        "label": "Test",
        "opens_on": date(2024, 1, 1),
        "closes_on": date(2024, 12, 31),
        "last_eligible_period": "202312",
        "integral": Rates(D("60"), D("90")),
        "tiers": (
            RateTier(12, Rates(D("50"), D("80"))),
            RateTier(None, Rates(D("1"), D("2"))),
        ),
    }
    terms.update(changes)
    return Campaign(**terms)


@pytest.mark.parametrize(
    "changes",
    [
        {"closes_on": date(2023, 1, 1)},
        {"last_eligible_period": "202313"},
        {"tiers": ()},
        {
            "tiers": (
                RateTier(None, Rates(D("1"), D("2"))),
                RateTier(None, Rates(D("1"), D("2"))),
            )
        },
        {
            "tiers": (
                RateTier(24, Rates(D("1"), D("2"))),
                RateTier(24, Rates(D("1"), D("2"))),
            )
        },
        {"tiers": (RateTier(12, Rates(D("1"), D("2"))),)},
    ],
)
def test_inconsistent_campaign_is_refused(changes):
    with pytest.raises(ValueError):
        _campaign(**changes)


def test_a_later_decision_is_data():
    c = _campaign()
    assert c.rates_for(12) == Rates(D("50"), D("80"))
    assert c.rates_for(13) == Rates(D("1"), D("2"))


def test_tiers_are_kept_ascending_with_the_unbounded_one_last():
    unbounded = RateTier(None, Rates(D("1"), D("2")))
    bounded = RateTier(12, Rates(D("50"), D("80")))
    c = _campaign(tiers=(unbounded, bounded))
    assert c.tiers == (bounded, unbounded)
    assert c.rates_for(12) == Rates(D("50"), D("80"))
