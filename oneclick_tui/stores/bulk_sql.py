"""Bulk statements for the copy engine's writes, as SQL text and driver-ready values.

Why a module of its own: the same rows are written through SQLAlchemy's connection (the
async session path) and straight through a raw driver connection (the paper fan-out, one
thread hop or one round trip per statement, see `stores.fanout_driver`), and the two must
write byte-identical values. Nothing here performs I/O: every function returns
`(sql, params)` statements for its caller's connection.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from oneclick_tui.stores.types import _EXACT, _SQLITE_TS_FORMAT

Statement = tuple[str, Sequence[Any]]
"""SQL text in the dialect's paramstyle and its parameters."""
CopyKey = tuple[int, int, int]
"""(follower, trader, pair): the key of a running total in `copy_holdings`."""


class DriverValues:
    """Python values as the driver takes them, exactly as the column types would bind them.

    Why: the bulk writes go straight to the driver (`exec_driver_sql`); SQLAlchemy's
    per-value bind processing was most of the fan-out's cost at 10,000 followers. On SQLite
    decimals are scale-normalised TEXT and timestamps fixed-width ISO text (see
    `stores.types`); on PostgreSQL asyncpg takes Decimal and aware datetimes, and JSONB text.
    """

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        self._stamps: dict[datetime, Any] = {}
        self._texts: dict[Decimal, str] = {}
        """Equal decimals have one text: a fan-out repeats prices, sizes and fees a lot."""

    def dec(self, value: Decimal | None) -> Any:
        if value is None or not self.sqlite:
            return value
        found = self._texts.get(value)
        if found is None:
            found = (
                _ZERO_TEXT
                if value.is_zero()
                else format(value.quantize(_QUANTUM, rounding=ROUND_HALF_UP, context=_EXACT), "f")
            )
            self._texts[value] = found
        return found

    def ts(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        found = self._stamps.get(value)
        if found is None:
            found = self._stamps[value] = value.astimezone(UTC).strftime(_SQLITE_TS_FORMAT)
        return found

    @staticmethod
    def json(value: Any) -> str | None:
        return None if value is None else json.dumps(value)


_QUANTUM = Decimal("1e-18")  # Amount() and Price() columns: NUMERIC(38, 18)
_ZERO_TEXT = format(Decimal(0).quantize(_QUANTUM), "f")
TRADE_COLUMNS = (
    "kind",
    "user_id",
    "trader_id",
    "pair_id",
    "copy_of_trade_id",
    "trade_type",
    "amount",
    "price",
    "total_value",
    "fees_paid",
    "realized_pnl",
    "status",
    "skip_reason",
    "failure_reason",
    "tx_hash",
    "chain_version",
    "executed_at",
    "created_at",
)
TRADE_DECIMALS = frozenset({"amount", "price", "total_value", "fees_paid", "realized_pnl"})
AUDIT_COLUMNS = (
    "occurred_at",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "prev_hash",
    "row_hash",
)
POSITION_COLUMNS = (
    "user_id",
    "asset",
    "pair_id",
    "quantity",
    "average_cost",
    "realized_pnl",
    "current_value",
    "unrealized_pnl",
    "last_updated_at",
)


def marks(dialect: str, n: int, start: int = 1) -> str:
    if dialect == "sqlite":
        return ", ".join("?" * n)
    return ", ".join(f"${i}" for i in range(start, start + n))


# PostgreSQL array types for `unnest(...)` inserts: one statement for N rows, so the row
# count does not multiply round trips or statement-level trigger runs.
PG_TYPES = {
    "id": "bigint",
    "kind": "text",
    "user_id": "bigint",
    "trader_id": "bigint",
    "pair_id": "bigint",
    "copy_of_trade_id": "bigint",
    "trade_type": "text",
    "amount": "numeric",
    "price": "numeric",
    "total_value": "numeric",
    "fees_paid": "numeric",
    "realized_pnl": "numeric",
    "status": "text",
    "skip_reason": "text",
    "failure_reason": "text",
    "tx_hash": "text",
    "chain_version": "bigint",
    "executed_at": "timestamptz",
    "created_at": "timestamptz",
    "occurred_at": "timestamptz",
    "actor": "text",
    "action": "text",
    "entity_type": "text",
    "entity_id": "text",
    "before": "jsonb",
    "after": "jsonb",
    "prev_hash": "text",
    "row_hash": "text",
    "asset": "text",
    "quantity": "numeric",
    "average_cost": "numeric",
    "current_value": "numeric",
    "unrealized_pnl": "numeric",
    "last_updated_at": "timestamptz",
    "follower_id": "bigint",
    "base_built": "numeric",
    "updated_at": "timestamptz",
}


def unnest_select(columns: Sequence[str]) -> str:
    """`SELECT ... FROM unnest($1::t[], ...)`; jsonb travels as text and is cast per row."""
    arrays = ", ".join(
        f"${i}::{'text' if PG_TYPES[c] == 'jsonb' else PG_TYPES[c]}[]"
        for i, c in enumerate(columns, 1)
    )
    picks = ", ".join(f"u.{c}::jsonb" if PG_TYPES[c] == "jsonb" else f"u.{c}" for c in columns)
    return f"SELECT {picks} FROM unnest({arrays}) AS u({', '.join(columns)})"


SQLITE_ROWS_PER_INSERT = 1000
# SQLITE_MAX_VARIABLE_NUMBER: 32,766 since SQLite 3.32, 999 before
SQLITE_MAX_PARAMS = 32_000 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_statements(
    dialect: str,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    suffix: str = "",
) -> list[Statement]:
    """Insert rows: one unnest statement on PostgreSQL, multi-row VALUES on SQLite.

    SQLite: up to 1,000 rows per statement, not an executemany. Each statement on a table
    with triggers or foreign keys opens a statement journal, and one per row was over half
    of the insert's cost (10,000 copies: 340 -> 145 ms; positions 140 -> 60 ms).
    """
    if not rows:
        return []
    names = ", ".join(columns)
    if dialect == "postgresql":
        arrays = tuple(list(col) for col in zip(*rows, strict=True))
        return [(f"INSERT INTO {table} ({names}) {unnest_select(columns)} {suffix}", arrays)]
    per = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_PARAMS // len(columns)))
    one = f"({marks('sqlite', len(columns))})"
    out: list[Statement] = []
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))} {suffix}"
        out.append((sql, tuple(value for row in chunk for value in row)))
    return out


def combined(statements: Sequence[Statement], *, count_first: bool = False) -> Statement:
    """PostgreSQL: several writes as ONE statement (data-modifying CTEs), one round trip.

    They run on one snapshot, so none may depend on another's rows (a fan-out's copy rows,
    holdings, positions and audit rows do not); statement-level triggers fire once each, at
    its end. `count_first`: the statement returns how many rows the first one wrote.
    """
    parts: list[str] = []
    params: list[Any] = []
    for i, (sql, values) in enumerate(statements):
        returning = " RETURNING 1" if count_first and i == 0 else ""
        parts.append(f"w{i} AS ({_renumber(sql, len(params))}{returning})")
        params.extend(values)
    select = "SELECT count(*) FROM w0" if count_first else "SELECT 1"
    return f"WITH {', '.join(parts)} {select}", tuple(params)


_PARAM = re.compile(r"\$(\d+)")


def _renumber(sql: str, offset: int) -> str:
    """`$n` -> `$(n + offset)` (our statements carry no other `$`)."""
    return _PARAM.sub(lambda m: f"${int(m[1]) + offset}", sql)


_TRADE_TIMES = frozenset({"executed_at", "created_at"})
TRADE_CONFLICT = "ON CONFLICT (user_id, copy_of_trade_id, created_at) DO NOTHING"


def trade_statements(
    dialect: str, v: DriverValues, trades: Sequence[Mapping[str, Any]]
) -> list[Statement]:
    """Copy/skip rows (any that already exist are skipped: count the rows written).

    Rows that carry an `id` are written with it (a fan-out executed on paper at once)."""
    if not trades:
        return []
    columns = (("id",) if "id" in trades[0] else ()) + TRADE_COLUMNS
    # one conversion per column kind, looked up once, not per value
    convert = [
        v.dec if c in TRADE_DECIMALS else v.ts if c in _TRADE_TIMES else None for c in columns
    ]
    rows = []
    for t in trades:
        get = t.get
        rows.append(
            tuple(get(c) if f is None else f(get(c)) for c, f in zip(columns, convert, strict=True))
        )
    return insert_statements(dialect, "trades", columns, rows, TRADE_CONFLICT)


def audit_statements(
    dialect: str, v: DriverValues, audits: Sequence[Mapping[str, Any]]
) -> list[Statement]:
    """Audit rows (the chain hash, where there is one, is the database's job)."""
    rows = [
        (
            v.ts(a["occurred_at"]),
            a["actor"],
            a["action"],
            a["entity_type"],
            a.get("entity_id"),
            v.json(a.get("before")),
            v.json(a.get("after")),
            a.get("prev_hash"),
            a.get("row_hash"),
        )
        for a in audits
    ]
    return insert_statements(dialect, "audit_log", AUDIT_COLUMNS, rows)


@dataclass(slots=True)
class PositionState:
    """One (user, asset) holding as read, changed in memory, then upserted."""

    user_id: int
    asset: str
    pair_id: int | None
    quantity: Decimal
    average_cost: Decimal
    realized_pnl: Decimal
    current_value: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    changed: bool = False


def position_statements(
    dialect: str, v: DriverValues, positions: Iterable[PositionState], now: datetime
) -> list[Statement]:
    """Upsert every changed holding (one bulk insert ... on conflict update)."""
    at = v.ts(now)
    rows = [
        (
            p.user_id,
            p.asset,
            p.pair_id,
            v.dec(p.quantity),
            v.dec(p.average_cost),
            v.dec(p.realized_pnl),
            v.dec(p.current_value),
            v.dec(p.unrealized_pnl),
            at,
        )
        for p in positions
        if p.changed
    ]
    updates = ", ".join(f"{c} = excluded.{c}" for c in POSITION_COLUMNS[2:])
    conflict = f"ON CONFLICT (user_id, asset) DO UPDATE SET {updates}"
    return insert_statements(dialect, "positions", POSITION_COLUMNS, rows, conflict)


HOLDING_COLUMNS = ("follower_id", "trader_id", "pair_id", "base_built", "updated_at")


def holding_statements(
    dialect: str,
    v: DriverValues,
    deltas: Mapping[CopyKey, Decimal],
    now: datetime,
    *,
    totals: Mapping[CopyKey, Decimal] | None = None,
) -> list[Statement]:
    """Add completed copies to `copy_holdings`: one upsert that adds in the database
    (PostgreSQL: exact NUMERIC; SQLite, whose `+` on TEXT would be floating point: the
    exact `oneclick_dec_add` function `stores.db` registers on every connection).

    `totals`: the new totals, computed by a caller that read the old ones under SQLite's
    write lock in this transaction; they are written as they are (no function call per row:
    a Python function that competes with the signing thread for the GIL).
    """
    if totals is not None:
        conflict = (
            "ON CONFLICT (follower_id, trader_id, pair_id) DO UPDATE SET "
            "base_built = excluded.base_built, updated_at = excluded.updated_at"
        )
        at = v.ts(now)
        rows = [(f, t, p, v.dec(total), at) for (f, t, p), total in totals.items()]
        return insert_statements(dialect, "copy_holdings", HOLDING_COLUMNS, rows, conflict)
    total = (
        "oneclick_dec_add(copy_holdings.base_built, excluded.base_built)"
        if dialect == "sqlite"
        else "copy_holdings.base_built + excluded.base_built"
    )
    conflict = (
        "ON CONFLICT (follower_id, trader_id, pair_id) DO UPDATE SET "
        f"base_built = {total}, updated_at = excluded.updated_at"
    )
    at = v.ts(now)
    rows = [(f, t, p, v.dec(delta), at) for (f, t, p), delta in deltas.items()]
    return insert_statements(dialect, "copy_holdings", HOLDING_COLUMNS, rows, conflict)
