"""Trader performance: by hand, against an independent replay, SQLite == PostgreSQL,
recompute == incremental, and the PostgreSQL view == its inline query."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.domain import positions as pos
from oneclick_tui.services.analytics import AnalyticsService, Period
from oneclick_tui.services.analytics import daily as dly
from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.models import Leaderboard, TraderPerformance
from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries
from tests.analytics import data

D = Decimal
PERF_COLUMNS = (
    "trader_id", "period", "period_start_at", "total_return", "percentage_return", "win_rate",
    "max_drawdown", "sharpe_ratio", "sortino_ratio", "calmar_ratio", "volatility", "num_trades",
    "avg_trade_size",
)  # fmt: skip


@pytest.fixture
async def engine(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    yield engine
    await engine.dispose()


def service(engine: AsyncEngine, now_day: date, **kw: Any) -> AnalyticsService:
    return AnalyticsService(
        engine, RelationalTimeSeries(engine), clock=lambda: data.at(now_day, 23), **kw
    )


async def perf_rows(engine: AsyncEngine) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    cols = [getattr(TraderPerformance, c) for c in PERF_COLUMNS]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*cols))).all()
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


async def board_rows(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    lb = Leaderboard
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(lb.period, lb.metric, lb.rank, lb.competition_rank, lb.trader_id, lb.score)
            .order_by(lb.period, lb.metric, lb.rank)
        )  # fmt: skip
        return [tuple(r) for r in rows.all()]


async def test_figures_by_hand(engine: AsyncEngine) -> None:
    """Four trades, two round trips (one won), worked out on paper."""
    ds = data.Dataset()
    await data.insert_pairs(engine, ds)
    await data.insert_trader(engine, ds, 1, D(1000))
    d1 = date(2026, 11, 2)  # a Monday
    days = [d1 + timedelta(days=i) for i in range(4)]
    await data.insert_trades(engine, [
        data.lead_row(1, 1, "buy", D(10), D(10), D(1), data.at(days[0]), 1),
        data.lead_row(1, 1, "sell", D(10), D(12), D(1), data.at(days[1]), 2),
        data.lead_row(1, 1, "buy", D(5), D(12), D(0), data.at(days[2]), 3),
        data.lead_row(1, 1, "sell", D(5), D(9), D(0), data.at(days[3]), 4),
    ])  # fmt: skip
    await data.insert_daily_candles(
        engine, {1: dict(zip(days, map(D, (11, 12, 10, 9)), strict=False))}
    )
    await service(engine, days[3], min_trades=1).recompute(since=d1)
    rows = await perf_rows(engine)
    # cash 1000 -> 899 (+10 APT @ 11 = 1009) -> 1018 -> 958 (+5 APT @ 10 = 1008) -> 1003
    equity = [D(1000), D(1009), D(1018), D(1008), D(1003)]
    returns = [float(b / a - 1) for a, b in itertools.pairwise(equity)]
    all_time = rows[(1, "all_time", data.at(date(1970, 1, 1), 0))]
    total, pct, win, mdd, sharpe, sortino, calmar, vol, n, avg = all_time
    assert total == D(3)
    assert pct == D("0.3")
    assert win == D(50)
    assert n == 4 and avg == D("81.25")  # (100 + 120 + 60 + 45) / 4
    assert mdd == (D(15) / D(1018) * 100).quantize(D("1e-8"))
    expected_sharpe = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    assert float(sharpe) == pytest.approx(expected_sharpe, abs=1e-8)
    assert float(vol) == pytest.approx(statistics.stdev(returns) * math.sqrt(365) * 100, abs=1e-6)
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / len(returns))
    expected_sortino = statistics.mean(returns) / downside * math.sqrt(365)
    assert float(sortino) == pytest.approx(expected_sortino, abs=1e-8)
    cagr = (1003 / 1000) ** (365 / 4) - 1
    assert float(calmar) == pytest.approx(cagr / (15 / 1018), rel=1e-7)
    # The daily row of day 2: one return 1009 -> 1018, the winning trip closed that day.
    day2 = rows[(1, "daily", data.at(days[1], 0))]
    assert day2[0] == D(9) and day2[2] == D(100) and day2[8] == 1 and day2[4] is None
    # The week holds all four days: same figures as all time.
    week = rows[(1, "weekly", data.at(d1, 0))]
    assert week[:4] == all_time[:4]


def replay(ds: data.Dataset, tid: int, first: date, last: date) -> dict[str, Any]:
    """Independent: domain average-cost positions, fill by fill, marked at every close."""
    trades = sorted(
        (t for t in ds.trades if t["trader_id"] == tid), key=lambda t: t["chain_version"]
    )
    position, cash = pos.Position(), ds.balances[tid]
    trip_pnl, wins, closed, n, volume = D(0), 0, 0, 0, D(0)
    equity: dict[date, Decimal] = {}
    pair_id = trades[0]["pair_id"] if trades else 1
    day = data.START
    index = 0
    while day <= last:
        while index < len(trades) and trades[index]["executed_at"].date() == day:
            t = trades[index]
            index += 1
            if t["trade_type"] == "buy":
                result = pos.apply_buy(position, t["amount"], t["price"], t["fees_paid"])
                cash -= t["amount"] * t["price"] + t["fees_paid"]
            else:
                result = pos.apply_sell(position, t["amount"], t["price"], t["fees_paid"])
                cash += t["amount"] * t["price"] - t["fees_paid"]
            trip_pnl += result.realized_pnl
            position = result.position
            if first <= day:
                n += 1
                volume += t["amount"] * t["price"]
            if position.is_flat:
                if first <= day:
                    closed += 1
                    wins += trip_pnl > 0
                trip_pnl = D(0)
        equity[day] = cash + pos.mark_to_market(position, ds.closes[pair_id][day]).current_value
        day += timedelta(days=1)
    return {"equity": equity, "wins": wins, "closed": closed, "n": n, "volume": volume}


async def test_against_independent_replay(engine: AsyncEngine) -> None:
    ds = data.random_dataset(seed=7, n_traders=9, days=20)
    await data.load_dataset(engine, ds)
    await service(engine, ds.last_day).recompute(since=data.START)
    rows = await perf_rows(engine)
    month = date(2026, 11, 1)
    for tid in ds.traders:
        ref = replay(ds, tid, month, ds.last_day)
        total, pct, win, *_, n, avg = rows[(tid, "monthly", data.at(month, 0))]
        before = ref["equity"][month - timedelta(days=1)]
        end = ref["equity"][ds.last_day]
        assert total == end - before
        assert pct == ((end / before - 1) * 100).quantize(D("1e-8"))
        assert n == ref["n"]
        expected_win = D(ref["wins"] * 100) / ref["closed"] if ref["closed"] else None
        assert win == (expected_win.quantize(D("1e-4")) if expected_win is not None else None)
        if n:
            assert avg == (ref["volume"] / n).quantize(D("1e-18"))


async def test_leaderboard_ranks_equal_sql_rank(engine: AsyncEngine) -> None:
    ds = data.random_dataset(seed=3, n_traders=12, days=15)
    # Two traders with identical books tie on every metric.
    clone = [dict(t, trader_id=99, tx_hash=t["tx_hash"] + "c", chain_version=t["chain_version"])
             for t in ds.trades if t["trader_id"] == 1]  # fmt: skip
    ds.trades += clone
    ds.traders.append(99)
    ds.balances[99] = ds.balances[1]
    await data.load_dataset(engine, ds)
    await service(engine, ds.last_day, min_trades=2).recompute()
    columns = {"return_pct": "percentage_return", "sharpe": "sharpe_ratio", "pnl": "total_return",
               "win_rate": "win_rate", "max_drawdown": "max_drawdown"}  # fmt: skip
    board = await board_rows(engine)
    assert board, "the leaderboards are empty"
    async with engine.connect() as conn:
        for period in Period:
            start = data.at(period.start(ds.last_day), 0)
            for metric, column in columns.items():
                order = "ASC" if metric == "max_drawdown" else "DESC"
                sql = text(
                    f"SELECT trader_id, RANK() OVER (ORDER BY CAST({column} AS NUMERIC) {order}),"
                    f" ROW_NUMBER() OVER (ORDER BY CAST({column} AS NUMERIC) {order}, trader_id)"
                    " FROM trader_performance WHERE period = :p AND period_start_at = :s"
                    f" AND num_trades >= 2 AND {column} IS NOT NULL"
                )
                start_param: Any = start
                if engine.dialect.name == "sqlite":
                    start_param = start.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
                expected = {
                    r[0]: (r[1], r[2])
                    for r in (await conn.execute(sql, {"p": period.value, "s": start_param}))
                }
                got = {r[4]: (r[3], r[2]) for r in board if r[0] == period.value and r[1] == metric}
                assert got == expected, (period, metric)
    ties = [r for r in board if r[4] in (1, 99) and r[:2] == ("all_time", "pnl")]
    assert len(ties) == 2 and ties[0][3] == ties[1][3] and ties[0][2] + 1 == ties[1][2]


async def test_recompute_equals_incremental(engine: AsyncEngine) -> None:
    """Feed lead trades one by one through the hook, then rebuild: same rows, same ranks.

    The clock is fixed at the end so both paths value at the same closes; in production the
    scheduled recompute re-marks traders that did not trade today."""
    ds = data.random_dataset(seed=11, n_traders=8, days=12)
    trades = sorted(ds.trades, key=lambda r: r["executed_at"])
    ds.trades = []
    await data.load_dataset(engine, ds)
    incremental = service(engine, ds.last_day, min_trades=2)
    for row in trades:
        await data.insert_trades(engine, [row])
        await incremental.on_lead_trade(row["trader_id"], row["executed_at"])
    inc_perf, inc_board = await perf_rows(engine), await board_rows(engine)
    async with engine.begin() as conn:
        await conn.execute(TraderPerformance.__table__.delete())
        await conn.execute(Leaderboard.__table__.delete())
    await service(engine, ds.last_day, min_trades=2).recompute(since=data.START)
    full_perf, full_board = await perf_rows(engine), await board_rows(engine)
    assert inc_board == full_board and inc_board
    assert inc_perf and all(full_perf[k] == v for k, v in inc_perf.items())
    # What the hook never wrote are days without a trade of that trader.
    trade_days = {(t["trader_id"], data.at(t["executed_at"].date(), 0)) for t in trades}
    for key in set(full_perf) - set(inc_perf):
        assert key[1] == "daily" and (key[0], key[2]) not in trade_days


@pytest.mark.postgres
async def test_sqlite_and_postgresql_agree(fresh_sqlite_url: str, fresh_pg_url: str) -> None:
    ds = data.random_dataset(seed=5, n_traders=10, days=25)
    results = []
    for url in (fresh_sqlite_url, fresh_pg_url):
        await ensure_schema(url)
        engine = make_engine(url)
        try:
            await data.load_dataset(engine, ds)
            await service(engine, ds.last_day).recompute(since=data.START)
            results.append((await perf_rows(engine), await board_rows(engine)))
        finally:
            await engine.dispose()
    assert results[0][0] and results[0][1]
    assert results[0] == results[1]


@pytest.mark.postgres
async def test_view_matches_inline_query_and_python(fresh_pg_url: str) -> None:
    await ensure_schema(fresh_pg_url)
    engine = make_engine(fresh_pg_url)
    try:
        ds = data.random_dataset(seed=9, n_traders=6, days=10)
        await data.load_dataset(engine, ds)
        async with engine.begin() as conn:
            await dly.refresh_activity_view(conn)
        closes = await dly.load_closes(RelationalTimeSeries(engine), [1, 2], data.START,
                                       ds.last_day)  # fmt: skip
        async with engine.connect() as conn:
            from_view = await dly.pg_trader_days(conn, closes, ds.last_day, None)
            inline = await dly.pg_trader_days(conn, closes, ds.last_day, ds.traders)
            python = await dly.python_trader_days(conn, closes, ds.last_day, None)
        assert from_view == inline == python
        assert len(python) > 50  # dense: every day from each trader's first trade on
    finally:
        await engine.dispose()


async def test_hook_batches_and_schedule_runs(engine: AsyncEngine) -> None:
    """With a flush interval the hook queues; `flush` and the schedule catch up."""
    import asyncio

    ds = data.random_dataset(seed=13, n_traders=4, days=5)
    await data.load_dataset(engine, ds)
    svc = service(engine, ds.last_day, min_trades=1, flush_interval=60.0)
    assert await svc.on_lead_trade(1, data.at(ds.last_day)) is True
    assert await svc.on_lead_trade(2, data.at(ds.last_day)) is False
    assert await svc.on_lead_trade(3) is False
    assert await svc.flush() == 2 and await svc.flush() == 0
    rows = await perf_rows(engine)
    assert {k[0] for k in rows} == {1, 2, 3}
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run_periodic(stop, every=3600, tick=0.05))
    for _ in range(200):
        if {k[0] for k in await perf_rows(engine)} == {1, 2, 3, 4}:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert {k[0] for k in await perf_rows(engine)} == {1, 2, 3, 4}
