"""Revision 0003 is reversible on PostgreSQL and a no-op on SQLite."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import session_factory
from oneclick_tui.stores.security.rls import user_transaction
from oneclick_tui.stores.security.roles import ensure_login_roles, libpq_url, role_url
from tests.security.conftest import HardenedDb, drop_roles, seed


async def _state(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        db = await conn.fetchval("SELECT current_database()")
        return {
            "roles": await conn.fetchval(
                "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", f"{db}\\_%"
            ),
            "policies": await conn.fetchval("SELECT count(*) FROM pg_policies"),
            "rls": await conn.fetchval("SELECT count(*) FROM pg_class WHERE relrowsecurity"),
            "triggers": await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
            ),
            "functions": await conn.fetchval(
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'oneclick%'"
            ),
            "view": await conn.fetchval("SELECT to_regclass('user_trade_history') IS NOT NULL"),
        }
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_upgrade_downgrade_upgrade_postgres(fresh_pg_url: str) -> None:
    await migrate.upgrade(fresh_pg_url, "0002")
    empty = await _state(fresh_pg_url)
    assert empty == {
        "roles": 0,
        "policies": 0,
        "rls": 0,
        "triggers": 0,
        "functions": 0,
        "view": False,
    }
    await migrate.upgrade(fresh_pg_url, "0003")
    full = await _state(fresh_pg_url)
    assert full["roles"] == 4 and full["rls"] == 8 and full["policies"] == 25
    assert full["triggers"] == 5 and full["view"] is True
    await migrate.downgrade(fresh_pg_url, "0002")
    assert await _state(fresh_pg_url) == empty
    await migrate.upgrade(fresh_pg_url, "0003")
    assert await _state(fresh_pg_url) == full
    await migrate.downgrade(fresh_pg_url, "base")


async def test_sqlite_keeps_plain_tables(fresh_sqlite_url: str) -> None:
    await migrate.upgrade(fresh_sqlite_url, "0003")
    assert await migrate.current(fresh_sqlite_url) is not None
    await migrate.downgrade(fresh_sqlite_url, "0002")
    await migrate.upgrade(fresh_sqlite_url, "0003")


@pytest.mark.postgres
async def test_owner_role_migrates_without_superuser(hardened: HardenedDb) -> None:
    """After `oneclick db roles`, the owner alone can move 0003 down and up again."""
    owner = hardened.url_as("owner")
    await migrate.downgrade(owner, "0002")
    assert (await _state(hardened.admin_url))["policies"] == 0
    await migrate.upgrade(owner, "0003")
    assert await migrate.current(owner) == "0003"
    data = await seed(hardened.admin_url)
    engine = hardened.engine_as("app")
    try:
        async with user_transaction(session_factory(engine), data.bob) as s:
            users = set((await s.execute(text("SELECT user_id FROM positions"))).scalars())
        assert users == {data.bob}
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_configured_prefix_before_migrating(fresh_pg_url: str) -> None:
    """Roles first (custom prefix), then the owner migrates: the documented set-up order."""
    prefix = "oc_" + fresh_pg_url.rsplit("_", 1)[1]
    try:
        setup = await ensure_login_roles(fresh_pg_url, prefix=prefix)
        assert setup.prefix == prefix and all(setup.passwords.values())
        owner = role_url(fresh_pg_url, f"{prefix}_owner", "x")
        await migrate.upgrade(owner)
        conn = await asyncpg.connect(libpq_url(owner))
        try:
            assert await conn.fetchval("SELECT oneclick_role('app')") == f"{prefix}_app"
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM pg_policies WHERE $1 = ANY(roles)", f"{prefix}_app"
                )
                == 10  # own rows of 8 user tables and of copy_holdings; public lead trades
            )
            assert (
                await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'trades'")
                == f"{prefix}_owner"
            )
        finally:
            await conn.close()
        with pytest.raises(ValueError, match="already"):
            await ensure_login_roles(fresh_pg_url, prefix="another_prefix")
        again = await ensure_login_roles(fresh_pg_url)  # no prefix: keeps the configured one
        assert again.prefix == prefix and not any(again.passwords.values())
    finally:
        await drop_roles(fresh_pg_url, prefix)
