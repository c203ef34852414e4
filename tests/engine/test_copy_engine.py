"""The copy engine end to end on SQLite and the real PostgreSQL: copies, skips, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain.market_events import LeadTrade, PairSpec, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import TraderProfile, seed_catalog
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.stores import copy_store
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import AuditLog, CopyHolding, Position, Trade
from oneclick_tui.stores.repositories import Repositories

PAIR = PairSpec(
    "APT/USDC",
    "APT",
    "USDC",
    "hyperion",
    D("0.0001"),
    D("0.01"),
    D("0.1"),
    D("0.0002"),
    D("0.0005"),
    8,
    6,
    D("10"),
)
LEAD = TraderProfile("0x" + "ab" * 32, "Trend Tom", "medium", "trend", D("100000"))
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def book() -> OrderBook:
    b = OrderBook("APT/USDC")
    b.load(
        1,
        [(D("9.99"), D("500")), (D("9.98"), D("500"))],
        [(D("10.01"), D("500")), (D("10.02"), D("500"))],
    )
    return b


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    repos: Repositories
    engine: CopyEngine
    users: dict[str, int]


@pytest.fixture
async def world(fresh_db_url: str) -> AsyncIterator[World]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    sessions = session_factory(engine)
    repos = Repositories.over(sessions)
    catalog = await seed_catalog(sessions, [PAIR], [LEAD], simulated=True)
    users: dict[str, int] = {}
    for name, prefs in {
        "alice": {"risk_tolerance": "medium"},
        "bob": {"risk_tolerance": "low"},
        "carol": {"risk_tolerance": "high", "max_trade_amount": D("20")},
    }.items():
        user, _ = await repos.users.create(display_name=name, **prefs)
        users[name] = user.id
        await repos.positions.upsert(user.id, "USDC", quantity=D("1000"), average_cost=D(1))
        trader = catalog.traders[LEAD.address]
        await repos.follows.follow(user.id, trader.id, copy_percentage=D(25))
    copy_engine = CopyEngine(sessions, catalog, {"APT/USDC": book()})
    yield World(sessions, repos, copy_engine, users)
    await engine.dispose()


def lead(side: Side, amount: str, n: int, at: datetime = T0) -> LeadTrade:
    return LeadTrade(
        LEAD.address, "APT/USDC", side, D(amount), D("10.01"), D("0.01"), "0x" + f"{n:064x}", n, at
    )


async def records(w: World, user: str) -> list[Trade]:
    async with w.sessions() as s:
        q = select(Trade).where(Trade.user_id == w.users[user]).order_by(Trade.id)
        return list((await s.scalars(q)).all())


async def holding(w: World, user: str, asset: str) -> D:
    async with w.sessions() as s:
        q = select(Position.quantity).where(
            Position.user_id == w.users[user], Position.asset == asset
        )
        return (await s.scalar(q)) or D(0)


async def test_lead_buy_copies_skips_and_clamps_per_follower(world: World) -> None:
    result = await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))
    assert result.copies == 2 and result.skips == {"risk_category": 1} and result.completed == 2

    (alice,) = await records(world, "alice")
    assert (alice.status, alice.amount, alice.price) == ("completed", D("10"), D("10.01"))
    assert alice.fees_paid == D("0.05005")  # 100.1 USDC x 0.05% taker fee
    assert alice.realized_pnl == D("-0.05005")  # the fee, per the PnL convention
    assert await holding(world, "alice", "APT") == D("10")
    assert await holding(world, "alice", "USDC") == D("1000") - D("100.1") - D("0.05005")

    (bob,) = await records(world, "bob")
    assert (bob.status, bob.skip_reason) == ("skipped", "risk_category")

    (carol,) = await records(world, "carol")  # 10 APT wanted, clamped to 20 USDC at 10.01
    assert carol.status == "completed" and carol.amount == D("1.99")


async def test_lead_sell_sells_the_same_fraction_of_the_copied_position(world: World) -> None:
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))
    await world.engine.on_lead_trade(lead(Side.SELL, "10", 2, T0 + timedelta(minutes=1)))
    sells = [t for t in await records(world, "alice") if t.trade_type == "sell"]
    assert len(sells) == 1 and sells[0].amount == D("2.5")  # lead sold 1/4 of his 40
    assert sells[0].price == D("9.99")
    assert sells[0].realized_pnl == (D("9.99") - D("10.01")) * D("2.5") - D("0.0124875")
    assert await holding(world, "alice", "APT") == D("7.5")


async def test_replayed_lead_trade_writes_nothing_new(world: World) -> None:
    trade = lead(Side.BUY, "40", 1)
    await world.engine.on_lead_trade(trade)
    again = await world.engine.on_lead_trade(trade)
    assert again.copies == 0 and again.skips == {}
    async with world.sessions() as s:
        total = await s.scalar(select(func.count()).select_from(Trade))
        audits = await s.scalar(  # the engine's decisions, not PostgreSQL's row triggers
            select(func.count()).select_from(AuditLog).where(~AuditLog.action.startswith("row."))
        )
    assert total == 4  # one lead trade + one record per follower
    assert audits == 3  # one per follower: a skip, two copies decided and filled (paper)


async def test_paused_follower_gets_a_paused_skip(world: World) -> None:
    catalog_trader = world.engine.catalog.traders[LEAD.address]
    await world.repos.follows.pause(world.users["alice"], catalog_trader.id)
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))
    (alice,) = await records(world, "alice")
    assert (alice.status, alice.skip_reason) == ("skipped", "paused")


async def test_crash_between_decision_and_execution_is_recovered(world: World) -> None:
    trade = lead(Side.BUY, "40", 1)
    trader = world.engine.catalog.traders[LEAD.address]
    pair = world.engine.catalog.pairs["APT/USDC"]
    # the first transaction alone, as if the process died right after it committed
    from oneclick_tui.stores import copy_store

    async with world.sessions.begin() as s:
        lead_id = await copy_store.record_lead_trade(s, trade, trader.id, pair.id)
        await world.engine._decide_all(s, trade, lead_id, trader, pair)
    assert [t.status for t in await records(world, "alice")] == ["pending"]
    done, failed = await world.engine.recover(now=T0 + timedelta(seconds=5))
    assert (done, failed) == (2, 0)
    assert [t.status for t in await records(world, "alice")] == ["completed"]
    assert await holding(world, "alice", "APT") == D("10")


async def test_stale_pending_copy_fails_with_reason_instead_of_filling_late(world: World) -> None:
    trade = lead(Side.BUY, "40", 1)
    trader = world.engine.catalog.traders[LEAD.address]
    pair = world.engine.catalog.pairs["APT/USDC"]
    from oneclick_tui.stores import copy_store

    async with world.sessions.begin() as s:
        lead_id = await copy_store.record_lead_trade(s, trade, trader.id, pair.id)
        await world.engine._decide_all(s, trade, lead_id, trader, pair)
    await world.engine.recover(now=T0 + timedelta(hours=1))
    (alice,) = await records(world, "alice")
    assert alice.status == "failed" and alice.failure_reason.startswith("stale")
    assert await holding(world, "alice", "APT") == D(0)


async def built(w: World) -> dict[str, D]:
    """Each follower's running total of APT built by copying the lead (`copy_holdings`)."""
    names = {v: k for k, v in w.users.items()}
    async with w.sessions() as s:
        rows = (await s.execute(select(CopyHolding.follower_id, CopyHolding.base_built))).all()
    return {names[u]: amount for u, amount in rows}


async def assert_totals_match_history(w: World) -> None:
    async with w.sessions() as s:
        from_history = await copy_store.recompute_holdings(s)
        rows = (await s.execute(select(CopyHolding))).scalars().all()
    kept = {(r.follower_id, r.trader_id, r.pair_id): r.base_built for r in rows}
    assert kept == from_history


async def test_running_totals_follow_every_completed_copy(world: World) -> None:
    """Paper fills, a recovered copy, a stale one that fails, and a sell: the totals kept in
    `copy_holdings` are always what the copy history sums to."""
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))
    assert await built(world) == {"alice": D("10"), "carol": D("1.99")}
    trader = world.engine.catalog.traders[LEAD.address]
    pair = world.engine.catalog.pairs["APT/USDC"]
    for n, now in ((2, T0 + timedelta(seconds=5)), (3, T0 + timedelta(hours=1))):
        trade = lead(Side.BUY, "8", n)
        async with world.sessions.begin() as s:  # decided, then the process "died"
            lead_id = await copy_store.record_lead_trade(s, trade, trader.id, pair.id)
            await world.engine._decide_all(s, trade, lead_id, trader, pair)
        await world.engine.recover(now=now)  # n=2 completes, n=3 is stale and fails
    assert await built(world) == {"alice": D("12"), "carol": D("3.98")}
    await world.engine.on_lead_trade(lead(Side.SELL, "14", 4, T0 + timedelta(minutes=1)))
    # the lead held 40 + 8 + 8 = 56 and sold a quarter: so does each follower (carol's
    # 0.995 rounds down to the pair's 0.01 lot)
    assert await built(world) == {"alice": D("9"), "carol": D("2.99")}
    await assert_totals_match_history(world)


async def test_a_sell_is_sized_from_the_totals_not_from_history(world: World) -> None:
    """The history of copies may be archived away (a detached month); what a follower built
    from the lead is still known, and his copy of the lead's exit sells all of it."""
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))
    async with world.sessions.begin() as s:  # the completed copies leave `trades`
        await s.execute(delete(Trade).where(Trade.kind == "copy", Trade.status == "completed"))
    await world.engine.on_lead_trade(lead(Side.SELL, "40", 2, T0 + timedelta(minutes=1)))
    sells = [t for t in await records(world, "alice") if t.trade_type == "sell"]
    assert [(t.status, t.amount) for t in sells] == [("completed", D("10"))]
    assert (await built(world))["alice"] == D(0)


async def test_the_repository_counts_the_copies_it_completes(world: World) -> None:
    lead_row = await world.repos.trades.record(
        kind="lead", trade_type="buy", status="completed", user_id=None,
        trader_id=world.engine.catalog.traders[LEAD.address].id,
        pair_id=world.engine.catalog.pairs["APT/USDC"].id, amount=D("4"), price=D("10"),
    )  # fmt: skip
    copy = await world.repos.trades.record(
        kind="copy", trade_type="buy", status="pending", user_id=world.users["bob"],
        trader_id=lead_row.trader_id, pair_id=lead_row.pair_id, copy_of_trade_id=lead_row.id,
        amount=D("1.5"), price=D("10"),
    )  # fmt: skip
    assert await built(world) == {}
    await world.repos.trades.set_status(copy.id, "completed")
    assert await built(world) == {"bob": D("1.5")}
    await assert_totals_match_history(world)


async def test_allowed_assets_and_ended_follows_as_the_fan_out_reads_them(world: World) -> None:
    """Preferences, holdings and follow status come from one joined read: a follower whose
    allowed assets leave out APT is skipped, one allowing it is copied, an ended follow
    gets no record at all."""
    trader = world.engine.catalog.traders[LEAD.address]
    names = {"dave": ["BTC", "USDC"], "erin": ["apt", "USDC"]}
    for name, assets in names.items():
        user, _ = await world.repos.users.create(
            display_name=name, risk_tolerance="high", allowed_assets=assets
        )
        world.users[name] = user.id
        await world.repos.positions.upsert(user.id, "USDC", quantity=D("500"), average_cost=D(1))
        await world.repos.follows.follow(user.id, trader.id, copy_percentage=D(10))
    await world.repos.follows.unfollow(world.users["alice"], trader.id)
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))
    (dave,) = await records(world, "dave")
    assert (dave.status, dave.skip_reason) == ("skipped", "asset_not_allowed")
    (erin,) = await records(world, "erin")
    assert (erin.status, erin.amount) == ("completed", D("4"))
    assert await holding(world, "erin", "USDC") < D("500")
    assert await records(world, "alice") == []
