"""A lead trader's day-by-day book: activity, round trips and equity at each UTC day close.

Everything the period metrics need reduces to one row per trader and UTC day (`TraderDay`):
trades, traded notional, closed round trips and wins, and equity marked at the day's close.
That table is small (traders x days) whatever the number of trades, so it is computed where
the trades are. On PostgreSQL the trades never leave the server: window functions replay each
book into per-day activity (the `trader_daily_activity` materialized view) and into running
quantity and cash per pair and day (`pg_trader_days`); only marking those at the day's close
and adding up a trader's pairs happens in Python (`combine`). On SQLite, whose decimals are
TEXT, the trades are replayed in Python (`python_trader_days`) into the same rows. Both follow
the same rules, exactly, in Decimal / NUMERIC arithmetic, and the tests hold them equal.

Rules (docs/benchmarks/analytics.md repeats them):
- Only completed lead trades with an execution time count.
- Cash starts at `traders.starting_balance` in the pair's quote asset (all of a trader's
  pairs are assumed to share one quote asset, as in the simulator: one pair per trader).
  A buy costs `amount * price + fee`; a sell brings `amount * price - fee`.
- Holdings are a signed running sum per pair; equity = cash + sum(qty * close of the day).
- A round trip runs from a flat position to flat again; its PnL is sell proceeds minus buy
  cost minus fees, which with average-cost accounting is exactly the sum of the realized PnL
  of its fills (the whole cost basis is removed when the position closes).
- A day's close is the close of the pair's last candle at or before that day (1d candles, or
  1m candles when no 1d exists); before the first candle, the first known close.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, localcontext
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from oneclick_tui.stores.models import Trade
from oneclick_tui.stores.timeseries.base import Candle, TimeSeriesStore, Window

EXACT = Context(prec=100)
"""Products of two NUMERIC(38, 18) values and their sums stay exact (PostgreSQL's NUMERIC is)."""
ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)


def day_of(at: datetime) -> date:
    """The UTC calendar day of an aware timestamp."""
    return at.astimezone(UTC).date()


def at_noon(day: date) -> datetime:
    """A timestamp inside ``day`` (UTC), for APIs that take a time."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def day_end(day: date) -> datetime:
    """The first instant after ``day`` (UTC): the end of its half-open range."""
    return datetime.combine(day + ONE_DAY, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeadFill:
    """One completed lead trade, as the day book needs it."""

    trade_id: int
    trader_id: int
    pair_id: int
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    notional: Decimal
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class Activity:
    """One trader's trades on one pair during one UTC day."""

    n_trades: int = 0
    volume: Decimal = ZERO
    qty_delta: Decimal = ZERO
    cash_delta: Decimal = ZERO
    trips_closed: int = 0
    trips_won: int = 0

    def plus(self, other: Activity) -> Activity:
        with localcontext(EXACT):
            return Activity(
                self.n_trades + other.n_trades,
                self.volume + other.volume,
                self.qty_delta + other.qty_delta,
                self.cash_delta + other.cash_delta,
                self.trips_closed + other.trips_closed,
                self.trips_won + other.trips_won,
            )


@dataclass(frozen=True, slots=True)
class TraderDay:
    """One trader at one UTC day close: the day's activity and his book at the close.

    ``net`` is cash flows since his first trade plus holdings at the close, i.e. equity minus
    the starting balance (which lives on the trader row, not in the trades).
    """

    trader_id: int
    day: date
    n_trades: int
    volume: Decimal
    trips_closed: int
    trips_won: int
    net: Decimal
    """Cash flows since the first trade plus holdings at the close (equity - starting balance)."""
    priced: bool
    """False when a held pair had no close at all (its holdings are then valued at 0)."""


Closes = Mapping[int, Mapping[date, Decimal]]
"""pair id -> UTC day -> close price for that day (dense over the days asked)."""


# -- activity: Python -----------------------------------------------------------------------


def activity_of(fills: Iterable[LeadFill]) -> dict[tuple[int, int, date], Activity]:
    """Per (trader, pair, day) activity; fills must be ordered by trader, pair, time, id."""
    out: dict[tuple[int, int, date], Activity] = {}
    key_prev: tuple[int, int] | None = None
    position = trip_cash = ZERO
    trip = 0
    with localcontext(EXACT):
        for f in fills:
            key = (f.trader_id, f.pair_id)
            if key != key_prev:
                key_prev, position, trip, trip_cash = key, ZERO, 0, ZERO
            dq = f.amount if f.side == "buy" else -f.amount
            gross = f.amount * f.price
            dc = (-gross if f.side == "buy" else gross) - f.fee
            if position == 0:  # a new round trip starts from flat
                trip += 1
                trip_cash = ZERO
            position += dq
            trip_cash += dc
            closed = position == 0 and dq < 0 and trip > 0
            day_key = (f.trader_id, f.pair_id, day_of(f.executed_at))
            step = Activity(1, f.notional, dq, dc, int(closed), int(closed and trip_cash > 0))
            out[day_key] = out[day_key].plus(step) if day_key in out else step
    return out


def days_from_activity(
    activity: Mapping[tuple[int, int, date], Activity], closes: Closes, last_day: date
) -> list[TraderDay]:
    """Dense per-trader day rows from each pair's first trading day to ``last_day``."""
    by_pair: dict[tuple[int, int], dict[date, Activity]] = {}
    for (trader_id, pair_id, day), act in activity.items():
        if day <= last_day:
            by_pair.setdefault((trader_id, pair_id), {})[day] = act
    rows: list[PairDay] = []
    empty = Activity()
    with localcontext(EXACT):
        for (trader_id, pair_id), days in sorted(by_pair.items()):
            qty = cash = ZERO
            day = min(days)
            while day <= last_day:
                act = days.get(day, empty)
                qty += act.qty_delta
                cash += act.cash_delta
                rows.append((trader_id, pair_id, day, act.n_trades, act.volume,
                             act.trips_closed, act.trips_won, qty, cash))  # fmt: skip
                day += ONE_DAY
    return combine(rows, closes)


async def load_fills(
    conn: AsyncConnection, trader_ids: Sequence[int] | None = None
) -> list[LeadFill]:
    """Completed lead trades, ordered for `activity_of` (the SQLite path)."""
    query = (
        select(
            Trade.id,
            Trade.trader_id,
            Trade.pair_id,
            Trade.trade_type,
            Trade.amount,
            Trade.price,
            Trade.fees_paid,
            Trade.total_value,
            Trade.executed_at,
        )
        .where(
            Trade.kind == "lead",
            Trade.status == "completed",
            Trade.executed_at.is_not(None),
        )
        .order_by(Trade.trader_id, Trade.pair_id, Trade.executed_at, Trade.id)
    )
    if trader_ids is not None:
        query = query.where(Trade.trader_id.in_(list(trader_ids)))
    rows: Sequence[Any] = (await conn.execute(query)).all()
    with localcontext(EXACT):
        return [
            LeadFill(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                r[7] if r[7] is not None else r[4] * r[5], r[8],
            )
            for r in rows
        ]  # fmt: skip


async def python_trader_days(
    conn: AsyncConnection, closes: Closes, last_day: date, trader_ids: Sequence[int] | None
) -> list[TraderDay]:
    """The day table computed in Python from every lead trade (SQLite, or a reference)."""
    fills = await load_fills(conn, trader_ids)
    return days_from_activity(activity_of(fills), closes, last_day)


# -- activity: PostgreSQL -------------------------------------------------------------------

ACTIVITY_VIEW = "trader_daily_activity"

# Same query as the materialized view of migration 0002 (a test checks they agree), with an
# optional trader filter for the incremental path, which must not wait for a refresh.
ACTIVITY_SQL = """
WITH t AS (
    SELECT trader_id, pair_id, executed_at, id,
           CASE WHEN trade_type = 'buy' THEN amount ELSE -amount END AS dq,
           CASE WHEN trade_type = 'buy' THEN -(amount * price) ELSE amount * price END
               - fees_paid AS dc,
           COALESCE(total_value, amount * price) AS notional
    FROM trades
    WHERE kind = 'lead' AND status = 'completed' AND executed_at IS NOT NULL {filter}
),
p AS (
    SELECT t.*, SUM(dq) OVER w AS pos_after
    FROM t
    WINDOW w AS (PARTITION BY trader_id, pair_id ORDER BY executed_at, id
                 ROWS UNBOUNDED PRECEDING)
),
r AS (
    SELECT p.*, SUM(CASE WHEN pos_after - dq = 0 THEN 1 ELSE 0 END) OVER w AS trip
    FROM p
    WINDOW w AS (PARTITION BY trader_id, pair_id ORDER BY executed_at, id
                 ROWS UNBOUNDED PRECEDING)
),
c AS (
    SELECT r.*, SUM(dc) OVER w AS trip_cash
    FROM r
    WINDOW w AS (PARTITION BY trader_id, pair_id, trip ORDER BY executed_at, id
                 ROWS UNBOUNDED PRECEDING)
)
SELECT trader_id, pair_id, (executed_at AT TIME ZONE 'UTC')::date AS day,
       COUNT(*)::bigint AS n_trades,
       SUM(notional) AS volume,
       SUM(dq) AS qty_delta,
       SUM(dc) AS cash_delta,
       SUM(CASE WHEN pos_after = 0 AND dq < 0 AND trip > 0 THEN 1 ELSE 0 END)::bigint
           AS trips_closed,
       SUM(CASE WHEN pos_after = 0 AND dq < 0 AND trip > 0 AND trip_cash > 0 THEN 1 ELSE 0 END)
           ::bigint AS trips_won
FROM c
GROUP BY trader_id, pair_id, (executed_at AT TIME ZONE 'UTC')::date
"""

# Dense (trader, pair, day) grid with running quantity and cash by window, in book order.
# Marking at the closes and summing a trader's pairs is left to `combine`: a join and a
# regroup of every row would cost PostgreSQL more than the Python loop that does it.
DAYS_SQL = """
WITH a AS ({source}),
span AS (
    SELECT trader_id, pair_id, MIN(day) AS first_day FROM a
    WHERE day <= $1::date GROUP BY trader_id, pair_id
),
grid AS (
    SELECT s.trader_id, s.pair_id, g::date AS day
    FROM span s, generate_series(s.first_day, $1::date, interval '1 day') AS g
)
SELECT g.trader_id, g.pair_id, g.day,
       COALESCE(a.n_trades, 0), COALESCE(a.volume, 0),
       COALESCE(a.trips_closed, 0), COALESCE(a.trips_won, 0),
       SUM(COALESCE(a.qty_delta, 0)) OVER w,
       SUM(COALESCE(a.cash_delta, 0)) OVER w
FROM grid g
LEFT JOIN a ON a.trader_id = g.trader_id AND a.pair_id = g.pair_id AND a.day = g.day
WINDOW w AS (PARTITION BY g.trader_id, g.pair_id ORDER BY g.day ROWS UNBOUNDED PRECEDING)
ORDER BY g.trader_id, g.pair_id, g.day
"""


PairDay = tuple[int, int, date, int, Decimal, int, int, Decimal, Decimal]
"""(trader, pair, day, trades, volume, trips closed, trips won, quantity held, cash flow)."""


def combine(rows: Iterable[PairDay], closes: Closes) -> list[TraderDay]:
    """Mark each pair's holdings at the day's close and add up a trader's pairs per day.

    ``rows`` come ordered by trader, pair and day (as both paths produce them).
    """
    out: list[TraderDay] = []
    by_trader: list[PairDay] = []
    with localcontext(EXACT):
        for row in rows:
            if by_trader and by_trader[0][0] != row[0]:
                out.extend(_one_trader(by_trader, closes))
                by_trader = []
            by_trader.append(row)
        if by_trader:
            out.extend(_one_trader(by_trader, closes))
    return out


def _one_trader(rows: Sequence[PairDay], closes: Closes) -> list[TraderDay]:
    """One trader's days (runs inside the EXACT context of `combine`)."""
    if rows[0][1] == rows[-1][1]:  # one pair, the common case: no regrouping needed
        by_day = closes.get(rows[0][1], {})
        out = []
        for t, _, d, n, volume, closed, won, qty, cash in rows:
            close = by_day.get(d)
            net = cash + qty * close if close is not None else cash
            out.append(TraderDay(t, d, n, volume, closed, won, net, close is not None))
        return out
    totals: dict[date, list[Any]] = {}
    for _, pair_id, day, n, volume, closed, won, qty, cash in rows:
        close = closes.get(pair_id, {}).get(day)
        row = totals.get(day)
        if row is None:
            row = totals[day] = [0, ZERO, 0, 0, ZERO, True]
        row[0] += n
        row[1] += volume
        row[2] += closed
        row[3] += won
        row[4] += cash + (qty * close if close is not None else ZERO)
        row[5] = row[5] and close is not None
    trader_id = rows[0][0]
    return [
        TraderDay(trader_id, d, r[0], r[1], r[2], r[3], r[4], r[5])
        for d, r in sorted(totals.items())
    ]


WORK_MEM = "SET LOCAL work_mem = '256MB'"
"""The window sorts over every lead trade spill to disk at the 4 MB default."""


async def refresh_activity_view(conn: AsyncConnection) -> None:
    """Bring the materialized view up to date without blocking readers (needs its unique index)."""
    await conn.execute(text(WORK_MEM))
    await conn.execute(text(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {ACTIVITY_VIEW}"))


async def pg_trader_days(
    conn: AsyncConnection, closes: Closes, last_day: date, trader_ids: Sequence[int] | None
) -> list[TraderDay]:
    """The day table computed by PostgreSQL: from the view for all traders, inline for some.

    Fetched through the asyncpg connection itself: at 1,000 traders x 365 days the result has
    365,000 rows, and the ORM's per-row processing would cost more than the query.
    """
    args: list[Any] = [last_day]
    if trader_ids is None:
        source = f"SELECT * FROM {ACTIVITY_VIEW}"
    else:
        source = ACTIVITY_SQL.format(filter="AND trader_id = ANY($2::bigint[])")
        args.append(list(trader_ids))
    async with conn.begin_nested() if conn.in_transaction() else conn.begin():
        await conn.execute(text(WORK_MEM))
        raw = await conn.get_raw_connection()
        rows = await raw.driver_connection.fetch(DAYS_SQL.format(source=source), *args)  # type: ignore[union-attr]
    return combine(((r[0], r[1], r[2], int(r[3]), r[4], int(r[5]), int(r[6]), r[7], r[8])
                    for r in rows), closes)  # fmt: skip


# -- closes ---------------------------------------------------------------------------------


def dense_closes(candles: Sequence[Candle], first: date, last: date) -> dict[date, Decimal]:
    """Close of each day in [first, last]: the last candle closing at or before the day's end,
    or the first known close for days before any candle; {} without candles."""
    if not candles:
        return {}
    ordered = sorted(candles, key=lambda c: c.bucket_at)
    out: dict[date, Decimal] = {}
    index = 0
    current = ordered[0].close
    day = first
    while day <= last:
        end = day_end(day)
        while index < len(ordered) and ordered[index].bucket_at < end:
            current = ordered[index].close
            index += 1
        out[day] = current
        day += ONE_DAY
    return out


async def load_closes(
    store: TimeSeriesStore, pair_ids: Iterable[int], first: date, last: date
) -> dict[int, dict[date, Decimal]]:
    """Dense daily closes per pair from 1d candles, else 1m candles, in the time-series store."""
    start = datetime.combine(first - timedelta(days=400), time(), tzinfo=UTC)
    stop = day_end(last)
    out: dict[int, dict[date, Decimal]] = {}
    for pair_id in sorted(set(pair_ids)):
        candles = await store.read_candles(pair_id, Window.D1, start, stop)
        if not candles:  # 1m candles are many: only the days asked for (and one before)
            minute_start = datetime.combine(first - ONE_DAY, time(), tzinfo=UTC)
            candles = await store.read_candles(pair_id, Window.M1, minute_start, stop)
        closes = dense_closes(candles, first, last)
        if closes:
            out[pair_id] = closes
    return out
