"""Audit log on PostgreSQL: append-only, before/after capture, a hash chain that shows tampering."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from oneclick_tui.services import audit
from oneclick_tui.stores.db import session_factory
from oneclick_tui.stores.security.audit_chain import verify
from oneclick_tui.stores.security.rls import user_transaction
from oneclick_tui.stores.security.roles import libpq_url
from tests.security.conftest import HardenedDb, seed

pytestmark = pytest.mark.postgres


async def _admin(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_url(url))


async def test_changes_are_captured_with_before_and_after(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    engine = hardened.engine_as("app")
    sessions = session_factory(engine)
    try:
        async with user_transaction(sessions, data.alice) as s:
            await s.execute(
                text("UPDATE user_preferences SET risk_tolerance = 'high' WHERE user_id = :a"),
                {"a": data.alice},
            )
            await s.execute(
                text("UPDATE follow_relationships SET status = 'paused', paused_at = now()")
            )
            await s.execute(text("DELETE FROM trades WHERE user_id = :a"), {"a": data.alice})
        # The app appends through the ordinary writer (INSERT ... RETURNING id works).
        await audit.record(sessions, "system", "test.note", "note", "1", None, {"k": "v"})
    finally:
        await engine.dispose()

    conn = await _admin(hardened.admin_url)
    try:
        rows = await conn.fetch(
            "SELECT actor, action, entity_type, entity_id, before, after FROM audit_log "
            "WHERE actor = $1 ORDER BY id",
            f"user:{data.alice}",
        )
    finally:
        await conn.close()
    seen = [(r["action"], r["entity_type"]) for r in rows]
    assert seen == [
        ("row.update", "user_preferences"),
        ("row.update", "follow_relationships"),
        ("row.delete", "trades"),
    ]
    prefs = rows[0]
    assert prefs["entity_id"] == str(data.alice)
    assert '"risk_tolerance": "medium"' in prefs["before"]
    assert '"risk_tolerance": "high"' in prefs["after"]
    assert rows[2]["after"] is None and '"kind": "copy"' in rows[2]["before"]
    report = await verify(hardened.admin_url)
    assert report.ok, report.problems
    assert report.rows > 10  # the seed's inserts are audited too


async def test_audit_log_is_append_only_even_for_the_owner(hardened: HardenedDb) -> None:
    await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)  # a superuser: grants do not stop it, the trigger does
    try:
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("UPDATE audit_log SET actor = 'mallory'")
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("DELETE FROM audit_log")
    finally:
        await conn.close()
    engine = hardened.engine_as("engine")
    try:
        async with engine.connect() as c:
            with pytest.raises(DBAPIError, match="permission denied"):
                await c.execute(text("DELETE FROM audit_log"))
    finally:
        await engine.dispose()


async def _tamper(url: str, sql: str) -> None:
    """What an attacker with superuser rights would do: bypass triggers, then edit."""
    conn = await _admin(url)
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_verify_detects_an_edited_row(hardened: HardenedDb) -> None:
    await seed(hardened.admin_url)
    clean = await verify(hardened.url_as("auditor"))  # the auditor role can run the check
    assert clean.ok and clean.rows > 3
    await _tamper(
        hardened.admin_url,
        "UPDATE audit_log SET after = jsonb_set(after, '{max_trade_amount}', '1000000') "
        "WHERE id = (SELECT min(id) FROM audit_log WHERE entity_type = 'user_preferences')",
    )
    report = await verify(hardened.admin_url)
    assert not report.ok
    assert len(report.problems) == 1 and "content does not match" in report.problems[0]


async def test_verify_detects_a_deleted_row(hardened: HardenedDb) -> None:
    await seed(hardened.admin_url)
    clean = await verify(hardened.admin_url)
    assert (await verify(hardened.admin_url, expect_head=f"{clean.head_id}:{clean.head_hash}")).ok
    await _tamper(
        hardened.admin_url, "DELETE FROM audit_log WHERE id = (SELECT min(id) + 2 FROM audit_log)"
    )
    report = await verify(hardened.admin_url)
    assert not report.ok and "prev_hash does not match" in report.problems[0]


async def test_verify_with_recorded_head_detects_a_cut_tail(hardened: HardenedDb) -> None:
    await seed(hardened.admin_url)
    clean = await verify(hardened.admin_url)
    head = f"{clean.head_id}:{clean.head_hash}"
    await _tamper(
        hardened.admin_url, "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)"
    )
    assert (await verify(hardened.admin_url)).ok  # shorter, still consistent
    report = await verify(hardened.admin_url, expect_head=head)
    assert not report.ok and "missing" in report.problems[0]


async def test_concurrent_writers_keep_one_chain(hardened: HardenedDb) -> None:
    async def writer(n: int) -> None:
        conn = await _admin(hardened.admin_url)
        try:
            async with conn.transaction():
                for i in range(5):
                    await conn.execute(
                        "INSERT INTO audit_log (actor, action, entity_type, entity_id) "
                        "VALUES ('system', 'test', 'w', $1)",
                        f"{n}-{i}",
                    )
                    await asyncio.sleep(0)
        finally:
            await conn.close()

    await asyncio.gather(*(writer(n) for n in range(8)))
    report = await verify(hardened.admin_url)
    assert report.ok, report.problems
    assert report.rows == 40
