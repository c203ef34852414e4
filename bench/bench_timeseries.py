"""Batched write rate of the time-series store backends, in points per second.

    .venv/bin/python bench/bench_timeseries.py [--points 50000] [--batch 5000] [--skip-pg]

Backends: relational on SQLite (a temp file), relational on PostgreSQL (a scratch database
created and dropped via ONECLICK_TEST_PG_ADMIN_URL, default postgresql://postgres@127.0.0.1/
postgres), and InfluxDB against the STAND-IN server from tests/stores/influx_standin.py,
running in the same process. The InfluxDB figure measures the client (line protocol +
HTTP) plus the stand-in's parser, NOT a real InfluxDB. It also times one 1m OHLCV
window query over everything written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.security.roles import drop_database_and_roles
from oneclick_tui.stores.timeseries import OHLCV_FROM_TRADES, Point, TimeSeriesStore, Window
from oneclick_tui.stores.timeseries.influx import InfluxTimeSeries
from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries
from tests.stores.influx_standin import InfluxStandIn

PG_ADMIN = os.environ.get(
    "ONECLICK_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def make_points(n: int) -> list[Point]:
    pairs = ["APT-USDC", "BTC-USDC", "ETH-USDC", "SOL-USDC"]
    return [
        Point(
            "trades",
            {"pair": pairs[i % 4]},
            {"price": Decimal(10_000 + i % 997) / 100, "size": Decimal(i % 50 + 1) / 10},
            T0 + timedelta(milliseconds=250 * i),
        )
        for i in range(n)
    ]


@asynccontextmanager
async def relational(url: str) -> AsyncIterator[TimeSeriesStore]:
    await ensure_schema(url)
    engine = make_engine(url)
    try:
        yield RelationalTimeSeries(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def sqlite() -> AsyncIterator[TimeSeriesStore]:
    with tempfile.TemporaryDirectory() as tmp:
        async with relational(f"sqlite+aiosqlite:///{tmp}/bench.db") as store:
            yield store


@asynccontextmanager
async def postgres() -> AsyncIterator[TimeSeriesStore]:
    name = f"oneclick_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    try:
        async with relational(url) as store:
            yield store
    finally:
        await drop_database_and_roles(admin, name)
        await admin.close()


@asynccontextmanager
async def influx_standin() -> AsyncIterator[TimeSeriesStore]:
    server = InfluxStandIn()
    await server.start()
    store = await InfluxTimeSeries.open(
        server.url, server.token, server.org, server.bucket, max_buffered_points=1_000_000
    )
    try:
        yield store
    finally:
        await store.close()
        await server.stop()


async def run(
    name: str,
    factory: Callable[[], AbstractAsyncContextManager[TimeSeriesStore]],
    points: list[Point],
    batch: int,
) -> None:
    async with factory() as store:
        started = time.perf_counter()
        for i in range(0, len(points), batch):
            await store.write(points[i : i + batch])
        await store.flush(600)
        elapsed = time.perf_counter() - started
        q_start = time.perf_counter()
        rows = await store.query_windows(
            "trades", T0, T0 + timedelta(days=30), Window.M1, OHLCV_FROM_TRADES
        )
        q_elapsed = time.perf_counter() - q_start
    print(
        f"| {name:<24} | {len(points):>8} | {batch:>6} | {len(points) / elapsed:>12,.0f} "
        f"| {q_elapsed * 1000:>10,.0f} ms ({len(rows)} rows) |",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    points = make_points(args.points)
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print("| backend                  |   points |  batch |   points/s   | 1m OHLCV query        |")
    print("|--------------------------|----------|--------|--------------|-----------------------|")
    await run("relational-sqlite", sqlite, points, args.batch)
    if not args.skip_pg:
        await run("relational-postgresql", postgres, points, args.batch)
    await run("influx (stand-in, local)", influx_standin, points, args.batch)


if __name__ == "__main__":
    asyncio.run(main())
