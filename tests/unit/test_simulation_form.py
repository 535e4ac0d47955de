"""The simulation form's reading of the instalment count, shared by the affiliate's
journey and the agent's preview."""

from decimal import Decimal

import pytest

from blueprints.simulation_form import read_avance, read_echeances
from domain.campaign import DECISION_05_2023
from domain.creance import Totals
from domain.simulation import SimulationError, simulate

RANGE = "Le nombre d'échéances doit être compris entre 1 et 60."
NOT_INTEGER = "Le nombre d'échéances doit être un nombre entier compris entre 1 et 60."


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"nombre_echeances": "12"}, (12, None)),
        ({"nombre_echeances": "١٢"}, (12, None)),  # typed on an Arabic keyboard
        ({"nombre_echeances": "6", "curseur": "30"}, (30, None)),  # the slider moved
        ({"nombre_echeances": "9", "curseur": "6"}, (9, None)),  # the number was typed
        ({"nombre_echeances": "6", "action": "plus"}, (7, None)),
        ({"nombre_echeances": "1", "action": "moins"}, (1, None)),
        ({"nombre_echeances": "60", "action": "plus"}, (60, None)),
        ({"nombre_echeances": "61"}, (6, RANGE)),
        ({"nombre_echeances": "0"}, (6, RANGE)),
        ({"nombre_echeances": "douze"}, (6, NOT_INTEGER)),
        ({"nombre_echeances": "-3"}, (6, NOT_INTEGER)),
    ],
)
def test_the_count_is_read_from_the_field_the_user_changed(form, expected):
    assert read_echeances(form, 6, 60) == expected


def test_an_empty_avance_is_zero_and_a_bad_one_says_why():
    assert read_avance("  ") == (Decimal("0.00"), None)
    assert read_avance("5 000,50") == (Decimal("5000.50"), None)
    assert read_avance("12,345") == (
        None,
        "Le montant de l'avance ne peut pas avoir plus de 2 décimales.",
    )


def test_a_too_large_avance_carries_the_amount_to_pay():
    totals = Totals(Decimal("16193.77"), Decimal("11513.72"), Decimal("0"))
    with pytest.raises(SimulationError) as refused:
        simulate(
            totals,
            DECISION_05_2023,
            starts_on=DECISION_05_2023.opens_on,
            nombre_echeances=2,
            avance=Decimal("21950.63"),
        )
    assert refused.value.code == "avance_too_large"
    assert refused.value.montant_a_payer == Decimal("21950.63")
