"""The créance: its lines and the guide's consolidated table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from domain.money import q2

RUBRIQUES = ("CSS", "AMO", "TFP", "AF", "AST_BDS", "AST_TDTP")
RUBRIQUE_LABELS = {
    "CSS": "Cotisations Sécurité Sociale",
    "AMO": "Assurance Maladie",
    "TFP": "Taxe Formation Professionnelle",
    "AF": "AF à Reverser",
    "AST_BDS": "Astreintes BDS RG/AMO",
    "AST_TDTP": "Astreintes DAMANCOM TD/TP",
}
ASTREINTE_RUBRIQUES = frozenset({"AST_BDS", "AST_TDTP"})

NATURES = ("principal", "majorations", "frais")
NATURE_LABELS = {
    "principal": "Principal",
    "majorations": "Majorations de retard et astreintes",
    "frais": "Frais de recouvrement",
}

ZERO = Decimal("0.00")

_PERIOD_RE = re.compile(r"[0-9]{6}", re.ASCII)


def is_valid_period(p: str) -> bool:
    """True for a YYYYMM period, month 01-12, year 1900-2999."""
    if not isinstance(p, str) or not _PERIOD_RE.fullmatch(p):
        return False
    return 1900 <= int(p[:4]) <= 2999 and 1 <= int(p[4:]) <= 12


@dataclass(frozen=True)
class CreanceLine:
    """One line of the créance: a period, a rubrique, a nature and its amount."""

    periode: str
    rubrique: str
    nature: str
    montant: Decimal


@dataclass(frozen=True)
class Totals:
    """The three buckets the remise rates apply to."""

    principal: Decimal
    penalites_frais: Decimal
    astreintes: Decimal

    @property
    def creance_totale(self) -> Decimal:
        return self.principal + self.penalites_frais + self.astreintes


def _check_cell_key(nature: str, rubrique: str) -> None:
    if nature not in NATURE_LABELS:
        raise ValueError(f"unknown nature {nature!r}")
    if rubrique not in RUBRIQUE_LABELS:
        raise ValueError(f"unknown rubrique {rubrique!r}")


@dataclass(frozen=True)
class Consolidation:
    """The créance consolidée: natures × rubriques, as in the guide's table."""

    cells: Mapping[tuple[str, str], Decimal]
    periode_debut: str | None
    periode_fin: str | None

    def cell(self, nature: str, rubrique: str) -> Decimal:
        _check_cell_key(nature, rubrique)
        return self.cells[(nature, rubrique)]

    def row_total(self, nature: str) -> Decimal:
        """The row's *Total général* column."""
        return sum((self.cell(nature, r) for r in RUBRIQUES), ZERO)

    def column_total(self, rubrique: str) -> Decimal:
        """The column's *Total créance* row (the three natures)."""
        return sum((self.cell(n, rubrique) for n in NATURES), ZERO)

    @property
    def total(self) -> Decimal:
        """Total créance général."""
        return sum(self.cells.values(), ZERO)

    @property
    def totals(self) -> Totals:
        principal = penalites_frais = astreintes = ZERO
        for (nature, rubrique), amount in self.cells.items():
            # An astreinte rubrique counts as astreinte whatever its nature.
            if rubrique in ASTREINTE_RUBRIQUES:
                astreintes += amount
            elif nature == "principal":
                principal += amount
            else:
                penalites_frais += amount
        return Totals(principal, penalites_frais, astreintes)

    @property
    def is_empty(self) -> bool:
        return all(amount == 0 for amount in self.cells.values())


def _freeze(
    sums: Mapping[tuple[str, str], Decimal],
) -> Mapping[tuple[str, str], Decimal]:
    cells = {(n, r): q2(sums.get((n, r), ZERO)) for n in NATURES for r in RUBRIQUES}
    return MappingProxyType(cells)


def consolidation_from_sums(
    sums: Mapping[tuple[str, str], Decimal],
    periode_debut: str | None,
    periode_fin: str | None,
) -> Consolidation:
    """Build the table from sums keyed (nature, rubrique), e.g. a SQL GROUP BY."""
    for nature, rubrique in sums:
        _check_cell_key(nature, rubrique)
    return Consolidation(_freeze(sums), periode_debut, periode_fin)


def consolidate(lines: Iterable[CreanceLine], last_eligible_period: str) -> Consolidation:
    """Sum the eligible lines (period ≤ last_eligible_period) into the table."""
    if not is_valid_period(last_eligible_period):
        raise ValueError(f"invalid period {last_eligible_period!r}")
    sums: dict[tuple[str, str], Decimal] = {}
    debut: str | None = None
    fin: str | None = None
    for line in lines:
        if not is_valid_period(line.periode):
            raise ValueError(f"invalid period {line.periode!r}")
        _check_cell_key(line.nature, line.rubrique)
        # Later periods are ordinary current debt, outside the remise.
        # YYYYMM strings compare in time order.
        if line.periode > last_eligible_period:
            continue
        key = (line.nature, line.rubrique)
        sums[key] = sums.get(key, ZERO) + line.montant
        if debut is None or line.periode < debut:
            debut = line.periode
        if fin is None or line.periode > fin:
            fin = line.periode
    return Consolidation(_freeze(sums), debut, fin)
