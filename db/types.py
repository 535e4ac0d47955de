"""Column types: exact Decimal amounts on PostgreSQL and on SQLite."""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Numeric
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")


class DecimalType(TypeDecorator):
    """NUMERIC(p, 2) that always gives and takes ``Decimal``, never float.

    PostgreSQL stores NUMERIC exactly. SQLite has no decimal storage: it keeps a REAL,
    and the shortest repr of that REAL is the 2-decimal value we wrote (exact for
    amounts below 10^13), so we read it back through ``repr`` and quantize.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 14):
        super().__init__(precision=precision, scale=2)
        self.precision = precision

    def load_dialect_impl(self, dialect):
        native = dialect.name != "sqlite"
        return dialect.type_descriptor(Numeric(self.precision, 2, asdecimal=native))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts are Decimal, never float")
        value = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
        return value if dialect.name != "sqlite" else str(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, Decimal):  # PostgreSQL's NUMERIC, exact already
            return value.quantize(CENT, rounding=ROUND_HALF_UP)
        text = repr(value) if isinstance(value, float) else str(value)
        return Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP)
