"""Row-level security, proven as the real app role on PostgreSQL: user A never reaches B."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from oneclick_tui.stores.db import session_factory
from oneclick_tui.stores.security.rls import act_as, user_transaction
from tests.security.conftest import HardenedDb, seed

pytestmark = pytest.mark.postgres

OWNED = {
    "user_preferences": "user_id",
    "user_sessions": "user_id",
    "trades": "user_id",
    "positions": "user_id",
    "portfolio_analytics": "user_id",
    "follow_relationships": "follower_id",
    "community_interactions": "user_id",
    "wallets": "user_id",
    "copy_holdings": "follower_id",
}


async def test_app_role_is_not_privileged(hardened: HardenedDb) -> None:
    engine = hardened.engine_as("app")
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                        "WHERE rolname = current_user"
                    )
                )
            ).one()
            assert row == (hardened.role("app"), False, False)
            owner = await conn.scalar(
                text("SELECT tableowner FROM pg_tables WHERE tablename = 'trades'")
            )
            assert owner == hardened.role("owner")
    finally:
        await engine.dispose()


async def test_user_sees_and_changes_only_own_rows(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    engine = hardened.engine_as("app")
    sessions = session_factory(engine)
    try:
        async with user_transaction(sessions, data.alice) as s:
            for table, column in OWNED.items():
                owners = set((await s.execute(text(f"SELECT {column} FROM {table}"))).scalars())
                expected = {data.alice, None} if table == "trades" else {data.alice}
                assert owners == expected, table
                # B's rows by name: nothing to read, nothing to change.
                where = f"WHERE {column} = :bob"
                assert (
                    await s.scalar(text(f"SELECT count(*) FROM {table} {where}"), {"bob": data.bob})
                ) == 0
                assert (
                    await s.execute(
                        text(f"UPDATE {table} SET {column} = {column} {where}"), {"bob": data.bob}
                    )
                ).rowcount == 0
                assert (
                    await s.execute(text(f"DELETE FROM {table} {where}"), {"bob": data.bob})
                ).rowcount == 0
            # Lead trades are readable but not writable.
            changed = await s.execute(
                text("UPDATE trades SET status = 'failed' WHERE id = :id"), {"id": data.lead_trade}
            )
            assert changed.rowcount == 0
            # Joins: every table applies its own policy.
            joined = await s.execute(
                text(
                    "SELECT DISTINCT t.user_id, f.follower_id, p.user_id, w.user_id FROM trades t "
                    "JOIN follow_relationships f ON f.trader_id = t.trader_id "
                    "JOIN positions p ON p.pair_id = t.pair_id "
                    "JOIN wallets w ON true WHERE t.user_id IS NOT NULL"
                )
            )
            assert joined.all() == [(data.alice, data.alice, data.alice, data.alice)]
            # The view runs with the reader's rights (security_invoker).
            viewed = set(
                (await s.execute(text("SELECT user_id FROM user_trade_history"))).scalars()
            )
            assert viewed == {data.alice}

        # Writing a row for B is refused, not silently redirected.
        with pytest.raises(DBAPIError, match="row-level security"):
            async with user_transaction(sessions, data.alice) as s:
                await s.execute(
                    text(
                        "INSERT INTO positions (user_id, asset, quantity, average_cost, "
                        "realized_pnl, last_updated_at) VALUES (:bob, 'USDC', 1, 1, 0, now())"
                    ),
                    {"bob": data.bob},
                )
        # Moving A's row to B is refused too.
        with pytest.raises(DBAPIError, match="row-level security"):
            async with user_transaction(sessions, data.alice) as s:
                await s.execute(
                    text("UPDATE positions SET user_id = :bob WHERE user_id = :alice"),
                    {"bob": data.bob, "alice": data.alice},
                )
        # A can change his own rows.
        async with user_transaction(sessions, data.alice) as s:
            done = await s.execute(
                text("UPDATE user_preferences SET risk_tolerance = 'low' WHERE user_id = :a"),
                {"a": data.alice},
            )
            assert done.rowcount == 1
    finally:
        await engine.dispose()


async def test_forgetting_the_user_yields_no_user_rows(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    engine = hardened.engine_as("app")
    try:
        async with engine.begin() as conn:
            for table, column in OWNED.items():
                rows = (
                    await conn.execute(
                        text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
                    )
                ).all()
                assert rows == [], table
            assert (await conn.scalar(text("SELECT count(*) FROM user_trade_history"))) == 0
            lead_only = (await conn.execute(text("SELECT id FROM trades"))).scalars().all()
            assert lead_only == [data.lead_trade]
        # SET LOCAL ends with the transaction: the next one on the same pool is unscoped again.
        sessions = session_factory(engine)
        async with user_transaction(sessions, data.alice) as s:
            assert await s.scalar(text("SELECT count(*) FROM positions")) == 1
        async with sessions.begin() as s:
            assert await s.scalar(text("SELECT count(*) FROM positions")) == 0
    finally:
        await engine.dispose()


async def test_engine_role_writes_for_many_users_in_one_transaction(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    engine = hardened.engine_as("engine")
    try:
        async with engine.begin() as conn:
            await act_as(conn, "engine")
            owners = set(
                (await conn.execute(text("SELECT user_id FROM positions"))).scalars().all()
            )
            assert owners == {data.alice, data.bob}
            changed = await conn.execute(text("UPDATE positions SET quantity = quantity + 1"))
            assert changed.rowcount == 2
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="permission denied"):
                await conn.execute(text("SELECT * FROM user_sessions"))
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("kind", "statement"),
    [
        ("analytics", "INSERT INTO traders (wallet_address, display_name) VALUES ('x', 'y')"),
        ("analytics", "SELECT * FROM user_sessions"),
        ("analytics", "SELECT * FROM audit_log"),
        ("auditor", "SELECT * FROM users"),
        ("auditor", "SELECT * FROM trades"),
        ("app", "UPDATE audit_log SET actor = 'x'"),
        ("app", "DELETE FROM audit_log"),
        ("app", "SELECT actor FROM audit_log"),
        ("app", "INSERT INTO traders (wallet_address, display_name) VALUES ('x', 'y')"),
        ("app", "DROP TABLE trades"),
        ("app", "CREATE TABLE sneaky (id int)"),
    ],
)
async def test_roles_are_least_privilege(hardened: HardenedDb, kind: str, statement: str) -> None:
    engine = hardened.engine_as(kind)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_analytics_reads_all_users_and_auditor_reads_audit(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    analytics, auditor = hardened.engine_as("analytics"), hardened.engine_as("auditor")
    try:
        async with analytics.connect() as conn:
            users = set((await conn.execute(text("SELECT user_id FROM positions"))).scalars())
            assert users == {data.alice, data.bob}
        async with auditor.connect() as conn:
            assert (await conn.scalar(text("SELECT count(*) FROM audit_log"))) > 0
    finally:
        await analytics.dispose()
        await auditor.dispose()
