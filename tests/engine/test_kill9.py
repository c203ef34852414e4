"""kill -9 in the middle of a fan-out, restart, and nothing is copied twice or dropped.

3,000 followers of three simulated traders (about 1,100 per lead trade), seeded in bulk. The
real engine process runs at 500x, is SIGKILLed while copy records are being written,
restarted for a bounded while, and must leave: exactly one copy-or-skip per (live follower,
lead trade), no pending copy, one completion audit per completed copy, and positions equal
to an independent recomputation from the completed copies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.services.engine.catalog import seed_catalog
from oneclick_tui.services.runtime import sim_profiles
from oneclick_tui.services.sim.pairs import PAIRS
from oneclick_tui.stores.db import make_engine, session_factory
from oneclick_tui.stores.models import (
    AuditLog,
    FollowRelationship,
    Position,
    Trade,
    TradingPair,
)
from tests.engine.helpers import Fill, Ledger, close, run_cli, seed_followers, start_engine

SEED = "7"
FOLLOWERS = 3_000
TRADERS = ("BraveLynx", "SwiftYak", "ZenWolf")  # the busiest of seed 7's traders
CASH = {"USDC": D(10_000), "USDT": D(10_000), "APT": D(200)}
STALE_AFTER_S = 300  # CopyEngine's default staleness bound
KILL_AFTER_RECORDS = 2_500  # a couple of fan-outs in: well inside the busy part of the run


def _prefs(i: int) -> dict[str, object]:
    if i % 7 == 0:
        return {"allowed_assets": ["APT", "USDC"]}
    if i % 11 == 0:
        return {"max_trade_amount": D(1)}
    return {}


def _terms(i: int) -> dict[str, object]:
    if i % 13 == 0:
        return {"status": "paused"}
    if i % 5 == 0:
        return {"copy_side": "entries_only"}
    if i % 17 == 0:
        return {"sizing_mode": "fixed_quote", "fixed_quote_amount": D(50)}
    return {}


@pytest.fixture
async def db(fresh_db_url: str) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    run_cli(fresh_db_url, "db", "upgrade")
    engine = make_engine(fresh_db_url)
    yield fresh_db_url, session_factory(engine)
    await engine.dispose()


async def _count_copies(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        query = select(func.count()).select_from(Trade).where(Trade.kind == "copy")
        return int(await s.scalar(query) or 0)


async def _wait_for_copies(
    sessions: async_sessionmaker[AsyncSession], proc: subprocess.Popen[bytes], at_least: int
) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, "engine exited before it was killed"
        count = await _count_copies(sessions)
        if count >= at_least:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} copy records after 180 s")


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"engine did not stop within {timeout}s") from None


@pytest.mark.timeout(900)
async def test_kill9_mid_fanout_then_restart_copies_exactly_once(
    db: tuple[str, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    url, sessions = db
    catalog = await seed_catalog(sessions, PAIRS, sim_profiles(int(SEED)), simulated=True)
    by_name = {t.display_name: t.id for t in catalog.traders.values()}
    traders = [by_name[name] for name in TRADERS]
    follows = {i: [traders[i % 3]] + ([traders[(i + 1) % 3]] if i % 10 == 0 else []) for i in
               range(FOLLOWERS)}  # fmt: skip
    await seed_followers(sessions, follows, FOLLOWERS, CASH, _prefs, _terms)
    log = tmp_path / "engine.log"

    first = start_engine(url, log, "--seed", SEED, "--speed", "500")
    try:
        seen = await _wait_for_copies(sessions, first, KILL_AFTER_RECORDS)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
    assert await _count_copies(sessions) >= seen
    async with sessions() as s:
        pending = await s.scalar(
            select(func.count()).select_from(Trade).where(Trade.status == "pending")
        )
    # Informational: > 0 means the kill landed between a fan-out's two transactions.
    print(f"killed after {seen} copy records; {pending} pending at the kill")

    second = start_engine(url, log, "--seed", SEED, "--speed", "500", "--duration", "300")
    assert _wait_exit(second, 600) == 0, log.read_text()[-3000:]
    assert "engine.stopped" in log.read_text()

    await _check_exactly_once(sessions, traders)
    await _check_no_stale_pending(sessions)
    await _check_positions(sessions)


async def _check_exactly_once(
    sessions: async_sessionmaker[AsyncSession], traders: list[int]
) -> None:
    async with sessions() as s:
        leads = (
            await s.execute(
                select(Trade.id, Trade.trader_id).where(
                    Trade.kind == "lead", Trade.trader_id.in_(traders)
                )
            )
        ).all()
        live = (
            await s.execute(
                select(FollowRelationship.follower_id, FollowRelationship.trader_id).where(
                    FollowRelationship.status != "ended"
                )
            )
        ).all()
        records = (
            await s.execute(
                select(Trade.user_id, Trade.copy_of_trade_id).where(Trade.kind == "copy")
            )
        ).all()
    followers_of: dict[int, list[int]] = defaultdict(list)
    for follower, trader in live:
        followers_of[trader].append(follower)
    expected = {(f, lead) for lead, trader in leads if trader for f in followers_of[trader]}
    got = Counter((u, lead) for u, lead in records)
    assert len(leads) >= 6, "too few lead trades to say anything"
    duplicates = [k for k, n in got.items() if n > 1]
    assert not duplicates, f"{len(duplicates)} (follower, lead) pairs recorded twice"
    missing = expected - set(got)
    assert not missing, f"{len(missing)} of {len(expected)} pairs have no copy or skip"
    assert set(got) == expected


async def _check_no_stale_pending(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        rows = (
            await s.execute(
                select(Trade.id, Trade.created_at).where(Trade.status.in_(("pending", "submitted")))
            )
        ).all()
        newest = await s.scalar(select(func.max(Trade.created_at)).where(Trade.kind == "lead"))
    assert newest is not None
    stale = [r for r in rows if (newest - r.created_at).total_seconds() > STALE_AFTER_S]
    assert not stale, f"{len(stale)} copies left pending beyond the staleness bound"
    assert not rows, f"{len(rows)} copies still pending after a clean stop"


async def _check_positions(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        pairs = {
            p.id: (p.base_asset, p.quote_asset) for p in (await s.scalars(select(TradingPair)))
        }
        fills = (
            await s.execute(
                select(
                    Trade.id,
                    Trade.user_id,
                    Trade.pair_id,
                    Trade.trade_type,
                    Trade.amount,
                    Trade.price,
                    Trade.fees_paid,
                    Trade.total_value,
                )
                .where(Trade.status == "completed", Trade.kind != "lead")
                .order_by(Trade.executed_at, Trade.id)
            )
        ).all()
        positions = (await s.scalars(select(Position))).all()
        completions = Counter(
            (
                await s.scalars(
                    select(AuditLog.entity_id).where(AuditLog.action == "copy.completed")
                )
            ).all()
        )
    assert fills, "nothing was copied"
    assert {str(f.id) for f in fills} == set(completions), "completion audits != completed copies"
    assert max(completions.values()) == 1, "a copy was completed twice"
    ledgers: dict[int, Ledger] = defaultdict(Ledger)
    for f in fills:
        base, quote = pairs[f.pair_id]
        ledger = ledgers[f.user_id]
        if not ledger.assets:
            for asset, amount in CASH.items():
                book = ledger.book(asset)
                book.quantity, book.cost = amount, amount
        ledger.apply(Fill(base, quote, f.trade_type, f.amount, f.price, f.fees_paid, f.total_value))
    wrong = []
    for p in positions:
        if p.user_id not in ledgers:
            assert p.quantity == CASH.get(p.asset), (p.user_id, p.asset, p.quantity)
            continue
        book = ledgers[p.user_id].book(p.asset)
        if not (close(p.quantity, book.quantity) and close(p.realized_pnl, book.realized)):
            wrong.append((p.user_id, p.asset, p.quantity, book.quantity, p.realized_pnl))
    assert not wrong, f"{len(wrong)} positions disagree, e.g. {wrong[:3]}"
