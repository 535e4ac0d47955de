"""View-layer formatting of amounts, rates and dates, through Babel for fr_MA / ar_MA."""

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal
from flask_babel import get_locale

# Moroccan administration writes Latin digits in both languages.
_BABEL_LOCALES = {"fr": "fr_MA", "ar": "ar_MA"}


def babel_locale() -> str:
    return _BABEL_LOCALES.get(str(get_locale() or "fr"), "fr_MA")


def amount(value: Decimal | None) -> str:
    """27707.49 -> '27 707,49' (fr_MA) or '27.707,49' (ar_MA)."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0.00", locale=babel_locale())


def _isolate(text: str) -> str:
    """In Arabic, keep "27.707,49 MAD" in reading order inside right-to-left text."""
    return f"\u2066{text}\u2069" if babel_locale() == "ar_MA" else text


def mad(value: Decimal | None) -> str:
    """An amount followed by the currency code, as the guide writes it."""
    return _isolate(f"{amount(value)}\u00a0MAD") if value is not None else ""


def percent(value: Decimal | None) -> str:
    return _isolate(f"{amount(value)}\u00a0%") if value is not None else ""


def day(value: date | None) -> str:
    """08/11/2023, the guide's date format, in both languages."""
    return format_date(value, "dd/MM/yyyy", locale=babel_locale()) if value else ""


def register(app) -> None:
    app.add_template_filter(amount, "amount")
    app.add_template_filter(mad, "mad")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(day, "day")
