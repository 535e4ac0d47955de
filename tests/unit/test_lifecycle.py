"""Request statuses and the 30-day guarantee deadline."""

from datetime import date
from decimal import Decimal

import pytest

from domain import lifecycle as lc

CONFIRMED = date(2023, 11, 8)


def test_initial_status():
    assert lc.initial_status("integral") == lc.ACCEPTEE
    assert lc.initial_status("acomptes") == lc.EN_ATTENTE
    with pytest.raises(ValueError):
        lc.initial_status("autre")


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (lc.EN_ATTENTE, lc.VALIDEE),
        (lc.EN_ATTENTE, lc.EXPIREE),
        (lc.ACCEPTEE, lc.SOLDEE),
        (lc.ACCEPTEE, lc.ANNULEE),
        (lc.VALIDEE, lc.SOLDEE),
        (lc.VALIDEE, lc.ANNULEE),
    ],
)
def test_allowed_transitions(frm, to):
    lc.check_transition(frm, to)


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (lc.EN_ATTENTE, lc.SOLDEE),
        (lc.EXPIREE, lc.VALIDEE),
        (lc.SOLDEE, lc.ANNULEE),
        (lc.ANNULEE, lc.VALIDEE),
        (lc.VALIDEE, lc.EN_ATTENTE),
        ("inconnu", lc.VALIDEE),
    ],
)
def test_refused_transitions(frm, to):
    with pytest.raises(lc.TransitionError):
        lc.check_transition(frm, to)


def test_in_progress_statuses_block_a_new_request():
    assert lc.IN_PROGRESS == {lc.ACCEPTEE, lc.EN_ATTENTE, lc.VALIDEE}


def test_guarantee_deadline_day_30_vs_31():
    assert lc.guarantee_deadline(CONFIRMED) == date(2023, 12, 8)
    day30 = date(2023, 12, 8)
    day31 = date(2023, 12, 9)
    assert lc.effective_status(lc.EN_ATTENTE, CONFIRMED, day30) == lc.EN_ATTENTE
    assert lc.effective_status(lc.EN_ATTENTE, CONFIRMED, day31) == lc.EXPIREE
    # Only a request waiting for guarantees expires.
    assert lc.effective_status(lc.VALIDEE, CONFIRMED, day31) == lc.VALIDEE


def test_days_left():
    assert lc.days_left(CONFIRMED, CONFIRMED) == 30
    assert lc.days_left(CONFIRMED, date(2023, 12, 8)) == 0
    assert lc.days_left(CONFIRMED, date(2024, 1, 1)) == 0


def test_reinstated_amounts():
    assert lc.reinstated_amounts(Decimal("5756.86"), Decimal("139.12")) == Decimal("5895.98")
