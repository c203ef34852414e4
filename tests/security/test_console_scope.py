"""The real console services, connected as the app role, act for the local user only.

`open_services` detects the app role and builds sessions whose every transaction sets
`app.user_id` (after_begin hook). Proven with another user's rows in every table: the views
show only the local user's, a service pointed at the other user (a bug) sees nothing, a write
to his rows changes nothing, and a session without the scope sees no user rows at all.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import func, select, text, update

from oneclick_tui.config import Settings
from oneclick_tui.services.follows import FollowService
from oneclick_tui.services.portfolio_view import PortfolioView
from oneclick_tui.services.runtime import SetupError, open_services
from oneclick_tui.services.settings_service import SettingsService
from oneclick_tui.stores.db import make_engine, session_factory
from oneclick_tui.stores.models import Position, Trade, UserPreferences
from oneclick_tui.stores.security.roles import libpq_url
from tests.security.conftest import HardenedDb, seed

pytestmark = pytest.mark.postgres


async def _prepare(db: HardenedDb) -> tuple[int, int]:
    """The owner's first start creates catalog and local user; then 'bob' and a shared lead."""
    first = await open_services(Settings(database_url=db.admin_url))
    local = first.user.id
    await first.close()
    data = await seed(db.admin_url)  # alice and bob, a row of each in every user table
    conn = await asyncpg.connect(libpq_url(db.admin_url))
    try:
        # the local user gets what alice has: a copy, a follow, a position (paper cash exists)
        await conn.execute(
            "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, trade_type,"
            " amount, price, status, fees_paid, created_at) SELECT 'copy', $1, trader_id, pair_id,"
            " id, 'buy', 2, 5, 'completed', 0, created_at FROM trades WHERE id = $2",
            local,
            data.lead_trade,
        )
        await conn.execute(
            "INSERT INTO follow_relationships (follower_id, trader_id, started_at, "
            "auto_copy_enabled, copy_percentage, sizing_mode, copy_side, status) "
            "VALUES ($1, $2, now(), true, 10, 'copy_pct', 'all', 'active')",
            local,
            data.trader,
        )
    finally:
        await conn.close()
    return local, data.bob


async def test_console_as_app_role_sees_and_changes_only_the_local_user(db: HardenedDb) -> None:
    local, bob = await _prepare(db)
    services = await open_services(Settings(database_url=db.url_as("app")))
    try:
        assert services.user.id == local
        follows = FollowService(services)
        assert [t.kind for t in await follows.trades()] == ["copy"]
        assert len(await follows.follows()) == 1
        assert {p.asset for p in await follows.positions()} == {"USDC", "USDT"}
        assert (await SettingsService(services).load()).user_id == local
        assert {h.asset for h in await PortfolioView(services).holdings()} == {"USDC", "USDT"}

        # A service pointed at bob (a bug) still sees nothing of his: the scope, not the
        # WHERE clause, is what guards his rows.
        follows.user_id = bob
        assert await follows.trades() == []
        assert await follows.positions() == []
        assert await follows.follows() == []
        async with services.sessions() as s:
            owners = {
                table: set((await s.execute(text(f"SELECT {col} FROM {table}"))).scalars())
                for table, col in (
                    ("trades", "user_id"),
                    ("positions", "user_id"),
                    ("user_preferences", "user_id"),
                    ("follow_relationships", "follower_id"),
                    ("user_trade_history", "user_id"),
                )
            }
        assert all(seen <= {local, None} for seen in owners.values()), owners
        assert local in owners["trades"] and None in owners["trades"]  # lead trades readable

        # Writes to bob's rows change nothing (RLS makes them invisible to UPDATE/DELETE).
        async with services.sessions.begin() as s:
            moved = await s.execute(
                update(Position).where(Position.user_id == bob).values(quantity=Decimal(999))
            )
            assert moved.rowcount == 0
            gone = await s.execute(text("DELETE FROM trades WHERE user_id = :b"), {"b": bob})
            assert gone.rowcount == 0
            await s.execute(
                update(UserPreferences)
                .where(UserPreferences.user_id == bob)
                .values(max_trade_amount=Decimal(1))
            )
    finally:
        await services.close()

    admin = await asyncpg.connect(libpq_url(db.admin_url))
    try:
        assert await admin.fetchval("SELECT quantity FROM positions WHERE user_id = $1", bob) == 1
        assert await admin.fetchval("SELECT count(*) FROM trades WHERE user_id = $1", bob) == 1
        assert (
            await admin.fetchval(
                "SELECT max_trade_amount FROM user_preferences WHERE user_id = $1", bob
            )
            == 100
        )
        # the console's own changes are audited as the local user
        actors = await admin.fetch("SELECT DISTINCT actor FROM audit_log")
        assert f"user:{bob}" not in {r["actor"] for r in actors}
    finally:
        await admin.close()


async def test_an_unscoped_app_session_sees_no_user_rows(db: HardenedDb) -> None:
    await _prepare(db)
    engine = make_engine(db.url_as("app"), pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as s:
            mine = await s.scalar(
                select(func.count()).select_from(Trade).where(Trade.user_id.is_not(None))
            )
            assert mine == 0
            for table in ("positions", "user_preferences", "follow_relationships", "wallets"):
                assert await s.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
            assert await s.scalar(text("SELECT count(*) FROM trades WHERE user_id IS NULL")) == 1
    finally:
        await engine.dispose()


async def test_app_role_cannot_create_the_local_user(db: HardenedDb) -> None:
    with pytest.raises(SetupError, match="local user does not exist yet"):
        await open_services(Settings(database_url=db.url_as("app")))


async def test_the_scope_does_not_leak_through_the_pool(db: HardenedDb) -> None:
    """One pooled connection: the scoped factory's setting ends with each transaction."""
    local, _ = await _prepare(db)
    services = await open_services(Settings(database_url=db.url_as("app")))
    try:
        async with services.sessions() as s:
            assert await s.scalar(text("SELECT current_setting('app.user_id', true)")) == str(local)
        async with services.engine.connect() as conn:  # same pool, no scope
            value = await conn.scalar(text("SELECT current_setting('app.user_id', true)"))
            assert value in (None, "")
    finally:
        await services.close()


@pytest.fixture
def db(hardened: HardenedDb) -> HardenedDb:
    return hardened
