"""The paper fan-out's one-transaction path, on SQLite (own connection and thread) and the
real PostgreSQL (asyncpg under a pooled connection): all or nothing, and the same rows
whichever driver writes them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from oneclick_tui.domain.market_events import Side
from oneclick_tui.services.engine.catalog import seed_catalog
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.services.engine.fanout_drivers import SessionDriver
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import AuditLog, CopyHolding, Trade
from oneclick_tui.stores.repositories import Repositories
from tests.engine.test_copy_engine import LEAD, PAIR, T0, World, book, holding, lead, records
from tests.engine.test_copy_engine import world as world  # the fixture, re-exported

SQLITE_FAIL = (
    "CREATE TRIGGER fail_outcome_audit BEFORE INSERT ON audit_log "
    "WHEN NEW.action = 'copy.completed' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
)
PG_FAIL = (
    "CREATE FUNCTION fail_outcome_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.action = 'copy.completed' THEN RAISE EXCEPTION 'injected failure'; END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER fail_outcome_audit BEFORE INSERT ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION fail_outcome_audit()",
)


async def _ddl(world: World, *statements: str) -> None:
    async with world.sessions.begin() as s:
        for sql in statements:
            await s.execute(text(sql))


async def _count(world: World, model: Any) -> int:
    async with world.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_write_failing_at_the_end_leaves_nothing_and_the_replay_copies_once(
    world: World,
) -> None:
    """The outcome audit rows are the fan-out's LAST write: failing them must take the lead
    row, every copy, the positions and the running totals back with them."""
    postgres = world.sessions.kw["bind"].dialect.name == "postgresql"
    if postgres:
        await _ddl(world, *PG_FAIL)
    else:
        await _ddl(world, SQLITE_FAIL)
    trade = lead(Side.BUY, "40", 1)
    with pytest.raises(Exception, match="injected failure"):
        await world.engine.on_lead_trade(trade)
    assert await _count(world, Trade) == 0  # not even the lead trade
    assert await _count(world, CopyHolding) == 0
    assert await holding(world, "alice", "APT") == D(0)
    assert await holding(world, "alice", "USDC") == D("1000")

    if postgres:
        await _ddl(world, "DROP TRIGGER fail_outcome_audit ON audit_log")
    else:
        await _ddl(world, "DROP TRIGGER fail_outcome_audit")
    result = await world.engine.on_lead_trade(trade)
    assert (result.copies, result.completed) == (2, 2)
    (alice,) = await records(world, "alice")
    assert (alice.status, alice.amount) == ("completed", D("10"))
    assert await holding(world, "alice", "APT") == D("10")
    assert await _count(world, Trade) == 4  # the lead + one record per follower


async def test_the_lead_position_is_summed_from_new_trades_only_and_survives_a_restart(
    world: World,
) -> None:
    """Each sell reads the lead's trades since the last sum (`LeaderTotals`); a restarted
    engine sums his whole history and must size the same sell the same way."""
    minute = timedelta(minutes=1)
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 1))  # alice buys 10
    await world.engine.on_lead_trade(lead(Side.SELL, "10", 2, T0 + minute))  # 1/4 of 40
    await world.engine.on_lead_trade(lead(Side.BUY, "40", 3, T0 + 2 * minute))  # buys 10
    # lead held 40 - 10 + 40 = 70 and sells half: alice sells half of her 7.5 + 10
    await world.engine.on_lead_trade(lead(Side.SELL, "35", 4, T0 + 3 * minute))
    sells = [t.amount for t in await records(world, "alice") if t.trade_type == "sell"]
    assert sells == [D("2.5"), D("8.75")]

    restarted = CopyEngine(world.sessions, world.engine.catalog, {"APT/USDC": book()})
    try:
        # he holds 35 and sells 35: his exit, so alice sells all she has left from him
        await restarted.on_lead_trade(lead(Side.SELL, "35", 5, T0 + 4 * minute))
    finally:
        await restarted.aclose()
    sells = [t.amount for t in await records(world, "alice") if t.trade_type == "sell"]
    assert sells == [D("2.5"), D("8.75"), D("8.75")]
    assert await holding(world, "alice", "APT") == D(0)


async def _sqlite_world(path: Path, *, session_driver: bool) -> tuple[CopyEngine, Any]:
    url = f"sqlite+aiosqlite:///{path}"
    await ensure_schema(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    repos = Repositories.over(sessions)
    catalog = await seed_catalog(sessions, [PAIR], [LEAD], simulated=True)
    for name, prefs in {
        "alice": {"risk_tolerance": "medium", "daily_trading_limit": D("100.5")},
        "bob": {"risk_tolerance": "low"},
        "carol": {"risk_tolerance": "high", "max_trade_amount": D("20")},
    }.items():
        user, _ = await repos.users.create(display_name=name, **prefs)
        await repos.positions.upsert(user.id, "USDC", quantity=D("1000"), average_cost=D(1))
        await repos.follows.follow(user.id, catalog.traders[LEAD.address].id, copy_percentage=D(25))
    copier = CopyEngine(sessions, catalog, {"APT/USDC": book()})
    if session_driver:
        await copier.aclose()
        copier._paper = SessionDriver(sessions, "sqlite", None)
    return copier, engine


async def test_the_session_driver_writes_the_rows_the_sqlite_thread_writes(
    tmp_path: Path,
) -> None:
    """The same leads through both drivers: identical copies, skips, fills, positions and
    audit trail (the session driver is what an in-memory SQLite database runs on)."""

    async def run(path: Path, session_driver: bool) -> list[tuple[Any, ...]]:
        copier, engine = await _sqlite_world(path, session_driver=session_driver)
        try:
            for n, (side, amount) in enumerate([("buy", "40"), ("sell", "10"), ("buy", "80")]):
                trade = lead(Side(side), amount, n + 1, T0 + timedelta(minutes=n))
                await copier.on_lead_trade(trade)
            async with session_factory(engine)() as s:
                trades = (await s.execute(select(Trade).order_by(Trade.id))).scalars().all()
                audits = (await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()
                holdings = (await s.execute(select(CopyHolding))).scalars().all()
                return [
                    *[
                        (t.id, t.kind, t.user_id, t.trade_type, t.status, t.amount, t.price,
                         t.fees_paid, t.realized_pnl, t.skip_reason, t.failure_reason, t.tx_hash)
                        for t in trades
                    ],
                    *[(a.action, a.entity_id, a.before, a.after) for a in audits],
                    *[(h.follower_id, h.base_built) for h in holdings],
                ]  # fmt: skip
        finally:
            await copier.aclose()
            await engine.dispose()

    threaded = await run(tmp_path / "thread.db", session_driver=False)
    through_session = await run(tmp_path / "session.db", session_driver=True)
    assert threaded == through_session
    # and it is a real history: fills both ways, risk skips, the daily limit biting
    copies = [row for row in threaded if len(row) == 12 and row[1] == "copy"]
    assert {(row[3], row[4]) for row in copies} == {
        ("buy", "completed"),
        ("sell", "completed"),
        ("buy", "skipped"),
        ("sell", "skipped"),
    }
    assert {row[9] for row in copies} == {None, "risk_category", "over_daily_limit"}


async def test_a_large_fan_out_is_decided_off_the_event_loop(fresh_db_url: str) -> None:
    """Deciding, filling and building rows for hundreds of followers must not hold the loop
    that answers the console's keys: on SQLite it runs on the fan-out's own thread, on
    PostgreSQL the step after the follower read goes to a worker thread."""
    import threading

    from oneclick_tui.services.engine import paper_fanout
    from oneclick_tui.services.engine.fanout_drivers import OFF_LOOP_ROWS
    from tests.engine.helpers import seed_followers

    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    sessions = session_factory(engine)
    catalog = await seed_catalog(sessions, [PAIR], [LEAD], simulated=True)
    trader_id = catalog.traders[LEAD.address].id
    n = OFF_LOOP_ROWS + 44
    await seed_followers(sessions, {i: [trader_id] for i in range(n)}, n, {"USDC": D(10_000)})
    threads: list[str] = []
    real_decide = paper_fanout.decide_followers

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_decide(*args, **kwargs)

    copier = CopyEngine(sessions, catalog, {"APT/USDC": book()})
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(paper_fanout, "decide_followers", spy)
            result = await copier.on_lead_trade(lead(Side.BUY, "4", 1))
    finally:
        await copier.aclose()
        await engine.dispose()
    assert result.completed == n  # every follower copied, in one transaction
    assert threads and threads[0] != threading.current_thread().name, threads
