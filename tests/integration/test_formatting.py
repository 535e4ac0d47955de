"""Amounts and dates as the pages print them, in both languages (common/formatting.py)."""

from datetime import date
from decimal import Decimal

import pytest

from common import formatting


@pytest.mark.parametrize(
    "lang, value, printed",
    [
        ("fr", "27707.49", "27\u202f707,49"),
        ("ar", "27707.49", "\u206627.707,49\u2069"),
        ("fr", "0.00", "0,00"),
        ("fr", "-0.00", "-0,00"),
        ("fr", "1.5", "1,50"),
        ("fr", "1234567.89", "1\u202f234\u202f567,89"),
        # A third decimal is rounded half-up, as money is everywhere (Babel: half-even).
        ("fr", "0.125", "0,13"),
        ("fr", "2.675", "2,68"),
        ("fr", "-0.125", "-0,13"),
    ],
)
def test_amounts_in_each_language(app, lang, value, printed):
    with app.test_request_context("/", headers={"Accept-Language": lang}):
        assert formatting.amount(Decimal(value)) == printed
        assert formatting.amount(Decimal(value)) == printed  # the kept one, the same


@pytest.mark.parametrize(
    "lang, value, printed",
    [("fr", 10_000, "10\u202f000"), ("ar", 10_000, "10.000"), ("fr", 890, "890"), ("fr", 0, "0")],
)
def test_counts_of_rows_in_each_language(app, lang, value, printed):
    with app.test_request_context("/", headers={"Accept-Language": lang}):
        assert formatting.number(value) == printed


def test_the_same_amount_follows_the_language_of_each_request(app):
    value = Decimal("5756.86")
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert formatting.amount(value) == "5\u202f756,86"
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "ar"}):
        # Isolated, so that a figure in a right-to-left cell reads left to right.
        assert formatting.amount(value) == "\u20665.756,86\u2069"
        assert formatting.mad(value) == "\u20665.756,86\u00a0MAD\u2069"
        assert formatting.day(date(2023, 12, 8)) == "08/12/2023"
