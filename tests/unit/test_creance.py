"""Consolidation of the créance lines into the guide's table."""

from decimal import Decimal

import pytest

from domain.creance import (
    NATURES,
    RUBRIQUE_LABELS,
    RUBRIQUES,
    CreanceLine,
    consolidate,
    consolidation_from_sums,
    is_valid_period,
)

D = Decimal

LINES = [
    CreanceLine("202301", "CSS", "principal", D("1000.10")),
    CreanceLine("202302", "CSS", "principal", D("500.00")),
    CreanceLine("202302", "AMO", "principal", D("200.00")),
    CreanceLine("202302", "CSS", "majorations", D("120.55")),
    CreanceLine("202303", "TFP", "frais", D("30.00")),
    CreanceLine("202304", "AST_BDS", "majorations", D("75.00")),
    CreanceLine("202305", "AST_TDTP", "principal", D("25.00")),
    # Current debt after the campaign's last eligible period: left out.
    CreanceLine("202501", "CSS", "principal", D("9999.99")),
]


def test_guide_order_and_labels():
    assert RUBRIQUES == ("CSS", "AMO", "TFP", "AF", "AST_BDS", "AST_TDTP")
    assert list(RUBRIQUE_LABELS) == list(RUBRIQUES)
    assert NATURES == ("principal", "majorations", "frais")


@pytest.mark.parametrize(
    ("period", "valid"),
    [
        ("202412", True),
        ("190001", True),
        ("299912", True),
        ("202413", False),
        ("202400", False),
        ("189912", False),
        ("300001", False),
        ("20241", False),
        ("2024-12", False),
        ("２０２４１２", False),
        (None, False),
    ],
)
def test_is_valid_period(period, valid):
    assert is_valid_period(period) is valid


def test_consolidate_sums_cells_and_excludes_later_periods():
    c = consolidate(LINES, "202412")
    assert c.cell("principal", "CSS") == D("1500.10")
    assert c.cell("majorations", "CSS") == D("120.55")
    assert c.cell("frais", "AF") == D("0.00")
    assert c.row_total("principal") == D("1725.10")
    assert c.column_total("CSS") == D("1620.65")
    assert c.total == D("1950.65")
    assert (c.periode_debut, c.periode_fin) == ("202301", "202305")
    assert len(c.cells) == 18
    assert not c.is_empty


def test_astreinte_rubriques_are_astreintes_whatever_the_nature():
    totals = consolidate(LINES, "202412").totals
    assert totals.principal == D("1700.10")
    assert totals.penalites_frais == D("150.55")
    assert totals.astreintes == D("100.00")
    assert totals.creance_totale == D("1950.65")


def test_consolidate_with_no_eligible_line_is_empty():
    c = consolidate([LINES[-1]], "202412")
    assert c.is_empty
    assert c.periode_debut is None and c.periode_fin is None
    assert c.total == D("0.00")


def test_consolidation_from_sums_matches_consolidate():
    sums = {
        ("principal", "CSS"): D("1500.10"),
        ("principal", "AMO"): D("200"),
        ("majorations", "CSS"): D("120.55"),
        ("frais", "TFP"): D("30"),
        ("majorations", "AST_BDS"): D("75"),
        ("principal", "AST_TDTP"): D("25"),
    }
    assert consolidation_from_sums(sums, "202301", "202305") == consolidate(LINES, "202412")


@pytest.mark.parametrize(
    "line",
    [
        CreanceLine("202301", "XYZ", "principal", D("1")),
        CreanceLine("202301", "CSS", "interets", D("1")),
        CreanceLine("202313", "CSS", "principal", D("1")),
    ],
)
def test_consolidate_refuses_unknown_codes(line):
    with pytest.raises(ValueError):
        consolidate([line], "202412")


def test_cells_cannot_be_modified():
    c = consolidate(LINES, "202412")
    with pytest.raises(TypeError):
        c.cells[("principal", "CSS")] = D("0")  # type: ignore[index]
