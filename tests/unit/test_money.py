"""Parsing and rounding of amounts."""

from decimal import ROUND_DOWN, Decimal

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from domain.money import AmountError, money_str, parse_amount, parse_csv_amount, q2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),  # half-even would give 0.02 too; 0.025 tells them apart
        ("0.025", "0.03"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("10", "10.00"),
    ],
)
def test_q2_rounds_half_up(value, expected):
    assert str(q2(Decimal(value))) == expected


def test_money_str_has_two_decimals_and_no_negative_zero():
    assert money_str(Decimal(50)) == "50.00"
    assert money_str(Decimal("-0.001")) == "0.00"
    assert money_str(Decimal("5756.855")) == "5756.86"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000", "5000.00"),
        ("5 000", "5000.00"),
        ("5 000,00", "5000.00"),
        ("5000.5", "5000.50"),
        ("5000,5", "5000.50"),
        (" 5 000 ", "5000.00"),
        ("5\u00a0000,00", "5000.00"),
        ("5\u202f000,00", "5000.00"),
        ("1 234 567,89", "1234567.89"),
        ("0", "0.00"),
        ("0,01", "0.01"),
        (",5", "0.50"),
        ("٥٠٠٠", "5000.00"),  # Arabic-Indic digits
        ("۵۰۰۰", "5000.00"),  # Eastern Arabic-Indic digits
        ("٥٠٠٠٫٥٠", "5000.50"),  # Arabic decimal separator
        ("999999999999,99", "999999999999.99"),
        # The Arabic pages' own format, accepted in both languages.
        ("5.000,00", "5000.00"),
        ("1.234.567,89", "1234567.89"),
        ("1.234.567", "1234567.00"),
        ("5 000.50", "5000.50"),
        ("5  000", "5000.00"),
        ("000000000000001", "1.00"),
    ],
)
def test_parse_amount_accepts(text, expected):
    assert str(parse_amount(text)) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u00a0", "empty"),
        ("NaN", "invalid"),
        ("nan", "invalid"),
        ("Infinity", "invalid"),
        ("-Infinity", "invalid"),
        ("1e3", "invalid"),
        ("+-5", "invalid"),
        ("+5", "invalid"),
        ("5.000.00", "invalid"),
        ("5 000.000,00", "invalid"),
        ("5.00,00", "invalid"),
        ("50 00", "invalid"),  # groups are of three digits
        ("5000 000", "invalid"),
        ("5.000", "ambiguous"),  # in French: five thousand, or five with 3 decimals?
        ("12.500", "ambiguous"),
        ("-5.000", "negative"),
        ("5,000.00", "invalid"),
        ("5000.", "invalid"),
        ("abc", "invalid"),
        ("-", "invalid"),
        ("- abc", "invalid"),
        ("5 000 MAD", "invalid"),
        ("５０００", "invalid"),  # fullwidth digits
        ("५०००", "invalid"),  # Devanagari digits
        ("0x10", "invalid"),
        ("1" * 65, "invalid"),
        ("-5000", "negative"),
        ("-5 000,00", "negative"),
        ("\u22125000", "negative"),
        ("5000,001", "too_many_decimals"),
        ("5,000", "too_many_decimals"),
        ("1000000000000", "too_large"),
    ],
)
def test_parse_amount_refuses(text, code):
    with pytest.raises(AmountError) as excinfo:
        parse_amount(text)
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.000", "5000.00"),  # what the Arabic pages write, grouped by a dot
        ("12.500", "12500.00"),
        ("5.000,00", "5000.00"),
        ("5 000,00", "5000.00"),
        ("5,5", "5.50"),
        ("5.5", "5.50"),
        ("5.50", "5.50"),
        ("٥٬٠٠٠٫٥٠", "5000.50"),  # Arabic thousands and decimal separators
    ],
)
def test_parse_amount_in_arabic(text, expected):
    assert str(parse_amount(text, locale="ar")) == expected


def test_parse_amount_in_arabic_still_refuses_three_decimals_after_a_comma():
    with pytest.raises(AmountError) as excinfo:
        parse_amount("5,000", locale="ar")
    assert excinfo.value.code == "too_many_decimals"


_AMOUNTS = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2)


@given(value=_AMOUNTS, locale=st.sampled_from(["fr", "ar"]))
def test_what_the_pages_write_parses_back(value, locale):
    # The pages' pattern (common.formatting) in both locales: what a user copies from
    # the page, or types as the page writes it, is the same amount.
    written = format_decimal(value, "#,##0.00", locale=f"{locale}_MA")
    assert parse_amount(written, locale=locale) == value


@given(value=_AMOUNTS, locale=st.sampled_from(["fr", "ar"]))
def test_integers_as_the_pages_group_them_parse_back(value, locale):
    # "5.000" in Arabic, "5 000" in French: no decimals typed.
    whole = value.to_integral_value(rounding=ROUND_DOWN)
    written = format_decimal(whole, "#,##0", locale=f"{locale}_MA")
    assert parse_amount(written, locale=locale) == whole


def test_parse_amount_max_digits():
    assert parse_amount("12345", max_digits=5) == Decimal("12345.00")
    with pytest.raises(AmountError) as excinfo:
        parse_amount("123456", max_digits=5)
    assert excinfo.value.code == "too_large"


def test_amount_error_is_a_value_error():
    assert issubclass(AmountError, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5000", "5000.00"), ("5000.5", "5000.50"), ("-12.34", "-12.34"), ("0", "0.00")],
)
def test_parse_csv_amount_accepts(text, expected):
    assert str(parse_csv_amount(text)) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "invalid"),
        ("5 000", "invalid"),
        ("5000,5", "invalid"),
        (" 5000", "invalid"),
        ("5000\n", "invalid"),
        ("5000.", "invalid"),
        ("+5", "invalid"),
        ("1e3", "invalid"),
        ("NaN", "invalid"),
        ("٥٠٠٠", "invalid"),
        ("5000.123", "too_many_decimals"),
    ],
)
def test_parse_csv_amount_refuses(text, code):
    with pytest.raises(AmountError) as excinfo:
        parse_csv_amount(text)
    assert excinfo.value.code == code
