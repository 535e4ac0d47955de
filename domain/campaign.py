"""Remise campaigns: a ministerial decision's rates, tiers and dates as data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.creance import is_valid_period


@dataclass(frozen=True)
class Rates:
    """Remise rates in percent: pénalités + frais, and astreintes."""

    penalites: Decimal
    astreintes: Decimal


@dataclass(frozen=True)
class RateTier:
    """Rates for plans of at most `max_echeances` instalments (None: no bound)."""

    max_echeances: int | None
    rates: Rates


@dataclass(frozen=True)
class Campaign:
    """One decision's terms; a later decision is a new Campaign, not new code."""

    code: str
    label: str
    opens_on: date
    closes_on: date
    last_eligible_period: str
    integral: Rates
    tiers: tuple[RateTier, ...]
    max_echeances: int = 60
    plan_surcharge_rate: Decimal = Decimal("1.00")
    guarantee_days: int = 30

    def __post_init__(self) -> None:
        if self.opens_on > self.closes_on:
            raise ValueError("campaign closes before it opens")
        if not is_valid_period(self.last_eligible_period):
            raise ValueError(f"invalid period {self.last_eligible_period!r}")
        if self.max_echeances < 1:
            raise ValueError("max_echeances must be at least 1")
        if not self.tiers:
            raise ValueError("a campaign needs at least one instalment tier")
        # rates_for takes the first tier that fits, so keep them ascending with
        # the unbounded one last, whatever order the stored rows came in.
        tiers = tuple(
            sorted(
                self.tiers,
                key=lambda t: (t.max_echeances is None, t.max_echeances or 0),
            )
        )
        object.__setattr__(self, "tiers", tiers)
        bounds = [t.max_echeances for t in tiers]
        if None in bounds[:-1]:
            raise ValueError("only one tier may have no upper bound")
        finite = [b for b in bounds if b is not None]
        if len(set(finite)) != len(finite) or any(b < 1 for b in finite):
            raise ValueError("tier bounds must be positive and distinct")
        if bounds[-1] is not None and bounds[-1] < self.max_echeances:
            raise ValueError("tiers must cover every plan up to max_echeances")

    def tier_index(self, nombre_echeances: int | None) -> int | None:
        """Index of the tier for a plan of n instalments; None for full payment."""
        if not nombre_echeances:
            return None
        if nombre_echeances < 0:
            raise ValueError("negative number of instalments")
        for index, tier in enumerate(self.tiers):
            if tier.max_echeances is None or nombre_echeances <= tier.max_echeances:
                return index
        raise ValueError(f"no tier for {nombre_echeances} instalments")

    def rates_for(self, nombre_echeances: int | None) -> Rates:
        """Rates for a plan of n instalments; None or 0 means full payment."""
        index = self.tier_index(nombre_echeances)
        return self.integral if index is None else self.tiers[index].rates

    def is_open(self, on: date) -> bool:
        return self.opens_on <= on <= self.closes_on


DECISION_05_2023 = Campaign(
    code="05/2023",
    label="Remise suite à la décision ministérielle N° 05/2023 du 17/10/2023",
    opens_on=date(2023, 11, 7),
    closes_on=date(2025, 1, 15),
    last_eligible_period="202412",
    integral=Rates(Decimal("60.00"), Decimal("90.00")),
    tiers=(
        RateTier(24, Rates(Decimal("50.00"), Decimal("80.00"))),
        RateTier(None, Rates(Decimal("40.00"), Decimal("70.00"))),
    ),
    max_echeances=60,
)
