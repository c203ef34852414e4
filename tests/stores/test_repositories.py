"""Repository use cases on both backends: results, precise errors, and no half-written rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.domain import entities as e
from oneclick_tui.stores import models as m
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.errors import (
    DuplicateError,
    NotFoundError,
    StateError,
    StoreError,
    ValidationError,
)
from oneclick_tui.stores.repositories import Repositories


class Clock:
    """A controllable clock so timestamps in assertions are exact."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
async def engine(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def repos(engine: AsyncEngine) -> Repositories:
    return Repositories.over(session_factory(engine), Clock())


async def _count(engine: AsyncEngine, model: type[m.Base]) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def _world(repos: Repositories) -> tuple[e.User, e.Trader, e.TradingPair]:
    user, _ = await repos.users.create("me")
    trader = await repos.traders.register("0xlead", "alice", risk_category="high")
    pair = await repos.pairs.add(
        "apt", "usdc", "sim", min_trade_size=D("0.1"), tick_size=D("0.001")
    )
    return user, trader, pair


async def test_create_user_with_default_preferences(repos: Repositories) -> None:
    user, prefs = await repos.users.create("me", wallet_address="0xabc", max_trade_amount=D(50))
    assert user.status == "active" and user.verification_level == 0
    assert user.created_at.tzinfo is not None
    assert prefs.user_id == user.id
    assert prefs.risk_tolerance == "medium"
    assert prefs.max_trade_amount == D(50)
    assert prefs.allowed_assets is None and prefs.stop_loss_pct is None
    assert await repos.users.preferences(user.id) == prefs
    with pytest.raises(FrozenInstanceError):
        user.status = "closed"  # type: ignore[misc]
    updated = await repos.users.update_preferences(user.id, allowed_assets=["usdc", "apt"])
    assert updated.allowed_assets == ("APT", "USDC")


async def test_create_user_errors_leave_nothing(repos: Repositories, engine: AsyncEngine) -> None:
    await repos.users.create(wallet_address="0xabc")
    with pytest.raises(DuplicateError, match="wallet address"):
        await repos.users.create(wallet_address="0xabc")
    with pytest.raises(ValidationError, match="stop loss % must be between 0 and 100, got 150"):
        await repos.users.create(stop_loss_pct=D(150))
    with pytest.raises(ValidationError, match="float"):
        await repos.users.create(max_trade_amount=1.5)
    with pytest.raises(ValidationError, match="risk tolerance must be one of low, medium, high"):
        await repos.users.create(risk_tolerance="yolo")
    assert await _count(engine, m.User) == 1
    assert await _count(engine, m.UserPreferences) == 1
    with pytest.raises(NotFoundError, match="user 999 not found"):
        await repos.users.get(999)


async def test_register_trader_and_add_pair(repos: Repositories) -> None:
    _, trader, pair = await _world(repos)
    assert trader.risk_category == "high" and not trader.is_simulated
    assert await repos.traders.by_wallet("0xlead") == trader
    assert pair.symbol == "APT/USDC" and pair.fee_rate == D("0.003")
    with pytest.raises(DuplicateError, match="display name 'alice'"):
        await repos.traders.register("0xother", "alice")
    with pytest.raises(ValidationError, match="risk category must be one of"):
        await repos.traders.register("0xother", "bob", risk_category="wild")
    with pytest.raises(DuplicateError, match="APT/USDC on sim already exists"):
        await repos.pairs.add("APT", "USDC", "sim", min_trade_size=D(1), tick_size=D(1))
    with pytest.raises(ValidationError, match="fee rate must be between 0 and 1, got 2"):
        await repos.pairs.add(
            "ETH", "USDC", "sim", min_trade_size=D(1), tick_size=D(1), fee_rate=D(2)
        )
    with pytest.raises(ValidationError, match="minimum trade size must be greater than 0"):
        await repos.pairs.add("ETH", "USDC", "sim", min_trade_size=D(0), tick_size=D(1))


async def test_record_trades_and_exactly_once_copy(repos: Repositories) -> None:
    user, trader, pair = await _world(repos)
    lead = await repos.trades.record(
        kind="lead",
        trader_id=trader.id,
        pair_id=pair.id,
        trade_type="buy",
        amount=D(10),
        price=D("8.25"),
        status="completed",
        tx_hash="0xt1",
    )
    assert lead.total_value == D("82.5") and lead.user_id is None
    copy = await repos.trades.record(
        kind="copy",
        user_id=user.id,
        trader_id=trader.id,
        copy_of_trade_id=lead.id,
        pair_id=pair.id,
        trade_type="buy",
        amount=D(1),
        price=D("8.25"),
    )
    assert copy.status == "pending"
    assert [t.id for t in await repos.trades.unfinished()] == [copy.id]
    with pytest.raises(DuplicateError, match=f"already has a copy of lead trade {lead.id}"):
        await repos.trades.record(
            kind="copy",
            user_id=user.id,
            trader_id=trader.id,
            copy_of_trade_id=lead.id,
            pair_id=pair.id,
            trade_type="buy",
            amount=D(0),
            status="skipped",
            skip_reason="daily limit",
        )
    done = await repos.trades.set_status(copy.id, "completed", tx_hash="0xc1")
    assert done.status == "completed" and done.executed_at is not None
    with pytest.raises(StateError, match="already completed"):
        await repos.trades.set_status(copy.id, "failed", failure_reason="x")
    assert [t.id for t in await repos.trades.recent_for_user(user.id)] == [copy.id]


async def test_a_copy_recorded_next_month_lives_at_its_leads_time(
    repos: Repositories, engine: AsyncEngine
) -> None:
    """A late copy (engine down over the month's end) keeps the exactly-once key of its lead.

    The key includes the lead's time (monthly partitions on PostgreSQL, migration 0005). The
    repository writes the lead's time itself; 0005's trigger would also correct it.
    """
    user, trader, pair = await _world(repos)
    lead = await repos.trades.record(
        kind="lead", trader_id=trader.id, pair_id=pair.id, trade_type="buy", amount=D(10),
        price=D("8.25"), status="completed", tx_hash="0xlate",
    )  # fmt: skip
    clock = repos.trades._clock
    assert isinstance(clock, Clock)
    clock.now += timedelta(days=40)  # the copy is recorded in the next month
    copy = await repos.trades.record(
        kind="copy", user_id=user.id, trader_id=trader.id, copy_of_trade_id=lead.id,
        pair_id=pair.id, trade_type="buy", amount=D(1), price=D("8.25"),
    )  # fmt: skip
    assert copy.created_at == lead.created_at
    async with engine.connect() as conn:
        n = await conn.scalar(
            select(func.count()).select_from(m.Trade).where(m.Trade.copy_of_trade_id == lead.id)
        )
    assert n == 1


TRADE_REFUSALS: list[tuple[dict[str, Any], type[StoreError], str]] = [
    ({"kind": "lead"}, ValidationError, "a lead trade has no user"),
    ({"amount": D(0)}, ValidationError, "amount must be greater than 0, got 0"),
    ({"price": None}, ValidationError, "price is required unless the trade is skipped"),
    ({"status": "skipped"}, ValidationError, "a skipped trade needs a skip reason"),
    ({"skip_reason": "x"}, ValidationError, "only skipped trades have a skip reason"),
    ({"fees_paid": D(-1)}, ValidationError, "fees paid must not be negative, got -1"),
    ({"trade_type": "hold"}, ValidationError, "trade type must be one of buy, sell"),
    ({"pair_id": 999}, NotFoundError, "trading pair 999 not found"),
    ({"user_id": 999}, NotFoundError, "user 999 not found"),
    ({"executed_at": datetime(2026, 1, 1)}, ValidationError, "timezone-aware"),
]


async def test_record_trade_refusals(repos: Repositories, engine: AsyncEngine) -> None:
    user, _, pair = await _world(repos)
    valid = {
        "kind": "manual",
        "user_id": user.id,
        "pair_id": pair.id,
        "trade_type": "sell",
        "amount": D(1),
        "price": D(9),
    }
    for changes, error, message in TRADE_REFUSALS:
        with pytest.raises(error, match=message):
            await repos.trades.record(**(valid | changes))
    assert await _count(engine, m.Trade) == 0


async def test_upsert_position(repos: Repositories) -> None:
    user, _, pair = await _world(repos)
    first = await repos.positions.upsert(
        user.id, "apt", quantity=D(2), average_cost=D(8), pair_id=pair.id
    )
    second = await repos.positions.upsert(
        user.id, "APT", quantity=D(3), average_cost=D("8.5"), realized_pnl=D("-1.25")
    )
    assert second.id == first.id
    assert (second.quantity, second.average_cost, second.realized_pnl) == (
        D(3),
        D("8.5"),
        D("-1.25"),
    )
    assert second.last_updated_at > first.last_updated_at
    assert await repos.positions.for_user(user.id) == [second]
    with pytest.raises(ValidationError, match="quantity must not be negative, got -1"):
        await repos.positions.upsert(user.id, "APT", quantity=D(-1), average_cost=D(1))
    with pytest.raises(NotFoundError, match="user 999"):
        await repos.positions.upsert(999, "APT", quantity=D(1), average_cost=D(1))


async def test_follow_lifecycle_keeps_history(repos: Repositories, engine: AsyncEngine) -> None:
    user, trader, _ = await _world(repos)
    follow = await repos.follows.follow(user.id, trader.id, copy_percentage=D(25))
    assert follow.status == "active" and follow.copy_percentage == D(25)
    assert await repos.follows.active_of_trader(trader.id) == [follow]
    with pytest.raises(DuplicateError, match=f"already follows trader {trader.id} \\(active\\)"):
        await repos.follows.follow(user.id, trader.id)
    paused = await repos.follows.pause(user.id, trader.id)
    assert paused.status == "paused" and paused.paused_at is not None
    assert await repos.follows.active_of_trader(trader.id) == []
    with pytest.raises(StateError, match="already paused"):
        await repos.follows.pause(user.id, trader.id)
    resumed = await repos.follows.resume(user.id, trader.id)
    assert resumed.status == "active" and resumed.paused_at == paused.paused_at
    with pytest.raises(StateError, match="not paused"):
        await repos.follows.resume(user.id, trader.id)
    ended = await repos.follows.unfollow(user.id, trader.id)
    assert ended.status == "ended" and ended.ended_at is not None
    assert await repos.follows.live(user.id, trader.id) is None
    with pytest.raises(NotFoundError, match="does not follow"):
        await repos.follows.unfollow(user.id, trader.id)
    again = await repos.follows.follow(
        user.id, trader.id, sizing_mode="fixed_quote", fixed_quote_amount=D(20)
    )
    assert again.id != follow.id
    history = await repos.follows.of_user(user.id, include_ended=True)
    assert [f.status for f in history] == ["ended", "active"]
    assert await _count(engine, m.FollowRelationship) == 2


FOLLOW_REFUSALS: list[tuple[dict[str, Any], type[StoreError], str]] = [
    (
        {"copy_percentage": D(150)},
        ValidationError,
        "copy percentage must be between 0 and 100, got 150",
    ),
    (
        {"copy_percentage": D(0)},
        ValidationError,
        "copy percentage must be between 0 and 100, got 0",
    ),
    ({"sizing_mode": "fixed_quote"}, ValidationError, "needs a fixed quote amount"),
    (
        {"copy_side": "both"},
        ValidationError,
        "copy side must be one of all, entries_only, exits_only",
    ),
    ({"trader_id": 999}, NotFoundError, "trader 999 not found"),
    ({"follower_id": 999}, NotFoundError, "user 999 not found"),
]


async def test_follow_refusals(repos: Repositories, engine: AsyncEngine) -> None:
    user, trader, _ = await _world(repos)
    for kwargs, error, message in FOLLOW_REFUSALS:
        args = {"follower_id": user.id, "trader_id": trader.id} | kwargs
        with pytest.raises(error, match=message):
            await repos.follows.follow(**args)
    assert await _count(engine, m.FollowRelationship) == 0


async def test_database_safety_net_maps_constraint_names(
    repos: Repositories, engine: AsyncEngine
) -> None:
    """If validation is bypassed (a race), the constraint still yields a typed error."""
    user, trader, _ = await _world(repos)
    await repos.follows.follow(user.id, trader.id)
    sessions = session_factory(engine)
    with pytest.raises(DuplicateError, match="already follows this trader"):
        async with repos.follows.transaction() as session:
            session.add(
                m.FollowRelationship(
                    follower_id=user.id,
                    trader_id=trader.id,
                    started_at=datetime.now(UTC),
                    copy_percentage=D(10),
                )
            )
    with pytest.raises(StoreError):
        async with repos.users.transaction() as session:
            session.add(m.UserSession(id="s", user_id=999, expires_at=datetime.now(UTC)))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(m.UserSession)) == 0
