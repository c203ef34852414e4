"""The copy engine's reads and batch writes, in Core (no per-row ORM objects).

One lead trade is one transaction: its row, every follower's copy-or-skip row and their audit
rows are written together (one multi-row statement each), so a crash leaves either all of
them or none. The (user_id, copy_of_trade_id) unique key makes a replayed lead trade
harmless. Why Core: with 10,000 followers the ORM's identity map and unit of work cost more
than signing every copy. Bulk writes are ONE statement for N rows on PostgreSQL
(`INSERT ... SELECT FROM unnest(...)`: one round trip, and one run of a statement-level
trigger) and multi-row VALUES statements of up to 1,000 rows on SQLite.
Follower sets are selected by joining the trader's follows, never as a 10,000-id IN list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from oneclick_tui.domain.market_events import LeadTrade
from oneclick_tui.stores.bulk_sql import (  # PositionState: re-exported for callers
    POSITION_COLUMNS,
    TRADE_DECIMALS,
    CopyKey,
    DriverValues,
    PositionState,
    Statement,
    audit_statements,
    holding_statements,
    marks,
    position_statements,
    trade_statements,
)
from oneclick_tui.stores.models import (
    FollowRelationship,
    Position,
    Trade,
    UserPreferences,
)

LIVE_COPY_STATUSES = ("pending", "submitted", "completed")
EXECUTABLE_KINDS = ("copy", "stop_loss", "manual")
_ZERO = Decimal(0)
_T = Trade.__table__
_P = Position.__table__
_F = FollowRelationship.__table__
FINISH_COLUMNS = (
    "status",
    "amount",
    "price",
    "total_value",
    "fees_paid",
    "realized_pnl",
    "tx_hash",
    "chain_version",
    "executed_at",
    "failure_reason",
)


@dataclass(frozen=True, slots=True)
class FollowRow:
    """A live follow joined with the follower's preferences."""

    follow_id: int
    follower_id: int
    status: str
    auto_copy: bool
    copy_pct: Decimal
    sizing_mode: str
    fixed_quote_amount: Decimal | None
    copy_side: str
    max_trade_amount: Decimal | None
    daily_limit: Decimal | None
    risk_tolerance: str
    allowed_assets: tuple[str, ...] | None
    max_slippage_pct: Decimal


@dataclass(frozen=True, slots=True)
class PendingCopy:
    """A recorded copy (or stop-loss) waiting to be executed."""

    id: int
    kind: str
    user_id: int
    pair_id: int
    side: str
    amount: Decimal
    price: Decimal | None
    total_value: Decimal | None
    created_at: datetime
    max_slippage_pct: Decimal | None


def _insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT (both have ON CONFLICT)."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


async def record_lead_trade(
    session: AsyncSession, lead: LeadTrade, trader_id: int, pair_id: int
) -> int:
    """Insert the lead trade once (keyed by its transaction hash) and return its id."""
    return (await record_lead(session, lead, trader_id, pair_id))[0]


async def record_lead(
    session: AsyncSession, lead: LeadTrade, trader_id: int, pair_id: int
) -> tuple[int, bool]:
    """`record_lead_trade`, also saying whether this call inserted the row."""
    dialect = _dialect(session)
    connection = await session.connection()
    sql, params = record_lead_sql(dialect, DriverValues(dialect), lead, trader_id, pair_id)
    found = (await connection.exec_driver_sql(sql, params)).first()
    if found is not None:
        return int(found[0]), True
    sql, params = lead_id_sql(dialect, lead.tx_hash)
    existing = (await connection.exec_driver_sql(sql, params)).first()
    if existing is None:  # the insert conflicted, so the row exists: only a race deletes it
        raise LookupError(f"lead trade {lead.tx_hash} neither inserted nor found")
    return int(existing[0]), False


@dataclass(frozen=True, slots=True)
class FanOutState:
    """Everything a fan-out reads about its followers, from ONE query."""

    follows: list[FollowRow]
    """Live follows of the trader with no record for this lead yet, by follower id."""
    held: dict[tuple[int, str], PositionState]
    """Their holdings of the pair's base and quote asset."""
    built: dict[int, Decimal]
    """What each built by copying this trader on this pair (`copy_holdings`)."""


_POSITION_FIELDS = POSITION_COLUMNS[2:8]
"""pair_id, quantity, average_cost, realized_pnl, current_value, unrealized_pnl"""


def fan_out_state_sql(
    dialect: str,
    trader_id: int,
    lead_trade_id: int,
    pair_id: int,
    base: str,
    quote: str,
    *,
    with_ids: bool = False,
) -> Statement:
    """The follows to decide with their preferences, holdings and running totals: ONE
    statement through the driver, read by `parse_fan_out_state`.

    `with_ids` (PostgreSQL): each row also carries a fresh `trades.id` from the sequence, as
    its last column, for the record its follower gets (one round trip less than asking).

    Why one: on SQLite every statement through the async session is a few thread hops
    (~0.5 ms each here), which was most of a one-follower fan-out; at 10,000 followers it
    also skips SQLAlchemy's per-value result processing.
    """
    pos = ", ".join(f"{alias}.{c}" for alias in ("q", "b") for c in _POSITION_FIELDS)
    if dialect == "sqlite":
        marks = {"trader": "?", "lead": "?", "pair": "?", "base": "?", "quote": "?"}
        params: tuple[Any, ...] = (quote, base, pair_id, trader_id, lead_trade_id)
    else:
        marks = {"trader": "$1", "lead": "$2", "pair": "$3", "base": "$4", "quote": "$5"}
        params = (trader_id, lead_trade_id, pair_id, base, quote)
    sql = (
        "SELECT f.id, f.follower_id, f.status, f.auto_copy_enabled, f.copy_percentage, "
        "f.sizing_mode, f.fixed_quote_amount, f.copy_side, p.max_trade_amount, "
        "p.daily_trading_limit, p.risk_tolerance, p.allowed_assets, p.max_slippage_pct, "
        f"{pos}, h.base_built{_NEXT_ID if with_ids and dialect == 'postgresql' else ''} "
        "FROM follow_relationships f JOIN user_preferences p ON p.user_id = f.follower_id "
        f"LEFT JOIN positions q ON q.user_id = f.follower_id AND q.asset = {marks['quote']} "
        f"LEFT JOIN positions b ON b.user_id = f.follower_id AND b.asset = {marks['base']} "
        "LEFT JOIN copy_holdings h ON h.follower_id = f.follower_id "
        f"AND h.trader_id = f.trader_id AND h.pair_id = {marks['pair']} "
        f"WHERE f.trader_id = {marks['trader']} AND f.status <> 'ended' AND NOT EXISTS "
        "(SELECT 1 FROM trades t WHERE t.user_id = f.follower_id "
        f"AND t.copy_of_trade_id = {marks['lead']}) "
        "ORDER BY f.follower_id"
    )
    return sql, params


_NEXT_ID = ", nextval(pg_get_serial_sequence('trades', 'id'))"


def parse_fan_out_state(
    dialect: str, rows: Iterable[Sequence[Any]], base: str, quote: str
) -> FanOutState:
    """`FanOutState` from the rows of `fan_out_state_sql`."""
    dec, opt = (_decimal, _optional_decimal) if dialect == "sqlite" else (_same, _same)
    state = FanOutState([], {}, {})
    for r in rows:
        user = r[1]
        assets = r[11] if not isinstance(r[11], str) else json.loads(r[11])
        state.follows.append(
            FollowRow(
                r[0], user, r[2], bool(r[3]), dec(r[4]), r[5], opt(r[6]), r[7], opt(r[8]),
                opt(r[9]), r[10], tuple(assets) if assets is not None else None, dec(r[12]),
            )
        )  # fmt: skip
        for offset, asset in ((13, quote), (19, base)):
            if r[offset + 1] is not None:  # quantity: the position exists
                state.held[(user, asset)] = PositionState(
                    user, asset, r[offset], dec(r[offset + 1]), dec(r[offset + 2]),
                    dec(r[offset + 3]), opt(r[offset + 4]), opt(r[offset + 5]),
                )  # fmt: skip
        if r[25] is not None:
            state.built[user] = dec(r[25])
    return state


async def fan_out_state(
    session: AsyncSession, trader_id: int, lead_trade_id: int, pair_id: int, base: str, quote: str
) -> FanOutState:
    """The follows to decide with their preferences, holdings and running totals."""
    dialect = _dialect(session)
    sql, params = fan_out_state_sql(dialect, trader_id, lead_trade_id, pair_id, base, quote)
    connection = await session.connection()
    rows = (await connection.exec_driver_sql(sql, params)).all()
    return parse_fan_out_state(dialect, rows, base, quote)


def traded_today_sql(dialect: str, v: DriverValues, trader_id: int, since: datetime) -> Statement:
    """Quote notional of live buys since `since` (pending ones count), per follower of
    `trader_id` who has a daily limit: the daily-limit reads of a fan-out, in one statement
    whatever the number of followers (summed by `sum_per_user`)."""
    m = ("?", "?") if dialect == "sqlite" else ("$1", "$2")
    sql = (
        "SELECT t.user_id, t.total_value FROM trades t WHERE t.user_id IN ("
        "SELECT f.follower_id FROM follow_relationships f JOIN user_preferences p "
        f"ON p.user_id = f.follower_id WHERE f.trader_id = {m[0]} AND f.status <> 'ended' "
        f"AND p.daily_trading_limit IS NOT NULL) AND t.created_at >= {m[1]} "
        "AND t.status IN ('pending', 'submitted', 'completed') AND t.kind <> 'lead' "
        "AND t.trade_type = 'buy'"
    )
    return sql, (trader_id, v.ts(since))


def sum_per_user(dialect: str, rows: Iterable[Sequence[Any]]) -> dict[int, Decimal]:
    """Rows of (user_id, decimal) summed per user, exactly."""
    dec = _optional_decimal if dialect == "sqlite" else _same
    totals: dict[int, Decimal] = {}
    for user_id, value in rows:
        totals[user_id] = totals.get(user_id, _ZERO) + (dec(value) or _ZERO)
    return totals


def leader_trades_sql(
    dialect: str, trader_id: int, pair_id: int, below: int, since: int | None = None
) -> Statement:
    """The lead's recorded trades on a pair with chain version in [since, below): (side,
    amount). Summed by `leader_sum`; `ix_trades_lead_version` (0009) makes it a range read."""
    m = ("?", "?", "?", "?") if dialect == "sqlite" else ("$1", "$2", "$3", "$4")
    sql = (
        "SELECT trade_type, amount FROM trades WHERE kind = 'lead' "
        f"AND trader_id = {m[0]} AND pair_id = {m[1]} AND chain_version < {m[2]}"
    )
    if since is None:
        return sql, (trader_id, pair_id, below)
    return f"{sql} AND chain_version >= {m[3]}", (trader_id, pair_id, below, since)


def leader_sum(dialect: str, rows: Iterable[Sequence[Any]]) -> Decimal:
    """Buys minus sells of `leader_trades_sql` rows, exactly."""
    dec = _decimal if dialect == "sqlite" else _same
    total = _ZERO
    for side, amount in rows:
        total += dec(amount) if side == "buy" else -dec(amount)
    return total


def record_lead_sql(
    dialect: str, v: DriverValues, lead: LeadTrade, trader_id: int, pair_id: int
) -> Statement:
    """Insert the lead trade unless its hash is recorded; RETURNING its id if inserted."""
    columns = (
        "kind", "user_id", "trader_id", "pair_id", "trade_type", "amount", "price",
        "total_value", "fees_paid", "status", "tx_hash", "chain_version", "executed_at",
        "created_at",
    )  # fmt: skip
    values = (
        "lead", None, trader_id, pair_id, lead.side.value, v.dec(lead.amount),
        v.dec(lead.price), v.dec(lead.amount * lead.price), v.dec(lead.fee), "completed",
        lead.tx_hash, lead.version, v.ts(lead.at), v.ts(lead.at),
    )  # fmt: skip
    sql = (
        f"INSERT INTO trades ({', '.join(columns)}) VALUES ({marks(dialect, len(columns))}) "
        "ON CONFLICT (tx_hash, created_at) DO NOTHING RETURNING id"
    )
    return sql, values


def lead_id_sql(dialect: str, tx_hash: str) -> Statement:
    mark = "?" if dialect == "sqlite" else "$1"
    return f"SELECT id FROM trades WHERE tx_hash = {mark}", (tx_hash,)


def _same(value: Any) -> Any:
    return value


def _decimal(value: str | float) -> Decimal:
    """A SQLite decimal column's value (exact TEXT; a REAL only if written behind our back)."""
    return Decimal(repr(value) if isinstance(value, float) else value)


def _optional_decimal(value: str | float | None) -> Decimal | None:
    return None if value is None else _decimal(value)


async def positions_of_users(
    session: AsyncSession, user_ids: Sequence[int], assets: Iterable[str]
) -> dict[tuple[int, str], PositionState]:
    """Holdings of `assets` of the given users (live settlement: read fresh, after the wait)."""
    if not user_ids:
        return {}
    query = select(
        _P.c.user_id, _P.c.asset, _P.c.pair_id, _P.c.quantity, _P.c.average_cost,
        _P.c.realized_pnl, _P.c.current_value, _P.c.unrealized_pnl,
    ).where(_P.c.user_id.in_(sorted(set(user_ids))), _P.c.asset.in_(list(assets)))  # fmt: skip
    return {(r[0], r[1]): PositionState(*r) for r in (await session.execute(query)).all()}


async def holdings(
    session: AsyncSession, user_ids: Sequence[int], assets: Iterable[str]
) -> dict[tuple[int, str], Decimal]:
    """Quantity held per (user, asset) for the given users and assets."""
    if not user_ids:
        return {}
    query = select(Position.user_id, Position.asset, Position.quantity).where(
        Position.user_id.in_(user_ids), Position.asset.in_(list(assets))
    )
    return {(u, a): q for u, a, q in (await session.execute(query)).all()}


async def traded_since(
    session: AsyncSession, user_ids: Sequence[int], since: datetime
) -> dict[int, Decimal]:
    """Quote notional of each user's live buys since `since` (pending ones count)."""
    if not user_ids:
        return {}
    query = select(_T.c.user_id, _T.c.total_value).where(
        _T.c.user_id.in_(user_ids),
        _T.c.created_at >= since,
        _T.c.status.in_(LIVE_COPY_STATUSES),
        _T.c.kind != "lead",
        _T.c.trade_type == "buy",
    )
    totals: dict[int, Decimal] = {}
    for user_id, value in (await session.execute(query)).all():
        totals[user_id] = totals.get(user_id, Decimal(0)) + (value or Decimal(0))
    return totals


def holding_deltas(rows: Iterable[Mapping[str, Any]]) -> dict[CopyKey, Decimal]:
    """What completed copy rows add to their followers' running totals (buys +, sells -)."""
    deltas: dict[CopyKey, Decimal] = {}
    for r in rows:
        if r.get("kind") != "copy" or r.get("status") != "completed":
            continue
        user, trader, pair = r.get("user_id"), r.get("trader_id"), r.get("pair_id")
        if user is None or trader is None or pair is None:
            continue
        key = (user, trader, pair)
        amount = r["amount"]
        deltas[key] = deltas.get(key, _ZERO) + (amount if r["trade_type"] == "buy" else -amount)
    return deltas


async def add_to_holdings(
    session: AsyncSession, deltas: Mapping[CopyKey, Decimal], now: datetime
) -> None:
    """Add completed copies to `copy_holdings`, in the caller's transaction: one upsert that
    adds in the database (PostgreSQL: exact NUMERIC; SQLite, whose `+` on TEXT would be
    floating point: the exact `oneclick_dec_add` function `stores.db` registers)."""
    if not deltas:
        return
    dialect = _dialect(session)
    await _run(session, holding_statements(dialect, DriverValues(dialect), deltas, now))


async def recompute_holdings(session: AsyncSession) -> dict[CopyKey, Decimal]:
    """The running totals as the whole copy history says they should be (checks, repair)."""
    query = select(_T.c.user_id, _T.c.trader_id, _T.c.pair_id, _T.c.trade_type, _T.c.amount)
    rows = await session.execute(
        query.where(_T.c.kind == "copy", _T.c.status == "completed", _T.c.user_id.is_not(None))
    )
    return holding_deltas(
        {"kind": "copy", "user_id": u, "trader_id": t, "pair_id": p, "trade_type": side,
         "amount": amount, "status": "completed"}
        for u, t, p, side, amount in rows
    )  # fmt: skip


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _executemany(session: AsyncSession, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """One driver-level executemany inside the session's transaction."""
    if rows:
        connection = await session.connection()
        await connection.exec_driver_sql(sql, rows)


async def _run(session: AsyncSession, statements: Sequence[Statement]) -> int:
    """Run bulk statements in the session's transaction; the rows they wrote."""
    if not statements:
        return 0
    connection = await session.connection()
    written = 0
    for sql, params in statements:
        written += int((await connection.exec_driver_sql(sql, params)).rowcount)
    return written


async def insert_decisions(
    session: AsyncSession, trades: list[dict[str, Any]], audits: list[dict[str, Any]]
) -> int:
    """Batch-insert copy/skip rows (ignoring any that already exist) and their audit rows.

    Rows that carry an `id` are written with it (a fan-out executed on paper in the same
    transaction). Returns how many trade rows were written (a replay writes fewer).
    """
    dialect = _dialect(session)
    written = 0
    if trades:
        written = await _run(session, trade_statements(dialect, DriverValues(dialect), trades))
        if written == len(trades):
            # Completed copies count into the running totals. Had a replay written fewer,
            # which ones is unknown here: the caller rolls back (paper fan-out: `_Contended`).
            await add_to_holdings(session, holding_deltas(trades), datetime.now(UTC))
    await insert_audits(session, audits)
    return written


async def insert_audits(session: AsyncSession, audits: list[dict[str, Any]]) -> None:
    """Append audit rows (the chain hash, where there is one, is the database's job)."""
    if not audits:
        return
    dialect = _dialect(session)
    await _run(session, audit_statements(dialect, DriverValues(dialect), audits))


def _pending_query() -> Select[Any]:
    prefs = UserPreferences.__table__
    return (
        select(
            _T.c.id,
            _T.c.kind,
            _T.c.user_id,
            _T.c.pair_id,
            _T.c.trade_type,
            _T.c.amount,
            _T.c.price,
            _T.c.total_value,
            _T.c.created_at,
            prefs.c.max_slippage_pct,
        )
        .outerjoin(prefs, prefs.c.user_id == _T.c.user_id)
        .where(_T.c.status == "pending", _T.c.kind.in_(EXECUTABLE_KINDS))
    )


async def pending_copies(
    session: AsyncSession, lead_trade_id: int | None = None
) -> list[PendingCopy]:
    """Copies written but not yet executed, oldest first (optionally of one lead trade)."""
    query = _pending_query()
    if lead_trade_id is not None:
        query = query.where(_T.c.copy_of_trade_id == lead_trade_id)
    # Two engines on one PostgreSQL (a console without Redis beside a headless engine) must
    # never execute the same copy: lock the pending rows, and skip those another one holds.
    query = query.with_for_update(of=_T, skip_locked=True)
    rows = (await session.execute(query.order_by(_T.c.id))).all()
    return [PendingCopy(*r) for r in rows]


async def pending_ids(session: AsyncSession, lead_trade_id: int) -> dict[int, int]:
    """Trade id of each follower's pending copy of this lead trade."""
    query = select(_T.c.user_id, _T.c.id).where(
        _T.c.copy_of_trade_id == lead_trade_id, _T.c.status == "pending"
    )
    return {u: i for u, i in (await session.execute(query)).all()}


async def positions_of_pending(
    session: AsyncSession, lead_trade_id: int | None, assets: Iterable[str]
) -> dict[tuple[int, str], PositionState]:
    """Holdings of `assets` of the users who have pending copies (of one lead trade)."""
    owners = select(_T.c.user_id).where(_T.c.status == "pending", _T.c.kind.in_(EXECUTABLE_KINDS))
    if lead_trade_id is not None:
        owners = owners.where(_T.c.copy_of_trade_id == lead_trade_id)
    query = select(
        _P.c.user_id, _P.c.asset, _P.c.pair_id, _P.c.quantity, _P.c.average_cost,
        _P.c.realized_pnl, _P.c.current_value, _P.c.unrealized_pnl,
    ).where(_P.c.user_id.in_(owners), _P.c.asset.in_(list(assets)))  # fmt: skip
    return {(r[0], r[1]): PositionState(*r) for r in (await session.execute(query)).all()}


async def finish_copies(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Move executed copies to completed or failed (one executemany).

    Each row: `trade_id` and `v_<column>` for every column in FINISH_COLUMNS. Only a row
    still pending or submitted (live: its transaction journaled) is changed, so a copy is
    never finished twice.
    """
    if not rows:
        return
    dialect = _dialect(session)
    v = DriverValues(dialect)
    n = len(FINISH_COLUMNS)
    if dialect == "sqlite":
        sets = ", ".join(f"{c} = ?" for c in FINISH_COLUMNS)
        where = "id = ? AND status IN ('pending', 'submitted')"
    else:
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(FINISH_COLUMNS, 1))
        where = f"id = ${n + 1} AND status IN ('pending', 'submitted')"
    sql = f"UPDATE trades SET {sets} WHERE {where}"
    completing = await _copies_to_complete(session, rows)
    out = []
    for r in rows:
        values = []
        for c in FINISH_COLUMNS:
            value = r["v_" + c]
            if c in TRADE_DECIMALS:
                value = v.dec(value)
            elif c == "executed_at":
                value = v.ts(value)
            values.append(value)
        values.append(r["trade_id"])
        out.append(tuple(values))
    await _executemany(session, sql, out)
    await add_to_holdings(session, holding_deltas(completing), datetime.now(UTC))


async def _copies_to_complete(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The copies among `rows` that this finish completes, as `holding_deltas` takes them.

    Read (and on PostgreSQL locked) before the update, whose WHERE changes only a copy still
    pending or submitted: so each completion is counted exactly once.
    """
    amounts = {r["trade_id"]: r["v_amount"] for r in rows if r["v_status"] == "completed"}
    if not amounts:
        return []
    query = (
        select(_T.c.id, _T.c.user_id, _T.c.trader_id, _T.c.pair_id, _T.c.trade_type)
        .where(
            _T.c.id.in_(sorted(amounts)),
            _T.c.kind == "copy",
            _T.c.status.in_(("pending", "submitted")),
        )
        .with_for_update()
    )
    return [
        {"kind": "copy", "user_id": u, "trader_id": t, "pair_id": p, "trade_type": side,
         "status": "completed", "amount": amounts[trade_id]}
        for trade_id, u, t, p, side in (await session.execute(query)).all()
    ]  # fmt: skip


async def save_positions(
    session: AsyncSession, positions: Iterable[PositionState], now: datetime | None = None
) -> None:
    """Upsert every changed holding (one bulk insert ... on conflict update)."""
    dialect = _dialect(session)
    v = DriverValues(dialect)
    await _run(session, position_statements(dialect, v, positions, now or datetime.now(UTC)))


def closing_sell_row(
    kind: str, user_id: int, pair_id: int, quantity: Decimal, price: Decimal, now: datetime
) -> dict[str, Any]:
    """A pending sell of a whole position (stop-loss or flatten), as an insert row.

    `price` is the reference for the slippage bound; the executor sizes the sell to what is
    held when it runs.
    """
    return {
        "kind": kind,
        "user_id": user_id,
        "trader_id": None,
        "pair_id": pair_id,
        "copy_of_trade_id": None,
        "trade_type": "sell",
        "amount": quantity,
        "price": price,
        "total_value": quantity * price,
        "fees_paid": Decimal(0),
        "status": "pending",
        "created_at": now,
        "failure_reason": None,
        "skip_reason": None,
        "realized_pnl": None,
        "tx_hash": None,
        "chain_version": None,
        "executed_at": None,
    }
