"""Copy fan-out latency: one lead trade in -> N copies decided, signed and durably recorded.

    .venv/bin/python bench/bench_fanout.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/bench_fanout.py --backend sqlite --followers 1 100 10000
    .venv/bin/python bench/bench_fanout.py --no-sign              # without wallet keys

Each sample is `CopyEngine.on_lead_trade` for one lead trade of a trader with N followers,
every follower holding a wallet key: the lead row, N decisions, N Hyperion swap
transactions built and signed (thread pool), the paper fills, and the copy rows (already
completed), their audit rows and the positions committed in one transaction. Leads
alternate buy and sell so positions open and close. PostgreSQL: a throw-away database on
ONECLICK_BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oneclick_tui.domain.market_events import LeadTrade, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import TraderProfile, seed_catalog
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.services.engine.signer import CopySigner
from oneclick_tui.services.sim.pairs import pair_by_symbol
from oneclick_tui.services.wallet.keys import generate_key
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import (
    FollowRelationship,
    Position,
    User,
    UserPreferences,
)
from oneclick_tui.stores.security.roles import drop_database_and_roles

PG_ADMIN = os.environ.get(
    "ONECLICK_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PAIR = pair_by_symbol("APT/USDC")
LEAD = TraderProfile("0x" + "be" * 32, "Bench Lead", "medium", "trend", D("100000"))
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def book() -> OrderBook:
    """A deep book around 8.45 so every copy fills."""
    b = OrderBook(PAIR.symbol)
    bids = [(D("8.45") - D("0.01") * i, D("100000")) for i in range(1, 40)]
    asks = [(D("8.45") + D("0.01") * i, D("100000")) for i in range(1, 40)]
    b.load(1, bids, asks)
    return b


async def seed_followers(sessions, trader_id: int, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """N users with preferences, 100,000 USDC of paper cash and a 1% follow, in bulk."""
    async with sessions.begin() as s:
        ids = list(
            (
                await s.execute(
                    User.__table__.insert().returning(User.id, sort_by_parameter_order=True),
                    [
                        {"display_name": f"f{i}", "status": "active", "verification_level": 0}
                        for i in range(n)
                    ],
                )
            ).scalars()
        )
        await s.execute(
            UserPreferences.__table__.insert(),
            [{"user_id": u, "risk_tolerance": "medium", "max_slippage_pct": D(1)} for u in ids],
        )
        await s.execute(
            Position.__table__.insert(),
            [
                {
                    "user_id": u,
                    "asset": "USDC",
                    "quantity": D(100_000),
                    "average_cost": D(1),
                    "realized_pnl": D(0),
                }
                for u in ids
            ],
        )
        await s.execute(
            FollowRelationship.__table__.insert(),
            [
                {
                    "follower_id": u,
                    "trader_id": trader_id,
                    "copy_percentage": D(1),
                    "sizing_mode": "copy_pct",
                    "copy_side": "all",
                    "auto_copy_enabled": True,
                    "status": "active",
                }
                for u in ids
            ],
        )
    return ids


def lead(n: int) -> LeadTrade:
    side = Side.BUY if n % 2 == 0 else Side.SELL
    return LeadTrade(
        LEAD.address, PAIR.symbol, side, D("1000"), D("8.45"), D("0.1"),
        "0x" + f"{n + 1:064x}", n + 1, T0 + timedelta(seconds=n),
    )  # fmt: skip


async def run_one(
    url: str, followers: int, samples: int, sign: bool, revision: str = "head"
) -> tuple[list[float], list[float], int]:
    if revision == "head":
        await ensure_schema(url)
    else:
        await migrate.upgrade(url, revision)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        catalog = await seed_catalog(sessions, [PAIR], [LEAD], simulated=True)
        ids = await seed_followers(sessions, catalog.traders[LEAD.address].id, followers)
        signer = CopySigner({u: generate_key() for u in ids}) if sign else None
        copier = CopyEngine(sessions, catalog, {PAIR.symbol: book()}, signer=signer)
        await copier.on_lead_trade(lead(10_000_000))  # warm-up: caches, prepared statements
        recorded: list[float] = []
        executed: list[float] = []
        completed = 0
        for i in range(samples):
            trade = lead(i)
            # one on_lead_trade: decide + sign + paper fill, committed in ONE transaction
            # (paper needs no durable pending row before the fill; see docs/COPY_ENGINE.md)
            start = time.perf_counter()
            result = await copier.on_lead_trade(trade)
            end = time.perf_counter()
            recorded.append(end - start)
            executed.append(end - start)
            completed += result.completed
        await copier.aclose()
        if signer is not None:
            signer.close()
        return recorded, executed, completed
    finally:
        await engine.dispose()


async def with_pg(fn):  # type: ignore[no-untyped-def]
    name = f"oneclick_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        return await fn(f"{base}/{name}")
    finally:
        conn = await asyncpg.connect(PG_ADMIN)
        await drop_database_and_roles(conn, name)
        await conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def samples_for(n: int) -> int:
    return 300 if n <= 1 else 100 if n <= 100 else 30 if n <= 1000 else 10


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--followers", type=int, nargs="+", default=[1, 100, 10_000])
    parser.add_argument("--samples", type=int, default=None, help="per size (default: by size)")
    parser.add_argument("--no-sign", action="store_true", help="no wallet keys, no signing")
    parser.add_argument(
        "--pg-revision",
        default="head",
        help="migrate PostgreSQL only this far (e.g. 0002: without 0003's audit triggers)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
        f", load {os.getloadavg()[0]:.2f}; signing {'off' if args.no_sign else 'on'}"
        f"; PostgreSQL schema at {args.pg_revision}"
    )
    print(f"{'':<30}{'signed + recorded':>20}{'(+ paper executed)':>22}")
    print(
        f"{'backend':<11}{'followers':>10}{'samples':>9}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'p50 ms':>12}{'p99 ms':>10}"
    )
    for backend in backends:
        for n in args.followers:
            samples = args.samples or samples_for(n)

            async def go(
                url: str, n: int = n, samples: int = samples
            ) -> tuple[list[float], list[float], int]:
                revision = args.pg_revision if url.startswith("postgresql") else "head"
                return await run_one(url, n, samples, not args.no_sign, revision)

            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    recorded, executed, done = await go(f"sqlite+aiosqlite:///{tmp}/bench.db")
            else:
                recorded, executed, done = await with_pg(go)
            if done < samples * n // 2:
                print(f"  warning: only {done} of {samples * n} copies completed")
            print(
                f"{backend:<11}{n:>10}{samples:>9}"
                f"{statistics.median(recorded) * 1e3:>10.2f}{pct(recorded, 0.99) * 1e3:>10.2f}"
                f"{statistics.median(executed) * 1e3:>12.2f}{pct(executed, 0.99) * 1e3:>10.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
