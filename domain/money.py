"""Amounts in MAD: parsing user and file input, rounding to the centime."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")

# Longer input is never a real amount; refusing it early bounds the work done
# on whatever a client posts.
MAX_INPUT_LENGTH = 64

AMOUNT_ERROR_CODES = (
    "empty",
    "invalid",
    "ambiguous",
    "negative",
    "too_many_decimals",
    "too_large",
)

# Arabic keyboards type Arabic-Indic (U+0660..) or Eastern Arabic-Indic
# (U+06F0..) digits, so an affiliate typing in Arabic must not be refused.
# Every other script (fullwidth, Devanagari, ...) is refused: nobody types
# them here, and amounts are always shown back in Latin digits.
_ARABIC_DIGITS = str.maketrans(
    {
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        # Arabic decimal and thousands separators, typed with those digits.
        "\u066b": ",",
        "\u066c": " ",
        # NBSP and narrow NBSP are what fr_MA formatting puts between groups,
        # so a figure copied from our own pages parses back.
        "\u00a0": " ",
        "\u202f": " ",
        # Typographic minus, so "−5" is reported as negative, not as garbage.
        "\u2212": "-",
    }
)

# The grammar of a typed amount, after `latin_digits` and trimming:
#
#   amount   := ["-"] integer [decimal]  |  ["-"] decimal
#   integer  := digits                                    5000
#             | d{1,3} (" " ddd)+                         5 000 000    (French pages)
#             | d{1,3} ("." ddd)+                         5.000.000    (Arabic pages)
#   decimal  := "," digits  |  "." digits                 ,50  .5
#
# One grouping separator per amount, always before groups of exactly three digits,
# and the decimal separator after them: "5.000,00" and "5 000,00" are five thousand,
# "5 000.50" five thousand and fifty centimes. The one ambiguous shape is a single dot
# before exactly three digits ("5.000"): five thousand as the Arabic pages write it,
# or five with three decimals. In Arabic it is five thousand (the page's own format);
# in French it is refused as ambiguous rather than guessed. Commas are never grouping
# separators (both languages write the decimal comma), so "5,000" has three decimals.
# ASCII classes only: `\d` would also match fullwidth and other digits.
_AMOUNT_RE = re.compile(
    r"(?P<minus>-\s*)?"
    r"(?P<int>[0-9]+|[0-9]{1,3}(?:(?P<sep>[ .])[0-9]{3})(?:(?P=sep)[0-9]{3})*)?"
    r"(?:(?P<point>[.,])(?P<dec>[0-9]+))?",
    re.ASCII,
)
# A single dot before three digits, nothing else: "5.000", "12.500", "-1.000".
_DOT_THOUSANDS_RE = re.compile(r"-?\s*[0-9]{1,3}\.[0-9]{3}", re.ASCII)
_CSV_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.(?P<dec>[0-9]+))?", re.ASCII)


class AmountError(ValueError):
    """An amount that cannot be accepted; `code` says why."""

    def __init__(self, code: str, message: str | None = None) -> None:
        assert code in AMOUNT_ERROR_CODES, code
        super().__init__(message or code)
        self.code = code


def q2(value: Decimal) -> Decimal:
    """Quantize to the centime, half up (never the default half-even)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(value: Decimal) -> str:
    """Plain "1234.50" text, for JSON and forms (display formatting is the view's)."""
    text = str(q2(value))
    # A zero computed from negative terms would otherwise print as "-0.00".
    return "0.00" if text == "-0.00" else text


def latin_digits(text: str) -> str:
    """What was typed, with Arabic-keyboard digits and separators in their Latin form."""
    return text.translate(_ARABIC_DIGITS)


def parse_amount(text: str, *, locale: str = "fr", max_digits: int = 12) -> Decimal:
    """Parse an amount typed by a person ("5 000,00", "5.000,00", "5000.5") into a
    Decimal, by the grammar above. ``locale`` ("fr" or "ar") is the page's language:
    it only decides "5.000" (five thousand in Arabic, ambiguous in French)."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise AmountError("invalid")
    # Spaces around the figure go; a run of spaces inside it is one separator.
    cleaned = re.sub(" +", " ", latin_digits(text).strip())
    if not cleaned:
        raise AmountError("empty")
    if _DOT_THOUSANDS_RE.fullmatch(cleaned):
        if cleaned.startswith("-"):
            raise AmountError("negative")
        if locale != "ar":
            raise AmountError("ambiguous")
        cleaned = cleaned.replace(".", "")
    match = _AMOUNT_RE.fullmatch(cleaned)
    if match is None or (match["int"] is None and match["dec"] is None):
        raise AmountError("invalid")
    if match["sep"] and match["point"] == match["sep"]:  # "5.000.00"
        raise AmountError("invalid")
    if match["minus"]:
        raise AmountError("negative")
    decimals = match["dec"] or ""
    if len(decimals) > 2:
        raise AmountError("too_many_decimals")
    integer = (match["int"] or "0").replace(match["sep"] or " ", "")
    if len(integer.lstrip("0")) > max_digits:
        raise AmountError("too_large")
    try:
        return q2(Decimal(f"{integer}.{decimals or '0'}"))
    except InvalidOperation as exc:  # beyond the Decimal context precision
        raise AmountError("too_large") from exc


def parse_csv_amount(text: str) -> Decimal:
    """Parse an amount of an import file: `-?digits(.d{1,2})?`, nothing else."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise AmountError("invalid")
    match = _CSV_AMOUNT_RE.fullmatch(text)
    if match is None:
        raise AmountError("invalid")
    if match["dec"] is not None and len(match["dec"]) > 2:
        raise AmountError("too_many_decimals")
    try:
        return q2(Decimal(text))
    except InvalidOperation as exc:  # beyond the Decimal context precision
        raise AmountError("invalid") from exc
