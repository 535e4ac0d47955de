"""Remise simulation: amounts to pay and the instalment schedule."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.campaign import Campaign
from domain.creance import Totals
from domain.lifecycle import ACOMPTES, INTEGRAL
from domain.money import money_str, q2

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
DEBIT_DAY = 10

SIMULATION_ERROR_CODES = (
    "avance_negative",
    "avance_too_large",
    "avance_decimals",
    "echeances_range",
    "nothing_to_pay",
    "campaign_closed",
)


class SimulationError(ValueError):
    """A simulation input the rules refuse; `field` names the form field."""

    def __init__(
        self,
        code: str,
        field: str = "",
        message: str | None = None,
        *,
        montant_a_payer: Decimal | None = None,
    ) -> None:
        assert code in SIMULATION_ERROR_CODES, code
        super().__init__(message or code)
        self.code = code
        self.field = field
        # avance_too_large: the amount the avance must stay below, for the message.
        self.montant_a_payer = montant_a_payer


def add_months(d: date, k: int) -> date:
    """Same day k months later, clamped to the month's last day."""
    month_index = d.year * 12 + (d.month - 1) + k
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def next_debit_date(d: date) -> date:
    """The bank debits on the 10th of the month following `d`."""
    return add_months(d.replace(day=DEBIT_DAY), 1)


@dataclass(frozen=True)
class Echeance:
    """A due payment; rang 0 is the avance, 1..n the monthly instalments."""

    rang: int
    date: date
    montant: Decimal


@dataclass(frozen=True)
class Simulation:
    """Every figure shown to the affiliate; a confirmed request snapshots it."""

    modalite: str
    creance_totale: Decimal
    principal: Decimal
    penalites_frais: Decimal
    astreintes: Decimal
    taux_penalites: Decimal
    taux_astreintes: Decimal
    remise_penalites: Decimal
    remise_astreintes: Decimal
    remise: Decimal
    montant_a_payer: Decimal
    avance: Decimal
    nombre_echeances: int
    mensualite: Decimal
    derniere_mensualite: Decimal
    majorations_generees: Decimal
    echeances: tuple[Echeance, ...]
    # The day the dates count from: today for a simulation (its dates are indicative,
    # as if the request were validated today), the validation day for the bank's.
    starts_on: date

    @property
    def penalites_astreintes(self) -> Decimal:
        """The guide's "Majorations, astreintes, et frais de recouvrement" column."""
        return self.penalites_frais + self.astreintes

    @property
    def instalments(self) -> tuple[Echeance, ...]:
        """The monthly instalments, without the avance."""
        return tuple(e for e in self.echeances if e.rang >= 1)

    @property
    def date_premiere_echeance(self) -> date | None:
        instalments = self.instalments
        return instalments[0].date if instalments else None

    @property
    def date_derniere_echeance(self) -> date | None:
        instalments = self.instalments
        return instalments[-1].date if instalments else None

    def as_dict(self) -> dict[str, Any]:
        """JSON shape: amounts and rates as "0.00" strings, dates ISO."""
        return {
            "modalite": self.modalite,
            "creance_totale": money_str(self.creance_totale),
            "principal": money_str(self.principal),
            "penalites_frais": money_str(self.penalites_frais),
            "astreintes": money_str(self.astreintes),
            "taux_penalites": money_str(self.taux_penalites),
            "taux_astreintes": money_str(self.taux_astreintes),
            "remise": money_str(self.remise),
            "montant_a_payer": money_str(self.montant_a_payer),
            "avance": money_str(self.avance),
            "nombre_echeances": self.nombre_echeances,
            "mensualite": money_str(self.mensualite),
            "majorations_generees": money_str(self.majorations_generees),
            "echeances": [
                {
                    "rang": e.rang,
                    "date": e.date.isoformat(),
                    "montant": money_str(e.montant),
                }
                for e in self.echeances
            ],
        }


def check_open(campaign: Campaign, on: date) -> None:
    """Refuse a simulation or request outside the campaign's dates."""
    if not campaign.is_open(on):
        raise SimulationError("campaign_closed", field="")


def _check_avance(avance: Decimal, montant_a_payer: Decimal) -> Decimal:
    if isinstance(avance, bool) or not isinstance(avance, (Decimal, int)):
        raise TypeError("avance must be a Decimal")
    avance = Decimal(avance)
    # NaN and infinities are not amounts with two decimals either.
    if not avance.is_finite():
        raise SimulationError("avance_decimals", field="avance")
    if avance < 0:
        raise SimulationError("avance_negative", field="avance")
    if avance != q2(avance):
        raise SimulationError("avance_decimals", field="avance")
    # The avance must leave at least one centime for the instalments.
    if avance >= montant_a_payer:
        raise SimulationError("avance_too_large", field="avance", montant_a_payer=montant_a_payer)
    return q2(avance)


def _surcharge(
    principal: Decimal, avance: Decimal, montants: list[Decimal], rate: Decimal
) -> Decimal:
    """Majorations générées: rate × principal still due at each due date.

    Payments reduce the principal first, so the avance and each earlier
    instalment come off the principal before the surcharge is counted.
    """
    total = ZERO
    paid = avance
    for montant in montants:
        outstanding = max(ZERO, principal - paid)
        total += q2(rate * outstanding)
        paid += montant
    return total


def simulate(
    totals: Totals,
    campaign: Campaign,
    *,
    starts_on: date,
    nombre_echeances: int | None = None,
    avance: Decimal = Decimal(0),
) -> Simulation:
    """Compute the remise and, for a plan, its schedule (see docs/DOMAIN.md).

    The schedule is dated by the debits' own rule (``debit_schedule``) from ``starts_on``:
    for a simulation, today, so that its dates are those the bank would debit if the
    request were validated today — indicative, since validation comes later.
    nombre_echeances None means paiement intégral; the avance is then ignored.
    The campaign's dates are not checked here: callers use `check_open`.
    """
    integral = nombre_echeances is None
    if not integral and (
        isinstance(nombre_echeances, bool)
        or not isinstance(nombre_echeances, int)
        or not 1 <= nombre_echeances <= campaign.max_echeances
    ):
        raise SimulationError("echeances_range", field="nombre_echeances")

    principal = q2(totals.principal)
    penalites_frais = q2(totals.penalites_frais)
    astreintes = q2(totals.astreintes)
    rates = campaign.rates_for(nombre_echeances)
    # Each bucket is rounded once, so an affiliate can check it on a calculator.
    remise_penalites = q2(penalites_frais * rates.penalites / HUNDRED)
    remise_astreintes = q2(astreintes * rates.astreintes / HUNDRED)
    remise = remise_penalites + remise_astreintes
    creance_totale = principal + penalites_frais + astreintes
    montant_a_payer = creance_totale - remise
    if montant_a_payer <= 0:
        raise SimulationError("nothing_to_pay", field="")

    common = {
        "creance_totale": creance_totale,
        "principal": principal,
        "penalites_frais": penalites_frais,
        "astreintes": astreintes,
        "taux_penalites": q2(rates.penalites),
        "taux_astreintes": q2(rates.astreintes),
        "remise_penalites": remise_penalites,
        "remise_astreintes": remise_astreintes,
        "remise": remise,
        "montant_a_payer": montant_a_payer,
        "starts_on": starts_on,
    }
    if integral:
        return Simulation(
            modalite=INTEGRAL,
            avance=ZERO,
            nombre_echeances=0,
            mensualite=ZERO,
            derniere_mensualite=ZERO,
            majorations_generees=ZERO,
            echeances=(),
            **common,
        )

    n = nombre_echeances
    avance = _check_avance(avance, montant_a_payer)
    reste = montant_a_payer - avance
    # reste has 2 decimals and n ≤ a few hundred, so reste / n is never within
    # the context precision of a half-centime unless exactly on it: quantizing
    # the context-rounded quotient gives the true ROUND_HALF_UP result.
    mensualite = q2(reste / n)
    # The last instalment absorbs the rounding remainder so that the avance
    # plus every instalment is exactly the montant à payer. For tiny amounts
    # spread over many months this can leave it at zero or below: that is
    # still what the rule says, and the sum stays exact.
    derniere = reste - mensualite * (n - 1)
    montants = [mensualite] * (n - 1) + [derniere]
    assert avance + sum(montants, ZERO) == montant_a_payer

    echeances = debit_schedule(starts_on, avance, montants)
    majorations = _surcharge(principal, avance, montants, campaign.plan_surcharge_rate / HUNDRED)
    return Simulation(
        modalite=ACOMPTES,
        avance=avance,
        nombre_echeances=n,
        mensualite=mensualite,
        derniere_mensualite=derniere,
        majorations_generees=majorations,
        echeances=echeances,
        **common,
    )


def debit_schedule(starts_on: date, avance: Decimal, montants) -> tuple[Echeance, ...]:
    """The bank's rule for a plan's debits: the avance (if any) on the 10th of the month
    after ``starts_on``, then one instalment on each following 10th (instalments alone
    start on that first 10th). The one place a plan's dates are computed: the
    simulation's indicative dates and the definitive schedule both come from here."""
    first = next_debit_date(starts_on)
    schedule: list[Echeance] = []
    if avance > 0:
        schedule.append(Echeance(0, first, avance))
    offset = len(schedule)
    schedule.extend(
        Echeance(k, add_months(first, k - 1 + offset), montant)
        for k, montant in enumerate(montants, start=1)
    )
    return tuple(schedule)


def definitive_schedule(sim: Simulation, validated_on: date) -> tuple[Echeance, ...]:
    """Bank debit dates once validated: the 10th of each month from next month.

    For a plan the avance (if any) is debited first, then one instalment a month
    (``debit_schedule``); for full payment the whole montant à payer is debited once.
    """
    if sim.modalite == INTEGRAL:
        return (Echeance(1, next_debit_date(validated_on), sim.montant_a_payer),)
    return debit_schedule(validated_on, sim.avance, [e.montant for e in sim.instalments])
