"""Monthly partitions (migration 0005) on the real PostgreSQL: keys, exactly-once, upkeep.

The copy engine's exactly-once key is (user_id, copy_of_trade_id, created_at) on a table
partitioned by created_at; these tests prove it is as strong as (user_id, copy_of_trade_id):
a copy always takes its lead's time, so every second copy of one (follower, lead trade) is
refused or ignored, whatever time its writer gave it, and concurrently too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError

from oneclick_tui.stores import copy_store, migrate, partitions
from oneclick_tui.stores.db import make_engine, session_factory
from oneclick_tui.stores.retention import verify_archive
from oneclick_tui.stores.security.audit_chain import verify
from oneclick_tui.stores.security.roles import libpq_url
from tests.security.conftest import HardenedDb, Seeded, seed

pytestmark = pytest.mark.postgres

LEAD_AT = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
_WHERE = "SELECT tableoid::regclass::text FROM trades WHERE id = $1"


async def _admin(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_url(url))


async def _lead(conn: asyncpg.Connection, data: Seeded, at: datetime, tx: str) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO trades (kind, trader_id, pair_id, trade_type, amount, price, status, "
            "fees_paid, tx_hash, created_at) VALUES ('lead', $1, $2, 'buy', 10, 5, 'completed',"
            " 0, $3, $4) RETURNING id",
            data.trader,
            data.pair,
            tx,
            at,
        )
    )


def _decision(user: int, data: Seeded, lead_id: int, at: datetime) -> dict[str, Any]:
    """A copy row exactly as the copy engine writes it (created_at = the lead's time)."""
    return {
        "kind": "copy",
        "user_id": user,
        "trader_id": data.trader,
        "pair_id": data.pair,
        "copy_of_trade_id": lead_id,
        "trade_type": "buy",
        "amount": Decimal(1),
        "price": Decimal(5),
        "total_value": Decimal(5),
        "fees_paid": Decimal(0),
        "status": "pending",
        "created_at": at,
    }


async def _copies(conn: asyncpg.Connection, lead_id: int) -> list[tuple[int, datetime]]:
    rows = await conn.fetch(
        "SELECT user_id, created_at FROM trades WHERE copy_of_trade_id = $1 ORDER BY user_id",
        lead_id,
    )
    return [(r["user_id"], r["created_at"]) for r in rows]


async def test_tables_are_partitioned_by_month_with_a_default(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    try:
        keys = dict(
            await conn.fetch(
                "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1"
            )
        )
        assert keys == {
            "market_data": "RANGE (bucket_at)",
            "trades": "RANGE (created_at)",
        }
        lead = await _lead(conn, data, LEAD_AT, "0xmarch")
        where = await conn.fetchval(_WHERE, lead)
        assert where == "oneclick_partitions.trades_default"  # no March partition yet
        made = await conn.fetch("SELECT oneclick_ensure_partitions(0, $1)", LEAD_AT)
        # March for both tables, and January for the seed's candles (waiting in DEFAULT)
        assert {r[0] for r in made} == {
            "market_data_p2026_01",
            "market_data_p2026_03",
            "trades_p2026_03",
        }
        where = await conn.fetchval(_WHERE, lead)
        assert where == "oneclick_partitions.trades_p2026_03"  # moved out of DEFAULT
        # coming months exist after the migration (three ahead of now)
        now = datetime.now(UTC)
        ahead = now.replace(day=1) + timedelta(days=95)
        name = f"trades_p{ahead:%Y_%m}"
        assert await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{partitions.SCHEMA}.{name}"
        )
    finally:
        await conn.close()


async def test_exactly_once_holds_on_the_partitioned_table(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    engine = make_engine(hardened.admin_url)
    sessions = session_factory(engine)
    try:
        lead = await _lead(conn, data, LEAD_AT, "0xonce")
        rows = [_decision(u, data, lead, LEAD_AT) for u in (data.alice, data.bob)]
        for _ in range(2):  # the engine's replay of one lead trade writes nothing new
            async with sessions.begin() as s:
                await copy_store.insert_decisions(s, [dict(r) for r in rows], [])
        assert await _copies(conn, lead) == [(data.alice, LEAD_AT), (data.bob, LEAD_AT)]

        # a writer that gives a second copy another time in the same month: the trigger gives
        # it the lead's time, so the key conflicts (ignored by ON CONFLICT, refused without)
        later = LEAD_AT + timedelta(days=3)
        async with sessions.begin() as s:
            await copy_store.insert_decisions(s, [_decision(data.alice, data, lead, later)], [])
        with pytest.raises(asyncpg.UniqueViolationError, match="uq_trades_user_id_copy_of"):
            await conn.execute(
                "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, "
                "trade_type, amount, price, status, fees_paid, created_at) VALUES "
                "('copy', $1, $2, $3, $4, 'buy', 1, 5, 'pending', 0, $5)",
                data.alice,
                data.trader,
                data.pair,
                lead,
                later,
            )
        # ... and a time in another month cannot even be stored (it would be another partition)
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute(
                "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, "
                "trade_type, amount, price, status, fees_paid, created_at) VALUES "
                "('copy', $1, $2, $3, $4, 'buy', 1, 5, 'pending', 0, $5)",
                data.alice,
                data.trader,
                data.pair,
                lead,
                LEAD_AT + timedelta(days=40),
            )
        assert await _copies(conn, lead) == [(data.alice, LEAD_AT), (data.bob, LEAD_AT)]

        # the lead must exist (what the self foreign key did), and keeps its copies
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, "
                "trade_type, amount, price, status, fees_paid, created_at) VALUES "
                "('copy', $1, $2, $3, 999999, 'buy', 1, 5, 'pending', 0, $4)",
                data.alice,
                data.trader,
                data.pair,
                LEAD_AT,
            )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("DELETE FROM trades WHERE id = $1", lead)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "UPDATE trades SET created_at = created_at + interval '1 day' WHERE id = $1", lead
            )

        # one transaction hash is one lead trade, whatever time a replay claims
        async with sessions.begin() as s:
            again = await s.execute(
                copy_store._insert(s, copy_store._T)
                .values(
                    kind="lead",
                    trader_id=data.trader,
                    pair_id=data.pair,
                    trade_type="buy",
                    amount=Decimal(10),
                    price=Decimal(5),
                    status="completed",
                    tx_hash="0xonce",
                    created_at=LEAD_AT,
                )
                .on_conflict_do_nothing(index_elements=["tx_hash", "created_at"])
            )
            assert again.rowcount == 0
        with pytest.raises(IntegrityError, match="uq_trades_tx_hash"):
            async with sessions.begin() as s:
                await _lead_in(s, data, LEAD_AT + timedelta(seconds=1), "0xonce")
        assert await conn.fetchval("SELECT count(*) FROM trades WHERE tx_hash = '0xonce'") == 1
    finally:
        await engine.dispose()
        await conn.close()


async def _lead_in(session: Any, data: Seeded, at: datetime, tx: str) -> None:
    await session.execute(
        copy_store._insert(session, copy_store._T)
        .values(
            kind="lead",
            trader_id=data.trader,
            pair_id=data.pair,
            trade_type="buy",
            amount=Decimal(10),
            price=Decimal(5),
            status="completed",
            tx_hash=tx,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["tx_hash", "created_at"])
    )


async def test_concurrent_copies_of_one_lead_land_once(hardened: HardenedDb) -> None:
    """Two engines racing on one (follower, lead): the second waits, then writes nothing."""
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    engine = make_engine(hardened.url_as("engine"), pool_size=4, max_overflow=0)
    sessions = session_factory(engine)
    try:
        lead = await _lead(conn, data, LEAD_AT, "0xrace")
        gate = asyncio.Event()

        async def writer(at: datetime) -> None:
            async with sessions.begin() as s:
                await copy_store.insert_decisions(s, [_decision(data.bob, data, lead, at)], [])
                await gate.wait()

        first = asyncio.create_task(writer(LEAD_AT))
        second = asyncio.create_task(writer(LEAD_AT + timedelta(hours=5)))
        await asyncio.sleep(0.3)
        gate.set()
        await asyncio.gather(first, second)
        assert await _copies(conn, lead) == [(data.bob, LEAD_AT)]
    finally:
        await engine.dispose()
        await conn.close()


async def test_statement_audit_writes_every_row_and_the_chain_verifies(
    hardened: HardenedDb,
) -> None:
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    try:
        lead = await _lead(conn, data, LEAD_AT, "0xaudit")
        before = await conn.fetchval("SELECT count(*) FROM audit_log")
        await conn.execute(
            "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, trade_type,"
            " amount, price, status, fees_paid, created_at) SELECT 'copy', u, $1, $2, $3, 'buy', "
            "1, 5, 'pending', 0, $4 FROM unnest($5::bigint[]) u",
            data.trader,
            data.pair,
            lead,
            LEAD_AT,
            [data.alice, data.bob],
        )
        await conn.execute(
            "UPDATE trades SET status = 'completed' WHERE copy_of_trade_id = $1", lead
        )
        rows = await conn.fetch(
            "SELECT action, entity_id, before, after FROM audit_log WHERE id > "
            "(SELECT max(id) FROM audit_log) - 100 AND entity_type = 'trades' "
            "AND entity_id::bigint <> $1 ORDER BY id",
            lead,
        )
        fresh = rows[-4:]
        assert [r["action"] for r in fresh] == ["row.insert"] * 2 + ["row.update"] * 2
        assert fresh[2]["before"] is not None and '"completed"' in fresh[2]["after"]
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == before + 4
    finally:
        await conn.close()
    report = await verify(hardened.url_as("auditor"))
    assert report.ok, report.problems


async def test_detach_archives_a_month_then_drops_it(hardened: HardenedDb, tmp_path: Path) -> None:
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    try:
        lead = await _lead(conn, data, LEAD_AT, "0xold")
        await conn.execute(
            "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, trade_type,"
            " amount, price, status, fees_paid, created_at) VALUES ('copy', $1, $2, $3, $4, "
            "'buy', 1, 5, 'completed', 0, $5)",
            data.alice,
            data.trader,
            data.pair,
            lead,
            LEAD_AT,
        )
    finally:
        await conn.close()
    owner = hardened.url_as("owner")
    assert "trades_p2026_03" in await partitions.ensure(owner, months_ahead=0)
    listed = {p.name: p for p in await partitions.partitions(owner)}
    assert listed["trades_p2026_03"].rows == 2 and listed["trades_p2026_03"].month == date(
        2026, 3, 1
    )
    # before March: only January's candles go (March has not ended by then)
    early = await partitions.detach(owner, date(2026, 3, 1), tmp_path)
    assert [d.name for d in early] == ["market_data_p2026_01"] and early[0].dropped
    done = await partitions.detach(owner, date(2026, 4, 1), tmp_path)
    march = [d for d in done if d.name == "trades_p2026_03"]
    assert march and march[0].rows == 2 and march[0].dropped
    manifests = sorted(await asyncio.to_thread(tmp_path.glob, "partition-trades_p2026_03-*.json"))
    assert sum(verify_archive(m) for m in manifests) == 2
    conn = await _admin(hardened.admin_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM trades WHERE id = $1", lead) == 0
        gone = await conn.fetchval("SELECT to_regclass('oneclick_partitions.trades_p2026_03')")
        assert gone is None
        logged = await conn.fetchval(
            "SELECT after ->> 'rows' FROM audit_log WHERE action = 'partition.detach' "
            "AND entity_id = 'trades_p2026_03'"
        )
        assert logged == "2"
    finally:
        await conn.close()
    assert (await verify(hardened.admin_url)).ok


async def test_engine_role_creates_partitions_at_start_but_cannot_detach(
    hardened: HardenedDb,
) -> None:
    engine = make_engine(hardened.url_as("engine"), pool_size=1, max_overflow=0)
    try:
        made = await partitions.ensure_partitions_on_start(engine)
        assert made == []  # the migration already made them
    finally:
        await engine.dispose()
    conn = await _admin(hardened.url_as("engine"))
    try:
        made = await conn.fetch("SELECT oneclick_ensure_partitions(0, '2031-07-04'::timestamptz)")
        assert [r[0] for r in made] == ["market_data_p2031_07", "trades_p2031_07"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "ALTER TABLE trades DETACH PARTITION oneclick_partitions.trades_p2031_07"
            )
    finally:
        await conn.close()
    conn = await _admin(hardened.url_as("auditor"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT oneclick_ensure_partitions(1)")
    finally:
        await conn.close()


async def test_0005_goes_down_and_up_with_the_rows(hardened: HardenedDb) -> None:
    data = await seed(hardened.admin_url)
    owner = hardened.url_as("owner")

    async def snapshot() -> tuple[Any, ...]:
        conn = await _admin(hardened.admin_url)
        try:
            return (
                await conn.fetch("SELECT * FROM trades ORDER BY id"),
                await conn.fetch("SELECT * FROM market_data ORDER BY id"),
                await conn.fetchval("SELECT count(*) FROM pg_policies WHERE tablename = 'trades'"),
                await conn.fetchval("SELECT count(*) FROM user_trade_history"),
            )
        finally:
            await conn.close()

    before = await snapshot()
    await migrate.downgrade(owner, "0004")
    conn = await _admin(hardened.admin_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_partitioned_table") == 0
        assert await conn.fetchval("SELECT to_regnamespace('oneclick_partitions')") is None
        triggers = await conn.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'trades'::regclass AND NOT tgisinternal"
        )
        assert [r[0] for r in triggers] == ["audit_trades"]
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'fk_trades_copy_of_trade_id_trades'"
        )
    finally:
        await conn.close()
    assert await snapshot() == before
    await migrate.upgrade(owner, "head")
    assert await snapshot() == before
    assert (await verify(hardened.admin_url)).ok
    assert data.lead_trade


async def test_partition_indexes_name_their_parent(hardened: HardenedDb) -> None:
    """A duplicate names `<parent key>__<partition>`: the part before "__" is the model's."""
    conn = await _admin(hardened.admin_url)
    try:
        names = {
            r[0]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'oneclick_partitions' AND c.relkind = 'i'"
            )
        }
    finally:
        await conn.close()
    assert names and all("__" in n for n in names), names
    assert "uq_trades_user_id_copy_of_trade_id__default" in names
    assert "ix_trades_user_executed__default" in names


APRIL_AT = datetime(2026, 4, 2, 9, 30, tzinfo=UTC)


async def _leads(conn: asyncpg.Connection, data: Seeded, at: datetime, hashes: list[str]) -> None:
    """Lead rows for `hashes` at `at` in ONE statement (a fan-out's shape: one unnest insert)."""
    await conn.execute(
        "INSERT INTO trades (kind, trader_id, pair_id, trade_type, amount, price, status, "
        "fees_paid, tx_hash, created_at) SELECT 'lead', $1, $2, 'buy', 10, 5, 'completed', 0, "
        "h, $3 FROM unnest($4::text[]) h",
        data.trader,
        data.pair,
        at,
        hashes,
    )


@pytest.mark.parametrize("without_audit", [False, True], ids=["as-deployed", "tx-lock-alone"])
@pytest.mark.parametrize(
    ("first_n", "second_n"),
    [(1, 1), (1, 40), (40, 1), (40, 40)],
    ids=["one-one", "one-bulk", "bulk-one", "bulk-bulk"],
)
async def test_one_tx_hash_in_two_months_concurrently_one_wins(
    hardened: HardenedDb, first_n: int, second_n: int, without_audit: bool
) -> None:
    """Two open transactions write one hash in March and in April: the second waits for the
    first, then fails with the unique violation of uq_trades_tx_hash; exactly one row stays.

    Statements with a few hashes lock each hash; statements with many take one bulk lock:
    every pairing must serialise. `tx-lock-alone` disables the trade audit trigger, whose
    chain lock would otherwise serialise the two writers by itself and hide a missing lock.
    """
    data = await seed(hardened.admin_url)
    setup = await _admin(hardened.admin_url)
    first = await _admin(hardened.admin_url)
    second = await _admin(hardened.admin_url)
    try:
        if without_audit:
            await setup.execute("ALTER TABLE trades DISABLE TRIGGER audit_trades_insert")
        await setup.execute("SELECT oneclick_ensure_partitions(0, $1)", LEAD_AT)
        await setup.execute("SELECT oneclick_ensure_partitions(0, $1)", APRIL_AT)
        shared = "0xshared"
        one = [shared] + [f"0xfirst{i}" for i in range(first_n - 1)]
        two = [f"0xsecond{i}" for i in range(second_n - 1)] + [shared]
        await first.execute("BEGIN")
        await _leads(first, data, LEAD_AT, one)
        await second.execute("BEGIN")
        blocked = asyncio.create_task(_leads(second, data, APRIL_AT, two))
        await asyncio.sleep(0.5)
        assert not blocked.done(), "the second writer of one hash must wait for the first"
        await first.execute("COMMIT")
        with pytest.raises(asyncpg.UniqueViolationError) as refused:
            await asyncio.wait_for(blocked, 10)
        await second.execute("ROLLBACK")
        assert refused.value.constraint_name == "uq_trades_tx_hash"
        assert refused.value.args[0] == (
            'duplicate key value violates unique constraint "uq_trades_tx_hash"'
        )
        assert refused.value.detail == f"Key (tx_hash)=({shared}) already exists."
        rows = await setup.fetch("SELECT created_at FROM trades WHERE tx_hash = $1", shared)
        assert [r[0] for r in rows] == [LEAD_AT]
        assert (
            await setup.fetchval("SELECT count(*) FROM trades WHERE tx_hash LIKE '0xsecond%'") == 0
        )
    finally:
        for conn in (first, second, setup):
            await conn.close()


async def test_a_big_fan_out_holds_a_handful_of_advisory_locks(hardened: HardenedDb) -> None:
    """10,000 hashed rows in one statement must not take 10,000 advisory locks: PostgreSQL's
    lock table has 64 x max_connections slots by default, and under 0005 two concurrent
    fan-outs of that size failed with "out of shared memory"."""
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    try:
        await conn.execute("BEGIN")
        await _leads(conn, data, LEAD_AT, [f"0xmany{i}" for i in range(10_000)])
        held = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        await conn.execute("COMMIT")
        assert held <= 4, f"{held} advisory locks held by one fan-out"
        assert await conn.fetchval("SELECT count(*) FROM trades WHERE tx_hash LIKE '0xmany%'") == (
            10_000
        )
    finally:
        await conn.close()


async def test_one_statement_with_one_hash_at_two_times_is_refused(hardened: HardenedDb) -> None:
    """The statement-level check sees the statement's own rows, as the row trigger did."""
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    try:
        for n in (2, 40):  # per-hash locks and the bulk lock
            hashes = [f"0xself{n}_{i}" for i in range(n - 1)]
            with pytest.raises(asyncpg.UniqueViolationError, match="uq_trades_tx_hash"):
                await conn.execute(
                    "INSERT INTO trades (kind, trader_id, pair_id, trade_type, amount, price, "
                    "status, fees_paid, tx_hash, created_at) SELECT 'lead', $1, $2, 'buy', 10, "
                    "5, 'completed', 0, h, $3::timestamptz + (i * interval '1 day') "
                    "FROM unnest($4::text[]) WITH ORDINALITY AS u(h, i)",
                    data.trader,
                    data.pair,
                    LEAD_AT,
                    [*hashes, hashes[0]],
                )
        assert await conn.fetchval("SELECT count(*) FROM trades WHERE tx_hash LIKE '0xself%'") == 0
    finally:
        await conn.close()


async def test_a_fan_out_with_one_wrong_time_corrects_only_that_copy(hardened: HardenedDb) -> None:
    """Copies carrying the lead's time skip the row check (0008); one with another time in the
    month is still given the lead's time before the key is checked, in the same statement."""
    data = await seed(hardened.admin_url)
    conn = await _admin(hardened.admin_url)
    try:
        lead = await _lead(conn, data, LEAD_AT, "0xfan")
        users = [data.alice, data.bob]
        written = await conn.fetchval(
            "WITH ins AS (INSERT INTO trades (kind, user_id, trader_id, pair_id, "
            "copy_of_trade_id, trade_type, amount, price, status, fees_paid, created_at) "
            "SELECT 'copy', u, $1, $2, $3, 'buy', 1, 5, 'pending', 0, at "
            "FROM unnest($4::bigint[], $5::timestamptz[]) AS x(u, at) "
            "ON CONFLICT (user_id, copy_of_trade_id, created_at) DO NOTHING RETURNING 1) "
            "SELECT count(*) FROM ins",
            data.trader,
            data.pair,
            lead,
            [*users, data.alice],
            [LEAD_AT, LEAD_AT, LEAD_AT + timedelta(days=2)],
        )
        assert written == 2  # alice's second copy (another time) conflicted: ignored
        assert await _copies(conn, lead) == [(data.alice, LEAD_AT), (data.bob, LEAD_AT)]
        # a time nobody proved, and an unknown lead: still the foreign-key error
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="fk_trades_copy_of_trade_id"):
            await conn.execute(
                "INSERT INTO trades (kind, user_id, trader_id, pair_id, copy_of_trade_id, "
                "trade_type, amount, price, status, fees_paid, created_at) SELECT 'copy', u, $1,"
                " $2, l, 'buy', 1, 5, 'pending', 0, $3 FROM unnest($4::bigint[], $5::bigint[]) "
                "AS x(u, l) ON CONFLICT (user_id, copy_of_trade_id, created_at) DO NOTHING",
                data.trader,
                data.pair,
                LEAD_AT,
                [data.alice, data.bob],
                [lead, 999_999],
            )
    finally:
        await conn.close()


async def test_0008_goes_down_to_0005s_triggers_exactly_and_up_again(hardened: HardenedDb) -> None:
    """Below 0008 the trades triggers and functions are 0005's, as on a database never at 0008."""
    from tests.conftest import fresh_pg_database

    async def triggers_and_functions(url: str) -> tuple[list[Any], list[Any]]:
        conn = await _admin(url)
        try:
            triggers = await conn.fetch(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = 'trades'::regclass AND NOT tgisinternal ORDER BY tgname"
            )
            functions = await conn.fetch(
                "SELECT p.oid::regprocedure::text, md5(p.prosrc), p.proconfig, p.prosecdef "
                "FROM pg_proc p WHERE p.proname LIKE 'oneclick%' ORDER BY 1"
            )
            return [tuple(r) for r in triggers], [tuple(r) for r in functions]
        finally:
            await conn.close()

    owner = hardened.url_as("owner")
    at_head = await triggers_and_functions(hardened.admin_url)
    await migrate.downgrade(owner, "0007")
    below = await triggers_and_functions(hardened.admin_url)
    async with fresh_pg_database() as other:
        await migrate.upgrade(other, "0007")
        assert below == await triggers_and_functions(other)
    names = [t[0] for t in below[0]]
    assert "trades_copy_time_insert" not in names and "trades_tx_once" in names
    await migrate.upgrade(owner, "head")
    assert await triggers_and_functions(hardened.admin_url) == at_head
