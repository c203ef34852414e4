"""The execution journal keeps what was signed: append-only, and the engine's alone on PostgreSQL.

A journal that could be rewritten or deleted could not prove what may still land on chain.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text

from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.security.roles import libpq_url
from tests.security.conftest import HardenedDb, hardened  # noqa: F401 - the fixture

ROW = (
    "INSERT INTO execution_journal (trade_id, chain_id, sender, sequence_number, "
    "expiration_timestamp_secs, tx_hash, signed_bcs, status, created_at, updated_at) "
    "VALUES (7, 4, '0xabc', 0, 1900000000, '0x01', :bcs, 'signed', :now, :now)"
)


async def test_sqlite_journal_refuses_rewrites_and_deletes(fresh_sqlite_url: str) -> None:
    await ensure_schema(fresh_sqlite_url)
    db = make_engine(fresh_sqlite_url)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    try:
        async with db.begin() as conn:
            await conn.execute(text(ROW), {"bcs": b"\x01\x02", "now": now})
            await conn.execute(text("UPDATE execution_journal SET status = 'committed'"))
        for sql in (
            "UPDATE execution_journal SET signed_bcs = x'00'",
            "UPDATE execution_journal SET sequence_number = 1",
            "DELETE FROM execution_journal",
        ):
            with pytest.raises(Exception, match="execution_journal"):
                async with db.begin() as conn:
                    await conn.execute(text(sql))
        async with db.connect() as conn:
            row = (
                await conn.execute(text("SELECT status, signed_bcs FROM execution_journal"))
            ).one()
        assert row == ("committed", b"\x01\x02")
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgres_journal_is_the_engines_and_append_only(hardened: HardenedDb) -> None:  # noqa: F811
    owner = await asyncpg.connect(libpq_url(hardened.admin_url))
    try:
        # `oneclick db roles` re-applies every grant: the journal must stay narrowed after it.
        await owner.execute("SELECT oneclick_apply_grants()")
    finally:
        await owner.close()
    now = datetime.now(UTC)

    async def as_role(kind: str, sql: str, **params: object) -> None:
        db = hardened.engine_as(kind)
        try:
            async with db.begin() as conn:
                await conn.execute(text(sql), params)
        finally:
            await db.dispose()

    await as_role("engine", ROW, bcs=b"\x01\x02", now=now)
    await as_role("engine", "UPDATE execution_journal SET status = 'committed', version = 9")
    for sql in (
        "UPDATE execution_journal SET signed_bcs = '\\x00'::bytea",
        "UPDATE execution_journal SET tx_hash = '0x02'",
        "DELETE FROM execution_journal",
    ):
        with pytest.raises(Exception, match="permission denied"):
            await as_role("engine", sql)
    for kind in ("app", "analytics", "auditor"):
        with pytest.raises(Exception, match="permission denied"):
            await as_role(kind, "SELECT 1 FROM execution_journal")
    # Not even the owner rewrites or deletes what was signed: the trigger refuses.
    for sql in (
        "UPDATE execution_journal SET sequence_number = 5",
        "DELETE FROM execution_journal",
    ):
        with pytest.raises(Exception, match="execution_journal"):
            owner_db = make_engine(hardened.admin_url)
            try:
                async with owner_db.begin() as conn:
                    await conn.execute(text(sql))
            finally:
                await owner_db.dispose()
