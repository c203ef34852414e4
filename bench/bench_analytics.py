"""Analytics at scale: full recompute on PostgreSQL, incremental update, leaderboard reads.

    .venv/bin/python bench/bench_analytics.py [--traders 1000] [--trades 1000000] [--days 365]
        [--sqlite-trades 100000] [--reads 2000]

Creates a scratch PostgreSQL database via ONECLICK_TEST_PG_ADMIN_URL (default
postgresql://postgres@127.0.0.1/postgres) and drops it afterwards; the trades are generated
inside PostgreSQL (INSERT ... SELECT generate_series) so the load is not the Python client.
Each trader trades one of 6 pairs, alternating a buy and a sell of the same size (a closed
round trip every two trades), spread over ``--days`` days ending today; one 1d candle per
pair and day. Then it times:

- `AnalyticsService.recompute()` (refresh of the materialized view, day table in SQL,
  period figures in Python, 20 leaderboards, portfolio snapshots), stage by stage;
- `on_lead_trade` for one trader (the incremental path the engine calls);
- top-100 leaderboard reads from the in-process cache and from Redis (ONECLICK_BENCH_REDIS_URL,
  default redis://127.0.0.1:6379/14, keys under a unique prefix, deleted afterwards);
- the same recompute on SQLite (Python path) at ``--sqlite-trades`` for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oneclick_tui.services.analytics import AnalyticsService, Period, RankMetric
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.cache.memory import MemoryCache
from oneclick_tui.stores.cache.redis import RedisCache
from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.security.roles import drop_database_and_roles
from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries

PG_ADMIN = os.environ.get(
    "ONECLICK_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("ONECLICK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PAIRS = [("APT", "USDC", 8.45), ("WETH", "USDC", 3180), ("WBTC", "USDC", 96500),
         ("CELL", "USDC", 0.0128), ("APT", "USDT", 8.45), ("THL", "USDC", 0.0342)]  # fmt: skip


def price_sql(pair: str, day: str) -> str:
    """A deterministic wavy price per pair and day (4 decimals), the same in trades and candles."""
    return (
        f"round((p.ref * (1 + 0.2 * sin({day} / 9.0 + {pair}) + 0.05 * sin({day} * 1.7)))"
        "::numeric, 4)"
    )


async def load(engine: AsyncEngine, traders: int, trades: int, days: int, first: date) -> float:
    """Pairs, traders, trades and candles generated in SQL; returns seconds taken."""
    t0 = time.perf_counter()
    per_trader = max(2, trades // traders // 2 * 2)
    step = days * 86400.0 / per_trader
    async with engine.begin() as conn:
        for i, (base, quote, _ref) in enumerate(PAIRS, start=1):
            await conn.execute(
                text(
                    "INSERT INTO trading_pairs (id, base_asset, quote_asset, dex_protocol,"
                    " min_trade_size, tick_size, fee_rate, is_active) VALUES"
                    " (:i, :b, :q, 'bench', 0.0001, 0.0001, 0.003, true)"
                ),
                {"i": i, "b": base, "q": quote},
            )
        await conn.execute(text("CREATE TEMP TABLE refs (pair_id int, ref numeric)"))
        await conn.execute(
            text(
                "INSERT INTO refs VALUES "
                + ",".join(f"({i}, {p[2]})" for i, p in enumerate(PAIRS, start=1))
            )
        )
        await conn.execute(
            text(
                "INSERT INTO traders (id, wallet_address, display_name, registered_at,"
                " verification_status, risk_category, starting_balance, is_simulated)"
                " SELECT g, '0x' || lpad(to_hex(g), 64, '0'), 'bench-' || g, :t0, 'verified',"
                " 'medium', 1000000, true FROM generate_series(1, :n) g"
            ),
            {"n": traders, "t0": datetime.combine(first, dtime(), tzinfo=UTC)},
        )
        # Trade k of trader g: buys on even k, sells the same size on odd k.
        await conn.execute(
            text(
                f"""
                INSERT INTO trades (kind, trader_id, pair_id, trade_type, amount, price,
                                    total_value, fees_paid, status, executed_at, created_at)
                SELECT 'lead', g, p.pair_id, CASE WHEN k % 2 = 0 THEN 'buy' ELSE 'sell' END,
                       amt, px, amt * px, round(amt * px * 0.001, 6), 'completed', at, at
                FROM generate_series(1, :traders) g
                CROSS JOIN generate_series(0, :per - 1) k
                JOIN refs p ON p.pair_id = g % 6 + 1
                CROSS JOIN LATERAL (SELECT
                    CAST(:t0 AS timestamptz) + make_interval(secs => k * :step + g) AS at,
                    round((1 + ((g * 7919 + (k / 2) * 104729) % 1000) / 100.0)
                          * 1000 / p.ref, 4) + 0.0001 AS amt) a
                CROSS JOIN LATERAL (SELECT {price_sql("p.pair_id",
                    "floor(extract(epoch FROM a.at - CAST(:t0 AS timestamptz)) / 86400)")}
                    * (1 + ((g + k) % 7 - 3) / 1000.0) AS px) b
                """
            ),
            {"traders": traders, "per": per_trader, "step": step,
             "t0": datetime.combine(first, dtime(), tzinfo=UTC)},
        )  # fmt: skip
        await conn.execute(
            text(
                f"""
                INSERT INTO market_data (pair_id, timeframe, bucket_at, open, high, low, close,
                                         volume, vwap, trade_count)
                SELECT p.pair_id, '1d', CAST(:t0 AS timestamptz) + make_interval(days => d),
                       c, c * 1.02, c * 0.98, c, 1, c, 1
                FROM refs p CROSS JOIN generate_series(0, :days - 1) d
                CROSS JOIN LATERAL (SELECT {price_sql("p.pair_id", "d")} AS c) x
                """
            ),
            {"days": days, "t0": datetime.combine(first, dtime(), tzinfo=UTC)},
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - t0


async def timed_recompute(svc: AnalyticsService) -> tuple[float, dict[str, float], dict[str, int]]:
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        if done == total:
            marks[stage] = time.perf_counter() - start

    counts = await svc.recompute(progress=progress)
    return time.perf_counter() - start, marks, counts


def stage_lines(marks: dict[str, float]) -> list[str]:
    out, before = [], 0.0
    for stage, at in marks.items():
        out.append(f"    {stage:<24} {at - before:7.2f} s")
        before = at
    return out


async def read_latency(cache: Cache, reads: int, svc: AnalyticsService) -> tuple[float, float]:
    svc.cache = cache
    await svc._rank_all(svc.clock().date(), svc.clock(), None)  # fill this cache
    samples = []
    for i in range(reads):
        metric = list(RankMetric)[i % 5]
        t = time.perf_counter()
        rows = await svc.leaderboard(Period.ALL_TIME, metric, 100)
        samples.append(time.perf_counter() - t)
        assert rows, "empty leaderboard"
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99)] * 1000


async def timed(label: str, fn: Callable[[], Awaitable[object]]) -> float:
    t = time.perf_counter()
    await fn()
    took = time.perf_counter() - t
    print(f"  {label:<40} {took * 1000:9.1f} ms")
    return took


async def pg_run(args: argparse.Namespace) -> None:
    name = args.keep or f"oneclick_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    if not exists:
        await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    try:
        await ensure_schema(url)
        engine = make_engine(url)
        today = datetime.now(UTC).date()
        first = today - timedelta(days=args.days - 1)
        took = 0.0
        if not exists:
            took = await load(engine, args.traders, args.trades, args.days, first)
        async with engine.connect() as conn:
            n = await conn.scalar(text("SELECT count(*) FROM trades"))
        print(f"PostgreSQL: {args.traders} traders, {n} lead trades over {args.days} days "
              f"(generated in {took:.1f} s)")  # fmt: skip
        svc = AnalyticsService(engine, RelationalTimeSeries(engine), MemoryCache())
        total, marks, counts = await timed_recompute(svc)
        print(f"  full recompute (default since)          {total:9.2f} s  {counts}")
        print("\n".join(stage_lines(marks)))
        total, marks, counts = await timed_recompute(svc)
        print(f"  full recompute again (warm)             {total:9.2f} s")
        print("\n".join(stage_lines(marks)))
        await timed("on_lead_trade (1 trader + 20 boards)", lambda: svc.on_lead_trade(7))
        p50, p99 = await read_latency(MemoryCache(), args.reads, svc)
        print(f"  top-100 read, in-process cache          p50 {p50:.3f} ms  p99 {p99:.3f} ms")
        redis = RedisCache.from_url(REDIS_URL, prefix=f"bench-{uuid.uuid4().hex[:8]}:")
        try:
            p50, p99 = await read_latency(redis, args.reads, svc)
            print(f"  top-100 read, Redis cache               p50 {p50:.3f} ms  p99 {p99:.3f} ms")
            keys = [k async for k in redis.client.scan_iter(match=f"{redis.prefix}*")]
            if keys:
                await redis.client.delete(*keys)
        finally:
            await redis.close()
        await engine.dispose()
    finally:
        if not args.keep:
            await drop_database_and_roles(admin, name)
        await admin.close()


async def sqlite_run(args: argparse.Namespace) -> None:
    """The Python path on SQLite, trades copied from a small PostgreSQL load."""
    if not args.sqlite_trades:
        return
    with tempfile.TemporaryDirectory() as tmp:
        name = f"oneclick_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        pg_url = (PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                  + f"/{name}")  # fmt: skip
        try:
            await ensure_schema(pg_url)
            pg = make_engine(pg_url)
            traders = max(1, args.traders // 10)
            today = datetime.now(UTC).date()
            await load(pg, traders, args.sqlite_trades, args.days,
                       today - timedelta(days=args.days - 1))  # fmt: skip
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await ensure_schema(url)
            lite = make_engine(url)
            for table in ("trading_pairs", "traders", "trades", "market_data"):
                async with pg.connect() as src:
                    rows = (await src.execute(text(f"SELECT * FROM {table}"))).mappings().all()
                from oneclick_tui.stores.models import Base

                async with lite.begin() as dst:
                    model = Base.metadata.tables[table]
                    for i in range(0, len(rows), 20_000):
                        await dst.execute(model.insert(), [dict(r) for r in rows[i : i + 20_000]])
            await pg.dispose()
            print(f"SQLite (Python path): {traders} traders, {len(rows) and args.sqlite_trades} "
                  "lead trades")  # fmt: skip
            svc = AnalyticsService(lite, RelationalTimeSeries(lite), MemoryCache())
            total, marks, _ = await timed_recompute(svc)
            print(f"  full recompute (default since)          {total:9.2f} s")
            print("\n".join(stage_lines(marks)))
            await lite.dispose()
        finally:
            await drop_database_and_roles(admin, name)
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traders", type=int, default=1000)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--sqlite-trades", type=int, default=100_000)
    parser.add_argument("--keep", help="Reuse/keep this PostgreSQL database (load it once).")
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpu, "
          f"Python {platform.python_version()}, {datetime.now(UTC).date()}")  # fmt: skip
    asyncio.run(pg_run(args))
    asyncio.run(sqlite_run(args))


if __name__ == "__main__":
    main()
