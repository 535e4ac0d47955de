"""How amounts, rates and dates are written: on the pages (Babel, fr_MA / ar_MA), and in
the plain text the audit trail stores and the commands print.

There is one amount formatter (``_amount``: Babel's pattern, rounded half-up) and one day
format (the guide's dd/mm/yyyy, Latin digits in both languages). Pages group thousands
with a narrow no-break space; plain text, read in terminals and stored in the audit
trail, groups them with an ordinary space ("5 756,86 MAD").
"""

from datetime import date
from decimal import Decimal
from functools import cache, lru_cache

from babel.core import Locale
from babel.numbers import parse_pattern as parse_number_pattern
from flask import g, has_request_context
from flask_babel import get_locale

from domain.money import q2

# Moroccan administration writes Latin digits in both languages.
_BABEL_LOCALES = {"fr": "fr_MA", "ar": "ar_MA"}


def once_per_request(name: str, compute):
    """``compute()``, kept on ``g`` for the rest of the request (outside one, every time)."""
    if not has_request_context():
        return compute()
    value = g.get(name)
    if value is None:
        value = compute()
        setattr(g, name, value)
    return value


def babel_locale() -> str:
    """fr_MA or ar_MA, found once per request (a 60-instalment table asks 120 times)."""
    return once_per_request(
        "_babel_locale", lambda: _BABEL_LOCALES.get(str(get_locale() or "fr"), "fr_MA")
    )


# A 60-instalment panel formats some 200 figures: parse the pattern and locales once.
_AMOUNT = parse_number_pattern("#,##0.00")
_PLAIN_LOCALE = "fr_MA"


@cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def amount(value: Decimal | None) -> str:
    """27707.49 -> '27 707,49' (fr_MA) or '27.707,49' (ar_MA, isolated left to right)."""
    return _isolate(_page_amount(value)) if value is not None else ""


def _page_amount(value: Decimal) -> str:
    return _amount(value, value.is_signed(), babel_locale())


@lru_cache(maxsize=4096)
def _amount(value: Decimal, signed: bool, locale: str) -> str:
    # A slider move shows the same créance, remise and totals again: most amounts repeat.
    # Equal Decimals (1.5, 1.50) print the same with two fixed decimals; 0 and -0 are
    # equal too but do not print the same, hence the sign in the key. Babel would round a
    # third decimal half-even: the rule for money here is half-up, said explicitly.
    return _AMOUNT.apply(q2(value), _locale(locale))


_COUNT = parse_number_pattern("#,##0")


def number(value: int) -> str:
    """10000 -> '10 000' (fr_MA) or '10.000' (ar_MA): a count of rows, grouped as amounts."""
    return _COUNT.apply(value, _locale(babel_locale()))


def _isolate(text: str) -> str:
    """In Arabic, keep "27.707,49 MAD" in reading order inside right-to-left text."""
    return f"\u2066{text}\u2069" if babel_locale() == "ar_MA" else text


def mad(value: Decimal | None) -> str:
    """An amount followed by the currency code, as the guide writes it."""
    return _isolate(f"{_page_amount(value)}\u00a0MAD") if value is not None else ""


def percent(value: Decimal | None) -> str:
    """ "50,00 %"; in Arabic the figure isolated left to right, then the sign, so that
    a right-to-left reader meets the number first and the sign after it."""
    if value is None:
        return ""
    return f"{_isolate(_page_amount(value))}\u00a0%"


def day(value: date | None) -> str:
    """08/11/2023, the guide's date format, in both languages (and in plain text)."""
    return value.strftime("%d/%m/%Y") if value else ""


def plain_mad(value: Decimal) -> str:
    """ "5 756,86 MAD" in French, whatever the page's language: the audit trail's text,
    the commands' output."""
    return _amount(value, value.is_signed(), _PLAIN_LOCALE).replace("\u202f", " ") + " MAD"


def register(app) -> None:
    from common.clock import today
    from common.picture import picture_of

    app.jinja_env.globals["picture_of"] = picture_of
    app.jinja_env.globals["current_day"] = today
    app.add_template_filter(amount, "amount")
    app.add_template_filter(number, "number")
    app.add_template_filter(mad, "mad")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(day, "day")
