"""Fixtures for the hardening tests: a migrated PostgreSQL database with its login roles.

Roles are cluster-wide, so every test database gets its own (`<db>_app`, ...) and they are
dropped again before the database is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine, session_factory
from oneclick_tui.stores.models import (
    CommunityInteraction,
    CopyHolding,
    FollowRelationship,
    MarketData,
    PortfolioAnalytics,
    Position,
    Trade,
    Trader,
    TradingPair,
    User,
    UserPreferences,
    UserSession,
    Wallet,
)
from oneclick_tui.stores.security.roles import KINDS, ensure_login_roles, libpq_url, role_url

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class HardenedDb:
    admin_url: str  # async URL as the superuser (the tests' stand-in for the owner)
    database: str
    prefix: str

    def role(self, kind: str) -> str:
        return f"{self.prefix}_{kind}"

    def url_as(self, kind: str) -> str:
        return role_url(self.admin_url, self.role(kind), "unused-with-trust-auth")

    def engine_as(self, kind: str) -> AsyncEngine:
        return make_engine(self.url_as(kind), pool_size=2, max_overflow=0)


async def drop_roles(admin_url: str, prefix: str) -> None:
    conn = await asyncpg.connect(libpq_url(admin_url))
    try:
        for kind in KINDS:
            name = f"{prefix}_{kind}"
            if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
                await conn.execute(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
                await conn.execute(f'DROP OWNED BY "{name}"')
                await conn.execute(f'DROP ROLE "{name}"')
    finally:
        await conn.close()


@pytest.fixture
async def hardened(fresh_pg_url: str) -> AsyncIterator[HardenedDb]:
    """Migrated to head, login roles created as `oneclick db roles` does."""
    database = fresh_pg_url.rsplit("/", 1)[1]
    await migrate.upgrade(fresh_pg_url)
    try:
        setup = await ensure_login_roles(fresh_pg_url)
        yield HardenedDb(fresh_pg_url, database, setup.prefix)
    finally:
        await drop_roles(fresh_pg_url, database)


@dataclass
class Seeded:
    alice: int
    bob: int
    lead_trade: int
    pair: int
    trader: int


async def seed(url: str) -> Seeded:
    """Two users with a row in every user-owned table, one lead trade both copied."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        async with sessions.begin() as s:
            alice, bob = User(display_name="alice"), User(display_name="bob")
            trader = Trader(wallet_address="0xlead", display_name="lead")
            pair = TradingPair(
                base_asset="APT",
                quote_asset="USDC",
                dex_protocol="sim",
                min_trade_size=Decimal("0.01"),
                tick_size=Decimal("0.0001"),
            )
            s.add_all([alice, bob, trader, pair])
            await s.flush()
            lead = Trade(
                kind="lead",
                trader_id=trader.id,
                pair_id=pair.id,
                trade_type="buy",
                amount=Decimal(10),
                price=Decimal(5),
                status="completed",
            )
            s.add(lead)
            await s.flush()
            for user in (alice, bob):
                s.add_all(
                    [
                        UserPreferences(user_id=user.id, max_trade_amount=Decimal(100)),
                        UserSession(
                            id=f"sess-{user.id}",
                            user_id=user.id,
                            created_at=T0,
                            expires_at=T0 + timedelta(days=1),
                            ip_address=f"10.0.0.{user.id}",
                            device_info=f"device {user.id}",
                        ),
                        Trade(
                            kind="copy",
                            user_id=user.id,
                            trader_id=trader.id,
                            pair_id=pair.id,
                            copy_of_trade_id=lead.id,
                            trade_type="buy",
                            amount=Decimal(1),
                            price=Decimal(5),
                            status="completed",
                        ),
                        Position(
                            user_id=user.id,
                            asset="APT",
                            pair_id=pair.id,
                            quantity=Decimal(1),
                            average_cost=Decimal(5),
                        ),
                        PortfolioAnalytics(
                            user_id=user.id, snapshot_date=date(2026, 1, 1), total_value=Decimal(5)
                        ),
                        FollowRelationship(
                            follower_id=user.id, trader_id=trader.id, copy_percentage=Decimal(10)
                        ),
                        CommunityInteraction(
                            user_id=user.id,
                            target_type="trader",
                            target_id=trader.id,
                            interaction_type="comment",
                            content=f"hello from {user.id}",
                        ),
                        Wallet(user_id=user.id, address=f"0xwallet{user.id}"),
                    ]
                )
            # copy_holdings exists from 0007 on; some tests seed an older schema
            if await s.run_sync(lambda sync: inspect(sync.connection()).has_table("copy_holdings")):
                s.add_all(
                    CopyHolding(
                        follower_id=user.id, trader_id=trader.id, pair_id=pair.id,
                        base_built=Decimal(1), updated_at=T0,
                    )
                    for user in (alice, bob)
                )  # fmt: skip
            for minutes, timeframe in ((0, "1m"), (1, "1h")):
                s.add(
                    MarketData(
                        pair_id=pair.id,
                        timeframe=timeframe,
                        bucket_at=T0 + timedelta(minutes=minutes),
                        open=Decimal(5),
                        high=Decimal(6),
                        low=Decimal(4),
                        close=Decimal(5),
                        vwap=Decimal(5),
                    )
                )
        return Seeded(alice.id, bob.id, lead.id, pair.id, trader.id)
    finally:
        await engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keyring tests run only inside scripts/keyring-session.sh (never the desktop keyring)."""
    from tests.wallet.conftest import keyring_skip_reason

    reason = keyring_skip_reason()
    if reason is None:
        return
    for item in items:
        if "keyring" in item.keywords and "security" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))
