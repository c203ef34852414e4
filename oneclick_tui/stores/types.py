"""Column types that behave the same on PostgreSQL and SQLite.

SQLite has no exact decimal and no timezone-aware timestamp: its NUMERIC affinity turns
"0.1" into a float, and its DATETIME is naive text. So on SQLite money is stored as exact,
scale-normalised TEXT and timestamps as fixed-width UTC ISO text (which sorts and compares
correctly as text); on PostgreSQL they are NUMERIC(p, s) and timestamptz. Python always sees
`Decimal` and aware UTC `datetime`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, BigInteger, Dialect, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

# Integer surrogate keys: BIGINT on PostgreSQL; SQLite only autoincrements "INTEGER PRIMARY KEY".
IdType = BigInteger().with_variant(Integer(), "sqlite")

# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")

# Enough digits for any NUMERIC(38, s) value, so quantize never rounds what it keeps.
_EXACT = Context(prec=80)
_SQLITE_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


class AsNumber(ColumnElement[Any]):
    """A decimal column compared by value: CAST(... AS NUMERIC) on SQLite, itself elsewhere.

    SQLite holds decimals as text, and text ordering is wrong for numbers ("10" < "9").
    """

    inherit_cache = True
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]

    def __init__(self, clause: ColumnElement[Any]) -> None:
        self.clause = clause
        self.type = clause.type


@compiles(AsNumber)
def _as_number_default(element: AsNumber, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clause, **kw))


@compiles(AsNumber, "sqlite")
def _as_number_sqlite(element: AsNumber, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clause, **kw)} AS NUMERIC)"


# Operators whose meaning depends on numeric order (equality of normalised text is exact).
_ORDERING = {
    operators.lt,
    operators.le,
    operators.gt,
    operators.ge,
    operators.between_op,
    operators.asc_op,
    operators.desc_op,
}


class DecimalType(TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC(p, s) on PostgreSQL, scale-normalised TEXT on SQLite.

    Range comparisons and asc()/desc() compare by value on both backends; a bare
    ORDER BY on the column does not, so order with `.asc()` / `.desc()`.
    """

    impl = Numeric
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[Decimal]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in _ORDERING and not isinstance(self.expr, AsNumber):
                return op(AsNumber(self.expr), *other, **kwargs)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            if op in _ORDERING and not isinstance(self.expr, AsNumber):
                return op(other, AsNumber(self.expr), **kwargs)
            return super().reverse_operate(op, other, **kwargs)

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def normalise(self, value: Any) -> Decimal:
        """The value as this column will hold it, or ValueError/TypeError saying why not."""
        if isinstance(value, float):
            raise TypeError(f"float {value!r} is not accepted for a decimal column; use Decimal")
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise TypeError(f"expected Decimal, int or str, got {type(value).__name__}")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"decimal must be finite, got {value!r}")
        too_big = ValueError(f"{value} does not fit NUMERIC({self.precision},{self.scale})")
        if number.adjusted() >= self.precision - self.scale:
            raise too_big
        number = number.quantize(self._quantum, rounding=ROUND_HALF_UP, context=_EXACT)
        if number.adjusted() >= self.precision - self.scale:  # rounding carried a digit over
            raise too_big
        if number.is_zero():
            return Decimal(0).quantize(self._quantum, context=_EXACT)
        return number

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = self.normalise(value)
        return format(number, "f") if dialect.name == "sqlite" else number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):  # only if someone wrote a REAL behind our back
            value = repr(value)
        return Decimal(value)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC timestamps: timestamptz on PostgreSQL, fixed-width ISO text on SQLite."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} rejected: give it a timezone")
        value = value.astimezone(UTC)
        return value.strftime(_SQLITE_TS_FORMAT) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


def Amount() -> DecimalType:
    """Token quantities and quote-currency values: 20 integer digits, 18 decimals."""
    return DecimalType(38, 18)


def Price() -> DecimalType:
    """Prices and price-like ratios (fee rates, scores)."""
    return DecimalType(38, 18)


def Pct() -> DecimalType:
    """Percentages 0..100 (or signed returns) with four decimals."""
    return DecimalType(7, 4)


def Ratio() -> DecimalType:
    """Unbounded signed metrics (Sharpe, returns in percent) with eight decimals."""
    return DecimalType(20, 8)


def num(column: str) -> str:
    """SQL for a decimal column usable in CHECKs on both backends (TEXT on SQLite)."""
    return f"CAST({column} AS NUMERIC)"


def in_list(column: str, values: tuple[str, ...] | list[str]) -> str:
    """SQL `column IN ('a', 'b')` for enum-like text columns."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def between(column: str, low: str, high: str) -> str:
    """SQL that a decimal column lies in [low, high], portable across backends."""
    return f"{num(column)} >= {low} AND {num(column)} <= {high}"
