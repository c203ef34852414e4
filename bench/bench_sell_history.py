"""How a lead's sell reads what each follower built from him, as copy history grows.

    .venv/bin/python bench/bench_sell_history.py                  # SQLite and PostgreSQL
    .venv/bin/python bench/bench_sell_history.py --followers 1000 --history 0 10 100

A lead sell is copied as the same fraction of what each follower built by copying that lead.
Before migration 0007 the engine summed, on every sell, every completed copy of the trader
on the pair by his live followers (`history_sum` below, the old query kept here as the
reference); since 0007 it reads the running totals in `copy_holdings`, joined into the one
query a fan-out reads its followers with (`copy_store.fan_out_state`). For F followers with
H completed copies each, both are timed (best of 5), and the two answers are checked equal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fanout import LEAD, PAIR, seed_followers, with_pg

from oneclick_tui.services.engine.catalog import seed_catalog
from oneclick_tui.stores import copy_store as cs
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import FollowRelationship, Trade

T0 = datetime(2026, 11, 2, tzinfo=UTC)


async def history_sum(
    session: AsyncSession, user_ids: list[int], trader_id: int, pair_id: int
) -> dict[int, D]:
    """The pre-0007 read: every completed copy, summed in Python (exact on SQLite)."""
    t = Trade.__table__.c
    f = FollowRelationship.__table__.c
    live = select(f.follower_id).where(f.trader_id == trader_id, f.status != "ended")
    signed = case((t.trade_type == "buy", 1), else_=-1)
    query = select(t.user_id, signed, t.amount).where(
        t.user_id.in_(live),
        t.trader_id == trader_id,
        t.pair_id == pair_id,
        t.status == "completed",
        t.kind == "copy",
    )
    out: dict[int, D] = {}
    for user_id, sign, amount in (await session.execute(query)).all():
        out[user_id] = out.get(user_id, D(0)) + sign * amount
    return out


async def seed_history(
    session: AsyncSession, ids: list[int], trader: int, pair: int, first: int, last: int
) -> None:
    """Lead buys number `first` to `last`, each copied (completed) by every follower."""
    for n in range(first, last):
        at = T0 + timedelta(minutes=n)
        lead = {
            "kind": "lead", "user_id": None, "trader_id": trader, "pair_id": pair,
            "copy_of_trade_id": None, "trade_type": "buy", "amount": D(10), "price": D(8),
            "total_value": D(80), "fees_paid": D(0), "realized_pnl": None,
            "status": "completed", "skip_reason": None, "failure_reason": None,
            "tx_hash": f"0x{n + 1:064x}", "chain_version": n + 1, "executed_at": at,
            "created_at": at,
        }  # fmt: skip
        await cs.insert_decisions(session, [lead], [])
        lead_id = await session.scalar(select(Trade.id).where(Trade.tx_hash == lead["tx_hash"]))
        copies = [
            lead | {"kind": "copy", "user_id": u, "copy_of_trade_id": lead_id, "tx_hash": None,
                    "chain_version": None, "amount": D("0.1"), "total_value": D("0.8")}
            for u in ids
        ]  # fmt: skip
        await cs.insert_decisions(session, copies, [])


async def best_of(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - start)
    return best


async def run(url: str, followers: int, histories: list[int]) -> list[tuple[int, float, float]]:
    await ensure_schema(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    out = []
    try:
        catalog = await seed_catalog(sessions, [PAIR], [LEAD], simulated=True)
        trader, pair = catalog.traders[LEAD.address].id, catalog.pairs[PAIR.symbol].id
        ids = await seed_followers(sessions, trader, followers)
        base, quote = PAIR.base, PAIR.quote

        def totals(s: AsyncSession):  # type: ignore[no-untyped-def]
            # no lead has id 0: every live follow is "to decide", as on a fresh lead trade
            return cs.fan_out_state(s, trader, 0, pair, base, quote)

        done = 0
        for h in histories:
            async with sessions.begin() as s:
                await seed_history(s, ids, trader, pair, done, h)
            done = h
            async with sessions() as s:
                old = await history_sum(s, ids, trader, pair)
                new = (await totals(s)).built
                assert old == new, "the running totals disagree with the history"
                t_old = await best_of(lambda s=s: history_sum(s, ids, trader, pair))
                t_new = await best_of(lambda s=s: totals(s))
            out.append((h, t_old, t_new))
    finally:
        await engine.dispose()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--history", type=int, nargs="+", default=[1, 10, 50, 100])
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}; {args.followers} followers; best of 5, ms")
    print(f"{'backend':<11}{'copies each':>12}{'history sum':>14}{'running total':>15}")
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:

        async def go(url: str) -> list[tuple[int, float, float]]:
            return await run(url, args.followers, sorted(args.history))

        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                rows = await go(f"sqlite+aiosqlite:///{tmp}/bench.db")
        else:
            rows = await with_pg(go)
        for h, t_old, t_new in rows:
            print(f"{backend:<11}{h:>12}{t_old * 1e3:>14.1f}{t_new * 1e3:>15.1f}")


if __name__ == "__main__":
    asyncio.run(main())
