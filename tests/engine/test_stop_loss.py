"""Stop-loss: a position marked below its average cost by the user's percentage is closed,
as its own recorded trade, on SQLite and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from oneclick_tui.domain.market_events import PairSpec
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import seed_catalog
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.services.engine.risk_watch import mark_and_stop
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import AuditLog, Position, Trade
from oneclick_tui.stores.repositories import Repositories

PAIR = PairSpec("APT/USDC", "APT", "USDC", "hyperion", D("0.0001"), D("0.01"), D("0.1"),
                D("0.0002"), D("0.0005"), 8, 6, D("10"))  # fmt: skip
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def book_at(mid: D) -> OrderBook:
    book = OrderBook("APT/USDC")
    step = D("0.01")
    book.load(1, [(mid - step, D("500"))], [(mid + step, D("500"))])
    return book


@pytest.fixture
async def world(fresh_db_url: str) -> AsyncIterator[dict[str, Any]]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    sessions = session_factory(engine)
    repos = Repositories.over(sessions)
    catalog = await seed_catalog(sessions, [PAIR], [], simulated=True)
    user, _ = await repos.users.create(display_name="carol", stop_loss_pct=D(10))
    pair_id = catalog.pairs["APT/USDC"].id
    await repos.positions.upsert(user.id, "USDC", quantity=D("100"), average_cost=D(1))
    await repos.positions.upsert(
        user.id, "APT", quantity=D("10"), average_cost=D("10"), pair_id=pair_id
    )
    yield {"sessions": sessions, "catalog": catalog, "user": user.id}
    await engine.dispose()


async def _rows(w: dict[str, Any]) -> tuple[list[Trade], D]:
    async with w["sessions"]() as s:
        trades = list((await s.scalars(select(Trade).where(Trade.kind == "stop_loss"))).all())
        apt = await s.scalar(
            select(Position.quantity).where(Position.user_id == w["user"], Position.asset == "APT")
        )
    return trades, apt


async def test_price_above_the_stop_only_revalues(world: dict[str, Any]) -> None:
    written = await mark_and_stop(world["sessions"], world["catalog"], {"APT/USDC": D("9.5")}, T0)
    assert written == 0
    trades, apt = await _rows(world)
    assert trades == [] and apt == D("10")
    async with world["sessions"]() as s:
        position = await s.scalar(select(Position).where(Position.asset == "APT"))
    assert position.current_value == D("95") and position.unrealized_pnl == D("-5")


async def test_falling_through_the_stop_sells_the_whole_position(world: dict[str, Any]) -> None:
    mids = {"APT/USDC": D("8.9")}  # 11% below the 10.00 average cost, stop at 10%
    assert await mark_and_stop(world["sessions"], world["catalog"], mids, T0) == 1
    assert await mark_and_stop(world["sessions"], world["catalog"], mids, T0) == 0  # no twin
    engine = CopyEngine(world["sessions"], world["catalog"], {"APT/USDC": book_at(D("8.9"))})
    done, failed = await engine.execute_pending(None, now=T0 + timedelta(seconds=1))
    assert (done, failed) == (1, 0)
    (stop,), apt = await _rows(world)
    assert stop.status == "completed" and stop.trade_type == "sell" and stop.amount == D("10")
    assert stop.price == D("8.89")  # the best bid
    assert stop.realized_pnl == (D("8.89") - D("10")) * 10 - stop.fees_paid
    assert apt == D("0")
    async with world["sessions"]() as s:
        actions = set((await s.scalars(select(AuditLog.action))).all())
    assert "stop_loss.triggered" in actions
