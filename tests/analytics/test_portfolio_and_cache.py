"""Portfolio snapshots by hand and daily job == rebuild; leaderboards served from the cache."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.services.analytics import AnalyticsService, Period, RankMetric
from oneclick_tui.stores.cache.memory import MemoryCache
from oneclick_tui.stores.cache.redis import RedisCache
from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.models import FollowRelationship, PortfolioAnalytics, Position, Trade, User
from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries
from tests.analytics import data

D = Decimal
D0 = date(2026, 11, 2)
DAYS = [D0 + timedelta(days=i) for i in range(4)]


@pytest.fixture
async def engine(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    yield engine
    await engine.dispose()


def manual(
    side: str, amount: Decimal, price: Decimal, fee: Decimal, when: datetime, n: int
) -> dict[str, Any]:
    row = data.lead_row(1, 1, side, amount, price, fee, when, n)
    row.update(kind="manual", user_id=1, trader_id=None, tx_hash=f"0xman{n}")
    return row


async def seed_user(engine: AsyncEngine) -> None:
    ds = data.Dataset()
    await data.insert_pairs(engine, ds)
    await data.insert_trader(engine, ds, 1, D(1000))
    async with engine.begin() as conn:
        await conn.execute(
            User.__table__.insert(),
            {"id": 1, "display_name": "me", "created_at": data.at(D0, 0), "status": "active",
             "verification_level": 0},
        )  # fmt: skip
        await conn.execute(
            Position.__table__.insert(),
            [{"user_id": 1, "asset": "USDC", "pair_id": None, "quantity": D("946.5"),
              "average_cost": D(1), "realized_pnl": D(0), "last_updated_at": data.at(DAYS[2])},
             {"user_id": 1, "asset": "APT", "pair_id": 1, "quantity": D(6),
              "average_cost": D(10), "realized_pnl": D(0), "last_updated_at": data.at(DAYS[2])}],
        )  # fmt: skip
        await conn.execute(
            FollowRelationship.__table__.insert(),
            {"follower_id": 1, "trader_id": 1, "started_at": data.at(DAYS[1]),
             "ended_at": data.at(DAYS[3], 6), "auto_copy_enabled": True,
             "copy_percentage": D(50), "sizing_mode": "copy_pct", "copy_side": "all",
             "status": "ended"},
        )  # fmt: skip
    await data.insert_trades(engine, [
        manual("buy", D(10), D(10), D(1), data.at(DAYS[1]), 1),
        manual("sell", D(4), D(12), D("0.5"), data.at(DAYS[2]), 2),
    ])  # fmt: skip
    await data.insert_daily_candles(
        engine, {1: dict(zip(DAYS, map(D, (9, 11, 12, 10)), strict=True))}
    )


async def snapshots(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    pa = PortfolioAnalytics
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(pa.snapshot_date, pa.total_value, pa.daily_return, pa.cumulative_return,
                   pa.risk_score, pa.diversification_index, pa.following_count,
                   pa.active_positions).order_by(pa.snapshot_date)
        )  # fmt: skip
        return [tuple(r) for r in rows.all()]


def svc(engine: AsyncEngine, day: date, cache: Any = None) -> AnalyticsService:
    return AnalyticsService(engine, RelationalTimeSeries(engine), cache,
                            clock=lambda: data.at(day, 23), min_trades=1)  # fmt: skip


async def test_portfolio_snapshots_by_hand(engine: AsyncEngine) -> None:
    await seed_user(engine)
    await svc(engine, DAYS[3]).recompute(since=D0)
    rows = await snapshots(engine)
    values = [D(1000), D(1009), D("1018.5"), D("1006.5")]  # cash + APT at the close
    assert [r[0] for r in rows] == DAYS
    assert [r[1] for r in rows] == values
    assert rows[0][2] is None and rows[0][3] == 0
    assert rows[1][2] == D("0.9") and rows[3][3] == D("0.65")
    assert [r[6] for r in rows] == [0, 1, 1, 0]  # the follow ended early on day 3
    assert [r[7] for r in rows] == [0, 1, 1, 1]
    assert rows[0][5] is None and rows[3][5] == 0  # one risk asset: no diversification
    assert rows[0][4] == 0  # all cash, no history: only concentration, which is 0
    returns = [float(b / a - 1) for a, b in itertools.pairwise(values)]
    vol = statistics.stdev(returns) * math.sqrt(365)
    mdd = 12 / 1018.5
    expected = 100 * (0.4 * min(vol / 1.5, 1) + 0.4 * min(mdd / 0.5, 1) + 0.2 * 60 / 1006.5)
    assert float(rows[3][4]) == pytest.approx(expected, abs=1e-4)


async def test_daily_job_equals_rebuild(engine: AsyncEngine) -> None:
    await seed_user(engine)
    for day in DAYS:
        await svc(engine, day).snapshot_today(1)
    daily_path = await snapshots(engine)
    async with engine.begin() as conn:
        await conn.execute(PortfolioAnalytics.__table__.delete())
    await svc(engine, DAYS[3]).recompute(since=D0)
    assert daily_path == await snapshots(engine) and len(daily_path) == 4


async def _board_via(engine: AsyncEngine, cache: Any) -> None:
    ds = data.random_dataset(seed=21, n_traders=10, days=8)
    await data.load_dataset(engine, ds)
    service = svc(engine, ds.last_day, cache)
    await service.recompute()
    for period in Period:
        for metric in RankMetric:
            cached = await service.leaderboard(period, metric, 100)
            async with engine.connect() as conn:
                from oneclick_tui.services.analytics import leaderboard as lb

                stored = await lb.read_stored(conn, period, metric, period.start(ds.last_day))
            key = [(e.rank, e.position, e.trader_id, e.score, e.trades) for e in cached]
            assert key == [(e.rank, e.position, e.trader_id, e.score, e.trades) for e in stored]
    top = await service.leaderboard(Period.ALL_TIME, RankMetric.RETURN_PCT, 3)
    assert len(top) == 3 and top[0].movement == "new"
    # The one-GET snapshot and the sorted set + hash it shortcuts tell the same ranking.
    from oneclick_tui.services.analytics import leaderboard as lb

    cache = service.cache
    assert cache is not None
    fast = await lb.read_top(cache, Period.ALL_TIME, RankMetric.SHARPE, 100)
    await cache.delete(lb.top_key(Period.ALL_TIME, RankMetric.SHARPE))
    assert await lb.read_top(cache, Period.ALL_TIME, RankMetric.SHARPE, 100) == fast
    assert fast
    # A second ranking over the same data: everybody stays, movement "same".
    await service.recompute()
    again = await service.leaderboard(Period.ALL_TIME, RankMetric.RETURN_PCT, 3)
    assert [e.movement for e in again] == ["same"] * 3 and again[0].previous_rank == 1
    # A new trade moves people: the rank changes are kept.
    row = data.lead_row(top[2].trader_id, 1, "buy", D(1000), D("0.0001"), D(0),
                        data.at(ds.last_day, 22), 999_999)  # fmt: skip
    await data.insert_trades(engine, [row])
    await service.on_lead_trade(top[2].trader_id, row["executed_at"])
    moved = await service.leaderboard(Period.ALL_TIME, RankMetric.RETURN_PCT, 100)
    assert any(e.movement in ("up", "down") for e in moved)
    async with engine.connect() as conn:
        n = await conn.scalar(select(Trade.id).where(Trade.tx_hash == row["tx_hash"]))
    assert n is not None


async def test_leaderboard_from_memory_cache(engine: AsyncEngine) -> None:
    await _board_via(engine, MemoryCache())


@pytest.mark.redis
async def test_leaderboard_from_redis(fresh_sqlite_url: str, redis_url: str) -> None:
    await ensure_schema(fresh_sqlite_url)
    engine = make_engine(fresh_sqlite_url)
    cache = RedisCache.from_url(redis_url)
    try:
        await _board_via(engine, cache)
    finally:
        await cache.close()
        await engine.dispose()
